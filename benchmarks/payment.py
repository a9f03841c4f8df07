"""Payment and settlement benchmark: seconds, rows/s and peak RSS per stage of a day.

Run: ``python -m benchmarks.payment --claims 100000`` (``--claims 700000`` is a national
day: ~11.8M drug and service lines over 12,500 facilities, nearly all of the 12,521 with
a contract on the generated day).

The day is generated once with the seeded generator (``claims.synthetic.generate``, bulk
Parquet) into a cache folder (``--cache``, default ``/tmp/giamdinh-bench-payment``) keyed
by claims, facilities and seed, and reused by later runs. The stages then run as in
``giamdinh run``: through ``claims.pipeline.stages.run_stages``, one stage per process
(``stages_named(stage)``, timed by ``on_stage``) so that its peak RSS (the kernel's
high-water mark, VmHWM) is its own:

* ``validate`` (context only): ``read_submission`` of the bulk folder(s), then the stage;
* ``price``, ``features`` then ``assess`` (one process, each timed; no stored history),
  ``pay``, ``decide``: the pipeline's stages, reading the frames the stages before them
  wrote;
* ``settle``: ``claims.settle.settle`` of the period's decisions (ordered as
  ``claims.store.settlements.current_decisions`` reads them from the store), with
  advances for every third facility;
* ``postings``: ``claims.settle.postings`` of that settlement (the ledger lines).

Each stage process reads its inputs from Parquet (reading and loading the reference
catalogs and packs are timed apart) and runs its stage once; in the first round each also
writes its outputs, which are the next stage's inputs (``benchmarks/payment_engine.py``).
The stages are interleaved over ``--repeat`` rounds and the best time is shown. A stage
process whose RSS passes ``--max-rss-gb`` (80 % of RAM) is killed by its pid and reported
as such, and the stages that read its outputs are not run. A national day does not fit in
24 GiB as one batch; ``--parts N`` splits it (once, cached) into N bulk folders of whole
facilities and runs every stage over each in turn: times are added up, the peak RSS is
the highest of the parts. Cross-claim windows of ``features`` then see only the claims of
the same part.

Baselines, same run, same inputs, each in its own process
(``benchmarks/payment_baselines.py``): DuckDB SQL of the payment stage's line arithmetic
(``sql-pay``) and of the settlement groups (``sql-settle``, every amount a claim asks in
one group: the rest of its XML1 totals in ``unallocated``, claims pending review in
requested and pending). The check compares them with the engine exactly (0 mismatches),
and deliberately wrong variants (half-even rounding, no intermediate rounding; pending
claims left out, pending claims rejected, no ``unallocated`` group) run on a sample and
must mismatch (on the first part). The report prints each stage's wall time and, beside
it, the CPU time of its process (every thread), which other load on the machine disturbs
less.

Unless ``--no-profile``, one more run of the pay stage (on the first part) times the
steps of ``pay`` under ``cProfile``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import payment_report  # noqa: E402
from benchmarks.common import peak_rss_mb  # noqa: E402
from benchmarks.payment_baselines import BASELINES  # noqa: E402
from benchmarks.payment_engine import DAY, STAGES  # noqa: E402

ORDER = (
    "validate",
    "price",
    "assess",
    "pay",
    "sql-pay",
    "decide",
    "settle",
    "sql-settle",
    "postings",
)
"""One round: each runs after the stage whose outputs it reads."""
NEEDS = {
    "price": "validate",
    "assess": "price",
    "pay": "assess",
    "sql-pay": "pay",
    "decide": "pay",
    "settle": "decide",
    "sql-settle": "decide",
    "postings": "settle",
    "profile": "assess",
}
"""The stage whose outputs each one reads."""
TABLES = ("XML1", "XML2", "XML3", "XML4", "XML5")
NATIONAL_CLAIMS, NATIONAL_FACILITIES = 700_000, 12_500


# ---------------------------------------------------------------- the day


def generate_day(day_dir: Path, claims: int, facilities: int, seed: int) -> None:
    """Generate the day as bulk Parquet into ``day_dir/inbox`` (summary written last)."""
    from claims.synthetic import generate

    if day_dir.exists():
        shutil.rmtree(day_dir)
    t0 = time.perf_counter()
    summary = generate(
        day_dir / "inbox",
        claims=claims,
        facilities=facilities,
        day=DAY,
        seed=seed,
        error_rate=0.02,
        fmt="parquet",
    )
    info = {
        "claims": summary.claims,
        "facilities": facilities,
        "seed": seed,
        "rows": summary.lines,
        "faults": summary.faults,
        "generate_s": round(time.perf_counter() - t0, 1),
        "generate_peak_rss_mb": round(peak_rss_mb()),
    }
    (day_dir / "summary.json").write_text(json.dumps(info, indent=2) + "\n")


def split_day(day_dir: Path, parts: int) -> None:
    """Split the day's bulk tables by facility into ``parts`` bulk folders of about
    equal claims (whole facilities, rows in their order): ``parts-N/part-i/inbox``."""
    root = day_dir / f"parts-{parts}"
    if root.exists():
        shutil.rmtree(root)
    folder = next(p for p in (day_dir / "inbox").iterdir() if p.is_dir())
    per_facility = (
        pl.read_parquet(folder / "xml1.parquet", columns=["ma_cskcb"])
        .group_by("ma_cskcb")
        .len()
        .sort("ma_cskcb")
        .with_columns(
            (pl.col("len").cum_sum() * parts // (pl.col("len").sum() + 1)).alias("part")
        )
    )
    sizes = []
    for part in range(parts):
        mine = per_facility.filter(pl.col("part") == part)["ma_cskcb"]
        out = root / f"part-{part}" / "inbox" / folder.name
        out.mkdir(parents=True)
        for table in TABLES:
            name = f"{table.lower()}.parquet"
            pl.scan_parquet(folder / name).filter(
                pl.col("ma_cskcb").is_in(mine.implode())
            ).sink_parquet(out / name)
        sizes.append(
            {
                "facilities": mine.len(),
                "claims": int(per_facility.filter(pl.col("part") == part)["len"].sum()),
            }
        )
    (root / "parts.json").write_text(json.dumps(sizes, indent=2) + "\n")


def _places(day_dir: Path, parts: int) -> list[tuple[Path, Path]]:
    """(inbox, work folder) of each part (the whole day when ``parts`` is 1)."""
    if parts == 1:
        return [(day_dir / "inbox", day_dir / "work")]
    root = day_dir / f"parts-{parts}"
    return [
        (root / f"part-{i}" / "inbox", root / f"part-{i}" / "work")
        for i in range(parts)
    ]


# ---------------------------------------------------------------- child processes


def _rss_mb(pid: int) -> float:
    """Current RSS of process ``pid`` (MB; 0 once it is gone)."""
    try:
        with Path(f"/proc/{pid}/status").open() as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _child(args: list[str], limit_mb: float = 0.0) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh process; its last stdout line is JSON.

    With ``limit_mb``, the child is killed (by its pid) once its RSS passes the limit,
    so that a stage too big for the machine does not take the machine down; the result
    then says so (``killed``).
    """
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        t0, peak = time.perf_counter(), 0.0
        while child.poll() is None:
            peak = max(peak, _rss_mb(child.pid))
            if limit_mb and peak > limit_mb:
                child.kill()
                child.wait()
                return {
                    "killed": True,
                    "rss_at_kill_mb": peak,
                    "seconds_before_kill": time.perf_counter() - t0,
                    "load_avg_1m": load,
                }
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{stderr}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["load_avg_1m"] = load
    return result


