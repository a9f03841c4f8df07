"""Self-check: assess submissions without storing them (``giamdinh check``).

The output is a contract used by clinics' tools: one JSON object per claim, in input
order (file order, then claim order within the file), for every claim (HOSO) the file
holds:

- a claim: ``file, stt, ma_cskcb, ma_lk, outcome, claimed, accepted, rejected_amount,
  reasons, versions``. ``stt`` is the claim's 1-based position in its file (it names a
  claim whose MA_LK cannot be read; ``ma_lk`` is then null). Amounts are 2-decimal
  strings; ``claimed`` is XML1 as submitted; ``rejected_amount`` = claimed T_BHTT −
  accepted T_BHTT (≥ 0). A claim validation refused has ``outcome`` ``rejected``,
  nothing accepted, the claimed amounts that are valid amounts (else null),
  ``rejected_amount`` its claimed T_BHTT (null if unreadable), ``ma_cskcb`` its
  XML1's else the file's sender, its validation reasons (``level`` ``claim`` or
  ``line``) and ``versions.pack`` null;
- a file whose wrapper cannot be read: ``file, ma_lk`` (null) and ``error``.

Cross-claim checks see only the given files (no store, no history).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from claims.config import Settings
from claims.errors import ReasonCode as R
from claims.ids import content_id, engine_version
from claims.intake import FileFailure, Submission, read_submission
from claims.intake.submission import clean
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.inbox import default_date
from claims.pipeline.stages import Frames, run_stages
from claims.schema import CLAIM_KEYS
from claims.validate import ConservationError
from claims.validate.checks import field_reason, typed
from claims.xml130 import PARSED_TABLES

MONEY_FIELDS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt")
"""The XML1 totals shown under ``claimed`` and ``accepted``."""
MAX_BYTES = 1 << 31
Key = tuple[str, int]


def check_files(
    paths: Sequence[Path],
    reference: Reference,
    progress: Callable[[int, int], None] | None = None,
    settings: Settings | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Assess ``paths`` and return one JSON-ready object per claim, and whether every
    file's wrapper was read.

    The claims go through the daily run's stages (validation's quarantine included);
    cross-claim checks see only the given files (no store, no history)."""
    settings = settings or Settings()
    results: list[Submission | FileFailure] = []
    for n, path in enumerate(paths, start=1):
        results.append(read_submission(path, max_bytes=MAX_BYTES))
        if progress is not None:
            progress(n, len(paths))
    subs = [r for r in results if isinstance(r, Submission)]
    names = {
        r.meta.file_id: p.name
        for r, p in zip(results, paths, strict=True)
        if isinstance(r, Submission)
    }
    decided: dict[Key, dict[str, Any]] = {}
    if subs:
        day = default_date(subs)
        ctx = RunContext(_check_id(subs, reference), day, reference, settings)
        done = run_stages(ctx, Frames(submissions=tuple(subs)))
        decisions = done.need("decisions", done.decisions)
        decided = _decided(decisions.claims, decisions.reasons, names)
        versions = {
            "pack": None,
            "catalogs": dict(sorted(reference.catalog_labels.items())),
        }
        decided |= _refused(subs, done, names, versions)
    out: list[dict[str, Any]] = []
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, FileFailure):
            out.append({"file": path.name, "ma_lk": None, "error": result.message})
            continue
        out.extend(_in_order(result, decided))
    return out, all(isinstance(r, Submission) for r in results)


def _check_id(subs: Sequence[Submission], reference: Reference) -> str:
    """The self-check's id: the parts of a run id, for the files checked."""
    return content_id(
        "check",
        date=default_date(list(subs)),
        inputs=sorted(s.meta.file_id for s in subs),
        catalogs=reference.labels,
        engine=engine_version(),
    )


