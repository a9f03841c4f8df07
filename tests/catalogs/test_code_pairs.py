"""The ``code_pairs`` catalog: its rows are well formed, agree with the code_pairs
fragment's rules, name items the synthetic catalogs bill, and the line features join them
as the rows say (§4.3 F10–F16)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from catalogs.resolve import load_catalogs
from claims.features_pairs import pair_features
from claims.schema import Batch, Registries, table_schema

FRAGMENT = Path(__file__).parents[2] / "rules/packs/vn-bhyt/checks/code_pairs.yaml"
RULE_OF_KIND = {
    "unbundled": "F10_UNBUNDLED",
    "included_in_price": "F11_SERVICE_INCLUDED_IN_PRICE",
    "setting": "F13_NOT_PAYABLE_IN_SETTING",
    "prerequisite": "F15_PREREQUISITE_MISSING",
    "indication": "F16_INDICATION_MISSING",
}


@pytest.fixture(scope="module")
def pairs() -> pl.DataFrame:
    return load_catalogs(ids=["code_pairs"])["code_pairs"].resolve()


def test_every_kind_has_what_it_needs(pairs: pl.DataFrame) -> None:
    assert set(pairs["kind"]) == {
        "unbundled",
        "included_in_price",
        "prerequisite",
        "setting",
        "indication",
        "limit",
    }
    for row in pairs.iter_rows(named=True):
        kind = row["kind"]
        if kind in ("unbundled", "included_in_price", "prerequisite"):
            assert row["code_b"], row
        if kind == "indication":
            re.compile(row["icd"])
        if kind == "setting":
            assert row["setting"] in ("inpatient", "outpatient"), row
        if kind == "limit":
            assert row["per_day"] or (row["per_period_days"] and row["max_count"]), row
        assert row["source"].strip(), row
        # a pair chosen from the synthetic catalogs says so
        assert row["uncertain"] == row["note"].startswith("[U]"), row


def test_rows_act_as_the_fragment_rule_of_their_kind(pairs: pl.DataFrame) -> None:
    fragment = yaml.safe_load(FRAGMENT.read_text(encoding="utf-8"))
    rules = {r["id"]: r for r in fragment["rules"]}
    for row in pairs.iter_rows(named=True):
        if row["kind"] == "limit":
            rule = rules[
                "F14_QUANTITY_PER_DAY" if row["per_day"] else "F12_FREQUENCY_LIMIT"
            ]
        else:
            rule = rules[RULE_OF_KIND[row["kind"]]]
        assert (row["action"], row["reason_code"]) == (
            rule["action"],
            rule["reason_code"],
        ), row
        assert row["reason_code"] in fragment["reason_codes"]


def test_codes_are_items_the_synthetic_catalogs_hold(pairs: pl.DataFrame) -> None:
    catalogs = load_catalogs(ids=["drugs", "services", "supplies"])
    known = (
        set(catalogs["drugs"].resolve()["ma_thuoc"])
        | set(catalogs["services"].resolve()["ma_dich_vu"])
        | set(catalogs["supplies"].resolve()["ma_vat_tu"])
    )
    codes = set(pairs["code_a"]) | set(pairs["code_b"].drop_nulls())
    assert codes <= known, codes - known


# ---- the features on literal lines

DAY1, DAY2 = datetime(2026, 10, 14, 9), datetime(2026, 10, 15, 9)


def _frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = table_schema(table)
    full = [
        {c: r.get(c) for c in schema} | {"file_id": r.get("file_id", "f")} for r in rows
    ]
    return pl.DataFrame(full, schema=schema)


def _claim(hoso: int, **values: Any) -> dict[str, Any]:
    base = {
        "hoso_idx": hoso,
        "line_no": 1,
        "ma_lk": f"LK{hoso}",
        "ma_the_bhyt": f"GD4797932{hoso:06d}",
        "ma_loai_kcb": "01",
        "ngay_vao": DAY1,
        "ngay_ra": DAY2,
    }
    return base | values


def _line(
    hoso: int, no: int, code: str, day: datetime, **values: Any
) -> dict[str, Any]:
    column = "ma_thuoc" if code.startswith("40.") else "ma_dich_vu"
    if code.startswith("N0"):
        column = "ma_vat_tu"
    return {
        "hoso_idx": hoso,
        "line_no": no,
        column: code,
        "ngay_yl": day,
        "so_luong": "1",
    } | values


def _features(
    pairs: pl.DataFrame,
    xml1: list[dict[str, Any]],
    xml3: list[dict[str, Any]],
    xml2: list[dict[str, Any]] | None = None,
    table: str = "XML3",
) -> pl.DataFrame:
    claims = _frame("XML1", xml1).with_columns(
        pl.col("ma_loai_kcb").is_in(["03", "04", "06", "09"]).alias("is_inpatient")
    )
    lines3, lines2 = _frame("XML3", xml3), _frame("XML2", xml2 or [])
    empty = pl.DataFrame(schema=pl.Schema({"x": pl.Int64}))
    batch = Batch(
        claims,
        lines2,
        lines3,
        _frame("XML4", []),
        _frame("XML5", []),
        prices=empty,
        facilities=empty,
        registries=Registries(empty, empty, empty, pairs),
    )
    return pair_features(table, batch, lines3 if table == "XML3" else lines2, claims)


def test_a_drug_included_in_a_service_the_same_day(pairs: pl.DataFrame) -> None:
    xml1 = [_claim(0, ma_benh_chinh="N18.9"), _claim(1, ma_benh_chinh="N18.9")]
    xml3 = [_line(0, 1, "01.0257.0066", DAY1), _line(1, 1, "01.0257.0066", DAY1)]
    xml2 = [_line(0, 1, "40.581", DAY1), _line(1, 1, "40.581", DAY2)]
    got = _features(pairs, xml1, xml3, xml2, table="XML2").sort("hoso_idx")
    assert got["included_in"].to_list() == ["01.0257.0066", None]


def test_pairs_join_as_the_rows_say(pairs: pl.DataFrame) -> None:
    xml1 = [
        _claim(0, ma_loai_kcb="03", ma_benh_chinh="K35.8"),  # appendectomy stay
        _claim(1, ma_benh_chinh="N18.9"),  # dialysis with renal failure
        _claim(2, ma_benh_chinh="J18.9", ma_benh_kt="I10;N18.5"),  # … secondary N18
        _claim(3, ma_benh_chinh="J18.9"),  # dialysis without it
        _claim(4, ma_loai_kcb="03", ma_benh_chinh="K40.9"),  # hernia, mesh billed
        _claim(5, ma_loai_kcb="03", ma_benh_chinh="K40.9"),  # hernia, no mesh
    ]
    xml3 = [
        _line(0, 1, "10.0426.0498", DAY1),
        _line(0, 2, "10.0924.0205", DAY1),  # suture the same day: unbundled
        _line(0, 3, "10.0924.0205", DAY2),  # the next day: a separate wound
        _line(0, 4, "03.0076.0210", DAY2),  # dressing in inpatient care
        _line(1, 1, "01.0257.0066", DAY1),
        _line(1, 2, "03.0076.0210", DAY1),  # dressing for an outpatient: payable
        _line(2, 1, "01.0257.0066", DAY1),
        _line(3, 1, "01.0257.0066", DAY1),
        _line(4, 1, "10.0552.0551", DAY1),
        _line(4, 2, "N07.01.050", DAY1),
        _line(5, 1, "10.0552.0551", DAY1),
    ]
    got = _features(pairs, xml1, xml3).sort("hoso_idx", "line_no")
    unbundled = got.filter(pl.col("unbundled_with").is_not_null())
    assert unbundled.select("hoso_idx", "line_no").rows() == [(0, 2)]
    assert unbundled["unbundled_with"].to_list() == ["10.0426.0498"]
    setting = got.filter(pl.col("setting_excluded"))
    assert setting.select("hoso_idx", "line_no").rows() == [(0, 4)]
    indication = got.filter(pl.col("indication_missing"))
    assert indication.select("hoso_idx", "line_no").rows() == [(3, 1)]
    prerequisite = got.filter(pl.col("prerequisite_missing").is_not_null())
    assert prerequisite.select("hoso_idx", "line_no").rows() == [(5, 1)]
    assert prerequisite["prerequisite_missing"].to_list() == ["N07.01.050"]


def test_limits_per_day_and_per_period(pairs: pl.DataFrame) -> None:
    hba1c, rehab = "23.0083.1523", "08.0006.0230"
    xml1 = [
        _claim(0, ngay_vao=datetime(2026, 8, 1, 8)),
        _claim(1),  # the same patient (card digits 6–15) 75 days later
        _claim(2, ma_the_bhyt="GD4797999999999"),
    ]
    xml1[1]["ma_the_bhyt"] = xml1[0]["ma_the_bhyt"]
    xml3 = [
        _line(0, 1, hba1c, datetime(2026, 8, 1, 9)),
        _line(1, 1, hba1c, DAY1),  # second within 90 days
        _line(2, 1, hba1c, DAY1),  # another patient's first
        _line(2, 2, rehab, DAY1),
    ]
    got = _features(pairs, xml1, xml3).sort("hoso_idx", "line_no")
    assert got["period_count"].to_list() == [1, 2, 1, None]
    assert got["period_max"].to_list() == [1, 1, 1, None]
    assert got["code_day_limit"].to_list() == [None, None, None, 1]