def run_child(args: argparse.Namespace, day_dir: Path, facilities: int) -> Any:
    """What a child process does (``--child``): its result, printed as JSON."""
    from benchmarks import payment_baselines, payment_engine

    if args.child == "generate":
        generate_day(day_dir, args.claims, facilities, args.seed)
        return {}
    if args.child == "split":
        split_day(day_dir, args.parts)
        return {}
    if args.child in BASELINES:
        return payment_baselines.run_baseline(args.child, args.work, args.write)
    if args.child == "check":
        return payment_baselines.check(args.work, args.sample)
    if args.child == "profile":
        return payment_engine.profile_pay(args.work)
    return payment_engine.run_stage(args.child, args.work, args.inbox, args.write)


# ---------------------------------------------------------------- rounds


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One stage's runs: best and median time, highest peak RSS, first run's counts."""
    if "seconds" not in runs[0]:  # killed or skipped
        loads = [r["load_avg_1m"] for r in runs if "load_avg_1m" in r]
        return {**runs[0], "load_avg_1m": loads}
    seconds = [r["seconds"] for r in runs]
    merged = dict(runs[0])
    merged.update(
        {
            "seconds_best": min(seconds),
            "seconds_median": statistics.median(seconds),
            "seconds_all": [round(s, 3) for s in seconds],
            "cpu_s_best": min(r["cpu_s"] for r in runs),
            "stages_s_best": {
                k: min(r["stages_s"][k] for r in runs)
                for k in runs[0].get("stages_s", {})
            },
            "read_s": statistics.median(r["read_s"] for r in runs),
            "reference_s": statistics.median(r["reference_s"] for r in runs),
            "rss_inputs_mb": max(r["rss_inputs_mb"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "load_avg_1m": [r["load_avg_1m"] for r in runs],
        }
    )
    merged.pop("seconds")
    merged["rows_per_s"] = merged["rows"] / merged["seconds_best"]
    return merged


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One round of a stage over the day's parts: times and rows added up, the
    highest peak RSS; killed if any part was."""
    for i, part in enumerate(parts):
        if "seconds" not in part:
            return {**part, "part": i}
    out = dict(parts[0])
    for key, value in parts[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = sum(p[key] for p in parts)
    for key in ("rss_inputs_mb", "peak_rss_mb", "load_avg_1m"):
        out[key] = max(p[key] for p in parts)
    if "stages_s" in out:  # the pipeline stages a process ran, each added up
        out["stages_s"] = {
            k: sum(p["stages_s"][k] for p in parts) for k in out["stages_s"]
        }
    if len(parts) > 1:
        out["part_seconds"] = [round(p["seconds"], 3) for p in parts]
        out["part_peak_rss_mb"] = [round(p["peak_rss_mb"]) for p in parts]
    return out


def _round_of(
    stage: str, first: bool, places: list[tuple[Path, Path]], limit_mb: float
) -> dict[str, Any]:
    """One run of ``stage`` over every part in turn (the first round writes outputs)."""
    flags = ["--write"] if first else []
    parts = []
    for inbox, work in places:
        where = ["--inbox", str(inbox), "--work", str(work)]
        parts.append(_child(["--child", stage, *where, *flags], limit_mb))
        if "seconds" not in parts[-1]:
            break
    return _combine(parts)


def _rounds(
    repeat: int, places: list[tuple[Path, Path]], limit_mb: float
) -> dict[str, list[dict[str, Any]]]:
    """Run the stages over ``repeat`` interleaved rounds, each stage over every part.

    A stage killed for its memory is not run again, nor is any stage that reads its
    outputs (``skipped``).
    """
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in ORDER}
    for i in range(repeat):
        for stage in ORDER:
            need = NEEDS.get(stage)
            if runs[stage] and "seconds" not in runs[stage][0]:
                continue  # killed or skipped in the first round
            if need and "seconds" not in runs[need][0]:
                runs[stage].append({"skipped": f"{need} did not run"})
                continue
            result = _round_of(stage, i == 0, places, limit_mb)
            runs[stage].append(result)
            if result.get("killed"):
                _log(
                    f"round {i + 1}: {stage} killed at "
                    f"{result['rss_at_kill_mb']:,.0f} MB (part {result['part']})"
                )
                continue
            _log(
                f"round {i + 1}: {stage} {result['seconds']:.2f} s, "
                f"peak {result['peak_rss_mb']:,.0f} MB"
            )
    return runs


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--claims", type=int, default=100_000)
    add(
        "--facilities",
        type=int,
        default=None,
        help="facilities sending (default: in proportion to a national day, "
        "12,500 for 700,000 claims, at least 200)",
    )
    add("--seed", type=int, default=7)
    add(
        "--parts",
        type=int,
        default=1,
        help="run the day as this many batches of whole facilities, each stage over "
        "each batch in turn (times added up, the highest peak RSS); 1: one batch",
    )
    add("--repeat", type=int, default=3, help="rounds: one timed run per stage each")
    add(
        "--cache",
        type=Path,
        default=Path("/tmp/giamdinh-bench-payment"),
        help="generated days are kept here and reused",
    )
    add("--sample", type=int, default=200_000, help="lines for the wrong variants")
    add(
        "--max-rss-gb",
        type=float,
        default=round(payment_report.physical_mb() * 0.8 / 1024, 1),
        help="kill a stage process whose RSS passes this (default: 80%% of RAM)",
    )
    add("--no-profile", action="store_true", help="skip timing pay step by step")
    add("--keep-work", action="store_true", help="keep the stage outputs")
    add("--json", type=Path, default=None)
    children = ("generate", "split", *STAGES, *BASELINES, "check", "profile")
    add("--child", choices=children, help=argparse.SUPPRESS)
    for hidden in ("--day-dir", "--inbox", "--work"):
        add(hidden, type=Path, help=argparse.SUPPRESS)
    add("--write", action="store_true", help=argparse.SUPPRESS)
    return parser


