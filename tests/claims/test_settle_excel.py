"""Settlement workbooks: one per facility, Vietnamese sheets, money as formatted numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from claims.money import MONEY
from claims.settle import GROUPS
from claims.settle.excel import GROUP_NAMES, MAX_WIDTH, workbooks
from claims.store.settlements import write_workbooks

BUSY, QUIET = "01030", "79001"  # with rejections and pending claims / with none
PERIOD, SID = "2026-Q3", "0123456789abcdef"
SHEETS = [
    "C79-C80 tổng hợp",
    "C79b-C80b từ chối hồ sơ",
    "Từ chối theo dòng",
    "Chờ giám định",
]


def _frame(schema: dict[str, Any], rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """Rows under ``schema`` (amounts written as text), plus the ``period`` column the
    real frames carry."""
    text = {name: pl.String if kind == MONEY else kind for name, kind in schema.items()}
    frame = pl.DataFrame(rows, schema=text, orient="row").cast(schema)
    return frame.with_columns(pl.lit(PERIOD).alias("period"))


def _frames() -> dict[str, pl.DataFrame]:
    s, i, m = pl.String, pl.Int64, MONEY
    sums = {
        "claims": i,
        "requested": m,
        "accepted": m,
        "rejected": m,
        "pending_claims": i,
        "pending_amount": m,
    }
    group_money = ["claimed_bh", "accepted_bh", "claimed_bhtt", "accepted_bhtt"]
    claim_money = ["claimed_t_bhtt", "accepted_t_bhtt"]
    return {
        "facilities": _frame(  # not in code order: the workbooks are
            {"ma_cskcb": s, **sums}
            | dict.fromkeys(["advances", "carried_in", "due", "carried_forward"], m),
            [
                (QUIET, 1, "300", "300", "0", 0, "0", "0", "0", "300", "0"),
                (
                    BUSY,
                    4,
                    "2340000.50",
                    "1800000",
                    "450000.50",
                    1,
                    "90000",
                    "1000000",
                    "250000",
                    "800000",
                    "0",
                ),
            ],
        ),
        "summary": _frame(
            {"ma_cskcb": s, "treatment": s, **sums},
            [
                (BUSY, "inpatient", 1, "1000000", "800000", "200000", 0, "0"),
                (
                    BUSY,
                    "outpatient",
                    3,
                    "1340000.50",
                    "1000000",
                    "250000.50",
                    1,
                    "90000",
                ),
                (QUIET, "outpatient", 1, "300", "300", "0", 0, "0"),
            ],
        ),
        "groups": _frame(
            {"ma_cskcb": s, "treatment": s, "cost_group": s}
            | dict.fromkeys([*group_money, "rejected_amount", "pending_amount"], m),
            [
                # facility, treatment, group; BH claimed and accepted; T_BHTT
                # claimed, accepted, rejected and pending
                (
                    BUSY,
                    "outpatient",
                    "tests",
                    "500000",
                    "400000",
                    "500000",
                    "400000",
                    "100000",
                    "0",
                ),
                (
                    BUSY,
                    "outpatient",
                    "drugs",
                    "750000.50",
                    "600000",
                    "750000.50",
                    "600000",
                    "150000.50",
                    "0",
                ),
                (BUSY, "outpatient", "exam", "90000", "0", "90000", "0", "0", "90000"),
                (
                    BUSY,
                    "inpatient",
                    "beds",
                    "1000000",
                    "800000",
                    "1000000",
                    "800000",
                    "200000",
                    "0",
                ),
                (QUIET, "outpatient", "exam", "300", "300", "300", "300", "0", "0"),
            ],
        ),
        "rejected_claims": _frame(
            {"ma_cskcb": s, "ma_lk": s, "outcome": s}
            | dict.fromkeys([*claim_money, "rejected_amount"], m)
            | {"reason_codes": s, "messages": s},
            [
                (
                    BUSY,
                    "LK1",
                    "partially_accepted",
                    "1250000.50",
                    "1000000",
                    "250000.50",
                    "NOT_IN_CATALOG",
                    "Thuốc không có trong danh mục",
                ),
                (
                    BUSY,
                    "LK2",
                    "rejected",
                    "1000000",
                    "800000",
                    "200000",
                    "PRICE_ABOVE",
                    "Giá cao hơn giá được phê duyệt. " * 5,
                ),
            ],
        ),
        "rejected_lines": _frame(
            {"ma_cskcb": s, "ma_lk": s, "table": s, "line_no": i, "stt": i, "code": s}
            | {"cost_group": s}
            | dict.fromkeys(["claimed_bhtt", "accepted_bhtt", "rejected_amount"], m)
            | {"refused_by": s, "reasons": s},
            [
                (
                    BUSY,
                    "LK1",
                    "XML2",
                    2,
                    2,
                    "40.17",
                    "drugs",
                    "150000.50",
                    "0",
                    "150000.50",
                    "NOT_IN_CATALOG",
                    "NOT_IN_CATALOG: không có trong danh mục",
                ),
                (
                    BUSY,
                    "LK1",
                    "XML3",
                    1,
                    1,
                    "22.0001.1234",
                    "tests",
                    "500000",
                    "400000",
                    "100000",
                    None,
                    "PRICE_ABOVE: giá cao hơn giá phê duyệt",
                ),
            ],
        ),
        "pending": _frame(
            {"ma_cskcb": s, "ma_lk": s, **dict.fromkeys(claim_money, m)}
            | {"reason_codes": s},
            [(BUSY, "LK9", "90000", "90000", "REVIEW_LONG_STAY")],
        ),
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("settlement") / "excel"
    books = workbooks(_frames(), period=PERIOD, settlement_id=SID)
    return folder, write_workbooks(folder, books)


def _sheets(path: Path) -> list[Worksheet]:
    book = openpyxl.load_workbook(path)
    return [book[name] for name in book.sheetnames]


def _row(sheet: Worksheet, row: int) -> list[Any]:
    """The values of a row, without the empty cells at its end."""
    values = [cell.value for cell in sheet[row]]
    while values and values[-1] is None:
        values.pop()
    return values


def _column(sheet: Worksheet, header: str) -> int:
    return _row(sheet, 2).index(header) + 1


def test_one_workbook_per_facility_in_code_order(written: tuple[Path, list[Path]]):
    folder, paths = written
    assert paths == [folder / f"{BUSY}.xlsx", folder / f"{QUIET}.xlsx"]
    assert sorted(p.name for p in folder.iterdir()) == [f"{BUSY}.xlsx", f"{QUIET}.xlsx"]
    for path in paths:
        assert openpyxl.load_workbook(path).sheetnames == SHEETS


def test_titles_headers_and_frozen_panes(written: tuple[Path, list[Path]]):
    sheets = _sheets(written[1][0])
    for sheet in sheets:
        title = sheet["A1"].value
        assert BUSY in title
        assert PERIOD in title
        assert SID in title
        assert sheet.freeze_panes == "A3"
        assert all(cell.font.bold for cell in sheet[2] if cell.value is not None)
    assert _row(sheets[0], 2) == [
        "Cơ sở KCB",
        "Tổng số hồ sơ",
        "Số đề nghị thanh toán",
        "Số chấp nhận",
        "Số từ chối",
        "Hồ sơ chờ giám định",
        "Số tiền chờ giám định",
        "Tạm ứng được trừ",
        "trong đó: tạm ứng kỳ trước chuyển sang",
        "Còn phải thanh toán",
        "Tạm ứng chuyển kỳ sau",
    ]
    assert _row(sheets[1], 2) == [
        "Mã liên kết",
        "Kết quả",
        "Đề nghị (T_BHTT)",
        "Chấp nhận",
        "Từ chối",
        "Mã lý do",
        "Diễn giải",
    ]
    assert _row(sheets[2], 2)[:4] == ["Mã liên kết", "Bảng", "Dòng số", "STT"]
    assert _row(sheets[3], 2)[:2] == ["Mã liên kết", "Đề nghị (T_BHTT)"]


def test_money_is_a_formatted_number(written: tuple[Path, list[Path]]):
    overview, claims, lines, _ = _sheets(written[1][0])
    row = [BUSY, 4, 2340000.5, 1800000, 450000.5, 1, 90000, 1000000, 250000, 800000, 0]
    assert _row(overview, 3) == row
    requested = claims.cell(row=3, column=_column(claims, "Đề nghị (T_BHTT)"))
    assert requested.value == 1250000.5
    assert isinstance(requested.value, float)
    assert requested.number_format == "#,##0.00"
    assert overview["B3"].number_format == "#,##0"  # claims: a count
    assert lines.cell(row=3, column=_column(lines, "STT")).number_format == "#,##0"
    assert _row(claims, 3)[1] == "Chấp nhận một phần"
    assert _row(lines, 3)[5] == "Thuốc"


@pytest.mark.parametrize(
    ("index", "header", "expected"),
    [
        (1, "Đề nghị (T_BHTT)", 2250000.5),
        (2, "Từ chối", 250000.5),
        (3, "Chấp nhận tạm tính (T_BHTT)", 90000),
    ],
)
def test_total_row_sums_each_money_column(
    written: tuple[Path, list[Path]], index: int, header: str, expected: float
):
    sheet = _sheets(written[1][0])[index]
    last = sheet.max_row
    total = _row(sheet, last)
    assert total[0] == "Cộng"
    assert all(cell.font.bold for cell in sheet[last] if cell.value is not None)
    assert total[_column(sheet, header) - 1] == expected
    money = [
        c
        for c in range(1, sheet.max_column + 1)
        if sheet.cell(row=3, column=c).number_format == "#,##0.00"
    ]
    assert len(money) >= 2
    for column in money:
        cells = [sheet.cell(row=r, column=column).value for r in range(3, last)]
        assert total[column - 1] == pytest.approx(sum(cells), abs=0.001)
        assert sheet.cell(row=last, column=column).number_format == "#,##0.00"


def test_overview_blocks_per_treatment_with_named_groups(
    written: tuple[Path, list[Path]],
):
    overview = _sheets(written[1][0])[0]
    first = [
        overview.cell(row=r, column=1).value for r in range(1, overview.max_row + 1)
    ]
    assert first[3:] == [
        None,
        "Diện điều trị",
        "Ngoại trú (C79)",
        "Nhóm chi phí",
        "Khám bệnh",  # the groups' order, not the alphabet's
        "Xét nghiệm",
        "Thuốc",
        "Cộng ngoại trú (C79)",
        None,
        "Diện điều trị",
        "Nội trú (C80)",
        "Nhóm chi phí",
        "Ngày giường",
        "Cộng nội trú (C80)",
    ]
    outpatient_total = _row(overview, first.index("Cộng ngoại trú (C79)") + 1)
    # T_BHTT requested, accepted, rejected, pending; then the BH cost in scope
    assert outpatient_total[1:] == [
        1340000.5, 1000000, 250000.5, 90000, 1340000.5, 1000000,
    ]  # fmt: skip
    outpatient = _row(overview, 6)
    assert outpatient[1:] == [3, 1340000.5, 1000000, 250000.5, 1, 90000]
    # one outpatient total on the sheet: the treatment's line is its groups' total
    assert outpatient[2:5] == outpatient_total[1:4]
    assert outpatient[6] == outpatient_total[4]


def test_facility_without_rejections_has_headers_only(
    written: tuple[Path, list[Path]],
):
    overview, *others = _sheets(written[1][1])
    assert _row(overview, 3)[:3] == [QUIET, 1, 300]
    for sheet in others:
        assert sheet.max_row == 2
        assert _row(sheet, 2)[0] == "Mã liên kết"
        assert QUIET in sheet["A1"].value
    first = [
        overview.cell(row=r, column=1).value for r in range(1, overview.max_row + 1)
    ]
    assert first[-4:] == [
        "Diện điều trị",
        "Nội trú (C80)",
        "Nhóm chi phí",
        "Cộng nội trú (C80)",
    ]
    assert _row(overview, first.index("Nội trú (C80)") + 1)[1:] == [0, 0, 0, 0, 0, 0]


def test_widths_fit_the_content_up_to_a_cap(written: tuple[Path, list[Path]]):
    claims = _sheets(written[1][0])[1]
    widths = {k: d.width for k, d in claims.column_dimensions.items()}
    assert widths["G"] == MAX_WIDTH  # the long message
    assert len("Đề nghị (T_BHTT)") < widths["C"] < MAX_WIDTH


def test_every_cost_group_has_a_vietnamese_name():
    assert list(GROUP_NAMES) == list(GROUPS)
