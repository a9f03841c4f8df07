"""What a run writes: its frames (run folder and store tables), its receipts (one per
input) and its manifest, from the stages' frames — for a one-batch run and for each
partition of a partitioned one (``claims.pipeline.daily``)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import polars as pl

from claims.errors import ReasonCode as R
from claims.ids import engine_version
from claims.intake import FileFailure, Submission, failure_receipt, submission_receipt
from claims.intake.hoso import RAW_SCHEMA
from claims.messages import MESSAGES
from claims.pipeline.context import RunContext
from claims.pipeline.inbox import Inputs
from claims.pipeline.selfcheck import claim_objects
from claims.pipeline.stages import Frames
from claims.validate import Validated
from claims.xml130 import LINE_TABLES

_SUBMISSION_SCHEMA = {
    "file_id": pl.String,
    "name": pl.String,
    "kind": pl.String,
    "size": pl.Int64,
    "sender": pl.String,
    "ngay_lap": pl.String,
    "declared": pl.Int64,
    "hoso_count": pl.Int64,
    "status": pl.String,
    "reason_code": pl.String,
    "message": pl.String,
    "receipt": pl.String,
}


def validated(done: Frames) -> Validated:
    """Validation's output as one value (the frames the run's outputs read)."""
    return Validated(
        dict(done.tables),
        done.need("quarantine", done.quarantine),
        done.need("claims", done.claims),
        done.need("counts", done.counts),
    )


def receipts_of(
    ctx: RunContext, inputs: Inputs, checked: Validated, done: Frames
) -> dict[str, dict[str, Any]]:
    """One receipt per input read: per claim received or refused, with validation's
    reasons, and its decision (the ``check`` contract's object: outcome, amounts,
    every reason, versions)."""
    run_id = ctx.run_id
    names = {s.meta.file_id: s.meta.name for s in inputs.submissions}
    decided: dict[str, dict[int, dict[str, Any]]] = {}
    for (file_id, hoso), found in claim_objects(
        inputs.submissions, done, names, ctx.reference
    ).items():
        decided.setdefault(file_id, {})[hoso] = found
    claims_by_file = checked.claims.partition_by("file_id", as_dict=True)
    priced = done.need("prices", done.prices)
    warnings_by_file = _price_warnings(priced).partition_by("file_id", as_dict=True)
    quarantine_by_file = checked.quarantine.partition_by("file_id", as_dict=True)
    receipts = {
        s.meta.name: submission_receipt(
            s,
            claims_by_file.get((s.meta.file_id,), checked.claims.clear()),
            quarantine_by_file.get((s.meta.file_id,), checked.quarantine.clear()),
            run_id,
            warnings_by_file.get((s.meta.file_id,)),
            decided.get(s.meta.file_id, {}),
        )
        for s in inputs.submissions
    }
    return receipts | {f.name: failure_receipt(f, run_id) for f in inputs.failures}


def run_outputs(
    inputs: Inputs,
    checked: Validated,
    done: Frames,
    receipts: dict[str, dict[str, Any]],
    run_id: str,
) -> dict[str, pl.DataFrame]:
    """The run's frames: stored tables (DuckDB) and Parquet-kept outputs."""
    assessed = done.need("assessment", done.assessment)
    decided = done.need("decisions", done.decisions)
    run = pl.lit(run_id).alias("run_id")
    frames = _frames(inputs.submissions, inputs.failures, checked, receipts, run_id)
    frames["prices"] = done.need("prices", done.prices).with_columns(run)
    frames["rule_hits"] = assessed.hits.with_columns(run)
    frames["assessments"] = assessed.claims.with_columns(run)
    frames["decisions"] = decided.claims
    frames["decision_lines"] = decided.lines
    frames["decision_reasons"] = decided.reasons
    return frames


def _decision_counts(decisions: pl.DataFrame | pl.LazyFrame) -> list[dict[str, Any]]:
    """Claims and money per outcome (amounts as 2-decimal text)."""
    money = ("claimed_t_bhtt", "accepted_t_bhtt", "rejected_amount")
    return (
        decisions.lazy()
        .group_by("outcome")
        .agg(pl.len().alias("claims"), *[pl.col(c).sum() for c in money])
        .sort("outcome")
        .with_columns(pl.col(c).cast(pl.String) for c in money)
        .collect()
        .to_dicts()
    )