def _prepare(args: argparse.Namespace, day_dir: Path, facilities: int) -> Any:
    """Generate the day and split it into parts unless cached; (day, parts info)."""
    common = ["--day-dir", str(day_dir)]
    if not (day_dir / "summary.json").exists():
        _log(f"generating {args.claims:,} claims, {facilities:,} facilities …")
        sizes = ["--claims", str(args.claims), "--facilities", str(facilities)]
        _child(["--child", "generate", *sizes, "--seed", str(args.seed), *common])
    day = json.loads((day_dir / "summary.json").read_text())
    _log(f"day: {day_dir} ({day['rows']})")
    parts_info = None
    if args.parts > 1:
        listing = day_dir / f"parts-{args.parts}" / "parts.json"
        if not listing.exists():
            _child(["--child", "split", "--parts", str(args.parts), *common])
        parts_info = json.loads(listing.read_text())
        _log(f"parts: {parts_info}")
    return day, parts_info


def _measure(args: argparse.Namespace, places: list[tuple[Path, Path]]) -> Any:
    """The rounds, the check (summed over the parts) and the pay profile."""
    limit = args.max_rss_gb * 1024
    for _, work in places:
        if work.exists():
            shutil.rmtree(work)
    checked: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    try:
        runs = _rounds(args.repeat, places, limit)
        results = {s: _merge(r) for s, r in runs.items()}
        if all("seconds_best" in results[s] for s in (*BASELINES, *BASELINES.values())):
            found = []
            for i, (_, work) in enumerate(places):
                sample = str(args.sample if i == 0 else 0)  # variants on one part
                where = ["--work", str(work), "--sample", sample]
                found.append(_child(["--child", "check", *where], limit))
            from benchmarks.payment_baselines import sum_checks

            checked = sum_checks(found)
            checked.pop("load_avg_1m")
        if not args.no_profile and "seconds_best" in results["assess"]:
            profile = _child(["--child", "profile", "--work", str(places[0][1])], limit)
            profile.pop("load_avg_1m")
    finally:
        if not args.keep_work:
            for _, work in places:
                shutil.rmtree(work, ignore_errors=True)
    return results, checked, profile


