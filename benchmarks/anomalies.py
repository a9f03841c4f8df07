"""Anomaly scoring benchmark: a generated month of claims scored as the product scores it.

Run: ``python benchmarks/anomalies.py --claims 1000000 --json bench-anomalies.json``
(``--claims 250000`` for a smaller month; ``--facilities 2000 --seed 12`` by default).

Scoring a 1M-claim month (features + scores + queue): seconds, peak RSS, and the
evaluation table.

Prepared once and cached under ``--cache`` (default
``~/.cache/giamdinh-bench/anomalies/<claims>-<seed>``), each part in a child process:

* the month: ``claims.synthetic.generate`` of ``--claims`` claims over 20 days ending
  2026-10-30 (every claim declares October 2026), 2 % faulted, 1 % anomalies, as bulk
  Parquet (one folder a day) and the truth Parquet beside it;
* the typed tables: each day's folder in turn (bounded memory) read by
  ``claims.intake.read_submission`` and validated by the pipeline's validate stage
  (``run_stages(ctx, Frames(submissions=(sub,)), stages=STAGES[:1])``), its typed XML1,
  XML2 and XML3 restricted to ``claims.anomalies.READS`` (what the store gives a
  scoring, ``claims.store.anomalies.period_tables``) written one file a day a table.
  The month is checked whole: every generated claim is kept or refused by validation,
  no claim key (``ma_cskcb, ma_lk`` nor ``file_id, hoso_idx``) appears twice, every kept
  claim declares 2026-10.

Measured in a fresh process (its peak RSS, ``ru_maxrss``, is the scoring's own, with the
built-in catalogs loaded; the RSS after loading the tables is reported too), each step
timed apart: ``load`` (``pl.read_parquet`` of the typed tables), ``profiles``
(``claim_profiles``), ``scores`` (``score_claims``), ``explanations`` (together these
three are ``claims.pipeline.anomalies.score_tables``), ``facility_risk`` (no earlier
month) and ``queue`` (the candidates as ``claims.store.review.review_candidates``
selects them, the claims whose risk reaches ``Settings.review_risk_threshold``, then
``claims.review.queue.review_queue`` with no reviews nor contests; no rule ran, so no
claim is held by a rule). Parameters are ``claims.pipeline.anomalies.parameters`` of the
default ``Settings()``. Then ``claims.anomalies.evaluate`` against the truth at review
capacities of 1 % and 2 %. A child whose RSS passes ``--max-rss-gb`` is killed by its pid
and reported. Each step's CPU seconds (every thread) are printed beside its wall time:
under other load they tell how much of the cores it had. ``--json`` writes every figure,
the preparation's too, with the machine, the commit, the engine files that differ from
it (others' work in progress) and the load average at start and end.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import Laps  # noqa: E402

DAY = date(2026, 10, 30)
DAYS = 20
PERIOD = (2026, 10)
TABLES = ("XML1", "XML2", "XML3")
CAPACITIES = (0.01, 0.02)
STEPS = ("load", "profiles", "scores", "explanations", "facility_risk", "queue")


class Killed(RuntimeError):
    """A child process passed the RSS limit and was killed."""


# ---------------------------------------------------------------- processes


def _status_bytes(field: str, pid: int | str = "self") -> int:
    """A memory field of ``/proc/<pid>/status`` in bytes (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _peak_bytes() -> int:
    """This process's RSS high-water mark (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(target: Callable[..., None], *args: Any, limit_gb: float) -> None:
    """Run ``target(*args)`` in a fresh (spawned) process; kill it by its pid when its
    RSS passes ``limit_gb``. Results go through files, not the process boundary."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    assert process.pid is not None
    peak = 0
    while process.is_alive():
        peak = max(peak, _status_bytes("VmRSS", process.pid))
        if peak > limit_gb * 1e9:
            process.kill()
            process.join()
            msg = f"{target.__name__} killed at RSS {peak / 1e9:.1f} GB (--max-rss-gb)"
            raise Killed(msg)
        process.join(0.2)
    if process.exitcode:
        msg = f"{target.__name__} failed (exit code {process.exitcode})"
        raise RuntimeError(msg)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the month


def generate_month(cache: Path, claims: int, facilities: int, seed: int) -> None:
    """Child: the month as bulk Parquet in ``cache/inbox`` (``generate.json`` last)."""
    from claims.synthetic import generate

    start = time.perf_counter()
    summary = generate(
        cache / "inbox",
        claims=claims,
        facilities=facilities,
        day=DAY,
        days=DAYS,
        seed=seed,
        error_rate=0.02,
        fmt="parquet",
        anomaly_rate=0.01,
    )
    info = {
        "claims": summary.claims,
        "facilities": facilities,
        "seed": seed,
        "rows": summary.lines,
        "faults": summary.faults,
        "anomalies": summary.anomalies,
        "truth": str(summary.truth),
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_bytes": _peak_bytes(),
    }
    (cache / "generate.json").write_text(json.dumps(info, indent=2) + "\n")


def _validate_day(folder: Path, typed: Path, reference: Any) -> dict[str, Any]:
    """Read and validate one day's bulk folder; write its typed tables (``READS``)."""
    from claims.anomalies import READS
    from claims.config import Settings
    from claims.intake import Submission, read_submission
    from claims.pipeline.context import RunContext
    from claims.pipeline.stages import STAGES, Frames, run_stages

    day = folder.name.removeprefix("bulk_")
    sub = read_submission(folder, max_bytes=1 << 40)
    assert isinstance(sub, Submission), sub
    run_date = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    ctx = RunContext(f"bench-anomalies-{day}", run_date, reference, Settings())
    done = run_stages(ctx, Frames(submissions=(sub,)), stages=STAGES[:1])
    for table in TABLES:
        frame = done.tables[table].select(READS[table])
        frame.write_parquet(typed / f"{table.lower()}_{day}.parquet")
    xml1 = done.tables["XML1"]
    claims = done.need("claims", done.claims)
    return {
        "day": day,
        "rows_in": int(
            pl.scan_parquet(folder / "xml1.parquet").select(pl.len()).collect().item()
        ),
        "kept": xml1.height,
        "refused": int((~claims["stored"]).sum()),
        "lines": {t: done.tables[t].height for t in TABLES[1:]},
        "periods": xml1.group_by("nam_qt", "thang_qt").len().rows(),
        "keys": xml1.select("ma_cskcb", "ma_lk", "file_id", "hoso_idx"),
        "peak_rss_bytes": _peak_bytes(),
    }


def validate_month(cache: Path) -> None:
    """Child: every day of ``cache/inbox`` validated in turn into ``cache/typed``;
    the month checked whole (``validate.json`` last)."""
    from claims.bench.machine import git_commit
    from claims.config import Settings
    from claims.pipeline.context import Reference

    start = time.perf_counter()
    settings = Settings()
    reference = Reference.load(settings.catalog_dir, settings.pack_id)
    typed = cache / "typed"
    shutil.rmtree(typed, ignore_errors=True)
    typed.mkdir(parents=True)
    days = []
    for folder in sorted((cache / "inbox").glob("bulk_*")):
        days.append(_validate_day(folder, typed, reference))
        _log(f"validated {folder.name}: {days[-1]['kept']:,} claims kept")
    keys = pl.concat([d.pop("keys") for d in days])
    info = {
        "days": days,
        "check": _month_check(days, keys),
        "commit": git_commit(),
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_bytes": _peak_bytes(),
    }
    (cache / "validate.json").write_text(json.dumps(info, indent=2) + "\n")


def _month_check(days: list[dict[str, Any]], keys: pl.DataFrame) -> dict[str, Any]:
    """Every claim of every day kept or refused, none twice, all of the one period."""
    periods: dict[str, int] = {}
    for day in days:
        for year, month, n in day["periods"]:
            name = f"{year}-{month:02d}"
            periods[name] = periods.get(name, 0) + n
    check = {
        "rows_in": sum(d["rows_in"] for d in days),
        "kept": sum(d["kept"] for d in days),
        "refused": sum(d["refused"] for d in days),
        "duplicate_ma_lk": int(keys.select("ma_cskcb", "ma_lk").is_duplicated().sum()),
        "duplicate_rows": int(keys.select("file_id", "hoso_idx").is_duplicated().sum()),
        "periods": periods,
    }
    wanted = f"{PERIOD[0]}-{PERIOD[1]:02d}"
    assert check["kept"] + check["refused"] == check["rows_in"], check
    assert check["duplicate_ma_lk"] == 0, check
    assert check["duplicate_rows"] == 0, check
    assert periods == {wanted: check["kept"]}, check
    return check


def prepare(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cached month and typed tables, made when missing."""
    cache = args.cache
    made = cache / "generate.json"
    if made.is_file():
        info = json.loads(made.read_text())
        if info["facilities"] != args.facilities:
            _log(f"{cache} holds {info['facilities']} facilities: generating again")
            shutil.rmtree(cache)
    if not made.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        _log(f"generating {args.claims:,} claims into {cache}")
        _child(
            generate_month,
            cache,
            args.claims,
            args.facilities,
            args.seed,
            limit_gb=args.max_rss_gb,
        )
        (cache / "validate.json").unlink(missing_ok=True)
    if not (cache / "validate.json").is_file():
        _log("validating the month, one day at a time")
        _child(validate_month, cache, limit_gb=args.max_rss_gb)
    generated = json.loads(made.read_text())
    return generated, json.loads((cache / "validate.json").read_text())


# ---------------------------------------------------------------- the measurement


def _candidates(
    xml1: pl.DataFrame, scored: pl.DataFrame, threshold: float
) -> pl.DataFrame:
    """``review_queue``'s candidates: XML1's claims with their scores, those held by
    their score (the store's ``review_candidates``; no rule ran, none held by one)."""
    scores = scored.select("file_id", "hoso_idx", "risk", "explanation")
    return (
        xml1.select(
            "file_id",
            "hoso_idx",
            "ma_cskcb",
            "ma_lk",
            pl.lit(f"{PERIOD[0]}-{PERIOD[1]:02d}").alias("period"),
            pl.lit("accepted").alias("outcome"),
            pl.col("t_bhtt").alias("claimed_t_bhtt"),
            pl.col("t_bhtt").alias("accepted_t_bhtt"),
            pl.col("ngay_ra").dt.date().alias("run_date"),
            pl.lit(None, pl.String).alias("reasons"),
        )
        .join(scores, on=["file_id", "hoso_idx"], how="left")
        .filter(pl.col("risk") >= threshold)
        .with_columns(pl.lit(False).alias("sampled"))
    )


def _queue(xml1: pl.DataFrame, scored: pl.DataFrame, settings: Any) -> pl.DataFrame:
    """The review queue of the scored month as ``claims.pipeline.review.queue`` builds
    it, the states and contests read from a store without reviews (empty frames)."""
    import duckdb

    from claims.pipeline.review import rules_of
    from claims.review.queue import review_queue
    from claims.store.review import events_of, review_states

    rules = rules_of(settings)
    candidates = _candidates(xml1, scored, rules.risk_threshold)
    with duckdb.connect() as con:
        states = review_states(con)
        contests = events_of(con).filter(pl.col("kind") == "contest")
    return review_queue(candidates, states, contests, rules)


def _steps(
    tables: dict[str, pl.DataFrame], reference: Any, settings: Any, lap: Laps
) -> tuple[pl.DataFrame, int]:
    """Each scoring step timed by ``lap``: the scored claims and the queue's length."""
    from claims.anomalies import (
        claim_profiles,
        explanations,
        facility_risk,
        score_claims,
    )
    from claims.pipeline.anomalies import parameters

    scoring, profile = parameters(settings)
    lap("parameters")
    xml1, xml2, xml3 = (tables[t] for t in TABLES)
    profiles = claim_profiles(xml1, xml2, xml3, reference.facilities, profile)
    lap("profiles")
    scores = score_claims(profiles, scoring)
    lap("scores")
    scored = explanations(scores, profile.readmit_days)
    lap("explanations")
    facilities = facility_risk(scored, None)
    lap("facility_risk")
    queue = _queue(xml1, scored, settings)
    lap("queue")
    assert facilities.height > 0
    assert scored.height == xml1.height
    return scored, queue.height


def measure_month(cache: Path, out: Path) -> None:
    """Child (fresh process): load the typed tables, score them step by step, evaluate."""
    from claims.anomalies import evaluate
    from claims.config import Settings
    from claims.pipeline.context import Reference

    rss = {"start": _status_bytes("VmRSS")}
    settings = Settings()
    reference = Reference.load(settings.catalog_dir, settings.pack_id)
    rss["after_reference"] = _status_bytes("VmRSS")
    lap = Laps()
    tables = {
        t: pl.read_parquet(cache / "typed" / f"{t.lower()}_*.parquet") for t in TABLES
    }
    lap("load")
    rss["after_load"] = _status_bytes("VmRSS")
    scored, queued = _steps(tables, reference, settings, lap)
    peak = _peak_bytes()
    truth = pl.read_parquet(Path(str(cache / "inbox") + ".truth.parquet"))
    frame = scored.select("ma_cskcb", "ma_lk", "risk", "statistic", "t_bhtt")
    result = {
        "claims": tables["XML1"].height,
        "lines": {t: tables[t].height for t in TABLES[1:]},
        "table_bytes": {t: int(tables[t].estimated_size()) for t in TABLES},
        "seconds": lap.seconds,
        "cpu_seconds": lap.cpu,
        "queue": queued,
        "rss_bytes": rss,
        "peak_rss_bytes": peak,
        "evaluation": {f"{c:.0%}": evaluate(truth, frame, c) for c in CAPACITIES},
    }
    out.write_text(json.dumps(result, indent=2) + "\n")


# ---------------------------------------------------------------- the report


def report(args: argparse.Namespace, loads: list[list[float]]) -> dict[str, Any]:
    """Prepare, measure, and gather every figure."""
    from claims.bench.machine import git_commit, machine

    generated, validated = prepare(args)
    _log("scoring, in a fresh process")
    out = args.cache / "measure.json"
    out.unlink(missing_ok=True)
    _child(measure_month, args.cache, out, limit_gb=args.max_rss_gb)
    measured = json.loads(out.read_text())
    seconds = measured["seconds"]
    total = sum(seconds[s] for s in STEPS)
    lines = sum(measured["lines"].values())
    loads.append(list(os.getloadavg()))
    return {
        "claims": measured["claims"],
        "generated_claims": generated["claims"],
        "lines": measured["lines"],
        "anomalies": generated["anomalies"],
        "faults": generated["faults"],
        "facilities": generated["facilities"],
        "seed": generated["seed"],
        "seconds": {s: round(seconds[s], 3) for s in STEPS},
        "cpu_seconds": {s: round(measured["cpu_seconds"][s], 3) for s in STEPS},
        "total_s": round(total, 3),
        "scoring_s": round(total - seconds["load"], 3),
        "claims_per_s": round(measured["claims"] / total),
        "lines_per_s": round(lines / total),
        "peak_rss_bytes": measured["peak_rss_bytes"],
        "rss_bytes": measured["rss_bytes"],
        "table_bytes": measured["table_bytes"],
        "queue": measured["queue"],
        "evaluation": measured["evaluation"],
        "prepare": {"generate": generated, "validate": validated},
        "machine": machine(),
        "commit": git_commit(),
        "uncommitted": _uncommitted(),
        "load_average": {"start": loads[0], "end": loads[1]},
    }


def _uncommitted() -> list[str]:
    """The engine's files that differ from the commit (others' work in progress): the
    figures are of the working tree."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "claims", "rules"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.splitlines()


def _gb(value: int) -> str:
    return f"{value / 1e9:.2f} GB"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(result: dict[str, Any]) -> str:
    """The figures as text tables: steps, then the evaluation."""
    lines = sum(result["lines"].values())
    out = [
        f"{result['claims']:,} claims, {lines:,} lines, "
        f"{result['anomalies']:,} anomalies planted",
        "",
        _row("step", "s", "CPU s"),
        _row("---", "---", "---"),
        *(
            _row(s, f"{result['seconds'][s]:.2f}", f"{result['cpu_seconds'][s]:.2f}")
            for s in STEPS
        ),
        _row(
            "total",
            f"{result['total_s']:.2f}",
            f"{sum(result['cpu_seconds'].values()):.2f}",
        ),
        "",
        f"{result['claims_per_s']:,} claims/s, {result['lines_per_s']:,} lines/s; "
        f"peak RSS {_gb(result['peak_rss_bytes'])}, "
        f"after loading the tables {_gb(result['rss_bytes']['after_load'])}; "
        f"queue {result['queue']:,} claims",
        "",
        _row("capacity", "kind", "precision", "recall", "money recall", "found"),
        _row(*["---"] * 6),
    ]
    for capacity, found in result["evaluation"].items():
        for kind, m in {"overall": found["overall"], **found["kinds"]}.items():
            out.append(
                _row(
                    capacity,
                    kind,
                    f"{m['precision']:.3f}",
                    f"{m['recall']:.3f}",
                    f"{m['money_recall']:.3f}",
                    f"{m['found']}/{m['claims']}",
                )
            )
    return "\n".join(out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--cache",
        type=Path,
        help="default ~/.cache/giamdinh-bench/anomalies/<claims>-<seed>",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--max-rss-gb",
        type=float,
        default=20.0,
        help="kill a child process above this RSS",
    )
    return parser


def main() -> None:
    args = _parser().parse_args()
    loads = [list(os.getloadavg())]
    if args.cache is None:
        args.cache = (
            Path.home()
            / ".cache/giamdinh-bench/anomalies"
            / f"{args.claims}-{args.seed}"
        )
    try:
        result = report(args, loads)
    except Killed as killed:
        sys.exit(str(killed))
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