def _frames(
    subs: list[Submission],
    failures: list[FileFailure],
    checked: Validated,
    receipts: dict[str, dict[str, Any]],
    run_id: str,
) -> dict[str, pl.DataFrame]:
    run = pl.lit(run_id).alias("run_id")
    order = checked.claims.select("file_id", "hoso_idx", "file_order")
    claims = (
        checked.tables["XML1"]
        .join(order, on=["file_id", "hoso_idx"], how="left")
        .rename({"file_order": "_file_order"})
        .with_columns(run)
    )
    frames = {
        "submissions": _submissions(subs, failures, receipts),
        "claims": claims,
        **{t.lower(): checked.tables[t].with_columns(run) for t in LINE_TABLES},
        "raw_docs": _raw_docs(subs).with_columns(run),
        "quarantine": checked.quarantine.with_columns(run),
        "claim_status": checked.claims.select(
            "file_id",
            "hoso_idx",
            "ma_cskcb",
            "ma_lk",
            "status",
            "claim_reasons",
            "lines_quarantined",
        ).with_columns(run),
    }
    return frames


def _price_warnings(priced: pl.DataFrame) -> pl.DataFrame:
    """Lines whose code has no valid catalog row, as receipt warnings."""
    code = {"drugs": "MA_THUOC", "services": "MA_DICH_VU", "supplies": "MA_VAT_TU"}
    return priced.filter(pl.col("reason_code").is_not_null()).select(
        "file_id",
        "hoso_idx",
        pl.col("reason_code").alias("code"),
        pl.lit(MESSAGES[R.NOT_IN_CATALOG]).alias("message"),
        "table",
        "line_no",
        pl.col("catalog").replace_strict(code).alias("field"),
    )


def public_form(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Run-output form of a frame: without engine-internal columns."""
    return frame.drop([c for c in frame.collect_schema().names() if c.startswith("_")])


def _raw_docs(subs: list[Submission]) -> pl.DataFrame:
    parts = [s.raw_docs for s in subs if s.raw_docs.height]
    return pl.concat(parts) if parts else pl.DataFrame(schema=RAW_SCHEMA)


def _submissions(
    subs: list[Submission],
    failures: list[FileFailure],
    receipts: dict[str, dict[str, Any]],
) -> pl.DataFrame:
    rows: list[tuple[object, ...]] = [
        (
            s.meta.file_id,
            s.meta.name,
            s.meta.kind,
            s.meta.size,
            s.meta.sender,
            s.meta.ngay_lap,
            s.meta.declared,
            s.meta.hoso_count,
            "read",
            None,
            None,
            json.dumps(receipts[s.meta.name], ensure_ascii=False, sort_keys=True),
        )
        for s in subs
    ]
    rows += [
        (
            f.file_id,
            f.name,
            "xml",
            f.size,
            None,
            None,
            None,
            0,
            "failed",
            f.reason.value,
            f.message,
            json.dumps(receipts[f.name], ensure_ascii=False, sort_keys=True),
        )
        for f in failures
    ]
    return pl.DataFrame(rows, schema=_SUBMISSION_SCHEMA, orient="row")


def manifest_of(
    ctx: RunContext,
    inputs: Inputs,
    counts: pl.DataFrame,
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
    started: float,
) -> dict[str, Any]:
    """The run's manifest; ``frames`` holds the run outputs ``prices``,
    ``assessments``, ``decisions`` and ``claim_status`` (lazy for a partitioned run)."""
    new = inputs.new

    def tally(name: str, *by: str) -> list[dict[str, Any]]:
        grouped = (
            frames[name]
            .lazy()
            .group_by(*by)
            .len("claims" if name != "prices" else "lines")
        )
        return grouped.sort(*by, nulls_last=False).collect().to_dicts()

    statuses = frames["claim_status"].lazy().group_by("status").len().sort("status")
    return {
        "run_id": ctx.run_id,
        "run_date": ctx.run_date,
        "engine_version": engine_version(),
        "catalogs": ctx.reference.labels,
        "inputs": [
            {"file": p.name, "sha256": h, "new": (p, h) in new}
            for p, h in inputs.hashed
        ],
        "counts": {
            "validate": counts.to_dicts(),
            "price": tally("prices", "catalog", "reason_code"),
            "assess": tally("assessments", "outcome"),
            "decide": _decision_counts(frames["decisions"]),
        },
        "claims": statuses.collect().to_dicts(),
        "wall_clock": {
            "started_unix": round(started, 3),
            "seconds": round(time.time() - started, 3),
        },
    }
