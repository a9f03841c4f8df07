"""Excel workbooks of a settlement, one per facility, in Vietnamese (C79/C80-like reports).

Each workbook has four sheets: the facility's totals with one block per treatment
(outpatient C79, inpatient C80) and its cost groups; the rejected claims (C79b/C80b in
spirit); the rejected lines; the claims pending review. A sheet starts with a title row
(form, facility, period, settlement id) and a bold header row under which the panes are
frozen; money sheets end with a bold total row.

The settlement's CSV and Parquet files carry the exact Decimal(38, 2) amounts and are
the record; a workbook is the human-readable copy. Its amounts are numbers so that Excel
can sum and filter them: each is converted to a float only when its cell is written
(exact to the đồng below 10¹³ đồng) and shown as ``#,##0.00``. Totals are summed in
Decimal before that conversion, not as Excel formulas.

The workbooks are built in memory (:func:`workbooks`);
``claims.store.settlements.write_workbooks`` saves them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

import polars as pl
from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]
from openpyxl.styles import Font  # type: ignore[import-untyped, unused-ignore]
from openpyxl.utils import (  # type: ignore[import-untyped, unused-ignore]
    get_column_letter,
)
from openpyxl.worksheet.worksheet import (  # type: ignore[import-untyped, unused-ignore]
    Worksheet,
)

SHEETS = (
    "C79-C80 tổng hợp",
    "C79b-C80b từ chối hồ sơ",
    "Từ chối theo dòng",
    "Chờ giám định",
)
"""Sheet names, in workbook order."""
FORMS = (
    "Tổng hợp chi phí KCB BHYT đề nghị quyết toán (mẫu C79/C80)",
    "Danh sách hồ sơ bị từ chối (mẫu C79b/C80b)",
    "Chi tiết các dòng chi phí bị từ chối",
    "Danh sách hồ sơ chờ giám định",
)
"""What each sheet's title row names, by sheet."""
MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
MAX_WIDTH = 60
TOTAL = "Cộng"
GROUP_NAMES = {
    "exam": "Khám bệnh",
    "beds": "Ngày giường",
    "tests": "Xét nghiệm",
    "imaging": "Chẩn đoán hình ảnh, thăm dò chức năng",
    "surgery": "Phẫu thuật",
    "procedures": "Thủ thuật",
    "high_tech": "Dịch vụ kỹ thuật cao",
    "drugs": "Thuốc",
    "blood": "Máu và chế phẩm máu",
    "supplies": "Vật tư y tế",
    "transport": "Vận chuyển",
    "other": "Chi phí khác",
    "unallocated": "Chưa phân nhóm (dòng bị loại, chênh lệch tổng hồ sơ)",
}
"""Vietnamese names of ``claims.settle.compute.GROUPS``, in the order the sheets list them."""
TREATMENTS = {"outpatient": "Ngoại trú (C79)", "inpatient": "Nội trú (C80)"}
OUTCOMES = {
    "accepted": "Chấp nhận",
    "partially_accepted": "Chấp nhận một phần",
    "rejected": "Từ chối",
    "pending_review": "Chờ giám định",
}
SUMMARY = {
    "claims": "Tổng số hồ sơ",
    "requested": "Số đề nghị thanh toán",
    "accepted": "Số chấp nhận",
    "rejected": "Số từ chối",
    "pending_claims": "Hồ sơ chờ giám định",
    "pending_amount": "Số tiền chờ giám định",
}
FACILITY = {
    "ma_cskcb": "Cơ sở KCB",
    **SUMMARY,
    "advances": "Tạm ứng được trừ",
    "carried_in": "trong đó: tạm ứng kỳ trước chuyển sang",
    "due": "Còn phải thanh toán",
    "carried_forward": "Tạm ứng chuyển kỳ sau",
}
GROUPS = {
    "cost_group": "Nhóm chi phí",
    "claimed_bhtt": "Đề nghị (T_BHTT)",
    "accepted_bhtt": "Chấp nhận (T_BHTT)",
    "rejected_amount": "Từ chối (T_BHTT)",
    "pending_amount": "Chờ giám định (T_BHTT)",
    "claimed_bh": "Chi phí trong phạm vi BHYT đề nghị (thành tiền BH)",
    "accepted_bh": "Chi phí trong phạm vi BHYT chấp nhận (thành tiền BH)",
}
"""The cost group table under a treatment: the T_BHTT columns add up as the
treatment's line does (requested = accepted + rejected + pending); the BH columns are
the cost within the scope of insurance (C79 columns 1–10)."""
REJECTED_CLAIMS = {
    "ma_lk": "Mã liên kết",
    "outcome": "Kết quả",
    "claimed_t_bhtt": "Đề nghị (T_BHTT)",
    "accepted_t_bhtt": "Chấp nhận",
    "rejected_amount": "Từ chối",
    "reason_codes": "Mã lý do",
    "messages": "Diễn giải",
}
REJECTED_LINES = {
    "ma_lk": "Mã liên kết",
    "table": "Bảng",
    "line_no": "Dòng số",
    "stt": "STT",
    "code": "Mã thuốc, dịch vụ, vật tư",
    "cost_group": "Nhóm chi phí",
    "claimed_bhtt": "Đề nghị (BHTT)",
    "accepted_bhtt": "Chấp nhận (BHTT)",
    "rejected_amount": "Từ chối",
    "refused_by": "Mã từ chối cả dòng",
    "reasons": "Diễn giải",
}
PENDING = {
    "ma_lk": "Mã liên kết",
    "claimed_t_bhtt": "Đề nghị (T_BHTT)",
    "accepted_t_bhtt": "Chấp nhận tạm tính (T_BHTT)",
    "reason_codes": "Mã lý do",
}
FRAMES = (
    "facilities",
    "summary",
    "groups",
    "rejected_claims",
    "rejected_lines",
    "pending",
)
"""The settlement frames a workbook is made of (``claims.settle.compute.settle``)."""
BOLD = Font(bold=True)
Value = str | int | float | Decimal | None
"""What a cell is written from."""


