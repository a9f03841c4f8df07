"""The episode features (claims/features_episode.py) on literal frames, each value worked
by hand; the rules reading them have their cases in rules/packs/vn-bhyt/checks/episode.yaml."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from claims.config import Settings
from claims.features_episode import (
    _code_known,
    catalog_codes,
    episode_claims,
    episode_lines,
)
from claims.money import MONEY, QUANTITY
from claims.pipeline.context import Reference
from claims.pipeline.daily import run_inbox
from claims.schema import EPISODE_CLAIM_FEATURES, EPISODE_LINE_FEATURES, Batch
from tests.factories import example_claim, hoso, with_key, wrapper

D = Decimal
CORRECTION = "vn-bhyt@2026.07.1"
"""The corrected version, which includes the episode fragment (pinned for every claim)."""
ADM = dt.datetime(2026, 8, 3, 8, 0)
EMPTY = pl.DataFrame()


def _batch(xml4: pl.DataFrame = EMPTY) -> Batch:
    facilities = pl.DataFrame(
        {
            "ma_cskcb": ["79001", "79002", "79003"],
            "valid_from": [
                dt.date(2019, 1, 1),
                dt.date(2019, 1, 1),
                dt.date(2026, 9, 1),
            ],
            "valid_to": [None, dt.date(2026, 8, 1), None],
        }
    )
    return Batch(EMPTY, EMPTY, EMPTY, xml4, EMPTY, EMPTY, facilities)


def _claims(**columns: list[object]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, object] = {
        "file_id": ["f"] * n,
        "hoso_idx": pl.Series(range(n), dtype=pl.UInt32),
        "ma_lk": [f"LK{i}" for i in range(n)],
        "ma_cskcb": ["79001"] * n,
        "ngay_vao": [ADM] * n,
        "ma_doituong_kcb": ["1.2"] * n,
        "ma_dkbd": ["79001"] * n,
        "ma_loai_kcb": ["01"] * n,
        "ma_the_bhyt": ["DN4790000000001"] * n,
    }
    return pl.DataFrame(base | columns)


def test_dkbd_known_and_registered_here() -> None:
    claims = _claims(
        ma_dkbd=["79001", "79002", "79003", "79000", "79009;79001", None],
    )
    out = episode_claims(_batch(), claims, None)
    # 79002 ended before admission, 79003 starts after it, 79000 is a temporary card's
    assert out["dkbd_known"].to_list() == [True, False, False, True, False, None]
    assert out["dkbd_is_facility"].to_list() == [True, False, False, False, True, None]
    assert out["withdrawal_of_stored"].to_list() == [None] * 6
    assert out.columns[-3:] == list(EPISODE_CLAIM_FEATURES)


def test_a_withdrawal_is_matched_against_the_history_only() -> None:
    claims = _claims(ma_doituong_kcb=["8", "8", "1.1"], ma_lk=["A", "B", "A"])
    history = pl.DataFrame({"ma_cskcb": ["79001"], "ma_lk": ["A"]})
    out = episode_claims(_batch(), claims, history)
    assert out["withdrawal_of_stored"].to_list() == [True, False, None]
    # without a history (a store-less check) nothing is concluded
    alone = episode_claims(_batch(), claims, None)
    assert alone["withdrawal_of_stored"].to_list() == [None, None, None]


def _drugs() -> pl.DataFrame:
    parts = {
        "t_nguonkhac_nsnn": [D("100.00"), None, None, None],
        "t_nguonkhac_vtnn": [D("50.00"), None, None, None],
        "t_nguonkhac_vttn": [None, None, None, None],
        "t_nguonkhac_cl": [D("0.50"), None, None, None],
        "t_nguonkhac": [D("152.00"), None, D("3.00"), D("0.00")],
    }
    return pl.DataFrame(
        {
            "file_id": ["f"] * 4,
            "hoso_idx": pl.Series([0, 0, 1, 2], dtype=pl.UInt32),
            "line_no": pl.Series([1, 2, 1, 1], dtype=pl.UInt32),
            "ma_thuoc": ["40.1", "40.2", "40.1", "40.1"],
            "lieu_dung": [
                "0,5 viên/lần * 2 lần/ngày * 30 ngày",
                "2 ống/lần * 1 lần/ngày",
                "1 viên/lần * 1 lần/ngày * 10 ngày",
                "uống khi đau",
            ],
            "so_luong": [D("30"), D("2"), D("10"), D("1")],
            "line_date": [
                dt.date(2026, 8, 3),
                dt.date(2026, 8, 3),
                dt.date(2026, 8, 20),
                dt.date(2026, 9, 10),
            ],
            **{k: pl.Series(v, dtype=MONEY) for k, v in parts.items()},
        },
        schema_overrides={"so_luong": QUANTITY},
    )


def test_drug_lines_other_sources_dosage_and_days_on_hand() -> None:
    claims = _claims(ma_loai_kcb=["01", "01", "01"])
    out = episode_lines("XML2", _batch(), _drugs(), claims)
    # 152.00 − (100 + 50 + 0.50) = 1.50; no parts: T_NGUONKHAC itself
    assert out["nguonkhac_gap"].to_list() == [
        D("1.50"),
        D("0.00"),
        D("3.00"),
        D("0.00"),
    ]
    assert out["dosage_parsed"].to_list() == [True, True, True, False]
    assert out["dosage_days"].to_list() == [30, None, 10, None]
    # 0.5 × 2 × 30 = 30; no days: no quantity
    assert out["dosage_quantity"].to_list() == [D("30.000"), None, D("10.000"), None]
    # 40.1 supplied 3 Aug for 30 days (to 2 Sep): on 20 Aug 13 days are left; the
    # line of 10 Sep has no days (not parsed) so it supplies nothing and gets nothing
    assert out["days_on_hand"].to_list() == [0, None, 13, None]
    assert set(EPISODE_LINE_FEATURES) <= set(out.columns)


def test_service_lines_result_dates_and_bed_days() -> None:
    kq = dt.datetime(2026, 8, 3, 10, 0)
    xml3 = pl.DataFrame(
        {
            "file_id": ["f"] * 5,
            "hoso_idx": pl.Series([0] * 5, dtype=pl.UInt32),
            "line_no": pl.Series([1, 2, 3, 4, 5], dtype=pl.UInt32),
            "ma_dich_vu": ["22.1", "22.2", "22.3", "K15.1", "K16.1"],
            "ngay_kq": [kq, kq, kq, None, None],
            "ma_nhom": ["1", "1", "1", "15", "16"],
            "ma_khoa": ["K47", "K47", "K47", "K03", "K03"],
            "so_luong": [D("1"), D("1"), D("1"), D("1"), D("0.5")],
            "line_date": [dt.date(2026, 8, 3)] * 5,
            **{
                c: pl.Series([None] * 5, dtype=MONEY)
                for c in (
                    "t_nguonkhac_nsnn",
                    "t_nguonkhac_vtnn",
                    "t_nguonkhac_vttn",
                    "t_nguonkhac_cl",
                    "t_nguonkhac",
                )
            },
        },
        schema_overrides={"so_luong": QUANTITY},
    )
    xml4 = pl.DataFrame(
        {
            "file_id": ["f"] * 3,
            "hoso_idx": pl.Series([0] * 3, dtype=pl.UInt32),
            "ma_dich_vu": ["22.1", "22.2", "22.2"],
            "ngay_kq": [kq, kq + dt.timedelta(minutes=1), kq + dt.timedelta(hours=1)],
        }
    )
    out = episode_lines("XML3", _batch(xml4), xml3, _claims(ma_loai_kcb=["03"]))
    # 22.1 matches; 22.2's two XML4 rows both differ; 22.3 has no XML4 row
    assert out["xml4_kq_matches"].to_list() == [True, False, None, None, None]
    # beds of the day: 1 + 0.5 over two codes, one department
    assert out["bed_units_day"].to_list() == [None, None, None, D("1.5"), D("1.5")]
    assert out["bed_depts_day"].to_list() == [None, None, None, 1, 1]
    assert out["dosage_days"].null_count() == 5


class _Catalog:
    """A resolved catalog's rows (what ``catalog_codes`` reads of a Catalog)."""

    def __init__(self, rows: pl.DataFrame):
        self.rows = rows

    def resolve(self) -> pl.DataFrame:
        return self.rows


