"""Anomalies of the generator (issue 15 item 3): exact rate, every kind, disjoint from
faults, the truth's ``category``, same bytes, and each kind's defining property on the
generated tables, plus a real daily run that accepts and pays them in full."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from claims.config import Settings
from claims.pipeline.daily import run_inbox
from claims.synthetic import SyntheticDay, generate, generate_day
from claims.synthetic.anomalies import (
    KINDS,
    LONG_STAY_FACTOR,
    VISITS,
    anomaly_counts,
)
from claims.synthetic.faults import TRUTH_COLUMNS
from claims.synthetic.generate import build_chunk
from claims.synthetic.people import MAX_STAY
from claims.synthetic.run import Run, plan_run

KEYS = ["ma_cskcb", "ma_lk"]
ARGS = {"claims": 3000, "facilities": 15, "days": 24, "seed": 5, "error_rate": 0.03}
RATE = 0.05
# digests of generate(claims=600, facilities=6, days=3, seed=3, error_rate=0.05)
# computed with the generator of commit 3a74cb7, before anomalies existed
BEFORE_FILES = "62fe249a6554348e084af7587d0f86b92d346ec65c8769e13d8d2ee700bb6fed"
BEFORE_TRUTH = "1cdc694603e9773d83b656826ca67175274e2ca9f77d11e13cfb823d69a8190c"


@pytest.fixture(scope="module")
def day() -> SyntheticDay:
    return generate_day(**ARGS, anomaly_rate=RATE)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def runs() -> tuple[Run, Run]:
    """The plan with anomalies and the same plan without."""
    common = {**ARGS, "day": date(2026, 10, 15), "catalog_dir": None}
    return (
        plan_run(**common, anomaly_rate=RATE),  # type: ignore[arg-type]
        plan_run(**common),  # type: ignore[arg-type]
    )


def _anomalies(truth: pl.DataFrame, kind: str | None = None) -> pl.DataFrame:
    rows = truth.filter(pl.col("category") == "anomaly")
    return rows if kind is None else rows.filter(pl.col("kind") == kind)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    ("claims", "rate", "days"),
    [(3000, RATE, 24), (700, 0.013, 24), (401, 0.3, 24), (500, 0.1, 1)],
)
def test_the_rate_is_exact(claims: int, rate: float, days: int) -> None:
    """Exactly round(claims × rate), also when a kind cannot be placed (one day: no
    repeated visits, split episode or exam during a stay) and its share passes on."""
    args = {**ARGS, "claims": claims, "facilities": 8, "days": days}
    truth = generate_day(**args, anomaly_rate=rate).truth  # type: ignore[arg-type]
    mine = _anomalies(truth)
    assert mine.height == round(claims * rate)
    assert mine.select(KEYS).is_unique().all()  # one anomaly per claim
    if days == 1:
        several_days = {"frequent_visits", "episode_split", "visit_during_stay"}
        assert set(mine["kind"]) == set(KINDS) - several_days


def test_every_kind_appears(day: SyntheticDay) -> None:
    assert set(_anomalies(day.truth)["kind"]) == set(KINDS)


def test_kinds_share_the_anomalies_evenly(runs: tuple[Run, Run]) -> None:
    """On a run with room for every kind, each gets its share (a paired kind an even
    number of claims); repeated visits come in whole patients of 4 or more visits, so
    fewer than 4 of their share may pass on to the next kinds."""
    plan = runs[0].claims.filter(pl.col("anomaly").is_not_null())
    counts = dict(plan.group_by("anomaly").len().iter_rows())
    share = anomaly_counts(round(ARGS["claims"] * RATE))
    assert sum(counts.values()) == sum(share.values())
    assert 0 <= share["frequent_visits"] - counts["frequent_visits"] < VISITS[0]
    assert all(counts[k] >= share[k] for k in KINDS if k != "frequent_visits")
    assert counts["episode_split"] % 2 == counts["visit_during_stay"] % 2 == 0


def test_anomalies_are_disjoint_from_faults(
    day: SyntheticDay, runs: tuple[Run, Run]
) -> None:
    faults = day.truth.filter(pl.col("category") == "fault").select(KEYS).unique()
    assert faults.height > 0
    assert _anomalies(day.truth).join(faults, on=KEYS).is_empty()
    plan = runs[0].claims  # nor a claim a fault refers to (a duplicate's source…)
    partners = plan.filter(pl.col("partner") >= 0)["partner"]
    referred = plan[partners.to_list()]
    assert referred["anomaly"].is_null().all()


def test_truth_category_column(day: SyntheticDay) -> None:
    truth = day.truth
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert set(truth["category"]) == {"fault", "anomaly"}
    mine = _anomalies(truth)
    assert set(mine["table"]) == {"XML1"}
    assert set(mine["level"]) == {"claim"}
    assert mine["stt"].is_null().all()
    assert mine["expected_reason"].is_null().all()
    assert set(mine["kind"]).isdisjoint(
        truth.filter(pl.col("category") == "fault")["kind"]
    )


def test_same_seed_same_bytes_with_anomalies(tmp_path: Path) -> None:
    args = {"claims": 500, "facilities": 5, "days": 6, "seed": 9, "anomaly_rate": 0.1}
    one = generate(tmp_path / "a", **args)  # type: ignore[arg-type]
    two = generate(tmp_path / "b", **args)  # type: ignore[arg-type]
    assert one.anomalies == 50
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert one.truth.read_bytes() == two.truth.read_bytes()
    other = generate(tmp_path / "c", **{**args, "seed": 10})  # type: ignore[arg-type]
    assert _digest(tmp_path / "c") != _digest(tmp_path / "a")
    assert other.anomalies == 50


def test_rate_zero_is_the_generator_before_anomalies(tmp_path: Path) -> None:
    summary = generate(
        tmp_path / "inbox", claims=600, facilities=6, days=3, seed=3, error_rate=0.05
    )
    assert _digest(tmp_path / "inbox") == BEFORE_FILES
    truth = pl.read_parquet(summary.truth)
    assert set(truth["category"]) == {"fault"}
    assert summary.anomalies == 0
    text = truth.drop("category").write_csv().encode()
    assert hashlib.sha256(text).hexdigest() == BEFORE_TRUTH


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match=r"anomaly_rate must be within \[0, 1\]"):
        generate_day(claims=10, facilities=2, anomaly_rate=-0.1)
    with pytest.raises(
        ValueError, match="error_rate \\+ anomaly_rate must be at most 1"
    ):
        generate_day(claims=10, facilities=2, error_rate=0.6, anomaly_rate=0.5)


def test_too_many_anomalies_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"could not be placed.*lower --anomaly-rate"):
        generate_day(claims=300, facilities=3, error_rate=0, anomaly_rate=1.0)


# ---- each kind's defining property


def _claims_of(day: SyntheticDay, kind: str) -> pl.DataFrame:
    keys = _anomalies(day.truth, kind).select(KEYS)
    assert keys.height > 0
    return day.tables["XML1"].join(keys, on=KEYS)


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, 8).str.to_date("%Y%m%d")


def test_episode_split_is_one_stay_billed_twice(day: SyntheticDay) -> None:
    xml1 = _claims_of(day, "episode_split")
    pairs = xml1.group_by("ma_cskcb", "ma_the_bhyt").agg(
        pl.len().alias("n"),
        pl.col("ma_benh_chinh").n_unique().alias("dx"),
        pl.col("ma_loai_kcb").unique().alias("types"),
        _date("ngay_ra").sort_by(_date("ngay_vao")).first().alias("ra1"),
        _date("ngay_vao").sort_by(_date("ngay_vao")).last().alias("vao2"),
    )
    assert pairs.height * 2 == xml1.height
    assert (pairs["n"] == 2).all()
    assert (pairs["dx"] == 1).all()
    assert pairs["types"].to_list() == [["03"]] * pairs.height
    gap = (pairs["vao2"] - pairs["ra1"]).dt.total_days()
    assert (gap == 1).all()  # discharged, readmitted the next day


def test_visit_during_stay_is_one_patient_in_two_places(day: SyntheticDay) -> None:
    xml1 = _claims_of(day, "visit_during_stay").with_columns(
        _date("ngay_vao").alias("vao"), _date("ngay_ra").alias("ra")
    )
    stays = xml1.filter(pl.col("ma_loai_kcb") == "03")
    exams = xml1.filter(pl.col("ma_loai_kcb") == "01")
    assert stays.height == exams.height == xml1.height // 2
    pairs = stays.join(exams, on="ma_the_bhyt", suffix="_b")
    assert pairs.height == stays.height  # one exam per stay, the same card
    assert (pairs["ma_cskcb"] != pairs["ma_cskcb_b"]).all()
    assert ((pairs["vao_b"] > pairs["vao"]) & (pairs["vao_b"] < pairs["ra"])).all()
    assert (pairs["ma_benh_chinh"] == pairs["ma_benh_chinh_b"]).all()


def test_frequent_visits_are_one_patient_many_times(day: SyntheticDay) -> None:
    xml1 = _claims_of(day, "frequent_visits").with_columns(_date("ngay_vao").alias("d"))
    patients = xml1.group_by("ma_cskcb", "ma_the_bhyt").agg(
        pl.len().alias("n"),
        pl.col("ma_benh_chinh").n_unique().alias("dx"),
        pl.col("ma_loai_kcb").unique().alias("types"),
        pl.col("d").sort().diff().dt.total_days().min().alias("gap"),
        (pl.col("d").max() - pl.col("d").min()).dt.total_days().alias("span"),
    )
    assert patients["n"].is_between(4, 7).all()
    assert (patients["dx"] == 1).all()
    assert patients["types"].to_list() == [["01"]] * patients.height
    assert (patients["gap"] >= 4).all()
    # under the pack's 8 visits in 30 days: the rule would not see them
    assert (patients["n"] < 8).all()
    others = day.tables["XML1"].join(xml1.select(KEYS), on=KEYS, how="anti")
    cards = xml1.select("ma_the_bhyt").unique()
    assert others.join(cards, on="ma_the_bhyt").is_empty()  # no other claim of theirs


def test_long_stay_is_several_times_as_long(runs: tuple[Run, Run]) -> None:
    mine, before = runs[0].claims, runs[1].claims
    chosen = (mine["anomaly"] == "long_stay").fill_null(False)
    new, old = mine.filter(chosen), before.filter(chosen)
    ratio = new["los"] / old["los"]
    low, high = LONG_STAY_FACTOR
    capped = new["los"] == MAX_STAY
    assert ((ratio >= low - 0.5) | capped).all()
    assert (ratio <= high + 0.5).all()
    assert (new["n_bed"] == new["los"]).all()
    assert (new["ra"] == old["ra"]).all()  # discharged as planned, admitted earlier
    assert ((new["ra"] // 1440 - new["vao"] // 1440) == new["los"]).all()


def test_long_stay_bills_a_bed_day_per_day(day: SyntheticDay) -> None:
    xml1 = _claims_of(day, "long_stay")
    beds = (
        day.tables["XML3"]
        .filter(pl.col("ma_nhom").is_in(["14", "15", "16"]))
        .group_by(KEYS)
        .agg(pl.col("so_luong").cast(pl.Float64).sum().alias("beds"))
    )
    stays = xml1.join(beds, on=KEYS).with_columns(
        (_date("ngay_ra") - _date("ngay_vao")).dt.total_days().alias("days")
    )
    assert stays.height == xml1.height
    assert (stays["days"] >= 6).all()  # at least 2 days × 3
    assert (stays["beds"] == stays["days"]).all()


def test_padded_and_drug_heavy_have_many_more_lines(
    day: SyntheticDay, runs: tuple[Run, Run]
) -> None:
    before = runs[1].claims.select(
        *KEYS, pl.sum_horizontal("n_lab", "n_img", "n_func").alias("tests"), "n_drug"
    )
    tests = (
        day.tables["XML3"]
        .filter(pl.col("ma_nhom").is_in(["1", "2", "3"]))
        .group_by(KEYS)
        .len("now")
    )
    padded = _claims_of(day, "padded_services").select(KEYS).join(before, on=KEYS)
    padded = padded.join(tests, on=KEYS, how="left")
    assert (padded["now"] >= padded["tests"] + 4).all()
    drugs = day.tables["XML2"].group_by(KEYS).len("now")
    heavy = _claims_of(day, "drug_heavy").select(KEYS).join(before, on=KEYS)
    heavy = heavy.join(drugs, on=KEYS, how="left")
    assert (heavy["now"] >= 15).all()
    assert (heavy["now"] > heavy["n_drug"]).all()


def test_inflated_cost_is_above_its_unchanged_twin(runs: tuple[Run, Run]) -> None:
    run = runs[0]
    twin = dataclasses.replace(run, claims=run.claims.with_columns(dose_x=1))
    inflated = run.claims.filter(pl.col("anomaly") == "inflated_cost")
    assert inflated.height > 0
    money = ["t_thuoc", "t_tongchi_bv"]
    for index in range(len(run.chunks)):
        mine = build_chunk(run, index)[0]["XML1"].join(inflated.select(KEYS), on=KEYS)
        other = build_chunk(twin, index)[0]["XML1"].join(mine.select(KEYS), on=KEYS)
        both = mine.select(*KEYS, *money).join(other, on=KEYS, suffix="_twin")
        for column in money:
            assert (
                both[column].cast(pl.Float64) > both[f"{column}_twin"].cast(pl.Float64)
            ).all()
        ratio = both["t_thuoc"].cast(pl.Float64) / both["t_thuoc_twin"].cast(pl.Float64)
        assert (ratio <= 6.01).all()
        assert (ratio >= 1.5).all()


# ---- a real daily run


def test_anomalies_pass_the_daily_run_and_are_paid_in_full(tmp_path: Path) -> None:
    summary = generate(
        tmp_path / "inbox", claims=400, facilities=4, days=24, seed=3,
        error_rate=0.0, anomaly_rate=0.1,
    )  # fmt: skip
    result = run_inbox(tmp_path / "inbox", settings=Settings(data_dir=tmp_path / "d"))
    truth = _anomalies(pl.read_parquet(summary.truth))
    assert set(truth["kind"]) == set(KINDS)
    decided = result.decisions.join(truth.select(*KEYS, "kind"), on=KEYS)
    assert decided.height == truth.height == 40
    # the pack's feasibility review rules (checks/feasibility.yaml) send a split
    # episode and a visit during a stay to an assessor; every other kind passes
    # every rule, and none is rejected
    by_rule = {
        "episode_split": "SPLIT_EPISODE",
        "visit_during_stay": "VISIT_DURING_STAY",
    }
    assert set(decided["outcome"]) <= {"accepted", "pending_review"}, decided.group_by(
        "kind", "outcome"
    ).len()
    assessed = result.assessments.join(truth.select(*KEYS, "kind"), on=KEYS)
    assert assessed.height == truth.height
    for row in assessed.iter_rows(named=True):
        expected = by_rule.get(row["kind"])
        assert set(row["reason_codes"]) <= ({expected} if expected else set()), row
    others = decided.filter(~pl.col("kind").is_in(list(by_rule)))
    assert set(others["outcome"]) == {"accepted"}
    assert (
        assessed.filter(~pl.col("kind").is_in(list(by_rule)))["rules_fired"].sum() == 0
    )
    for column in ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt"):
        gap = (decided[f"accepted_{column}"] - decided[f"claimed_{column}"]).abs()
        assert gap.max() <= Decimal(1)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        (["--anomaly-rate", "1.5"], "--anomaly-rate must be within [0, 1], not 1.5"),
        (
            ["--error-rate", "0.6", "--anomaly-rate", "0.5"],
            "--error-rate + --anomaly-rate must be at most 1",
        ),
    ],
)
def test_cli_checks_the_rates(tmp_path: Path, rates: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from claims.cli.app import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["generate", "--out", str(out), *rates])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not out.exists()


def test_cli_writes_anomalies(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from claims.cli.app import app

    out = tmp_path / "out"
    args = ["--claims", "300", "--facilities", "4", "--days", "8", "--anomaly-rate"]
    result = CliRunner().invoke(app, ["generate", "--out", str(out), *args, "0.1"])
    assert result.exit_code == 0, result.output
    truth = pl.read_parquet(tmp_path / "out.truth.parquet")
    assert _anomalies(truth).height == 30