def workbooks(
    frames: Mapping[str, pl.DataFrame], *, period: str, settlement_id: str
) -> Iterator[tuple[str, Workbook]]:
    """One workbook per facility of a settlement, built in memory, one at a time.

    Args:
        frames: The settlement's frames (``claims.settle.compute.Settlement.frames``); at
            least those of ``FRAMES``, each with a ``ma_cskcb`` column. Other columns are
            ignored.
        period: The settled period (``YYYY-MM`` or ``YYYY-Qn``), for the titles.
        settlement_id: The settlement's id, for the titles.

    Yields:
        ``(ma_cskcb, workbook)`` sorted by facility code: one per row of ``facilities``,
        also for a facility without rejections or pending claims (those sheets have
        only their headers). ``claims.store.settlements.write_workbooks`` saves them.
    """
    parts = {name: _by_facility(frames[name]) for name in FRAMES}
    codes: list[str] = frames["facilities"].get_column("ma_cskcb").sort().to_list()
    for code in codes:
        mine = {
            name: part.get(code, frames[name].clear()) for name, part in parts.items()
        }
        yield code, _workbook(mine, code, period=period, settlement_id=settlement_id)


def _workbook(
    frames: Mapping[str, pl.DataFrame], code: str, *, period: str, settlement_id: str
) -> Workbook:
    """The workbook of facility ``code`` from its part of the settlement's frames."""
    book = Workbook()
    del book[book.sheetnames[0]]
    sheets: list[Worksheet] = []
    for name, form in zip(SHEETS, FORMS, strict=True):
        sheet: Worksheet = book.create_sheet(name)
        title = (
            f"{form} — Cơ sở KCB {code} — Kỳ {period} — Mã quyết toán {settlement_id}"
        )
        sheet.cell(row=1, column=1, value=title).font = Font(bold=True, size=12)
        sheet.freeze_panes = "A3"  # under the header row
        sheets.append(sheet)
    _overview(sheets[0], frames)
    outcome = _named("outcome", OUTCOMES)
    _table(
        sheets[1], 2, frames["rejected_claims"].with_columns(outcome), REJECTED_CLAIMS
    )
    group = _named("cost_group", GROUP_NAMES)
    _table(sheets[2], 2, frames["rejected_lines"].with_columns(group), REJECTED_LINES)
    _table(sheets[3], 2, frames["pending"], PENDING)
    for sheet in sheets:
        _fit(sheet)
    return book


