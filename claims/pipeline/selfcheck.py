"""Self-check: assess submissions without storing them (``giamdinh check``).

The output is a contract used by clinics' tools: one JSON object per claim, in input
order (file order, then claim order within the file):

- a decided claim: ``file, ma_cskcb, ma_lk, outcome, claimed, accepted,
  rejected_amount, reasons, versions``. Amounts are 2-decimal strings; ``claimed`` is
  XML1 as submitted; ``rejected_amount`` = claimed T_BHTT − accepted T_BHTT (≥ 0);
- a claim validation refused, or a file whose wrapper cannot be read:
  ``file, ma_lk`` (null for a file) and ``error``.

Cross-claim checks see only the given files (no store, no history).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from claims.config import Settings
from claims.ids import content_id, engine_version
from claims.intake import FileFailure, Submission, read_submission
from claims.messages import MESSAGES
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.inbox import default_date
from claims.pipeline.stages import Frames, run_stages

MONEY_FIELDS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt")
"""The XML1 totals shown under ``claimed`` and ``accepted``."""
MAX_BYTES = 1 << 31
_MESSAGES = {code.value: text for code, text in MESSAGES.items()}


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
    decided: dict[tuple[str, int], dict[str, Any]] = {}
    refused: dict[tuple[str, int], dict[str, Any]] = {}
    if subs:
        day = default_date(subs)
        ctx = RunContext(_check_id(subs, reference), day, reference, settings)
        done = run_stages(ctx, Frames(submissions=tuple(subs)))
        decisions = done.need("decisions", done.decisions)
        decided = _decided(decisions.claims, decisions.reasons, names)
        refused = _refused(done.need("claims", done.claims), names)
    out: list[dict[str, Any]] = []
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, FileFailure):
            out.append({"file": path.name, "ma_lk": None, "error": result.message})
            continue
        out.extend(_in_order(result.meta.file_id, decided, refused))
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
    file_id: str,
    decided: dict[tuple[str, int], dict[str, Any]],
    refused: dict[tuple[str, int], dict[str, Any]],
) -> list[dict[str, Any]]:
    keys = sorted(k for k in (*decided, *refused) if k[0] == file_id)
    return [decided.get(k) or refused[k] for k in keys]


def _decided(
    claims: pl.DataFrame, reasons: pl.DataFrame, names: dict[str, str]
) -> dict[tuple[str, int], dict[str, Any]]:
    by_claim: dict[tuple[str, int], list[dict[str, Any]]] = {}
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
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in claims.iter_rows(named=True):
        key = (row["file_id"], row["hoso_idx"])
        catalogs = json.loads(row["catalogs"])
        out[key] = {
            "file": names.get(row["file_id"], row["file_id"]),
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
    claims: pl.DataFrame, names: dict[str, str]
) -> dict[tuple[str, int], dict[str, Any]]:
    """Claims validation refused: the first reasons of XML1 as the error."""
    rejected = claims.filter(pl.col("status") == "rejected")
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rejected.iter_rows(named=True):
        codes = row.get("claim_reasons") or []
        text = "; ".join(f"{c}: {_MESSAGES.get(c, c)}" for c in codes)
        out[(row["file_id"], row["hoso_idx"])] = {
            "file": names.get(row["file_id"], row["file_id"]),
            "ma_lk": row.get("ma_lk"),
            "error": text or "claim refused by validation",
        }
    return out
