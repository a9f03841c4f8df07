"""Payment and settlement benchmark: seconds, rows/s and peak RSS per stage of a day.

Run: ``python -m benchmarks.payment --claims 100000`` (``--claims 700000`` is a national
day: ~11.8M drug and service lines over 12,500 facilities, nearly all of the 12,521 with
a contract on the generated day).

The day is generated once with the seeded generator (``claims.synthetic.generate.generate``, bulk
Parquet) into a cache folder (``--cache``, default ``/tmp/giamdinh-bench-payment``) keyed
by claims, facilities and seed, and reused by later runs. The stages then run as in
``giamdinh run`` (``claims.pipeline.daily.run_inbox``), each in a process of its own so that
its peak RSS (the kernel's high-water mark, VmHWM) is its own:

* ``validate`` (context only): ``read_submission`` of the bulk folder(s), ``validate``;
* ``price``: ``claims.pipeline.stages.price`` (``price_lines``);
* ``assess``: ``claims.assess.assess`` of the batch (``batch_of``; no stored history);
* ``pay``: ``claims.pay.pay``;
* ``decide``: ``claims.decide.decide``;
* ``settle``: ``claims.settle.compute.settle`` of the period's decisions (ordered as
  ``claims.store.settlements.current_decisions`` reads them from the store), with
  advances for every third facility;
* ``postings``: ``claims.settle.ledger.postings`` of that settlement (the ledger lines).

Each stage process reads its inputs from Parquet (reading and loading the reference
catalogs and packs are timed apart) and runs its stage once; in the first round each also
writes its outputs, which are the next stage's inputs. The stages are interleaved over
``--repeat`` rounds and the best time is shown. A stage process whose RSS passes
``--max-rss-gb`` (80 % of RAM) is killed by its pid and reported as such, and the stages
that read its outputs are not run. A national day does not fit in 24 GiB as one batch;
``--parts N`` splits it (once, cached) into N bulk folders of whole facilities and runs
every stage over each in turn: times are added up, the peak RSS is the highest of the
parts. Cross-claim windows of ``assess`` then see only the claims of the same part.

Baseline, same run, same inputs, each in its own process: plain DuckDB SQL for

* ``sql-pay``: the line arithmetic of the payment stage, given the engine's law quantity,
  prices, ratios, MUC_HUONG and scope per line (the rules' results are inputs; the SQL
  does the arithmetic): THANH_TIEN_BV = round(round(qty × price_bv) × ratio_dv/100),
  THANH_TIEN_BH = round(round(round(qty × price) × ratio_dv/100) × ratio_bh/100), each
  rounded half-up to 2 decimals as DECIMAL(38,2); out-of-scope lines have no BH part;
  fund = round(BH × MUC_HUONG/100), co-pay = BH − fund, self-pay = BV − BH − budget;
* ``sql-settle``: the settlement groups (per facility × treatment × cost group: claimed
  and accepted BH and T_BHTT, rejected) from the decision lines.

The check compares the baseline with the engine: ``law_bv, law_bh, law_bhtt, law_bncct,
law_bntt`` on every line without a package cut or other sources, and every column of
every settlement group, exactly; both must have 0 mismatches. To show that the check
can fail, deliberately wrong variants (half-even rounding, no intermediate rounding,
pending claims settled) run on a sample and must mismatch (on the first part).

Unless ``--no-profile``, one more run of ``pay`` (on the first part) times its steps:
every function of the ``claims.pay`` modules is wrapped with a timer for that run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import FunctionType
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import Laps  # noqa: E402
from claims.money import MONEY  # noqa: E402

STAGES = ("validate", "price", "assess", "pay", "decide", "settle", "postings")
BASELINES = {"sql-pay": "pay", "sql-settle": "settle"}
"""Baseline → the engine stage it is compared with."""
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
LABELS = {
    "validate": "read + validate (context)",
    "price": "price (`price_lines`)",
    "assess": "assess (`assess`)",
    "pay": "pay (`pay`)",
    "decide": "decide (`decide`)",
    "settle": "settle (`settle`)",
    "postings": "ledger postings (`postings`)",
    "sql-pay": "DuckDB: pay line arithmetic",
    "sql-settle": "DuckDB: settlement groups",
}
TABLES = ("XML1", "XML2", "XML3", "XML4", "XML5")
LINE_KEYS = ["file_id", "hoso_idx", "table", "line_no"]
AMOUNTS = ("law_bv", "law_bh", "law_bhtt", "law_bncct", "law_bntt")
GROUP_KEYS = ["ma_cskcb", "treatment", "cost_group"]
GROUP_SUMS = (
    "claimed_bh",
    "accepted_bh",
    "claimed_bhtt",
    "accepted_bhtt",
    "rejected_amount",
)
PACK = "vn-bhyt"
DAY = date(2026, 10, 15)
NATIONAL_CLAIMS, NATIONAL_FACILITIES = 700_000, 12_500


# ---------------------------------------------------------------- measuring


def _memory() -> float:
    """Peak RSS of this process so far (VmHWM, MB)."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- generation


