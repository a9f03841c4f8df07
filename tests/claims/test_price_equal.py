"""``price_lines`` (integer keys, equi-join, row gather) equals the as-of join it replaced.

The reference below is the previous engine: per table, a backward ``join_asof`` on
``valid_from`` by facility, catalog and code, the ``valid_to`` check, then the same on
the national rows for the lines left. Random catalogs have overlapping, same-day,
withdrawn (``valid_to`` before the date) and inverted rows; random lines have facilities
and codes in no catalog, no dates, no execution date and no claimed price.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from catalogs.resolve import VERSION
from catalogs.schema import DRUGS, SERVICES, SUPPLIES
from claims import price
from claims.errors import ReasonCode as R
from claims.price import (
    PRICE_SCHEMA,
    TABLES,
    PriceCatalogs,
    _unified,
    price_lines,
    probe_lines,
)

DAY0 = date(2024, 3, 1)
FACILITIES = (None, "01001", "01002")
LINE_FACILITIES = ("01001", "01002", "09999", None)
CODES = ("A", "B")
LINE_CODES = ("A", "B", "C", None)
KINDS = ("drugs", "services", "supplies")
CODE_COLUMN = {"drugs": "ma_thuoc", "services": "ma_dich_vu", "supplies": "ma_vat_tu"}
SCHEMA = {"drugs": DRUGS, "services": SERVICES, "supplies": SUPPLIES}


# ---------------------------------------------------------------- the reference


def _as_of(lines: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """The previous ``catalogs.resolve.as_of`` on ``probe_lines`` (ties: last row)."""
    keep = ["don_gia", "tyle_tt_bh", "tran_tt", "max_per_day", VERSION]
    indexed = lines.with_row_index("_i")
    probe = indexed.select("_i", "code", "line_date", "catalog", "ma_cskcb")
    probe = probe.filter(
        pl.col("line_date").is_not_null() & pl.col("code").is_not_null()
    ).sort("line_date")
    found: list[pl.DataFrame] = []
    passes = (
        (["ma_cskcb", "catalog", "code"], pl.col("ma_cskcb").is_not_null(), "facility"),
        (["catalog", "code"], pl.col("ma_cskcb").is_null(), "national"),
    )
    for keys, subset, scope in passes:
        right = (
            catalog.filter(subset)
            .select(*keys, "valid_from", "valid_to", *keep)
            .sort("valid_from", maintain_order=True)
        )
        if found:
            probe = probe.join(found[-1].select("_i"), on="_i", how="anti")
        hit = probe.join_asof(
            right,
            left_on="line_date",
            right_on="valid_from",
            by=keys,
            strategy="backward",
            check_sortedness=False,
        ).filter(
            pl.col(VERSION).is_not_null()
            & (
                pl.col("valid_to").is_null()
                | (pl.col("line_date") <= pl.col("valid_to"))
            )
        )
        found.append(hit.select("_i", *keep, pl.lit(scope).alias("catalog_scope")))
    matched = pl.concat(found)
    return indexed.join(matched, on="_i", how="left", maintain_order="left").drop("_i")


def _priced(found: pl.DataFrame, table: str) -> pl.DataFrame:
    """The previous engine's output columns from the probe and the joined catalog row."""
    priced = pl.col("don_gia").is_not_null()
    claimed, catalog = pl.col("claimed_price"), pl.col("don_gia")
    return found.select(
        "file_id",
        "hoso_idx",
        pl.lit(table).alias("table"),
        *("line_no", "ma_cskcb", "catalog", "code", "line_date"),
        *("claimed_price", "claimed_ratio"),
        catalog.alias("catalog_price"),
        pl.when(priced)
        .then(pl.col("tyle_tt_bh").fill_null(100))
        .alias("catalog_ratio"),
        pl.col("tran_tt").alias("catalog_ceiling"),
        pl.col("max_per_day").alias("catalog_max_per_day"),
        "catalog_scope",
        VERSION,
        pl.when(catalog.is_null() | claimed.is_null())
        .then(0)
        .otherwise(pl.min_horizontal(claimed, catalog))
        .alias("payable_price"),
        pl.when(~priced).then(pl.lit(R.NOT_IN_CATALOG.value)).alias("reason_code"),
    ).cast(pl.Schema(PRICE_SCHEMA))


def _reference(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs
) -> pl.DataFrame:
    catalogs = (
        _unified(prices.drugs, "drugs", "ma_thuoc"),
        pl.concat(
            [
                _unified(prices.services, "services", "ma_dich_vu"),
                _unified(prices.supplies, "supplies", "ma_vat_tu"),
            ]
        ),
    )
    parts = []
    for table, lines, catalog in zip(TABLES, (xml2, xml3), catalogs, strict=True):
        probe = probe_lines(lines, table.catalog, table.code, table.claimed)
        parts.append(_priced(_as_of(probe, catalog), table.name))
    return pl.concat(parts)


# ---------------------------------------------------------------- random inputs

days = st.integers(0, 12)
money = st.integers(1, 10**6).map(lambda v: Decimal(v) / 100)
catalog_row = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(FACILITIES),
    st.sampled_from(CODES),
    days,
    st.one_of(st.none(), st.integers(-2, 8)),  # valid_to: open, or days after start
    money,
)
line = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(LINE_FACILITIES),
    st.sampled_from(LINE_CODES),
    st.one_of(st.none(), days),  # NGAY_YL
    st.one_of(st.none(), days),  # NGAY_TH_YL
    st.one_of(st.none(), money),
)


