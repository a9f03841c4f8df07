"""The baselines of ``giamdinh bench national-day``, run on the same day as the engine.

Each baseline does the work of one engine step the straightforward way, on the same
data, is timed, and is checked equal to the engine's output (``mismatches`` must be
0); a deliberately wrong variant of it must differ (``wrong_variant_mismatches`` > 0),
which shows that the check can fail. The ratios are throughput, ours ÷ theirs:

* ``ingest_vs_lxml``: lxml DOM parse (wrapper DOM, base64, inner DOM, every field of
  every table) of a sample of the XML slice's files, per XML2 + XML3 line, against the
  engine's measured ingest rate; equal: the raw frames ``claims.intake`` reads from the
  same files, row for row (hashes of every field);
* ``pricing_vs_duckdb``: DuckDB range joins building ``claims.price``'s 18 columns
  (:mod:`claims.bench.baselines_price`);
* ``rules_vs_rule_engine``: ``rule_engine.Rule.matches`` row by row on a sample of every
  rule frame, extrapolated, against the assess stage; ``rules_vs_duckdb``: the 18 XML3
  line rules of :data:`~claims.bench.baselines_sql.RULE_SQL` hand-written as SQL against
  the engine's evaluation of the same rules (:mod:`claims.bench.baselines_rules`);
* ``pay_vs_duckdb``: the pay line arithmetic as SQL against pay + decide;
  ``settle_vs_duckdb``: the settlement groups as SQL against ``claims.settle.settle``
  (:mod:`claims.bench.baselines_pay`).
"""

from __future__ import annotations

import base64
import dataclasses
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from lxml import etree

from claims.bench.baselines_pay import pay_baseline, settle_baseline
from claims.bench.baselines_price import pricing_baseline
from claims.bench.baselines_rules import (
    Timed,
    evaluate_seconds,
    per_row_baseline,
    sql_baseline,
)
from claims.intake import Submission, read_submission
from claims.pipeline.context import RunContext
from claims.pipeline.stages import Frames
from claims.price import PriceCatalogs
from claims.xml130 import PARSED_TABLES

LINES = ("XML2", "XML3")
"""The tables whose rows are the benchmark's lines."""
Parsed = dict[str, list[list[object]]]
"""Per table, rows of ``[file position, hoso_idx, *field texts]``."""


@dataclass(frozen=True)
class Baseline:
    """One baseline's figures next to the engine's on the same rows."""

    name: str
    ratio: float
    """Ours ÷ theirs in throughput (> 1: the engine is faster)."""
    engine_seconds: float
    baseline_seconds: float
    """Extrapolated to ``rows`` where the baseline ran on a sample."""
    rows: int
    """Rows the ratio is about."""
    sampled_rows: int
    """Rows the baseline actually ran on."""
    mismatches: int
    """Baseline vs engine on the same data: must be 0."""
    wrong_variant_mismatches: int
    """The main deliberately wrong variant's mismatches (the first of
    ``detail["wrong_variants"]``, which has every variant's): must be > 0."""
    detail: Mapping[str, object] = field(default_factory=dict)
    """What was compared and each wrong variant's mismatches."""

    def as_json(self) -> dict[str, object]:
        """The figures as plain JSON values."""
        return {
            "name": self.name,
            "ratio": round(self.ratio, 3),
            "engine_seconds": round(self.engine_seconds, 4),
            "baseline_seconds": round(self.baseline_seconds, 4),
            "rows": self.rows,
            "sampled_rows": self.sampled_rows,
            "mismatches": self.mismatches,
            "wrong_variant_mismatches": self.wrong_variant_mismatches,
            "detail": dict(self.detail),
        }


def _baseline(name: str, timed: Timed, engine_s: float, rows: int) -> Baseline:
    """A :class:`Baseline` from a timed run on ``timed.rows`` of ``rows``."""
    theirs = timed.seconds * rows / max(timed.rows, 1)
    return Baseline(
        name=name,
        ratio=theirs / engine_s if engine_s > 0 else float("inf"),
        engine_seconds=engine_s,
        baseline_seconds=theirs,
        rows=rows,
        sampled_rows=timed.rows,
        mismatches=timed.mismatches,
        wrong_variant_mismatches=timed.wrong_mismatches,
        detail=timed.detail,
    )


