"""``review sample`` → the store → ``review extrapolate``, on a real DuckDB store of a
generated day, through a Typer app that registers the two commands as the ``review``
group will."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from claims.cli.common import Boundary
from claims.cli.sampling import extrapolate, sample
from claims.config import Settings
from tests.conftest import DAY, PERIOD

REVIEW_RUN = "review-fixture-run"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Settings]:
    """A generated day of 150 claims at 4 facilities, run into two fresh stores: one
    for the commands (its fixture adds decision rows to its run folders), one for the
    review module."""
    from claims.pipeline.daily import run_inbox
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("sample-cli")
    generate(root / "inbox", claims=150, facilities=4, day=DAY, seed=3, fmt="xml")
    # not scored by its run: the commands' store is a period without anomaly scores
    settings = Settings(data_dir=root / "data", anomaly_daily=False)
    run_inbox(root / "inbox", settings=settings, move_files=False)
    other = Settings(data_dir=root / "other")
    run_inbox(root / "inbox", settings=other, move_files=False)
    return settings, other


@pytest.fixture
def store(stores: tuple[Settings, Settings]) -> Settings:
    return stores[0]


def app() -> typer.Typer:
    review = typer.Typer(cls=Boundary)
    review.command("sample")(sample)
    review.command("extrapolate")(extrapolate)
    return review


def invoke(settings: Settings, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    got = runner.invoke(app(), [*args, "--data-dir", str(settings.data_dir)])
    return got.exit_code, got.stdout, got.stderr


def review_some(
    settings: Settings, claims: pl.DataFrame, run: str = REVIEW_RUN
) -> dict[tuple[str, int], Decimal]:
    """Record reviewed decision versions of ``claims`` (those of an even HOSO index cut
    by 10 % of their engine-accepted T_BHTT, rounded down to the đồng; the rest
    unchanged) as run ``run``; the overpayment of each.

    The review module (``claims.store.review``) is written at the same time as this
    test: the fixture appends the reviewed versions directly, as the engine's decision
    rows with the new amount and a ``review_id``, in a run folder of their own with its
    ``runs`` row, so that the store's ``decisions`` view holds them beside the engine's.
    """
    with duckdb.connect(str(settings.store_path)) as con:
        con.register("_keys", claims.select("file_id", "hoso_idx").to_arrow())
        engine = con.sql(
            "SELECT d.* FROM decisions d JOIN _keys USING (file_id, hoso_idx) "
            f"WHERE d.run_id NOT LIKE '{REVIEW_RUN}%' ORDER BY d.ma_cskcb, d.ma_lk"
        ).pl()
        cut = pl.col("hoso_idx") % 2 == 0
        reduction = (
            pl.when(cut)
            .then((pl.col("accepted_t_bhtt") / 10).floor().cast(pl.Decimal(38, 2)))
            .otherwise(pl.lit(Decimal(0)).cast(pl.Decimal(38, 2)))
        )
        reviewed = engine.with_columns(reduction.alias("_cut")).with_columns(
            (pl.col("accepted_t_bhtt") - pl.col("_cut")).alias("accepted_t_bhtt"),
            pl.lit(run).alias("run_id"),
            pl.format("rv-{}-{}", "file_id", "hoso_idx").alias("review_id"),
        )
        folder = settings.runs_dir / DAY.isoformat() / run
        folder.mkdir(parents=True)
        reviewed.drop("_cut").write_parquet(folder / "decisions.parquet")
        con.execute(
            f"INSERT INTO runs SELECT * REPLACE ('{run}' AS run_id) FROM runs LIMIT 1"
        )
    return {
        (r["file_id"], r["hoso_idx"]): r["_cut"]
        for r in reviewed.select("file_id", "hoso_idx", "_cut").iter_rows(named=True)
    }


def test_sample_store_review_extrapolate(store: Settings) -> None:
    code, stdout, stderr = invoke(
        store, "sample", "--period", PERIOD, "--size", "24", "--seed", "11",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr
    drawn = json.loads(stdout)
    assert drawn["seed"] == 11
    assert sum(row["sampled"] for row in drawn["allocation"]) == 24
    assert len(drawn["claims"]) == 24
    with duckdb.connect(str(store.store_path), read_only=True) as con:
        stored = con.sql("SELECT * FROM review_sample_claims").pl()
        population = con.execute(
            "SELECT count(*) FROM decisions d JOIN claims c USING (file_id, hoso_idx) "
            "WHERE c.is_current AND NOT d.withdrawn"
        ).fetchone()
    assert stored["sample_id"].unique().to_list() == [drawn["sample_id"]]
    assert stored.height == 24
    assert population is not None
    assert sum(row["population"] for row in drawn["allocation"]) == population[0]

    # the same draw again is refused: it is stored already
    code, _, stderr = invoke(
        store, "sample", "--period", PERIOD, "--size", "24", "--seed", "11"
    )
    assert code == 1
    assert f"sample {drawn['sample_id']} is stored already" in stderr

    code, _, stderr = invoke(store, "extrapolate", drawn["sample_id"])
    assert code == 1
    assert "24 of the 24 sampled claims are not reviewed yet" in " ".join(
        stderr.split()
    )

    # half reviewed (every other claim of each stratum): an estimate only on request
    half = stored.filter(pl.int_range(pl.len()).over("stratum") % 2 == 0)
    review_some(store, half, f"{REVIEW_RUN}-half")
    code, _, stderr = invoke(store, "extrapolate", drawn["sample_id"])
    assert code == 1
    assert (
        f"{24 - half.height} of the 24 sampled claims are not reviewed yet"
        in " ".join(stderr.split())
    )
    code, _, stderr = invoke(
        store, "extrapolate", drawn["sample_id"], "--allow-partial"
    )
    assert code == 0, stderr
    assert "missing at random" in " ".join(stderr.split())

    cuts = review_some(store, stored)
    code, stdout, stderr = invoke(
        store, "extrapolate", drawn["sample_id"], "--format", "json"
    )
    assert code == 0, stderr
    got = json.loads(stdout)
    assert got["not_reviewed"] == 0
    assert got["estimator"].startswith("stratified expansion (Horvitz–Thompson)")
    # the expansion estimate by hand: Σ_h N_h × (the stratum's cuts) / n_h
    sizes = {row["stratum"]: row["population"] for row in drawn["allocation"]}
    per: dict[str, list[Decimal]] = {}
    for row in stored.iter_rows(named=True):
        per.setdefault(row["stratum"], []).append(
            cuts[(row["file_id"], row["hoso_idx"])]
        )
    expected = sum(
        (Decimal(sizes[s]) * sum(v) / len(v)).quantize(Decimal("0.01"))
        for s, v in per.items()
    )
    total = got["totals"][0]
    assert total["estimator"] == "expansion"
    assert Decimal(total["estimate"]) == expected
    assert Decimal(total["lower"]) <= expected <= Decimal(total["upper"])
    # strata are facilities: the facilities' totals add up to the estimate
    facilities = got["facilities"]
    assert {f["ma_cskcb"] for f in facilities} == set(stored["ma_cskcb"])
    assert sum(Decimal(f["estimate"]) for f in facilities) == expected

    code, stdout, _ = invoke(store, "extrapolate", drawn["sample_id"])
    assert code == 0
    assert "stratified expansion" in stdout
    assert f"{expected:,.2f}" in stdout

    # every claim of the sample is reviewed: none waits for review any more
    from claims.store.runs import open_store
    from claims.store.samples import sampled_claims

    with open_store(store.store_path, read_only=True) as con:
        waiting = sampled_claims(con, [PERIOD])
    assert drawn["sample_id"] not in set(waiting["sample_id"])


def test_unknown_sample_and_bad_options_are_told(store: Settings) -> None:
    code, _, stderr = invoke(store, "extrapolate", "0123456789abcdef")
    assert code == 1
    assert "no review sample '0123456789abcdef'" in stderr
    code, _, stderr = invoke(store, "sample", "--period", PERIOD, "--size", "3")
    assert code == 1
    with duckdb.connect(str(store.store_path), read_only=True) as con:
        found = con.execute(
            "SELECT count(DISTINCT ma_cskcb) FROM claims WHERE is_current"
        ).fetchone()
    assert found is not None
    facilities = found[0]
    assert (
        f"--size 3 cannot give each of the {facilities} strata its 2 claims: "
        f"give --size {2 * facilities} or more"
    ) in " ".join(stderr.split())
    code, _, stderr = invoke(store, "sample", "--period", "2026-13", "--size", "10")
    assert code == 1
    assert "period '2026-13' is not YYYY-MM" in stderr
    code, _, stderr = invoke(
        store, "sample", "--period", PERIOD, "--size", "4", "--strata", "risk"
    )
    assert code == 0, stderr
    assert "period 2026-10 has no anomaly scores" in " ".join(stderr.split())


def test_a_claim_decided_by_an_assessor_counts_as_reviewed(
    stores: tuple[Settings, Settings],
) -> None:
    """Through the review module itself: an assessor reduces one line of a claim
    pending review; the claim's overpayment is that line's cut, and a claim nobody
    decided stays not reviewed."""
    from claims.pipeline.review import decide
    from claims.review import LineDecision
    from claims.store.runs import open_store
    from claims.store.samples import reviewed_amounts

    settings = stores[1]
    with open_store(settings.store_path) as con:
        pending = con.sql(
            "SELECT d.ma_cskcb, d.ma_lk, d.file_id, d.hoso_idx, d.claimed_t_bhtt, "
            "l.table, l.stt, l.accepted_bhtt FROM decisions d "
            "JOIN decision_lines l USING (file_id, hoso_idx) "
            "WHERE d.outcome = 'pending_review' AND l.accepted_bhtt > 1000 "
            "ORDER BY d.ma_cskcb, d.ma_lk, l.table, l.stt LIMIT 1"
        ).pl()
        other = con.sql(
            "SELECT ma_cskcb, ma_lk, file_id, hoso_idx, claimed_t_bhtt FROM decisions "
            "WHERE outcome = 'accepted' ORDER BY ma_cskcb, ma_lk LIMIT 1"
        ).pl()
        assert pending.height == 1, "the generated day holds a claim pending review"
        line = pending.row(0, named=True)
        kept = (line["accepted_bhtt"] / 2).quantize(Decimal("0.01"))
        decide(
            con,
            settings,
            line["ma_cskcb"],
            line["ma_lk"],
            [LineDecision(line["table"], line["stt"], "reduce", amount=kept)],
            assessor="gdv01",
            justification="Thuốc vượt số lượng chỉ định",
            reason_code=None,
            decided_at="2026-11-02T08:00:00.000000+00:00",
        )
        claims = pl.concat([pending.select(other.columns), other]).with_columns(
            pl.lit("all").alias("stratum")
        )
        got = reviewed_amounts(con, claims)
    assert got["reviewed"].to_list() == [True, False]
    assert got["overpayment"][0] == line["accepted_bhtt"] - kept
    assert got["overpayment"][1] is None


def test_risk_strata_read_the_periods_anomaly_scores(
    stores: tuple[Settings, Settings],
) -> None:
    from claims.pipeline.anomalies import score_period

    settings = stores[1]
    score_period(settings, PERIOD)
    code, stdout, stderr = invoke(
        settings, "sample", "--period", PERIOD, "--size", "12", "--strata", "risk",
        "--risk-bands", "0.5,0.9", "--seed", "5", "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr
    drawn = json.loads(stdout)
    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        risks = con.sql(
            "SELECT CASE WHEN risk >= 0.9 THEN 'r2' WHEN risk >= 0.5 THEN 'r1' "
            "ELSE 'r0' END AS stratum, count(*) AS population "
            "FROM anomaly_scores WHERE period = ? GROUP BY ALL ORDER BY 1",
            params=[PERIOD],
        ).pl()
    got = {row["stratum"]: row["population"] for row in drawn["allocation"]}
    assert got == dict(risks.iter_rows())
    assert drawn["strata"]["risk_bands"] == [0.5, 0.9]


def test_the_sampled_claims_waiting_for_review(
    stores: tuple[Settings, Settings],
) -> None:
    """What the review queue can hold: the sampled claims without a review in force."""
    from claims.store.runs import open_store
    from claims.store.samples import sampled_claims

    settings = stores[1]
    code, stdout, stderr = invoke(
        settings, "sample", "--period", PERIOD, "--size", "10", "--strata", "",
        "--seed", "2", "--format", "json",
    )  # fmt: skip
    assert code == 0, stderr
    drawn = json.loads(stdout)
    with open_store(settings.store_path, read_only=True) as con:
        every = sampled_claims(con, [PERIOD])
        waiting = every.filter(pl.col("sample_id") == drawn["sample_id"])
        other_period = sampled_claims(con, ["2026-09"])
        reviewed = {
            (r[0], r[1])
            for r in con.execute(
                "SELECT file_id, hoso_idx FROM review_decisions "
                "WHERE state IN ('decided', 'approved')"
            ).fetchall()
        } if has_reviews(con) else set()  # fmt: skip
    sampled = {(c["file_id"], c["hoso_idx"]) for c in drawn["claims"]}
    assert {(f, h) for f, h in waiting.select("file_id", "hoso_idx").iter_rows()} == (
        sampled - reviewed
    )
    assert waiting["period"].unique().to_list() == [PERIOD]
    assert every.height >= waiting.height
    assert other_period.height == 0


def has_reviews(con: duckdb.DuckDBPyConnection) -> bool:
    from claims.store.runs import has_table

    return has_table(con, "review_decisions")