def _catalogs(rows: Sequence[tuple[object, ...]]) -> PriceCatalogs:
    """Resolved-shaped catalogs; every row its own version label, to see which won."""
    frames = []
    for kind in KINDS:
        mine = [(i, r) for i, r in enumerate(rows) if r[0] == kind]
        schema = SCHEMA[kind].polars_schema | {VERSION: pl.String()}
        records = [
            dict.fromkeys(schema)
            | {
                "ma_cskcb": facility,
                CODE_COLUMN[kind]: code,
                "don_gia": price,
                "tyle_tt_bh": None if kind == "services" else 50 + i,
                "valid_from": DAY0 + timedelta(days=start),  # type: ignore[arg-type]
                "valid_to": None
                if length is None
                else DAY0 + timedelta(days=start + length),  # type: ignore[operator]
                VERSION: f"v{i}",
            }
            | ({"tran_tt": Decimal(i)} if kind == "supplies" else {})
            | ({"max_per_day": i} if kind == "services" else {})
            for i, (_, facility, code, start, length, price) in mine
        ]
        frames.append(pl.DataFrame(records, schema=schema, orient="row"))
    return PriceCatalogs(*frames)


def _lines(lines: Sequence[tuple[object, ...]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    def at(day: object) -> datetime | None:
        return None if day is None else datetime(2024, 3, 1, 9) + timedelta(days=day)  # type: ignore[arg-type]

    common = {
        "file_id": pl.String(),
        "hoso_idx": pl.UInt32(),
        "line_no": pl.UInt32(),
        "ma_cskcb": pl.String(),
        "tyle_tt_bh": pl.Int16(),
        "ngay_yl": pl.Datetime("us"),
        "ngay_th_yl": pl.Datetime("us"),
    }
    money_type = pl.Decimal(38, 3)
    drugs, others = [], []
    for n, (kind, facility, code, ordered, done, claimed) in enumerate(lines):
        base = {
            "file_id": "f",
            "hoso_idx": n // 3,
            "line_no": n,
            "ma_cskcb": facility,
            "tyle_tt_bh": 100,
            "ngay_yl": at(ordered),
            "ngay_th_yl": at(done),
        }
        if kind == "drugs":
            drugs.append(base | {"ma_thuoc": code, "don_gia": claimed})
        else:
            supply = kind == "supplies"
            others.append(
                base
                | {
                    "ma_dich_vu": "DV" if supply else code,
                    "ma_vat_tu": code if supply else None,
                    "don_gia_bh": claimed,
                }
            )
    xml2 = pl.DataFrame(
        drugs,
        schema=common | {"ma_thuoc": pl.String(), "don_gia": money_type},
        orient="row",
    )
    schema3 = common | {
        "ma_dich_vu": pl.String(),
        "ma_vat_tu": pl.String(),
        "don_gia_bh": money_type,
    }
    return xml2, pl.DataFrame(others, schema=schema3, orient="row")


# ---------------------------------------------------------------- the property


LOOKUPS = pytest.mark.parametrize(
    "hashed_from", [0, 10**9], ids=["numba hash lookup", "polars join"]
)
"""Both ways :func:`claims.price.row_numbers` finds rows (by the batch's size)."""


@LOOKUPS
@given(st.lists(catalog_row, max_size=14), st.lists(line, max_size=25))
def test_price_lines_equals_the_as_of_join(
    hashed_from: int,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[object, ...]],
    lines: list[tuple[object, ...]],
) -> None:
    monkeypatch.setattr(price, "HASHED_FROM", hashed_from)
    prices = _catalogs(rows)
    xml2, xml3 = _lines(lines)
    ours = price_lines(xml2, xml3, prices)
    assert ours.schema == pl.Schema(PRICE_SCHEMA)
    assert ours.height == len(lines)
    assert_frame_equal(ours, _reference(xml2, xml3, prices))


@LOOKUPS
def test_the_row_starting_last_decides_and_a_withdrawn_one_leaves_it_to_national(
    hashed_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overlapping rows (a frame no loader checked): the as-of meaning, spelled out."""
    monkeypatch.setattr(price, "HASHED_FROM", hashed_from)
    rows = [
        ("drugs", "01001", "A", 0, None, Decimal(10)),  # v0: open from day 0
        ("drugs", "01001", "A", 4, 1, Decimal(20)),  # v1: days 4-5 only
        ("drugs", "01001", "A", 8, None, Decimal(30)),  # v2: from day 8 ...
        ("drugs", "01001", "A", 8, None, Decimal(40)),  # v3: ... replaced the same day
        ("drugs", None, "A", 0, None, Decimal(99)),  # v4: national
    ]
    xml2, xml3 = _lines(
        [("drugs", "01001", "A", d, None, Decimal(1)) for d in range(10)]
    )
    priced = price_lines(xml2, xml3, _catalogs(rows))
    assert priced[VERSION].to_list() == (
        ["v0"] * 4 + ["v1"] * 2 + ["v4"] * 2 + ["v3"] * 2
    )
    assert priced["catalog_scope"].to_list() == (
        ["facility"] * 6 + ["national"] * 2 + ["facility"] * 2
    )


@LOOKUPS
def test_lines_of_a_table_keep_their_order_whatever_priced_them(
    hashed_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(price, "HASHED_FROM", hashed_from)
    rows = [
        ("services", None, "A", 0, None, Decimal(5)),
        ("services", "01002", "B", 0, None, Decimal(6)),
    ]
    lines = [
        ("services", f, c, 1, None, Decimal(1))
        for f in ("01002", "01001", None)
        for c in ("B", "A", "C")
    ]
    xml2, xml3 = _lines(lines)
    priced = price_lines(xml2, xml3, _catalogs(rows))
    assert priced["line_no"].to_list() == list(range(9))
    assert priced["catalog_scope"].to_list() == [
        *("facility", "national", None),
        *(None, "national", None),
        *(None, "national", None),
    ]