def main() -> None:
    """Generate (or reuse) the day, run the stages and baselines, check, report."""
    args = _parser().parse_args()
    facilities = args.facilities or min(
        NATIONAL_FACILITIES,
        max(200, round(args.claims * NATIONAL_FACILITIES / NATIONAL_CLAIMS)),
    )
    day_dir = args.day_dir or (
        args.cache / f"day-c{args.claims}-f{facilities}-s{args.seed}"
    )
    if args.child:
        print(json.dumps(run_child(args, day_dir, facilities), default=str))
        return
    day, parts_info = _prepare(args, day_dir, facilities)
    results, checked, profile = _measure(args, _places(day_dir, args.parts))
    report: dict[str, Any] = {
        "day": day,
        "parts": parts_info,
        "repeat": args.repeat,
        "timing": "each stage alone with its inputs in memory (reading and loading "
        "reference data apart), through run_stages and timed by on_stage; best of "
        "--repeat runs, each in its own process, stages interleaved; with --parts, "
        "each round's times added up over the parts",
        "max_rss_mb": args.max_rss_gb * 1024,
        "stages": {s: results[s] for s in (*STAGES, *BASELINES)},
        "engine_over_baseline": {
            stage: results[stage]["seconds_best"] / results[base]["seconds_best"]
            for base, stage in BASELINES.items()
            if "seconds_best" in results[stage] and "seconds_best" in results[base]
        },
        "check": checked,
        "pay_profile": profile,
        "machine": payment_report.machine(),
    }
    _log(payment_report.table(report))
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    problems = payment_report.problems(report)
    if problems:
        sys.exit("; ".join(problems))


if __name__ == "__main__":
    main()