def _in_order(
    sub: Submission, claims: dict[Key, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every claim the file holds, in file order: decided, or refused with reasons."""
    out = []
    for hoso in range(sub.meta.hoso_count):
        found = claims.get((sub.meta.file_id, hoso))
        if found is None:
            msg = f"{sub.meta.name}: claim {hoso + 1} was neither decided nor refused"
            raise ConservationError(msg)
        out.append(found)
    return out


def _decided(
    claims: pl.DataFrame, reasons: pl.DataFrame, names: dict[str, str]
) -> dict[Key, dict[str, Any]]:
    by_claim: dict[Key, list[dict[str, Any]]] = {}
    for row in reasons.iter_rows(named=True):
        by_claim.setdefault((row["file_id"], row["hoso_idx"]), []).append(
            {
                "code": row["code"],
                "bhxh_code": row["bhxh_code"],
                "level": row["level"],
                "table": row["table"],
                "stt": row["stt"],
                "message": row["message"],
            }
        )
    out: dict[Key, dict[str, Any]] = {}
    for row in claims.iter_rows(named=True):
        key = (row["file_id"], row["hoso_idx"])
        catalogs = json.loads(row["catalogs"])
        out[key] = {
            "file": names.get(row["file_id"], row["file_id"]),
            "stt": row["hoso_idx"] + 1,
            "ma_cskcb": row["ma_cskcb"],
            "ma_lk": row["ma_lk"],
            "outcome": row["outcome"],
            "claimed": {f: f"{row[f'claimed_{f}']:.2f}" for f in MONEY_FIELDS},
            "accepted": {f: f"{row[f'accepted_{f}']:.2f}" for f in MONEY_FIELDS},
            "rejected_amount": f"{row['rejected_amount']:.2f}",
            "reasons": by_claim.get(key, []),
            "versions": {"pack": row["pack"], "catalogs": catalogs},
        }
    return out


def _refused(
    subs: Sequence[Submission],
    done: Frames,
    names: dict[str, str],
    versions: dict[str, Any],
) -> dict[Key, dict[str, Any]]:
    """Claims validation refused, in the shape of a decided claim: nothing accepted,
    the claimed amounts that can be read, and validation's reasons."""
    claims = done.need("claims", done.claims).filter(pl.col("status") == "rejected")
    claimed = _claimed(subs, claims)
    reasons = _validation_reasons(subs, done.need("quarantine", done.quarantine))
    rows = claims.join(claimed, on=CLAIM_KEYS, how="left").join(
        reasons, on=CLAIM_KEYS, how="left"
    )
    out: dict[Key, dict[str, Any]] = {}
    zero = dict.fromkeys(MONEY_FIELDS, "0.00")
    for row in rows.iter_rows(named=True):
        bhtt = row["t_bhtt"]
        out[(row["file_id"], row["hoso_idx"])] = {
            "file": names.get(row["file_id"], row["file_id"]),
            "stt": row["hoso_idx"] + 1,
            "ma_cskcb": row["ma_cskcb"] or row["sender"],
            "ma_lk": row["ma_lk"],
            "outcome": "rejected",
            "claimed": {f: _money(row[f]) for f in MONEY_FIELDS},
            "accepted": dict(zero),
            "rejected_amount": _money(bhtt),
            "reasons": row["reasons"] or [],
            "versions": versions,
        }
    return out


def _money(value: object) -> str | None:
    return None if value is None else f"{value:.2f}"


def _claimed(subs: Sequence[Submission], claims: pl.DataFrame) -> pl.DataFrame:
    """The XML1 totals of ``claims`` as sent, each null where it is not a valid amount."""
    spec = PARSED_TABLES["XML1"]
    fields = [spec.field(f) for f in MONEY_FIELDS]
    raw = pl.concat([s.tables["XML1"].select(*CLAIM_KEYS, *MONEY_FIELDS) for s in subs])
    return (
        raw.join(claims.select(CLAIM_KEYS), on=CLAIM_KEYS, how="semi")
        .unique(CLAIM_KEYS, keep="first", maintain_order=True)
        .with_columns(clean(f) for f in fields)
        .select(
            *CLAIM_KEYS,
            *[
                pl.when(field_reason(f, None).is_null()).then(typed(f)).alias(f.column)
                for f in fields
            ],
        )
    )


def _validation_reasons(
    subs: Sequence[Submission], quarantine: pl.DataFrame
) -> pl.DataFrame:
    """Per claim, its quarantine entries as reasons (``code, bhxh_code, level, table,
    stt, message``): claim-level first, each line's STT as sent."""
    stt = pl.concat(
        [
            s.tables[t].select(
                *CLAIM_KEYS,
                pl.lit(t).alias("table"),
                "line_no",
                pl.col("stt").str.strip_chars().cast(pl.Int64, strict=False),
            )
            for s in subs
            for t in PARSED_TABLES
            if t != "XML1"
        ]
    )
    line = pl.col("line_no").is_not_null() & (pl.col("table") != "XML1")
    found = (
        quarantine.filter(pl.col("reason_code") != R.LINE_OF_REJECTED_CLAIM.value)
        .join(stt, on=[*CLAIM_KEYS, "table", "line_no"], how="left", nulls_equal=True)
        .sort(*CLAIM_KEYS, line, "table", "line_no", "field", nulls_last=False)
    )
    return found.group_by(CLAIM_KEYS, maintain_order=True).agg(
        pl.struct(
            pl.col("reason_code").alias("code"),
            pl.lit(None, pl.String).alias("bhxh_code"),
            pl.when(line)
            .then(pl.lit("line"))
            .otherwise(pl.lit("claim"))
            .alias("level"),
            "table",
            pl.when(line).then("stt").alias("stt"),
            "message",
        ).alias("reasons")
    )