def test_a_code_known_at_another_date_is_told_from_an_unknown_one() -> None:
    services = pl.DataFrame({"ma_cskcb": ["", "79001"], "ma_dich_vu": ["02.1", "02.2"]})
    supplies = pl.DataFrame({"ma_cskcb": ["79002"], "ma_vat_tu": ["N01"]})
    catalogs = {"services": _Catalog(services), "supplies": _Catalog(supplies)}
    codes = catalog_codes(catalogs)  # type: ignore[arg-type]
    assert sorted(codes.rows(), key=str) == [
        ("79001", "02.2"),
        ("79002", "N01"),
        (None, "02.1"),
    ]
    lines = pl.DataFrame(
        {
            "claim_ma_cskcb": ["79001", "79001", "79003", "79001", "79002"],
            "ma_dich_vu": ["02.1", "02.2", "02.2", "02.9", "02.9"],
            "ma_vat_tu": [None, None, None, None, "N01"],
        }
    )
    batch = _batch()._replace(catalog_codes=codes)
    out = _code_known(lines, batch.catalog_codes)
    # national 02.1 for anyone; 02.2 only 79001's; 02.9 nowhere; a supply by its code
    assert out["catalog_code_known"].to_list() == [True, True, False, False, True]
    assert _code_known(lines, None)["catalog_code_known"].null_count() == 5


