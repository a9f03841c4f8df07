"""Self-check: assess submissions without storing them (``giamdinh check``).

The output is a versioned contract used by clinics' tools (:data:`CONTRACT`, the
README's "The ``check`` contract"): one JSON object per claim, in input order (file
order, then claim order within the file), for every claim (HOSO) a readable file holds,
each with ``contract, file, hoso_idx, stt, ma_cskcb, ma_lk, outcome, claimed, accepted,
rejected_amount, reasons, versions``:

- ``hoso_idx`` is the claim's 0-based position in its file (``stt`` the same, 1-based);
  amounts are 2-decimal strings; ``claimed`` is XML1 as submitted; ``rejected_amount`` =
  claimed T_BHTT − accepted T_BHTT (≥ 0);
- a claim validation refused has ``outcome`` ``rejected``, every accepted amount
  ``"0.00"``, the claimed amounts that are valid amounts (each else null; ``claimed``
  itself null only when the claim has no readable XML1), ``ma_cskcb`` its XML1's else
  the file's sender, validation's reasons and the versions that would have applied to
  its admission date (``versions.pack`` null when that date cannot be read);
- a reason is ``code, bhxh_code, level, table, stt, item_code, field, values, message``
  (:data:`claims.decide.reasons.REASON_SCHEMA`; ``values`` an object of text);
- ``risk`` (contract 3; ``check`` and ``POST /self-check`` only) is the claim's anomaly
  score as information: ``{score, statistic, features, explanation}`` with the claims
  checked as its only peers (no stored history, so it never holds a claim; the daily
  run scores the stored month). Null for a claim validation refused.

A file whose wrapper cannot be read (or a path that does not exist) is one object
``{contract, file, error: {code, message}}``. Cross-claim checks see only the given
files (no store, no history).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from claims.config import Settings
from claims.decide.reasons import quarantine_reasons
from claims.errors import ReasonCode as R
from claims.ids import content_id, engine_version
from claims.intake import FileFailure, Submission, read_submission
from claims.intake.submission import clean
from claims.messages import MESSAGES
from claims.pipeline.anomalies import score_tables
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.identify import with_identities
from claims.pipeline.inbox import default_date
from claims.pipeline.stages import Frames, run_stages
from claims.schema import CLAIM_KEYS
from claims.validate import ConservationError
from claims.validate.checks import field_reason, typed
from claims.xml130 import PARSED_TABLES
from rules.evaluate import version_of

CONTRACT = 3
"""The version of the ``check`` output; every object carries it as ``contract``."""
MONEY_FIELDS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt")
"""The XML1 totals shown under ``claimed`` and ``accepted``."""
MAX_BYTES = 1 << 31
REASON_KEYS = (
    "code",
    "bhxh_code",
    "level",
    "table",
    "stt",
    "item_code",
    "field",
    "values",
    "message",
)
"""A reason object's keys, in order."""
BULK_MARKERS = ("xml1.parquet", "xml1.csv")
"""A folder holding one of these is a bulk load; any other folder holds ``.xml`` files."""
Key = tuple[str, int]


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """The inputs ``paths`` name, in order: a file or bulk folder as is, a missing
    path as is (it becomes an error object), a folder of files as its ``.xml`` files
    (sorted by name; other files are not claims and are left out)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir() and not any((path / m).is_file() for m in BULK_MARKERS):
            out.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file() and p.suffix.lower() == ".xml"
                )
            )
        else:
            out.append(path)
    return out


def check_files(
    paths: Sequence[Path],
    reference: Reference,
    progress: Callable[[int, int], None] | None = None,
    settings: Settings | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Assess ``paths`` and return one JSON-ready object per claim (or unreadable
    file), and whether every file's wrapper was read.

    The claims go through the daily run's stages (validation's quarantine included);
    cross-claim checks see only the given files (no store, no history)."""
    settings = settings or Settings()
    results: list[Submission | FileFailure] = []
    for n, path in enumerate(paths, start=1):
        results.append(_read(path))
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
        decided |= _refused(subs, done, names, reference)
        decided = _with_risk(decided, done, reference, settings)
    out: list[dict[str, Any]] = []
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, FileFailure):
            out.append(error_object(path.name, result.reason, result.message))
            continue
        out.extend(_in_order(result, decided))
    return out, all(isinstance(r, Submission) for r in results)