def _per_row(timed: Timed, assess_s: float, rows: int, evaluate_s: float) -> Baseline:
    """The per-row baseline against the assess stage, with the ratio to the rules'
    evaluation alone beside it (the figure ``benchmarks/rules.py`` gives)."""
    found = _baseline("rules_vs_rule_engine", timed, assess_s, rows)
    alone = found.baseline_seconds / evaluate_s if evaluate_s > 0 else float("inf")
    detail = {
        **found.detail,
        "evaluate_table_seconds": round(evaluate_s, 4),
        "ratio_to_evaluate_table": round(alone, 1),
    }
    return dataclasses.replace(found, detail=detail)


def run_baselines(
    ctx: RunContext,
    done: Frames,
    seconds: Mapping[str, float],
    *,
    xml_slice: Sequence[Path],
    ingest_lines_per_s: float,
    sample: int = 20_000,
) -> dict[str, Baseline]:
    """Every baseline on one batch: ``done`` after the six stages, ``seconds`` the
    engine's per stage on it (``assess``, ``pay``, ``decide`` are read), the XML slice
    and the engine's ingest rate measured on it (XML2 + XML3 lines per second).

    Returns:
        ``ingest_vs_lxml``, ``pricing_vs_duckdb``, ``rules_vs_rule_engine``,
        ``rules_vs_duckdb``, ``pay_vs_duckdb``, ``settle_vs_duckdb``.
    """
    max_bytes = ctx.settings.max_file_bytes
    ingest = ingest_baseline(xml_slice, sample, max_bytes=max_bytes)
    engine_ingest = ingest.rows / ingest_lines_per_s if ingest_lines_per_s > 0 else 0.0
    prices = PriceCatalogs.of(ctx.reference.catalogs)
    priced = pricing_baseline(done, prices, sample)
    per_row = per_row_baseline(done, ctx.reference.packs, sample)
    rule_rows = int(str(per_row.detail["rule_rows"]))
    evaluate_s = evaluate_seconds(done, ctx.reference.packs)
    sql = sql_baseline(done, ctx.reference.packs, sample)
    pay = pay_baseline(ctx, done, sample)
    settled = settle_baseline(done)
    return {
        "ingest_vs_lxml": _baseline(
            "ingest_vs_lxml", ingest, engine_ingest, ingest.rows
        ),
        "pricing_vs_duckdb": _baseline(
            "pricing_vs_duckdb", priced, priced.engine_seconds or 0.0, priced.rows
        ),
        "rules_vs_rule_engine": _per_row(
            per_row, seconds["assess"], rule_rows, evaluate_s
        ),
        "rules_vs_duckdb": _baseline(
            "rules_vs_duckdb", sql, sql.engine_seconds or 0.0, sql.rows
        ),
        "pay_vs_duckdb": _baseline(
            "pay_vs_duckdb", pay, seconds["pay"] + seconds["decide"], pay.rows
        ),
        "settle_vs_duckdb": _baseline(
            "settle_vs_duckdb", settled, settled.engine_seconds or 0.0, settled.rows
        ),
    }


# ---------------------------------------------------------------- ingest


def lxml_parse(path: Path, position: int, into: Parsed) -> None:
    """Parse one wrapper the simple way: the whole DOM, each payload base64-decoded
    and parsed as a DOM, every field of every table read into Python lists (an empty
    element is None, as intake reads it)."""
    tree = etree.parse(str(path))
    for index, hoso in enumerate(tree.getroot().iter("HOSO")):
        for item in hoso.iter("FILEHOSO"):
            spec = PARSED_TABLES.get((item.findtext("LOAIHOSO") or "").strip())
            if spec is None:
                continue
            doc = etree.fromstring(base64.b64decode(item.findtext("NOIDUNGFILE") or ""))
            rows = [doc] if not spec.row_path else list(doc.iter(spec.row_element))
            into.setdefault(spec.table, []).extend(
                [position, index, *[r.findtext(f.element) or None for f in spec.fields]]
                for r in rows
            )


