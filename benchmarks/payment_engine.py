"""The engine's side of the payment benchmark: one stage per process, through the pipeline.

A stage process reads the frames its stage needs from the Parquet the stages before it
wrote (reading them and loading the reference are timed apart), runs the stage as the
daily run does, ``run_stages(ctx, frames, stages=stages_named(...), on_stage=...)``,
and takes its time from ``on_stage``; in the first round it also writes its output,
which the next stage reads. ``features`` and ``assess`` share a process
(:data:`PROCESSES`), as they shared the assess stage before ``features`` was a stage.
``validate`` reads the bulk folder(s) first and counts that reading in its time (the
stage's context). ``settle`` and ``postings`` are not stages of the pipeline (the daily
run does not settle): they call ``claims.settle.settle`` and ``claims.settle.postings``.
:func:`profile_pay` times the steps of ``pay`` with ``cProfile`` (the interpreter's
profiling hook: nothing of the engine is replaced).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import Laps, peak_rss_mb
from claims.money import MONEY

PACK = "vn-bhyt"
DAY = date(2026, 10, 15)
RUN_ID = "bench-payment"
TABLES = ("XML1", "XML2", "XML3", "XML4", "XML5")
PAYMENT_TABLES = ("XML1", "XML2", "XML3")
"""The tables ``price`` and ``pay`` read (XML4 and XML5 are read empty for them)."""
PROCESSES = {
    "validate": ("validate",),
    "price": ("price",),
    "assess": ("features", "assess"),
    "pay": ("pay",),
    "decide": ("decide",),
}
"""The stages of ``claims.pipeline.stages.STAGES`` each process runs: ``features`` and
``assess`` run in one (only ``assess`` reads the features, in memory as in the daily
run), each timed by ``on_stage``."""
STAGES = (*PROCESSES, "settle", "postings")


def read(work: Path, name: str, columns: list[str] | None = None) -> pl.DataFrame:
    """A frame a stage wrote into ``work`` (in one piece: see :func:`write`)."""
    return pl.read_parquet(work / f"{name}.parquet", columns=columns)


def write(work: Path, frames: Mapping[str, pl.DataFrame]) -> None:
    """Write frames into ``work`` for the stages after this one, each as one row group,
    so that it is read back contiguous, as a stage's output is in memory in the daily
    run (read in chunks of many row groups, the next stage's joins and group-bys took
    up to a third longer; rechunking after the read raised the peak RSS instead)."""
    work.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(
            work / f"{name}.parquet", row_group_size=max(frame.height, 1)
        )


# ---------------------------------------------------------------- stage inputs


def _tables(work: Path, only: tuple[str, ...] = TABLES) -> dict[str, pl.DataFrame]:
    """The validated tables; tables outside ``only`` are read empty (schema only)."""
    return {
        t: pl.read_parquet(work / f"{t}.parquet", n_rows=None if t in only else 0)
        for t in TABLES
    }


def _assessment(work: Path) -> Any:
    from claims.assess import Assessment

    return Assessment(read(work, "hits"), read(work, "assessed"))


def stage_inputs(stage: str, work: Path) -> Any:
    """The :class:`~claims.pipeline.stages.Frames` ``stage`` starts from, read from the
    outputs of the stages before it (only what the stage reads)."""
    from claims.pay import Payment
    from claims.pipeline import Frames

    if stage == "price":
        return Frames(tables=_tables(work, PAYMENT_TABLES))
    if stage == "decide":
        return Frames(
            tables=_tables(work, ("XML1",)),
            quarantine=read(work, "quarantine"),
            assessment=_assessment(work),
            payment=Payment(read(work, "pay_lines"), read(work, "pay_claims")),
        )
    batch = {
        "tables": _tables(work, PAYMENT_TABLES if stage == "pay" else TABLES),
        "claims": read(work, "claims"),
        "prices": read(work, "prices"),
    }
    if stage == "assess":  # features, then assess
        return Frames(**batch)
    return Frames(**batch, assessment=_assessment(work))  # pay


def _read_inbox(inbox: Path) -> tuple[Any, ...]:
    """The submissions of the bulk folder(s) of ``inbox``."""
    from claims.intake import Submission, read_submission

    folders = sorted(p for p in inbox.iterdir() if p.is_dir())
    subs = [read_submission(p, max_bytes=1 << 34) for p in folders]
    return tuple(s for s in subs if isinstance(s, Submission))


def context(work: Path) -> Any:
    """The run context of a benchmark stage: the built-in catalogs, the released
    versions of the pack, no history (cross-claim windows see only the batch)."""
    from claims.config import Settings
    from claims.pipeline import Reference, RunContext

    reference = Reference.load(None, PACK)
    settings = Settings(data_dir=work / "data")  # never written: the stages do no I/O
    return RunContext(RUN_ID, DAY.isoformat(), reference, settings)


# ---------------------------------------------------------------- stage outputs


def _outputs(stage: str, ctx: Any, done: Any) -> dict[str, pl.DataFrame]:
    """What ``stage`` hands to the next stages (written in the first round)."""
    if stage == "validate":
        tables = dict(done.tables)
        return tables | {"claims": done.claims, "quarantine": done.quarantine}
    if stage == "price":
        return {"prices": done.prices}
    if stage == "assess":
        return {"hits": done.assessment.hits, "assessed": done.assessment.claims}
    from claims.bench.baselines_pay import programme_lines
    from claims.pay import claim_facts  # pay: the SQL baseline's budget flag

    catalogs = ctx.reference.catalogs
    benefits, salaries = (
        catalogs["benefits"].resolve(),
        catalogs["base_salary"].resolve(),
    )
    policy = catalogs["policy"].resolve()
    facts = claim_facts(done.batch(ctx), benefits, salaries, policy)
    return {
        "pay_lines": done.payment.lines,
        "pay_claims": done.payment.claims,
        "pay_flags": facts.select("file_id", "hoso_idx", "out_of_list_budget"),
        "pay_programme": programme_lines(done, facts),
    }


def _counts(stage: str, done: Any) -> dict[str, Any]:
    """Rows the stage went through (lines after validation; rows in for validate)."""
    if stage == "validate":
        counts = {r["table"]: r for r in done.counts.to_dicts()}
        return {"rows": sum(c["rows_in"] for c in counts.values()), "counts": counts}
    if stage == "price":
        return {"rows": done.prices.height}
    lines = done.tables["XML2"].height + done.tables["XML3"].height
    if stage == "assess":
        return {"rows": lines, "hits": done.assessment.hits.height}
    if stage == "pay":
        return {"rows": done.payment.lines.height, "claims": done.payment.claims.height}
    decided = done.decisions
    return {
        "rows": decided.lines.height,
        "claims": decided.claims.height,
        "reasons": decided.reasons.height,
    }


def _settlement_inputs(work: Path, decided: Any) -> dict[str, Any]:
    """The period's decisions in the store's order (``current_decisions``: facility,
    MA_LK, file, claim), and advances for every third facility (half its claimed
    T_BHTT)."""
    decisions = decided.claims
    period = decisions["period"].drop_nulls().mode().sort()[0]
    decisions = decisions.filter(pl.col("period") == period).sort(
        "ma_cskcb", "ma_lk", "file_id", "hoso_idx"
    )
    keys = decisions.select("file_id", "hoso_idx")
    lines = decided.lines.join(keys, on=["file_id", "hoso_idx"], how="semi").sort(
        "file_id", "hoso_idx", "table", "line_no"
    )
    reasons = decided.reasons.join(keys, on=["file_id", "hoso_idx"], how="semi")
    facilities = (
        decisions.group_by("ma_cskcb")
        .agg(pl.col("claimed_t_bhtt").sum())
        .sort("ma_cskcb")
        .gather_every(3)
    )
    advances = facilities.select(
        "ma_cskcb",
        (pl.col("claimed_t_bhtt") / 2).round(0).cast(MONEY).alias("amount"),
    )
    write(
        work,
        {
            "settle_decisions": decisions,
            "settle_lines": lines,
            "settle_reasons": reasons,
            "advances": advances,
        },
    )
    (work / "period.txt").write_text(period)
    return {"period": period, "period_claims": decisions.height}


# ---------------------------------------------------------------- stage processes


def run_stage(stage: str, work: Path, inbox: Path, write_out: bool) -> dict[str, Any]:
    """Run one stage once in this process; time it apart from its inputs."""
    import claims.pipeline
    import claims.settle  # noqa: F401 - imported before the clock starts

    clock = Laps()
    if stage == "settle":
        out, inputs = _settle(work, clock, write_out)
    elif stage == "postings":
        out, inputs = _postings(work, clock)
    else:
        out, inputs = _pipeline_stage(stage, work, inbox, clock, write_out)
    return {
        "seconds": clock.seconds["seconds"],
        "cpu_s": clock.cpu["seconds"],
        "read_s": clock.seconds.get("read_s", 0.0),
        "reference_s": clock.seconds.get("reference_s", 0.0),
        "rss_inputs_mb": inputs,
        "peak_rss_mb": peak_rss_mb(),
        **out,
    }


def _pipeline_stage(
    stage: str, work: Path, inbox: Path, clock: Laps, write_out: bool
) -> tuple[dict[str, Any], float]:
    """One stage of the pipeline through ``run_stages``, timed by ``on_stage``."""
    from claims.pipeline import Frames, run_stages, stages_named

    ctx = context(work)
    clock("reference_s")
    inputs = peak_rss_mb()
    if stage == "validate":  # reading the files is the stage's context: timed with it
        frames = Frames(submissions=_read_inbox(inbox))
        clock("read_only_s")
    else:
        frames = stage_inputs(stage, work)
        clock("read_s")
        inputs = peak_rss_mb()
    timed: dict[str, float] = {}

    def on_stage(name: str, seconds: float, _frames: Any) -> None:
        timed[name] = seconds

    steps = stages_named(*PROCESSES[stage])
    done = run_stages(ctx, frames, stages=steps, on_stage=on_stage)
    clock("run_stages_s")
    clock.seconds["seconds"] = sum(timed.values()) + clock.seconds.get(
        "read_only_s", 0.0
    )
    clock.cpu["seconds"] = clock.cpu["run_stages_s"] + clock.cpu.get("read_only_s", 0.0)
    out = _counts(stage, done) | {"stages_s": timed}
    if stage == "validate":
        out |= {
            "read_only_s": clock.seconds["read_only_s"],
            "validate_only_s": timed[stage],
        }
    if write_out and stage == "decide":
        out |= _settlement_inputs(work, done.decisions)
    elif write_out:
        write(work, _outputs(stage, ctx, done))
    return out, inputs


def _settle(work: Path, clock: Laps, write_out: bool) -> tuple[dict[str, Any], float]:
    from claims.settle import settle

    decisions = read(work, "settle_decisions")
    lines = read(work, "settle_lines")
    reasons = read(work, "settle_reasons")
    advances = read(work, "advances")
    period = (work / "period.txt").read_text()
    clock("read_s")
    inputs = peak_rss_mb()
    settlement = settle(decisions, lines, reasons, advances, period=period)
    clock("seconds")
    if write_out:
        write(work, {f"settlement_{k}": v for k, v in settlement.frames.items()})
        (work / "settlement.json").write_text(
            json.dumps({"id": settlement.settlement_id, "period": settlement.period})
        )
    frames = {k: v.height for k, v in settlement.frames.items()}
    return {"rows": lines.height, "frames": frames}, inputs


def _postings(work: Path, clock: Laps) -> tuple[dict[str, Any], float]:
    from claims.settle import Settlement, postings

    meta = json.loads((work / "settlement.json").read_text())
    frames = {n: read(work, f"settlement_{n}") for n in ("groups", "facilities")}
    clock("read_s")
    inputs = peak_rss_mb()
    ledger = postings(Settlement(meta["id"], meta["period"], frames))
    clock("seconds")
    debit, credit = ledger["debit"].sum(), ledger["credit"].sum()
    return {
        "rows": frames["groups"].height,
        "ledger_rows": ledger.height,
        "balanced": debit == credit,
    }, inputs


# ---------------------------------------------------------------- pay profile


def profile_pay(work: Path) -> dict[str, Any]:
    """Time the steps of ``pay`` in one run of the pay stage under ``cProfile``.

    The steps are the engine functions ``claims.pay.pay`` calls (their time when called
    from it); ``inside`` lists every engine function below them by its total time.
    """
    import cProfile
    import pstats

    from claims.pipeline import run_stages, stages_named

    ctx = context(work)
    frames = stage_inputs("pay", work)
    timed: dict[str, float] = {}
    profiler = cProfile.Profile()
    profiler.enable()
    run_stages(
        ctx,
        frames,
        stages=stages_named("pay"),
        on_stage=lambda name, seconds, _f: timed.__setitem__(name, seconds),
    )
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats
    return _pay_steps(stats, timed["pay"]) | {
        "lines": frames.tables["XML2"].height + frames.tables["XML3"].height
    }


def _pay_steps(stats: dict[Any, Any], total: float) -> dict[str, Any]:
    """Steps of ``pay`` from cProfile's ``{(file, line, name): (cc, calls, own s,
    total s, callers)}``."""
    engine = str(Path(__file__).resolve().parents[1] / "claims")

    def label(key: tuple[str, int, str]) -> str:
        module = Path(key[0]).relative_to(engine).with_suffix("").as_posix()
        return f"{module.replace('/', '.')}.{key[2]}"

    ours = {k: v for k, v in stats.items() if k[0].startswith(engine)}
    pay = next(k for k in ours if k[0].endswith("pay/stage.py") and k[2] == "pay")
    steps = {
        label(k): v[4][pay][3] for k, v in ours.items() if pay in v[4] and k != pay
    }
    pay_s = ours[pay][3]
    steps["pay itself (claim totals, select and cast)"] = pay_s - sum(steps.values())
    steps["pay_stage before pay (batch, catalogs resolved)"] = total - pay_s
    inside = {
        f"{label(k)} ({v[1]} calls)": v[3]
        for k, v in ours.items()
        if label(k) not in steps and k != pay and v[3] >= 0.005
    }
    inside = {k: s for k, s in inside.items() if "pipeline" not in k}
    return {
        "total_s": total,
        "steps_s": dict(sorted(steps.items(), key=lambda kv: -kv[1])),
        "inside_s": dict(sorted(inside.items(), key=lambda kv: -kv[1])),
    }