def claim_objects(
    subs: Sequence[Submission],
    done: Frames,
    names: dict[str, str],
    reference: Reference,
) -> dict[Key, dict[str, Any]]:
    """Every claim of ``subs`` that ``done`` decided or validation refused, as its
    contract object, by ``(file_id, hoso_idx)`` (``names``: file id → file name). The
    daily run's receipts carry the same objects."""
    decisions = done.need("decisions", done.decisions)
    decided = _decided(decisions.claims, decisions.reasons, names)
    return decided | _refused(subs, done, names, reference)


def _with_risk(
    claims: dict[Key, dict[str, Any]],
    done: Frames,
    reference: Reference,
    settings: Settings,
) -> dict[Key, dict[str, Any]]:
    """``claims`` with ``risk``: the anomaly score of each claim validation kept, its
    peers the claims checked (information only); null for a refused claim."""
    scored: dict[Key, dict[str, Any]] = {}
    if done.tables and done.tables["XML1"].height:
        frame = score_tables(dict(done.tables), reference, settings)
        for row in frame.select(
            "file_id", "hoso_idx", "risk", "statistic", "top_features", "explanation"
        ).iter_rows(named=True):
            scored[(row["file_id"], row["hoso_idx"])] = {
                "score": round(row["risk"], 4),
                "statistic": round(row["statistic"], 4),
                "features": list(row["top_features"]),
                "explanation": row["explanation"],
            }
    return {k: {**obj, "risk": scored.get(k)} for k, obj in claims.items()}


def error_object(file: str, code: R, message: str) -> dict[str, Any]:
    """The object of a file whose wrapper cannot be read."""
    return {
        "contract": CONTRACT,
        "file": file,
        "error": {"code": code.value, "message": message},
    }


def _read(path: Path) -> Submission | FileFailure:
    """The submission at ``path``, or why it cannot be read (a missing path too)."""
    if not path.exists():
        text = f"{MESSAGES[R.FILE_UNREADABLE]}: {path} không tồn tại"
        return FileFailure("", path.name, 0, R.FILE_UNREADABLE, text)
    return read_submission(path, max_bytes=MAX_BYTES)


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


def _reason_lists(reasons: pl.DataFrame) -> dict[Key, list[dict[str, Any]]]:
    """Per claim, its reasons as contract objects, in the frame's order."""
    by_claim: dict[Key, list[dict[str, Any]]] = {}
    for row in reasons.iter_rows(named=True):
        reason = {k: row[k] for k in REASON_KEYS}
        reason["values"] = {v["name"]: v["value"] for v in row["values"] or ()}
        by_claim.setdefault((row["file_id"], row["hoso_idx"]), []).append(reason)
    return by_claim


def _claim_object(
    file: str, hoso_idx: int, ma_cskcb: str | None, ma_lk: str | None
) -> dict[str, Any]:
    return {
        "contract": CONTRACT,
        "file": file,
        "hoso_idx": hoso_idx,
        "stt": hoso_idx + 1,
        "ma_cskcb": ma_cskcb,
        "ma_lk": ma_lk,
    }


def _decided(
    claims: pl.DataFrame, reasons: pl.DataFrame, names: dict[str, str]
) -> dict[Key, dict[str, Any]]:
    by_claim = _reason_lists(reasons)
    out: dict[Key, dict[str, Any]] = {}
    for row in claims.iter_rows(named=True):
        key = (row["file_id"], row["hoso_idx"])
        file = names.get(row["file_id"], row["file_id"])
        out[key] = _claim_object(file, row["hoso_idx"], row["ma_cskcb"], row["ma_lk"])
        out[key] |= {
            "outcome": row["outcome"],
            "claimed": {f: f"{row[f'claimed_{f}']:.2f}" for f in MONEY_FIELDS},
            "accepted": {f: f"{row[f'accepted_{f}']:.2f}" for f in MONEY_FIELDS},
            "rejected_amount": f"{row['rejected_amount']:.2f}",
            "reasons": by_claim.get(key, []),
            "versions": {"pack": row["pack"], "catalogs": json.loads(row["catalogs"])},
        }
    return out