def generate_day(day_dir: Path, claims: int, facilities: int, seed: int) -> None:
    """Generate the day as bulk Parquet into ``day_dir/inbox`` (summary written last)."""
    from claims.synthetic.generate import generate

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
        "generate_peak_rss_mb": round(_memory()),
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


# ---------------------------------------------------------------- stage inputs


def _read(work: Path, name: str, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_parquet(work / f"{name}.parquet", columns=columns)


def _write(work: Path, frames: dict[str, pl.DataFrame]) -> None:
    for name, frame in frames.items():
        frame.write_parquet(work / f"{name}.parquet")


def _reference() -> Any:
    from claims.pipeline.stages import Reference

    return Reference.load(None, PACK)


def _tables(work: Path, only: tuple[str, ...] = TABLES) -> dict[str, pl.DataFrame]:
    """The validated tables; tables outside ``only`` are read empty (schema only)."""
    return {
        t: pl.read_parquet(work / f"{t}.parquet", n_rows=None if t in only else 0)
        for t in TABLES
    }


def _batch(work: Path, reference: Any, only: tuple[str, ...] = TABLES) -> Any:
    from claims.pipeline.stages import batch_of

    return batch_of(
        _tables(work, only),
        _read(work, "priced"),
        reference,
        _read(work, "quarantined"),
    )


def _pay_inputs(work: Path, reference: Any) -> tuple[Any, pl.DataFrame, pl.DataFrame]:
    """Batch (``pay`` reads XML1–XML3 and the prices; XML4/XML5 empty), benefits,
    base salaries; the hits are read by the caller."""
    batch = _batch(work, reference, only=("XML1", "XML2", "XML3"))
    benefits = reference.catalogs["benefits"].resolve()
    salaries = reference.catalogs["base_salary"].resolve()
    return batch, benefits, salaries


# ---------------------------------------------------------------- engine stages


Stage = Callable[[Path, Any, Laps, bool], tuple[dict[str, Any], float]]
"""(work, reference, clock, write) → (counts, RSS after reading the inputs)."""


def run_stage(stage: str, work: Path, inbox: Path, write: bool) -> dict[str, Any]:
    """Run one engine stage once in this process; time it apart from its inputs."""
    import claims.assess
    import claims.decide
    import claims.intake.wrapper
    import claims.pay
    import claims.pipeline.stages
    import claims.settle
    import claims.validate.tables  # noqa: F401 - imported before the clock starts

    clock = Laps()
    reference = None
    if stage in ("validate", "price", "assess", "pay", "decide"):
        reference = _reference()
        clock("reference_s")
    runner: Stage = {
        "validate": lambda w, r, c, wr: _validate(w, inbox, r, c, wr),
        "price": _price,
        "assess": _assess,
        "pay": _pay,
        "decide": _decide,
        "settle": lambda w, _r, c, wr: _settle(w, c, wr),
        "postings": lambda w, _r, c, _wr: _postings(w, c),
    }[stage]
    out, inputs = runner(work, reference, clock, write)
    return {
        "seconds": clock.seconds["seconds"],
        "read_s": clock.seconds.get("read_s", 0.0),
        "reference_s": clock.seconds.get("reference_s", 0.0),
        "rss_inputs_mb": inputs,
        "peak_rss_mb": _memory(),
        **out,
    }


def _validate(
    work: Path, inbox: Path, reference: Any, clock: Laps, write: bool
) -> tuple[dict[str, Any], float]:
    """Read the bulk folder(s) and validate: both timed (the stage's context)."""
    from claims.intake import Submission, read_submission
    from claims.validate.tables import validate

    inputs = _memory()
    folders = sorted(p for p in inbox.iterdir() if p.is_dir())
    subs = [read_submission(p, max_bytes=1 << 34) for p in folders]
    clock("read_only_s")
    readable = [s for s in subs if isinstance(s, Submission)]
    checked = validate(readable, reference.codes, reference.facilities)
    clock("validate_only_s")
    seconds = clock.seconds["read_only_s"] + clock.seconds["validate_only_s"]
    clock.seconds["seconds"] = seconds
    counts = {r["table"]: r for r in checked.counts.to_dicts()}
    if write:
        work.mkdir(parents=True, exist_ok=True)
        _write(work, checked.tables)
        quarantined = checked.claims.select("file_id", "hoso_idx", "lines_quarantined")
        _write(work, {"quarantined": quarantined})
    return {
        "rows": sum(c["rows_in"] for c in counts.values()),
        "counts": counts,
        "read_only_s": clock.seconds["read_only_s"],
        "validate_only_s": clock.seconds["validate_only_s"],
    }, inputs


def _price(
    work: Path, reference: Any, clock: Laps, write: bool
) -> tuple[dict[str, Any], float]:
    from claims.pipeline.stages import price

    tables = _tables(work, only=("XML1", "XML2", "XML3"))
    clock("read_s")
    inputs = _memory()
    priced = price(tables, reference)
    clock("seconds")
    if write:
        _write(work, {"priced": priced})
    return {"rows": priced.height}, inputs


def _assess(
    work: Path, reference: Any, clock: Laps, write: bool
) -> tuple[dict[str, Any], float]:
    from claims.assess import assess

    batch = _batch(work, reference)
    clock("read_s")
    inputs = _memory()
    assessed = assess(batch, reference.packs, pinned=reference.pinned)
    clock("seconds")
    if write:
        _write(work, {"hits": assessed.hits, "assessed": assessed.claims})
    rows = batch.xml2.height + batch.xml3.height
    return {"rows": rows, "hits": assessed.hits.height}, inputs


def _pay(
    work: Path, reference: Any, clock: Laps, write: bool
) -> tuple[dict[str, Any], float]:
    from claims.pay import claim_facts, pay

    batch, benefits, salaries = _pay_inputs(work, reference)
    hits = _read(work, "hits")
    clock("read_s")
    inputs = _memory()
    payment = pay(batch, benefits, salaries, hits)
    clock("seconds")
    if write:
        facts = claim_facts(batch, benefits, salaries)  # the SQL's budget flag
        _write(
            work,
            {
                "pay_lines": payment.lines,
                "pay_claims": payment.claims,
                "pay_flags": facts.select("file_id", "hoso_idx", "out_of_list_budget"),
            },
        )
    return {"rows": payment.lines.height, "claims": payment.claims.height}, inputs


def _decide(
    work: Path, reference: Any, clock: Laps, write: bool
) -> tuple[dict[str, Any], float]:
    from claims.decide import decide
    from claims.pay import Payment

    xml1 = _read(work, "XML1")
    assessed = _read(work, "assessed")
    hits = _read(work, "hits")
    payment = Payment(_read(work, "pay_lines"), _read(work, "pay_claims"))
    clock("read_s")
    inputs = _memory()
    decided = decide(
        xml1,
        assessed,
        hits,
        payment,
        run_id="bench-payment",
        catalogs=reference.catalog_labels,
        packs=reference.packs,
    )
    clock("seconds")
    out = {
        "rows": decided.lines.height,
        "claims": decided.claims.height,
        "reasons": decided.reasons.height,
    }
    if write:
        out |= _settlement_inputs(work, decided.claims, decided.lines, decided.reasons)
    return out, inputs


def _settlement_inputs(
    work: Path, decisions: pl.DataFrame, lines: pl.DataFrame, reasons: pl.DataFrame
) -> dict[str, Any]:
    """The period's decisions in the store's order (``current_decisions``), advances."""
    period = decisions["period"].drop_nulls().mode().sort()[0]
    decisions = decisions.filter(pl.col("period") == period).sort(
        "ma_cskcb", "ma_lk", "file_id", "hoso_idx"
    )
    keys = decisions.select("file_id", "hoso_idx")
    lines = lines.join(keys, on=["file_id", "hoso_idx"], how="semi").sort(
        "file_id", "hoso_idx", "table", "line_no"
    )
    reasons = reasons.join(keys, on=["file_id", "hoso_idx"], how="semi")
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
    _write(
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


def _settle(work: Path, clock: Laps, write: bool) -> tuple[dict[str, Any], float]:
    from claims.settle import settle

    decisions = _read(work, "settle_decisions")
    lines = _read(work, "settle_lines")
    reasons = _read(work, "settle_reasons")
    advances = _read(work, "advances")
    period = (work / "period.txt").read_text()
    clock("read_s")
    inputs = _memory()
    settlement = settle(decisions, lines, reasons, advances, period=period)
    clock("seconds")
    if write:
        _write(work, {f"settlement_{k}": v for k, v in settlement.frames.items()})
        (work / "settlement.json").write_text(
            json.dumps({"id": settlement.settlement_id, "period": settlement.period})
        )
    frames = {k: v.height for k, v in settlement.frames.items()}
    return {"rows": lines.height, "frames": frames}, inputs


def _postings(work: Path, clock: Laps) -> tuple[dict[str, Any], float]:
    from claims.settle import Settlement, postings

    meta = json.loads((work / "settlement.json").read_text())
    names = ("groups", "facilities")
    frames = {n: _read(work, f"settlement_{n}") for n in names}
    clock("read_s")
    inputs = _memory()
    ledger = postings(Settlement(meta["id"], meta["period"], frames))
    clock("seconds")
    debit, credit = ledger["debit"].sum(), ledger["credit"].sum()
    return {
        "rows": frames["groups"].height,
        "ledger_rows": ledger.height,
        "balanced": debit == credit,
    }, inputs


# ---------------------------------------------------------------- DuckDB baseline


def pay_sql(rounding: str = "round", steps: bool = True) -> str:
    """The payment stage's line arithmetic in SQL over the engine's law inputs.

    Args:
        rounding: the SQL rounding function (``round`` is half away from zero on
            DECIMAL, as the engine; ``round_even`` is the wrong, half-even variant).
        steps: round each product to 2 decimals (the law); False rounds once at the end
            (a wrong variant).
    """
    r = rounding
    if steps:
        bv = f"{r}({r}(law_qty * price_bv, 2) * law_ratio_dv * 0.01, 2)"
        base = f"{r}({r}(law_qty * law_price, 2) * law_ratio_dv * 0.01, 2)"
        bh = f"{r}({base} * law_ratio_bh * 0.01, 2)"
    else:
        bv = f"{r}(law_qty * price_bv * law_ratio_dv * 0.01, 2)"
        bh = f"{r}(law_qty * law_price * law_ratio_dv * 0.01 * law_ratio_bh * 0.01, 2)"
    return f"""
WITH lines AS (
    SELECT l.file_id, l.hoso_idx, l."table", l.line_no,
           l.law_qty, l.claimed_price_bv AS price_bv, l.law_price,
           l.law_ratio_dv, l.law_ratio_bh, l.law_muc_huong,
           coalesce(l.pham_vi, '1') AS scope,
           coalesce(f.out_of_list_budget, false) AS budget_paid
    FROM pay_lines l LEFT JOIN pay_flags f USING (file_id, hoso_idx)
), amounts AS (
    SELECT *, {bv} AS bv, {bh} AS bh_all FROM lines
), scoped AS (
    SELECT *,
           CASE WHEN scope = '1' THEN bh_all ELSE 0 END AS bh,
           CASE WHEN scope = '3' AND budget_paid THEN bv ELSE 0 END AS budget
    FROM amounts
), shares AS (
    SELECT *, {r}(bh * law_muc_huong * 0.01, 2) AS fund FROM scoped
)
SELECT file_id, hoso_idx, "table", line_no,
       bv::DECIMAL(38, 2) AS law_bv,
       bh::DECIMAL(38, 2) AS law_bh,
       fund::DECIMAL(38, 2) AS law_bhtt,
       (bh - fund)::DECIMAL(38, 2) AS law_bncct,
       (bv - bh - budget)::DECIMAL(38, 2) AS law_bntt
FROM shares
"""


PAY_SQL_COLUMNS = (
    "file_id",
    "hoso_idx",
    "table",
    "line_no",
    "law_qty",
    "claimed_price_bv",
    "law_price",
    "law_ratio_dv",
    "law_ratio_bh",
    "law_muc_huong",
    "pham_vi",
)
"""The law inputs the SQL reads from the engine's payment lines."""


def settle_sql(pending: bool = False) -> str:
    """Settlement groups from decision lines (``pending`` True: the wrong variant that
    also settles claims pending review)."""
    where = "" if pending else "WHERE outcome <> 'pending_review'"
    return f"""
WITH claims AS (
    SELECT file_id, hoso_idx, ma_cskcb,
           CASE WHEN inpatient THEN 'inpatient' ELSE 'outpatient' END AS treatment,
           outcome IN ('accepted', 'partially_accepted') AS pays
    FROM decisions {where}
), per_claim AS (
    SELECT c.ma_cskcb, c.treatment, l.cost_group, l.file_id, l.hoso_idx,
           coalesce(sum(l.claimed_bh), 0) AS claimed_bh,
           coalesce(sum(CASE WHEN c.pays THEN l.accepted_bh ELSE 0 END), 0)
               AS accepted_bh,
           coalesce(sum(l.claimed_bhtt), 0) AS claimed_bhtt,
           coalesce(sum(CASE WHEN c.pays THEN l.accepted_bhtt ELSE 0 END), 0)
               AS accepted_bhtt
    FROM decision_lines l JOIN claims c USING (file_id, hoso_idx)
    GROUP BY ALL
)
SELECT ma_cskcb, treatment, cost_group,
       sum(claimed_bh)::DECIMAL(38, 2) AS claimed_bh,
       sum(accepted_bh)::DECIMAL(38, 2) AS accepted_bh,
       sum(claimed_bhtt)::DECIMAL(38, 2) AS claimed_bhtt,
       sum(accepted_bhtt)::DECIMAL(38, 2) AS accepted_bhtt,
       sum(greatest(claimed_bhtt - accepted_bhtt, 0))::DECIMAL(38, 2)
           AS rejected_amount
FROM per_claim
GROUP BY ALL
"""


SETTLE_SQL_COLUMNS = {
    "decisions": ("file_id", "hoso_idx", "ma_cskcb", "inpatient", "outcome"),
    "decision_lines": (
        "file_id",
        "hoso_idx",
        "cost_group",
        "claimed_bh",
        "accepted_bh",
        "claimed_bhtt",
        "accepted_bhtt",
    ),
}


def _load(con: Any, table: str, path: Path, columns: tuple[str, ...]) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    con.execute(f"CREATE TABLE {table} AS SELECT {names} FROM read_parquet('{path}')")


def run_baseline(method: str, work: Path, write: bool) -> dict[str, Any]:
    """Time one DuckDB baseline run (into a DuckDB table), inputs loaded apart."""
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    if method == "sql-pay":
        _load(con, "pay_lines", work / "pay_lines.parquet", PAY_SQL_COLUMNS)
        _load(con, "pay_flags", work / "pay_flags.parquet", _FLAGS)
        sql, out = pay_sql(), "sql_pay"
    else:
        for table, name in (("decisions", "decisions"), ("decision_lines", "lines")):
            path = work / f"settle_{name}.parquet"
            _load(con, table, path, SETTLE_SQL_COLUMNS[table])
        sql, out = settle_sql(), "sql_settle"
    read_s = time.perf_counter() - t0
    inputs = _memory()
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE result AS {sql}")
    seconds = time.perf_counter() - t0
    peak = _memory()
    result_rows = con.execute("SELECT count(*) FROM result").fetchall()[0][0]
    lines = "pay_lines" if method == "sql-pay" else "decision_lines"
    rows = con.execute(f"SELECT count(*) FROM {lines}").fetchall()[0][0]
    if write:
        con.execute(f"COPY result TO '{work / out}.parquet' (FORMAT parquet)")
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    return {
        "seconds": seconds,
        "read_s": read_s,
        "reference_s": 0.0,
        "rss_inputs_mb": inputs,
        "peak_rss_mb": peak,
        "rows": rows,
        "result_rows": result_rows,
        "threads": threads,
    }


_FLAGS = ("file_id", "hoso_idx", "out_of_list_budget")


# ---------------------------------------------------------------- check


def _differing(
    ours: pl.DataFrame,
    theirs: pl.DataFrame,
    keys: list[str],
    columns: tuple[str, ...],
    *,
    every: bool,
) -> dict[str, Any]:
    """Rows whose ``columns`` differ between ``ours`` and ``theirs`` (joined on ``keys``).

    ``every``: both must hold the same keys (a row on one side only differs); otherwise
    only the rows of ``ours`` are compared (one missing from ``theirs`` differs).
    """
    theirs = theirs.select(*keys, *columns).cast(
        {c: ours.schema[c] for c in (*keys, *columns)}
    )
    joined = ours.select(*keys, *columns).join(
        theirs,
        on=keys,
        how="full" if every else "left",
        suffix="_sql",
        nulls_equal=True,
        coalesce=True,
    )
    differs = {c: ~pl.col(c).eq_missing(pl.col(f"{c}_sql")) for c in columns}
    counts = joined.select(
        pl.any_horizontal(list(differs.values())).sum().alias("_any"),
        *[d.sum().alias(c) for c, d in differs.items()],
    ).row(0, named=True)
    return {
        "compared": ours.height,
        "baseline_rows": theirs.height,
        "mismatches": counts.pop("_any"),
        "columns_differing": {c: n for c, n in counts.items() if n},
    }


def check(work: Path, sample: int) -> dict[str, Any]:
    """Compare the baseline's outputs with the engine's; run the wrong variants."""
    import duckdb

    lines = _read(
        work,
        "pay_lines",
        [*LINE_KEYS, *AMOUNTS, "package_cut", "claimed_nguonkhac", "law_budget"],
    )
    plain = (pl.col("package_cut") == 0) & (pl.col("claimed_nguonkhac") <= 0)
    compared = lines.filter(plain)
    pay_check = _differing(
        compared, _read(work, "sql_pay"), LINE_KEYS, AMOUNTS, every=False
    )
    pay_check |= {
        "lines": lines.height,
        "excluded_package_cut": int((lines["package_cut"] != 0).sum()),
        "excluded_other_sources": int((lines["claimed_nguonkhac"] > 0).sum()),
        "lines_with_budget": int((lines["law_budget"] != 0).sum()),
    }
    groups = _read(work, "settlement_groups")
    settle_check = _differing(
        groups, _read(work, "sql_settle"), GROUP_KEYS, GROUP_SUMS, every=True
    )

    result = {"pay": pay_check, "settle": settle_check}
    if not sample:
        return result
    # the wrong variants, on a sample: the first lines, the first facilities
    con = duckdb.connect()
    head = compared.head(sample)
    con.register("_sample", head.select(LINE_KEYS).to_arrow())
    names = ", ".join(f'l."{c}"' for c in PAY_SQL_COLUMNS)
    con.execute(
        f"CREATE TABLE pay_lines AS SELECT {names} FROM read_parquet("
        f"'{work / 'pay_lines.parquet'}') l JOIN _sample USING "
        '(file_id, hoso_idx, "table", line_no)'
    )
    _load(con, "pay_flags", work / "pay_flags.parquet", _FLAGS)
    variants: dict[str, Any] = {}
    for name, sql in (
        ("pay, as the baseline", pay_sql()),
        ("pay, half-even rounding", pay_sql("round_even")),
        ("pay, no intermediate rounding", pay_sql(steps=False)),
    ):
        got = con.sql(sql).pl()
        found = _differing(head, got, LINE_KEYS, AMOUNTS, every=False)
        variants[name] = found["mismatches"]
    decisions = _read(work, "settle_decisions")
    few = decisions["ma_cskcb"].unique().sort().head(max(1, sample // 2_000))
    con.register("_few", pl.DataFrame({"ma_cskcb": few}).to_arrow())
    for table, name in (("decisions", "decisions"), ("decision_lines", "lines")):
        cols = ", ".join(f'"{c}"' for c in SETTLE_SQL_COLUMNS[table])
        con.execute(
            f"CREATE TABLE {table} AS SELECT {cols} FROM read_parquet('"
            f"{work / f'settle_{name}.parquet'}')"
        )
    con.execute("DELETE FROM decisions WHERE ma_cskcb NOT IN (SELECT * FROM _few)")
    ours = groups.filter(pl.col("ma_cskcb").is_in(few.implode()))
    for name, sql in (
        ("settle, as the baseline", settle_sql()),
        ("settle, pending claims settled", settle_sql(pending=True)),
    ):
        got = con.sql(sql).pl()
        found = _differing(ours, got, GROUP_KEYS, GROUP_SUMS, every=True)
        variants[name] = found["mismatches"]
    return result | {
        "sample": {"pay_lines": head.height, "settle_facilities": few.len()},
        "variants": variants,
    }


def _sum_checks(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The checks of the parts as one: counts added up, the first part's variants."""
    out = dict(parts[0])
    for key in BASELINES.values():
        total: dict[str, Any] = {}
        for part in parts:
            for name, value in part[key].items():
                if isinstance(value, dict):
                    into = total.setdefault(name, {})
                    for column, n in value.items():
                        into[column] = into.get(column, 0) + n
                else:
                    total[name] = total.get(name, 0) + value
        out[key] = total
    return out


# ---------------------------------------------------------------- pay profile


def profile_pay(work: Path) -> dict[str, Any]:
    """Time ``pay`` by its steps: every function of the ``claims.pay`` modules that
    ``pay`` calls (and that they call: ``_ranked``, the ``benefits`` lookups …) is wrapped
    with a timer, in the module that calls it, for one run of ``pay`` itself, so the steps
    follow the engine as it is."""
    import claims.pay as P
    from claims.pay import ceiling, lines, ratios, shares, stage

    reference = _reference()
    batch, benefits, salaries = _pay_inputs(work, reference)
    hits = _read(work, "hits")
    timings: dict[tuple[int, str], float] = {}
    depth = [0]

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            finally:
                depth[0] -= 1
            if not isinstance(result, pl.Expr):  # expression builders cost nothing
                label = name
                if name == "lookup":  # lookup(frame, benefits, kind, keys, day, name=)
                    label = f"lookup {args[2]} ({args[0].height:,} rows)"
                key = (depth[0], label)
                timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
            return result

        return wrapper

    originals = {
        (module, name): fn
        for module in (lines, ratios, ceiling, shares, stage)
        for name, fn in vars(module).items()
        if isinstance(fn, FunctionType) and name != "pay"
    }
    for (module, name), fn in originals.items():
        setattr(module, name, timed(name, fn))
    try:
        t0 = time.perf_counter()
        P.pay(batch, benefits, salaries, hits)
        total = time.perf_counter() - t0
    finally:
        for (module, name), fn in originals.items():
            setattr(module, name, fn)
    steps = {k: v for (d, k), v in timings.items() if d == 0}
    steps["pay itself (claim totals, select and cast)"] = total - sum(steps.values())
    inside = {k: v for (d, k), v in timings.items() if d > 0}
    return {
        "total_s": total,
        "steps_s": steps,
        "inside_s": dict(sorted(inside.items(), key=lambda kv: -kv[1])),
        "lines": batch.xml2.height + batch.xml3.height,
    }


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
        t0, peak, killed = time.perf_counter(), 0.0, False
        while child.poll() is None:
            peak = max(peak, _rss_mb(child.pid))
            if limit_mb and peak > limit_mb:
                child.kill()
                child.wait()
                killed = True
                break
            time.sleep(0.05)
        if killed:
            return {
                "killed": True,
                "rss_at_kill_mb": peak,
                "seconds_before_kill": time.perf_counter() - t0,
                "load_avg_1m": load,
            }
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{stderr}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["load_avg_1m"] = load
    return result


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


ROWS = {
    "validate": "rows in",
    "price": "lines",
    "assess": "lines",
    "pay": "lines",
    "decide": "lines",
    "settle": "lines",
    "postings": "groups",
    "sql-pay": "lines",
    "sql-settle": "lines",
}
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


def _rate(value: float) -> str:
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.0f}k"


def _table(report: dict[str, Any]) -> str:
    head = (
        "stage",
        "rows",
        "best s",
        "median s",
        "rows/s",
        "read s",
        "RSS inputs MB",
        "peak RSS MB",
    )
    rows = [head]
    for name, r in report["stages"].items():
        if r.get("killed") or r.get("skipped"):
            why = (
                f"killed at {r['rss_at_kill_mb']:,.0f} MB "
                f"after {r['seconds_before_kill']:.0f} s"
                if r.get("killed")
                else f"not run ({r['skipped']})"
            )
            rows.append((LABELS[name], why, "", "", "", "", "", ""))
            continue
        rows.append(
            (
                LABELS[name],
                f"{r['rows']:,} {ROWS[name]}",
                f"{r['seconds_best']:.2f}",
                f"{r['seconds_median']:.2f}",
                _rate(r["rows_per_s"]),
                f"{r['read_s']:.2f}",
                f"{r['rss_inputs_mb']:,.0f}",
                f"{r['peak_rss_mb']:,.0f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    text = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    check = report.get("check") or {}
    for stage, ratio in report["engine_over_baseline"].items():
        found = check.get(stage, {})
        text.append(
            f"{stage} / its DuckDB baseline: {ratio:.1f}× (mismatches "
            f"{found.get('mismatches')} of {found.get('compared', 0):,})"
        )
    if check:
        text.append(f"wrong variants (mismatches): {check['variants']}")
    profile = report.get("pay_profile")
    if profile and not profile.get("killed"):
        text.append(f"\npay, by step (one run, {profile['total_s']:.2f} s):")
        text.extend(f"  {s:7.3f}  {k}" for k, s in profile["steps_s"].items())
        text.append("  of which:")
        text.extend(f"  {s:7.3f}  {k}" for k, s in profile["inside_s"].items())
    loads = [
        x for r in report["stages"].values() for x in r.get("load_avg_1m", [])
    ] or [0.0]
    parts = report.get("parts")
    if parts:
        claims = ", ".join(f"{p['claims']:,}" for p in parts)
        text.append(
            f"in {len(parts)} batches of whole facilities ({claims} claims): each "
            "stage's time added up over them, its peak RSS the highest"
        )
    text.append(
        f"{report['day']['claims']:,} claims, {report['day']['facilities']:,} "
        f"facilities; load average before runs {min(loads):.1f}–{max(loads):.1f} "
        f"on {report['machine']['cpus']} CPUs; children killed above "
        f"{report['max_rss_mb']:,.0f} MB"
    )
    return "\n".join(text)


def _machine() -> dict[str, Any]:
    import duckdb

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(_physical_mb() / 1024),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "polars_threads": pl.thread_pool_size(),
    }


def _physical_mb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    if len(parts) > 1:
        out["part_seconds"] = [round(p["seconds"], 3) for p in parts]
        out["part_peak_rss_mb"] = [round(p["peak_rss_mb"]) for p in parts]
    return out


def _rounds(
    repeat: int, places: list[tuple[Path, Path]], limit_mb: float
) -> dict[str, list[dict[str, Any]]]:
    """Run the stages over ``repeat`` interleaved rounds (the first writes outputs),
    each stage over every part in turn.

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
            flags = ["--write"] if i == 0 else []
            parts = []
            for inbox, work in places:
                where = ["--inbox", str(inbox), "--work", str(work)]
                parts.append(_child(["--child", stage, *where, *flags], limit_mb))
                if "seconds" not in parts[-1]:
                    break
            result = _combine(parts)
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


def main() -> None:
    """Generate (or reuse) the day, run the stages and baselines, check, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument(
        "--facilities",
        type=int,
        default=None,
        help="facilities sending (default: in proportion to a national day, "
        "12,500 for 700,000 claims, at least 200)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--parts",
        type=int,
        default=1,
        help="run the day as this many batches of whole facilities, each stage over "
        "each batch in turn (times added up, the highest peak RSS); 1: one batch",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds: one timed run per stage each"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("/tmp/giamdinh-bench-payment"),
        help="generated days are kept here and reused",
    )
    parser.add_argument(
        "--sample", type=int, default=200_000, help="lines for the wrong variants"
    )
    parser.add_argument(
        "--max-rss-gb",
        type=float,
        default=round(_physical_mb() * 0.8 / 1024, 1),
        help="kill a stage process whose RSS passes this (default: 80%% of RAM)",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="skip timing pay step by step"
    )
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the stage outputs"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--child",
        choices=("generate", "split", *STAGES, *BASELINES, "check", "profile"),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--day-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--inbox", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    facilities = args.facilities or min(
        NATIONAL_FACILITIES,
        max(200, round(args.claims * NATIONAL_FACILITIES / NATIONAL_CLAIMS)),
    )
    day_dir = args.day_dir or (
        args.cache / f"day-c{args.claims}-f{facilities}-s{args.seed}"
    )

    if args.child:
        result: Any = {}
        if args.child == "generate":
            generate_day(day_dir, args.claims, facilities, args.seed)
        elif args.child == "split":
            split_day(day_dir, args.parts)
        elif args.child in BASELINES:
            result = run_baseline(args.child, args.work, args.write)
        elif args.child == "check":
            result = check(args.work, args.sample)
        elif args.child == "profile":
            result = profile_pay(args.work)
        else:
            result = run_stage(args.child, args.work, args.inbox, args.write)
        print(json.dumps(result, default=str))
        return

    limit = args.max_rss_gb * 1024
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
    places = _places(day_dir, args.parts)
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
            checked = _sum_checks(found)
            checked.pop("load_avg_1m")
        if not args.no_profile and "seconds_best" in results["assess"]:
            profile = _child(["--child", "profile", "--work", str(places[0][1])], limit)
            profile.pop("load_avg_1m")
    finally:
        if not args.keep_work:
            for _, work in places:
                shutil.rmtree(work, ignore_errors=True)

    report: dict[str, Any] = {
        "day": day,
        "parts": parts_info,
        "repeat": args.repeat,
        "timing": "each stage alone with its inputs in memory (reading and loading "
        "reference data apart); best of --repeat runs, each in its own process, "
        "stages interleaved; with --parts, each round's times added up over the parts",
        "max_rss_mb": limit,
        "stages": {s: results[s] for s in (*STAGES, *BASELINES)},
        "engine_over_baseline": {
            stage: results[stage]["seconds_best"] / results[base]["seconds_best"]
            for base, stage in BASELINES.items()
            if "seconds_best" in results[stage] and "seconds_best" in results[base]
        },
        "check": checked,
        "pay_profile": profile,
        "machine": _machine(),
    }
    _log(_table(report))
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    problems = [
        f"{s}: {'killed' if r.get('killed') else 'not run'}"
        for s, r in report["stages"].items()
        if "seconds_best" not in r
    ]
    if checked is None:
        problems.append("no check: a stage it needs did not run")
    else:
        variants = checked["variants"]
        problems += [
            f"{s}: {checked[s]['mismatches']} mismatches"
            for s in BASELINES.values()
            if checked[s]["mismatches"]
        ]
        problems += [
            f"{k}: {v} mismatches"
            for k, v in variants.items()
            if "as the baseline" in k and v
        ]
        problems += [
            f"{k}: not caught"
            for k, v in variants.items()
            if "as the baseline" not in k and not v
        ]
    if problems:
        sys.exit("; ".join(problems))


if __name__ == "__main__":
    main()