def ingest_baseline(files: Sequence[Path], sample: int, *, max_bytes: int) -> Timed:
    """:func:`lxml_parse` of files drawn from ``files`` (seeded) until they hold
    ``sample`` XML2 + XML3 lines, timed; checked against ``claims.intake``'s raw frames
    of the same files. Wrong variants: XML3 skipped; empty elements read as ``""``."""
    order = random.Random(0).sample(list(files), len(files))
    parsed: Parsed = {}
    chosen: list[Path] = []
    seconds = 0.0
    while order and sum(len(parsed.get(t, [])) for t in LINES) < sample:
        chosen.append(order.pop())
        started = time.perf_counter()
        lxml_parse(chosen[-1], len(chosen) - 1, parsed)
        seconds += time.perf_counter() - started
    ours = _raw_frames(chosen, max_bytes)
    theirs = {t: _frame(t, rows) for t, rows in parsed.items()}
    mismatches = _frame_mismatches(ours, theirs)
    skipped = {t: f for t, f in theirs.items() if t != "XML3"}
    empty = {
        t: f.with_columns(pl.exclude("_file", "hoso_idx").fill_null(""))
        for t, f in theirs.items()
    }
    found = {
        "XML3 skipped": _frame_mismatches(ours, skipped),
        "empty elements read as ''": _frame_mismatches(ours, empty),
    }
    lines = sum(len(parsed.get(t, [])) for t in LINES)
    detail: dict[str, object] = {
        "files": len(chosen),
        "rows_per_table": {t: len(r) for t, r in sorted(parsed.items())},
        "wrong_variants": found,
    }
    return Timed(seconds, lines, mismatches, next(iter(found.values())), detail)


def _frame(table: str, rows: list[list[object]]) -> pl.DataFrame:
    spec = PARSED_TABLES[table]
    schema: dict[str, pl.DataType] = {"_file": pl.Int64(), "hoso_idx": pl.UInt32()}
    schema |= {c: pl.String() for c in spec.columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _raw_frames(files: Sequence[Path], max_bytes: int) -> dict[str, pl.DataFrame]:
    """Intake's raw text frames of ``files``, keyed by file position like :func:`_frame`."""
    parts: dict[str, list[pl.DataFrame]] = {}
    for position, path in enumerate(files):
        sub = read_submission(path, max_bytes=max_bytes)
        if not isinstance(sub, Submission):
            continue
        for table, raw in sub.tables.items():
            if raw.height:
                columns = PARSED_TABLES[table].columns
                parts.setdefault(table, []).append(
                    raw.select(
                        pl.lit(position, pl.Int64).alias("_file"), "hoso_idx", *columns
                    )
                )
    return {t: pl.concat(p) for t, p in parts.items()}


def _frame_mismatches(
    ours: Mapping[str, pl.DataFrame], theirs: Mapping[str, pl.DataFrame]
) -> int:
    """Rows in one side's tables and not the other's (hashes of every field)."""
    total = 0
    for table in sorted(set(ours) | set(theirs)):
        a = _hashes(ours.get(table)).rename({"n": "a"})
        b = _hashes(theirs.get(table)).rename({"n": "b"})
        joined = a.join(b, on="h", how="full", coalesce=True)
        diff = (pl.col("a").fill_null(0) - pl.col("b").fill_null(0)).abs()
        total += int(joined.select(diff.sum()).item() or 0)
    return total


def _hashes(frame: pl.DataFrame | None) -> pl.DataFrame:
    """Each distinct row's hash and how many times it occurs."""
    if frame is None:
        return pl.DataFrame(schema={"h": pl.UInt64(), "n": pl.Int64()})
    hashed = pl.DataFrame({"h": frame.hash_rows(seed=0)})
    return hashed.group_by("h").agg(pl.len().cast(pl.Int64).alias("n"))
