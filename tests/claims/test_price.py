"""As-of pricing on small literal frames: dates, scopes, missing codes, monotonicity."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogs.resolve import resolve
from catalogs.schema import DRUGS, SERVICES, SUPPLIES
from claims.errors import ReasonCode as R
from claims.price import PriceCatalogs, price_lines
from tests.catalogs.helpers import version

T0 = datetime(2024, 1, 1)
LINE = {
    "file_id": pl.String,
    "hoso_idx": pl.UInt32,
    "line_no": pl.UInt32,
    "ma_cskcb": pl.String,
    "tyle_tt_bh": pl.Int16,
    "ngay_yl": pl.Datetime("us"),
    "ngay_th_yl": pl.Datetime("us"),
}


def _catalog(schema_rows: pl.DataFrame, catalog_id: str) -> pl.DataFrame:
    return resolve([version(catalog_id, "2024-01-01", schema_rows, recorded_at=T0)])


def _frame(
    schema: dict[str, pl.DataType], rows: list[dict[str, object]]
) -> pl.DataFrame:
    return (
        pl.DataFrame(rows, schema=schema, orient="row")
        if rows
        else pl.DataFrame(schema=schema)
    )


def _drugs(*rows: dict[str, object]) -> pl.DataFrame:
    base = dict.fromkeys(DRUGS.names) | {"ten_hoat_chat": "x", "don_vi_tinh": "v"}
    return _frame(DRUGS.polars_schema, [base | r for r in rows])


def _services(*rows: dict[str, object]) -> pl.DataFrame:
    base = dict.fromkeys(SERVICES.names) | {"ten_dich_vu": "x", "ma_nhom": 1}
    return _frame(SERVICES.polars_schema, [base | r for r in rows])


def _supplies(*rows: dict[str, object]) -> pl.DataFrame:
    base = dict.fromkeys(SUPPLIES.names) | {"ten_vat_tu": "x", "ma_nhom": 10}
    return _frame(SUPPLIES.polars_schema, [base | r for r in rows])


def _prices(
    drugs: pl.DataFrame | None = None,
    services: pl.DataFrame | None = None,
    supplies: pl.DataFrame | None = None,
) -> PriceCatalogs:
    return PriceCatalogs(
        _catalog(drugs if drugs is not None else _drugs(), "drugs"),
        _catalog(services if services is not None else _services(), "services"),
        _catalog(supplies if supplies is not None else _supplies(), "supplies"),
    )


def _xml2(*rows: dict[str, object]) -> pl.DataFrame:
    schema = LINE | {"ma_thuoc": pl.String, "don_gia": pl.Decimal(38, 3)}
    base = {"file_id": "f", "hoso_idx": 0, "ma_cskcb": "01001", "tyle_tt_bh": 100}
    return _frame(schema, [base | {"line_no": i} | r for i, r in enumerate(rows)])


def _xml3(*rows: dict[str, object]) -> pl.DataFrame:
    schema = LINE | {
        "ma_dich_vu": pl.String,
        "ma_vat_tu": pl.String,
        "don_gia_bh": pl.Decimal(38, 3),
    }
    base = {"file_id": "f", "hoso_idx": 0, "ma_cskcb": "01001", "tyle_tt_bh": 100}
    return _frame(schema, [base | {"line_no": i} | r for i, r in enumerate(rows)])


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 30)


def test_validity_boundaries_are_inclusive() -> None:
    drugs = _drugs(
        {
            "ma_cskcb": "01001",
            "ma_thuoc": "40.17",
            "don_gia": Decimal(1000),
            "tyle_tt_bh": 100,
            "valid_from": date(2024, 3, 1),
            "valid_to": date(2024, 3, 31),
        }
    )
    days = [date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 31), date(2024, 4, 1)]
    xml2 = _xml2(
        *(
            {"ma_thuoc": "40.17", "ngay_yl": _at(d), "don_gia": Decimal(900)}
            for d in days
        )
    )
    priced = price_lines(xml2, _xml3(), _prices(drugs=drugs))
    assert priced["catalog_price"].to_list() == [
        None,
        Decimal(1000),
        Decimal(1000),
        None,
    ]
    assert priced["reason_code"].to_list() == [
        R.NOT_IN_CATALOG,
        None,
        None,
        R.NOT_IN_CATALOG,
    ]
    assert priced["payable_price"].to_list() == [0, Decimal(900), Decimal(900), 0]


def test_execution_date_decides_and_order_date_is_the_fallback() -> None:
    drugs = _drugs(
        {
            "ma_cskcb": "01001",
            "ma_thuoc": "A",
            "don_gia": Decimal(10),
            "tyle_tt_bh": 100,
            "valid_to": date(2024, 5, 31),
        },
        {
            "ma_cskcb": "01001",
            "ma_thuoc": "A",
            "don_gia": Decimal(12),
            "tyle_tt_bh": 100,
            "valid_from": date(2024, 6, 1),
        },
    )
    xml2 = _xml2(
        {
            "ma_thuoc": "A",
            "ngay_yl": _at(date(2024, 5, 31)),
            "ngay_th_yl": _at(date(2024, 6, 1)),
            "don_gia": Decimal(20),
        },
        {
            "ma_thuoc": "A",
            "ngay_yl": _at(date(2024, 5, 31)),
            "ngay_th_yl": None,
            "don_gia": Decimal(20),
        },
    )
    priced = price_lines(xml2, _xml3(), _prices(drugs=drugs))
    assert priced["catalog_price"].to_list() == [Decimal(12), Decimal(10)]
    assert priced["line_date"].to_list() == [date(2024, 6, 1), date(2024, 5, 31)]


def test_facility_row_wins_national_row_fills_in() -> None:
    services = _services(
        {"ma_cskcb": None, "ma_dich_vu": "S1", "don_gia": Decimal(100)},
        {"ma_cskcb": "01001", "ma_dich_vu": "S1", "don_gia": Decimal(80)},
    )
    day = _at(date(2024, 2, 1))
    xml3 = _xml3(
        {"ma_dich_vu": "S1", "ngay_yl": day, "don_gia_bh": Decimal(90)},
        {
            "ma_dich_vu": "S1",
            "ngay_yl": day,
            "don_gia_bh": Decimal(90),
            "ma_cskcb": "01002",
        },
    )
    priced = price_lines(_xml2(), xml3, _prices(services=services))
    assert priced["catalog_price"].to_list() == [Decimal(80), Decimal(100)]
    assert priced["catalog_scope"].to_list() == ["facility", "national"]
    assert priced["payable_price"].to_list() == [Decimal(80), Decimal(90)]
    assert priced["catalog_ratio"].to_list() == [100, 100]


def test_supply_lines_price_from_supplies_and_missing_codes_pay_nothing() -> None:
    services = _services(
        {"ma_cskcb": None, "ma_dich_vu": "S1", "don_gia": Decimal(100)}
    )
    supplies = _supplies(
        {
            "ma_cskcb": "01001",
            "ma_vat_tu": "V1",
            "don_gia": Decimal(50),
            "tyle_tt_bh": 70,
            "tran_tt": Decimal(1000),
        }
    )
    day = _at(date(2024, 2, 1))
    xml3 = _xml3(
        {
            "ma_dich_vu": "S1",
            "ma_vat_tu": "V1",
            "ngay_yl": day,
            "don_gia_bh": Decimal(50),
        },
        {"ma_dich_vu": "S9", "ngay_yl": day, "don_gia_bh": Decimal(10)},
    )
    priced = price_lines(_xml2(), xml3, _prices(services=services, supplies=supplies))
    assert priced.height == 2
    by_line = {r["line_no"]: r for r in priced.iter_rows(named=True)}
    assert by_line[0]["catalog"] == "supplies"
    assert by_line[0]["code"] == "V1"
    assert by_line[0]["catalog_ratio"] == 70
    assert by_line[0]["catalog_ceiling"] == Decimal(1000)
    assert by_line[1]["catalog"] == "services"
    assert by_line[1]["reason_code"] == R.NOT_IN_CATALOG
    assert by_line[1]["payable_price"] == 0


@pytest.mark.parametrize("supply_from", [date(2024, 1, 1), date(2024, 1, 20)])
def test_services_and_supplies_sharing_a_code_each_price_from_their_own(
    supply_from: date,
) -> None:
    """The supply catalog is joined only to supply lines, even where codes coincide."""
    services = _services(
        {"ma_cskcb": None, "ma_dich_vu": "X1", "don_gia": Decimal(100)}
    )
    supplies = _supplies(
        {
            "ma_cskcb": None,
            "ma_vat_tu": "X1",
            "don_gia": Decimal(50),
            "tyle_tt_bh": 70,
            "valid_from": supply_from,
        }
    )
    day = _at(date(2024, 2, 1))
    xml3 = _xml3(
        {"ma_dich_vu": "X1", "ngay_yl": day, "don_gia_bh": Decimal(200)},
        {
            "ma_dich_vu": "S",
            "ma_vat_tu": "X1",
            "ngay_yl": day,
            "don_gia_bh": Decimal(200),
        },
    )
    priced = price_lines(_xml2(), xml3, _prices(services=services, supplies=supplies))
    assert priced["catalog"].to_list() == ["services", "supplies"]
    assert priced["catalog_price"].to_list() == [Decimal(100), Decimal(50)]
    assert priced["catalog_ratio"].to_list() == [100, 70]
    assert priced["payable_price"].to_list() == [Decimal(100), Decimal(50)]


def test_a_drug_code_never_prices_a_service_line() -> None:
    drugs = _drugs(
        {"ma_cskcb": None, "ma_thuoc": "X1", "don_gia": Decimal(5), "tyle_tt_bh": 100}
    )
    day = _at(date(2024, 2, 1))
    xml3 = _xml3({"ma_dich_vu": "X1", "ngay_yl": day, "don_gia_bh": Decimal(9)})
    priced = price_lines(_xml2(), xml3, _prices(drugs=drugs))
    assert priced["reason_code"].to_list() == [R.NOT_IN_CATALOG]
    assert priced["payable_price"].to_list() == [0]


def test_every_line_comes_out_once() -> None:
    drugs = _drugs(
        {"ma_cskcb": "01001", "ma_thuoc": "A", "don_gia": Decimal(5), "tyle_tt_bh": 100}
    )
    day = _at(date(2024, 2, 1))
    xml2 = _xml2(
        *({"ma_thuoc": c, "ngay_yl": day, "don_gia": Decimal(5)} for c in "AAB"),
        {"ma_thuoc": "A", "ngay_yl": None, "don_gia": Decimal(5)},
    )
    priced = price_lines(xml2, _xml3(), _prices(drugs=drugs))
    assert priced["line_no"].to_list() == [0, 1, 2, 3]
    assert priced["reason_code"].to_list() == [
        None,
        None,
        R.NOT_IN_CATALOG,
        R.NOT_IN_CATALOG,
    ]


money = st.integers(1, 10**7).map(lambda v: Decimal(v) / 1000)
KINDS = ("drug", "service", "supply")
FACILITIES = (None, "01001", "01002")
# one catalog row: (kind, facility, code) -> price
catalog_rows = st.dictionaries(
    st.tuples(
        st.sampled_from(KINDS), st.sampled_from(FACILITIES), st.sampled_from("AB")
    ),
    money,
    min_size=1,
    max_size=12,
)
claim_lines = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from(FACILITIES[1:]),
        st.sampled_from("ABC"),
        money,
    ),
    min_size=1,
    max_size=10,
)


def _payable(
    lines: list[tuple[str, str | None, str, Decimal]],
    catalog: dict[tuple[str, str | None, str], Decimal],
) -> list[Decimal]:
    def rows(kind: str) -> list[tuple[str | None, str, Decimal]]:
        return [(f, c, p) for (k, f, c), p in catalog.items() if k == kind]

    prices = _prices(
        drugs=_drugs(
            *(
                {"ma_cskcb": f, "ma_thuoc": c, "don_gia": p, "tyle_tt_bh": 100}
                for f, c, p in rows("drug")
            )
        ),
        services=_services(
            *(
                {"ma_cskcb": f, "ma_dich_vu": c, "don_gia": p}
                for f, c, p in rows("service")
            )
        ),
        supplies=_supplies(
            *(
                {"ma_cskcb": f, "ma_vat_tu": c, "don_gia": p, "tyle_tt_bh": 80}
                for f, c, p in rows("supply")
            )
        ),
    )
    day = _at(date(2024, 2, 1))
    drugs = [(f, c, p) for k, f, c, p in lines if k == "drug"]
    others = [(k, f, c, p) for k, f, c, p in lines if k != "drug"]
    xml2 = _xml2(
        *(
            {"ma_cskcb": f, "ma_thuoc": c, "ngay_yl": day, "don_gia": p}
            for f, c, p in drugs
        )
    )
    xml3 = _xml3(
        *(
            {
                "ma_cskcb": f,
                "ma_dich_vu": "DV" if k == "supply" else c,
                "ma_vat_tu": c if k == "supply" else None,
                "ngay_yl": day,
                "don_gia_bh": p,
            }
            for k, f, c, p in others
        )
    )
    priced = price_lines(xml2, xml3, prices)
    assert priced.height == len(lines)
    claimed = [p for *_, p in drugs] + [p for *_, p in others]
    assert all(
        0 <= a <= c for a, c in zip(priced["payable_price"], claimed, strict=True)
    )
    return priced["payable_price"].to_list()


@given(claim_lines, catalog_rows, st.data())
def test_lowering_a_catalog_price_never_raises_a_payable_price(
    lines: list[tuple[str, str | None, str, Decimal]],
    catalog: dict[tuple[str, str | None, str], Decimal],
    data: st.DataObject,
) -> None:
    lowered = data.draw(st.sampled_from(sorted(catalog, key=str)))
    cut = data.draw(st.integers(1, 1000))
    cheaper = max(catalog[lowered] * (1000 - cut) / 1000, Decimal("0.001"))
    before = _payable(lines, catalog)
    after = _payable(lines, catalog | {lowered: cheaper.quantize(Decimal("0.001"))})
    assert all(a <= b for a, b in zip(after, before, strict=True))