def _refused(
    subs: Sequence[Submission],
    done: Frames,
    names: dict[str, str],
    reference: Reference,
) -> dict[Key, dict[str, Any]]:
    """Claims validation refused, in the shape of a decided claim: nothing accepted,
    the claimed amounts that can be read, validation's reasons, and the versions that
    would have applied to the claim's admission date."""
    claims = done.need("claims", done.claims).filter(pl.col("status") == "rejected")
    if claims.is_empty():
        return {}  # e.g. a run whose only file was refused whole: no submission read
    claimed = _claimed(subs, claims, reference)
    quarantine = done.need("quarantine", done.quarantine)
    if "stt" not in quarantine.columns:  # a partitioned run named its lines when read
        quarantine = with_identities(quarantine, subs)
    entries = quarantine.filter(
        pl.col("reason_code") != R.LINE_OF_REJECTED_CLAIM.value
    ).join(claims.select(CLAIM_KEYS), on=CLAIM_KEYS, how="semi")
    line = pl.col("line_no").is_not_null() & (pl.col("table") != "XML1")
    by_claim = _reason_lists(
        quarantine_reasons(entries.sort(*CLAIM_KEYS, line, "table", "line_no", "field"))
    )
    rows = claims.join(claimed, on=CLAIM_KEYS, how="left")
    catalogs = dict(sorted(reference.catalog_labels.items()))
    zero = dict.fromkeys(MONEY_FIELDS, "0.00")
    out: dict[Key, dict[str, Any]] = {}
    for row in rows.iter_rows(named=True):
        key = (row["file_id"], row["hoso_idx"])
        file = names.get(row["file_id"], row["file_id"])
        ma_cskcb = row["ma_cskcb"] or row["sender"]
        read = row["_xml1"] is not None
        out[key] = _claim_object(file, row["hoso_idx"], ma_cskcb, row["ma_lk"])
        out[key] |= {
            "outcome": "rejected",
            "claimed": {f: _money(row[f]) for f in MONEY_FIELDS} if read else None,
            "accepted": dict(zero),
            "rejected_amount": _money(row["t_bhtt"]),
            "reasons": by_claim.get(key, []),
            "versions": {"pack": row["_pack"], "catalogs": catalogs},
        }
    return out


def _money(value: object) -> str | None:
    return None if value is None else f"{value:.2f}"


def _claimed(
    subs: Sequence[Submission], claims: pl.DataFrame, reference: Reference
) -> pl.DataFrame:
    """Per refused claim with an XML1 row: its totals as sent (each null where it is
    not a valid amount) and the pack version its admission date (as sent, read as
    yyyyMMdd) would have been assessed by."""
    spec = PARSED_TABLES["XML1"]
    fields = [spec.field(f) for f in MONEY_FIELDS]
    raw = pl.concat(
        [s.tables["XML1"].select(*CLAIM_KEYS, "ngay_vao", *MONEY_FIELDS) for s in subs]
    )
    day = (
        pl.col("ngay_vao")
        .str.strip_chars()
        .str.slice(0, 8)
        .str.to_date("%Y%m%d", strict=False)
    )
    return (
        raw.join(claims.select(CLAIM_KEYS), on=CLAIM_KEYS, how="semi")
        .unique(CLAIM_KEYS, keep="first", maintain_order=True)
        .with_columns(clean(f) for f in fields)
        .select(
            *CLAIM_KEYS,
            pl.lit(True).alias("_xml1"),
            version_of(reference.packs, day, pinned=reference.pinned).alias("_pack"),
            *[
                pl.when(field_reason(f, None).is_null()).then(typed(f)).alias(f.column)
                for f in fields
            ],
        )
    )