def _by_facility(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """``frame`` split by ``ma_cskcb``."""
    parts = frame.partition_by("ma_cskcb", as_dict=True)
    return {str(key[0]): part for key, part in parts.items()}


def _named(column: str, names: Mapping[str, str]) -> pl.Expr:
    """``column`` with its codes replaced by their Vietnamese names (unknown codes kept)."""
    return pl.col(column).replace_strict(dict(names), default=pl.col(column))


def _overview(sheet: Worksheet, frames: Mapping[str, pl.DataFrame]) -> None:
    """The facility's line, then per treatment its summary line and its cost groups."""
    row = _table(sheet, 2, frames["facilities"], FACILITY, total=None) + 1
    summary = (
        pl.DataFrame({"treatment": list(TREATMENTS)})
        .join(frames["summary"], on="treatment", how="left", maintain_order="left")
        .fill_null(0)
        .with_columns(_named("treatment", TREATMENTS).alias("name"))
    )
    order = {group: rank for rank, group in enumerate(GROUP_NAMES)}
    groups = frames["groups"].sort(
        pl.col("cost_group").replace_strict(order, default=len(order)), "cost_group"
    )
    for treatment, name in TREATMENTS.items():
        line = summary.filter(pl.col("treatment") == treatment)
        row = _table(sheet, row, line, {"name": "Diện điều trị", **SUMMARY}, total=None)
        mine = groups.filter(pl.col("treatment") == treatment)
        total = f"{TOTAL} {name[0].lower()}{name[1:]}"
        named = mine.with_columns(_named("cost_group", GROUP_NAMES))
        row = _table(sheet, row, named, GROUPS, total=total, always=True) + 1


def _table(
    sheet: Worksheet,
    row: int,
    frame: pl.DataFrame,
    headers: Mapping[str, str],
    *,
    total: str | None = TOTAL,
    always: bool = False,
) -> int:
    """Write a header row at ``row``, the rows of ``frame`` under it, then a total row.

    The header and total rows are bold; the total row sums the money columns and is
    written when ``frame`` has rows (or ``always``) and has money columns.

    Args:
        sheet: The sheet written to.
        row: The header's row number.
        frame: The rows; its columns named in ``headers`` are written in that order.
        headers: Column name → header text.
        total: The total row's label, in the first column; None: no total row.
        always: Write the total row also when ``frame`` has no rows.

    Returns:
        The number of the first row after the table.
    """
    data = frame.select(list(headers))
    formats = [_format(dtype) for dtype in data.dtypes]
    _cells(sheet, row, list(headers.values()), [None] * data.width, bold=True)
    for number, values in enumerate(data.iter_rows(), start=row + 1):
        _cells(sheet, number, values, formats)
    row += 1 + data.height
    money = [name for name, dtype in data.schema.items() if dtype.is_decimal()]
    if total is not None and money and (data.height or always):
        sums = data.select(pl.col(money).sum()).row(0, named=True)
        line = [total, *(sums.get(name) for name in data.columns[1:])]
        _cells(sheet, row, line, formats, bold=True)
        row += 1
    return row


def _format(dtype: pl.DataType) -> str | None:
    """The number format of a column: money, count or none."""
    if dtype.is_decimal():
        return MONEY_FORMAT
    return COUNT_FORMAT if dtype.is_integer() else None


def _cells(
    sheet: Worksheet,
    row: int,
    values: Sequence[Value],
    formats: Sequence[str | None],
    *,
    bold: bool = False,
) -> None:
    """Write one row of cells; a Decimal becomes a float here and nowhere else."""
    for column, (value, number_format) in enumerate(
        zip(values, formats, strict=True), start=1
    ):
        shown = float(value) if isinstance(value, Decimal) else value
        cell = sheet.cell(row=row, column=column, value=shown)
        if number_format is not None and isinstance(shown, float | int):
            cell.number_format = number_format
        if bold:
            cell.font = BOLD


def _fit(sheet: Worksheet) -> None:
    """Fit each column's width to its longest value below the title, up to ``MAX_WIDTH``."""
    for number, column in enumerate(sheet.iter_cols(min_row=2), start=1):
        longest = max((len(_shown(cell.value)) for cell in column), default=0)
        width = min(longest + 2, MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(number)].width = width


def _shown(value: object) -> str:
    """How a cell's value reads in the sheet, for its width."""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