def test_a_withdrawal_of_a_stored_claim_passes_and_of_an_unknown_one_is_flagged(
    tmp_path: Path,
) -> None:
    """J9 end to end: the store's history is what a withdrawal is matched against."""
    settings = Settings(data_dir=tmp_path / "data")
    reference = Reference.load(None, "vn-bhyt", CORRECTION)
    first = with_key(example_claim(), "W1")
    inbox = tmp_path / "in1"
    inbox.mkdir()
    (inbox / "a.xml").write_bytes(wrapper([hoso(first)]))
    run_inbox(inbox, settings=settings, reference=reference)
    withdrawals = []
    for key in ("W1", "W2"):  # W2 was never stored
        claim = with_key(example_claim(), key)
        claim["XML1"][0]["MA_DOITUONG_KCB"] = "8"
        withdrawals.append(hoso(claim))
    inbox = tmp_path / "in2"
    inbox.mkdir()
    (inbox / "b.xml").write_bytes(wrapper(withdrawals))
    run_inbox(inbox, settings=settings, reference=reference)
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        flagged = con.sql(
            "SELECT DISTINCT c.ma_lk FROM rule_hits h JOIN claims c USING (file_id, hoso_idx) "
            "WHERE h.rule_id = 'J9_WITHDRAWAL_UNKNOWN_CLAIM' AND h.outcome = 'fired'"
        ).fetchall()
    assert flagged == [("W2",)]


def test_days_on_hand_count_the_stored_visits(tmp_path: Path) -> None:
    """J6 end to end: a visit the store holds still covers a later visit's drugs."""
    settings = Settings(data_dir=tmp_path / "data")
    reference = Reference.load(None, "vn-bhyt", CORRECTION)
    # the example: 40.153 for 5 days and 40.290 for 7 days, outpatient on 6 Oct 2025
    for n, key in enumerate(("V1", "V2")):
        inbox = tmp_path / f"in{n}"
        inbox.mkdir()
        claim = with_key(example_claim(), key)
        (inbox / f"{key}.xml").write_bytes(wrapper([hoso(claim)]))
        run_inbox(inbox, settings=settings, reference=reference)
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        hits = con.sql(
            "SELECT c.ma_lk, x.ma_thuoc FROM rule_hits h "
            "JOIN claims c USING (file_id, hoso_idx) "
            "JOIN xml2 x ON x.file_id = h.file_id AND x.hoso_idx = h.hoso_idx "
            "AND x.line_no = h.line_no "
            "WHERE h.rule_id = 'J6_DRUG_ON_HAND' AND h.outcome = 'fired' ORDER BY 2"
        ).fetchall()
    # V1 was alone in its run; V2's drugs are both still on hand (5 and 7 days > 3)
    assert hits == [("V2", "40.153"), ("V2", "40.290")]
