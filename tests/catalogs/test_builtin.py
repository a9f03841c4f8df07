"""The built-in catalogs: they load, ICD-10 is the package's list, base salary is the
reference's, and generated claims price cleanly except where a price fault is injected."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from catalogs.resolve import load_catalogs
from catalogs.schema import SCHEMAS
from catalogs.seed_icd10 import who_rows
from tests.conftest import GeneratedDay


def test_every_built_in_catalog_loads_with_its_schema() -> None:
    catalogs = load_catalogs()
    assert set(catalogs) == set(SCHEMAS)
    for catalog_id, catalog in catalogs.items():
        assert catalog.versions, catalog_id
        for v in catalog.versions:
            assert dict(v.rows.schema) == SCHEMAS[catalog_id].polars_schema
            assert len(v.content_hash) == 64


def test_icd10_is_the_who_list_of_the_package() -> None:
    rows = load_catalogs(ids=["icd10"])["icd10"].versions[-1].rows
    who = rows.filter(pl.col("source").str.starts_with("WHO"))
    package = who_rows()
    assert who.height == package.height > 10_000
    assert who["code"].to_list() == package["code"].to_list()
    assert who["ten"].to_list() == package["ten"].to_list()
    assert {"J18.9", "U07.1", "A00.0"} <= set(who["code"])
    assert rows["code"].is_unique().all()


def test_base_salary_is_the_reference_history() -> None:
    catalog = load_catalogs(ids=["base_salary"])["base_salary"]
    assert sum(v.rows.height for v in catalog.versions) == 6
    resolved = catalog.resolve().sort("valid_from")
    assert resolved["amount"].to_list() == [
        Decimal(v)
        for v in ("1300000", "1390000", "1490000", "1800000", "2340000", "2530000")
    ]
    starts = resolved["valid_from"].to_list()
    assert starts[2] == date(2019, 7, 1)
    assert starts[-1] == date(2026, 7, 1)
    ends = resolved["valid_to"].to_list()
    assert ends[-1] is None  # the current amount is open-ended
    # contiguous: each period ends the day before the next begins
    assert all((s - e).days == 1 for e, s in zip(ends[:-1], starts[1:], strict=True))
    assert resolved["source"].str.contains("NĐ").all()


def test_benefit_tables_read_as_data() -> None:
    benefits = load_catalogs(ids=["benefits"])["benefits"].resolve()

    def value(
        kind: str, key: str, key2: str | None = None, on: date = date(2024, 8, 1)
    ) -> Decimal:
        hit = benefits.filter(
            (pl.col("kind") == kind)
            & (pl.col("key") == key)
            & (pl.col("key2").eq_missing(key2))
            & (pl.col("valid_from") <= on)
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= on))
        )
        assert hit.height == 1, (kind, key, key2, on, hit)
        return Decimal(hit["value"][0])

    assert value("benefit_level", "4") == 80
    assert value("object_level", "HT") == 3
    assert value("object_level", "CN", on=date(2025, 6, 1)) == 3
    assert value("object_level", "CN", on=date(2026, 2, 1)) == 2
    assert value("route_rate", "central", "inpatient") == 40
    assert value("route_rate", "provincial", "inpatient", on=date(2020, 5, 1)) == 60
    assert value("route_rate", "provincial", "inpatient", on=date(2021, 5, 1)) == 100
    assert value("route_rate", "provincial", "outpatient", on=date(2026, 6, 30)) == 0
    assert value("route_rate", "provincial", "outpatient", on=date(2026, 7, 1)) == 50
    assert value("threshold", "low_cost_share") == Decimal("0.15")
    assert value("threshold", "supplies_ceiling_multiple") == 45
    assert [value("exam_ratio", k) for k in ("1", "2", "5", "6+")] == [100, 30, 10, 0]
    assert value("bed_ratio", "shared", "2") == 50


def test_generated_claims_price_cleanly_except_injected_price_faults(
    generated_day: GeneratedDay,
) -> None:
    truth = generated_day.truth
    prices = generated_day.sql(
        'SELECT c.ma_cskcb, c.ma_lk, p."table", p.reason_code, '
        "p.claimed_price > p.catalog_price AS above, p.line_no "
        "FROM prices p JOIN claim_status c USING (file_id, hoso_idx)"
    )
    assert prices.height > 3_000
    # a line billed as not done (its code + "_TB", D9) is in no catalog: the fault's
    # own consequence; every other line prices
    unpriced = prices.filter(pl.col("reason_code").is_not_null())
    not_done = truth.filter(pl.col("kind") == "not_done_billed")
    assert unpriced.join(not_done, on=["ma_cskcb", "ma_lk"], how="anti").height == 0
    assert set(unpriced["reason_code"]) <= {"NOT_IN_CATALOG"}
    above = prices.filter("above").select("ma_cskcb", "ma_lk", "table").unique()
    injected = (
        truth.filter(pl.col("kind") == "price_above_catalog")
        .select("ma_cskcb", "ma_lk", "table")
        .unique()
    )
    assert injected.height > 0
    # every injected price fault is above the catalog, and nothing else is
    assert above.sort(above.columns).equals(injected.sort(injected.columns))
