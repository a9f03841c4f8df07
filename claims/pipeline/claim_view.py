"""One stored claim as one JSON-ready object: what ``GET /claims/{ma_cskcb}/{ma_lk}``
answers, what an assessor's claim page shows and what its FHIR ``ClaimResponse`` is
built from (``api/fhir.py``).

:func:`claim_detail` composes the store's reads of a claim — its versions, decisions
and reasons (``claims.store.versions``, what ``giamdinh claims show`` reads), the
decision in force as settlement reads it (``claims.store.settlements.in_force``: the
latest review in force in place of the engine's, a claim held by its anomaly risk
``pending_review``), the lines with the engine's amounts, the rules that fired, the
anomaly score (``claims.store.anomalies.score_of``) and the reviews
(``claims.store.review.review_history``). Money is a string with two decimals,
quantities and prices strings as stored, dates ISO texts.

Patient identity is masked unless ``unmasked=True`` (the API passes it only to roles
that need it): names, ID numbers, the patient's facility code, address and phone keep
their first character (``N***``, the rule of ``claims.intake.receipts``' reasons); the
card number MA_THE_BHYT keeps its first :data:`CARD_PREFIX` characters (object code,
benefit level, province: reference §2.1) and hides the 10-digit BHXH number; the birth
date shows its year. The same masking applies to the values a reason names. The
masked card is always in ``patient.reference`` (what a FHIR response names).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from claims.config import Settings
from claims.errors import ReasonCode as R
from claims.review.decisions import BHXH_REASONS
from claims.store import review as stored
from claims.store.anomalies import score_of
from claims.store.settlements import HOLD_CODE, in_force
from claims.store.versions import (
    ClaimRecord,
    claim_record,
    claim_row,
    claim_rule_hits,
    line_details,
)
from claims.xml130 import PARSED_TABLES

TOTALS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt", "t_nguonkhac")
"""The XML1 totals a decision carries as claimed, law and accepted amounts."""
CARD_PREFIX = 5
"""Characters of MA_THE_BHYT shown when masked: the object code (2), the benefit level
(1) and the issuing province (2); the BHXH number that follows names the person."""
PERSONAL = frozenset(
    f.column.lower() for spec in PARSED_TABLES.values() for f in spec.fields if f.pii
)
"""The personal fields of XML1–XML15 (``pii`` in ``claims.xml130``): masked in a
reason's values as in a receipt (and a value named ``<something>_<field>``)."""
PATIENT_FIELDS = (
    "ma_bn", "ho_ten", "so_cccd", "ngay_sinh", "gioi_tinh", "ma_the_bhyt", "ma_dkbd",
    "gt_the_tu", "gt_the_den", "dia_chi", "dien_thoai",
)  # fmt: skip
CLAIM_FIELDS = (
    "ma_loai_kcb", "ngay_vao", "ngay_ra", "so_ngay_dtri", "ma_benh_chinh", "ma_benh_kt",
    "chan_doan_rv", "ma_khoa", "ket_qua_dtri", "ma_loai_rv", "nam_qt", "thang_qt",
)  # fmt: skip
LINE_FIELDS = (
    "table", "line_no", "stt", "code", "name", "ma_nhom", "cost_group", "line_date",
    "pham_vi", "don_vi_tinh", "ma_khoa", "ma_bac_si", "claimed_qty", "law_qty",
    "claimed_price", "law_price", "claimed_muc_huong", "law_muc_huong", "claimed_bv",
    "claimed_bh", "claimed_bhtt", "law_bhtt", "accepted_bv", "accepted_bh",
    "accepted_bhtt", "accepted_bncct", "accepted_bntt", "accepted_nguonkhac",
    "rejected_amount", "refused_by", "price_reason", "pay_reason",
)  # fmt: skip
REASON_FIELDS = (
    "code", "bhxh_code", "level", "table", "line_no", "stt", "item_code", "field",
    "values", "source", "message",
)  # fmt: skip


def claim_detail(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    facility: str,
    ma_lk: str,
    unmasked: bool = False,
) -> dict[str, Any] | None:
    """Claim ``(facility, ma_lk)`` as stored: ``ma_cskcb, ma_lk, masked, patient,
    current, versions, decision, reasons, lines, rule_hits, anomaly, reviews,
    refused``; None when the store holds neither a version of it nor a refused
    submission. A claim only ever refused at validation has ``current`` and
    ``decision`` None and its refusals in ``refused``."""
    record = claim_record(con, facility, ma_lk)
    if record.versions.height == 0 and record.refused.height == 0:
        return None
    versions = _versions(record)
    current = next((dict(v) for v in versions if v["is_current"]), None)
    detail: dict[str, Any] = {
        "ma_cskcb": facility,
        "ma_lk": ma_lk,
        "masked": not unmasked,
        "patient": None,
        "current": current,
        "versions": versions,
        "decision": None,
        "reasons": [],
        "lines": [],
        "rule_hits": [],
        "anomaly": None,
        "reviews": reviews(con, facility, ma_lk),
        "refused": _refused(record),
    }
    if current is None:
        return detail
    row = claim_row(con, current["file_id"], current["hoso_idx"]) or {}
    detail["patient"] = _patient(row, unmasked=unmasked)
    current.update({f: _plain(row.get(f)) for f in CLAIM_FIELDS})
    hidden = None if unmasked else _hidden(row)
    detail |= _in_force(con, settings, facility, ma_lk, current, hidden)
    hits = claim_rule_hits(
        con, current["file_id"], current["hoso_idx"], current["run_id"]
    )
    detail["rule_hits"] = _rows(hits)
    detail["anomaly"] = _anomaly(con, settings, facility, ma_lk, current)
    return detail


def reviews(
    con: duckdb.DuckDBPyConnection, facility: str, ma_lk: str
) -> list[dict[str, Any]]:
    """The claim's reviews, newest first (``claims.store.review.review_history``), each
    with the meaning of its BHXH reason code (reference §4.4)."""
    found = _rows(stored.review_history(con, facility, ma_lk))
    for review in found:
        review["bhxh_y_nghia"] = BHXH_REASONS.get(review.get("reason_code") or "")
    return found


def _versions(record: ClaimRecord) -> list[dict[str, Any]]:
    """Every stored version, newest first, with its engine decision's outcome, amounts
    (claimed, law, accepted per XML1 total), pack and catalog versions."""
    decisions = {d["version"]: d for d in record.decisions.to_dicts()}
    shown = []
    for v in _rows(record.versions):
        decision = decisions.get(v["version"])
        entry: dict[str, Any] = {**v, "outcome": None}
        if decision is not None:
            entry |= {
                "period": decision["period"],
                "inpatient": decision["inpatient"],
                "outcome": decision["outcome"],
                **_amounts(decision),
                "pack": decision["pack"],
                "catalogs": json.loads(decision["catalogs"] or "{}"),
            }
        shown.append(entry)
    return shown


def _amounts(decision: dict[str, Any]) -> dict[str, Any]:
    return {
        part: {t: _money(decision[f"{part}_{t}"]) for t in TOTALS}
        for part in ("claimed", "law", "accepted")
    } | {"rejected_amount": _money(decision["rejected_amount"])}


def _in_force(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    facility: str,
    ma_lk: str,
    current: dict[str, Any],
    hidden: dict[str, str] | None,
) -> dict[str, Any]:
    """``decision, reasons, lines`` of the current version as settlement reads them;
    the lines keep the engine's accepted T_BHTT beside the one in force. ``hidden``:
    the patient's personal values to mask in the reasons (None: unmasked)."""
    engine = stored.engine_version(con, facility, ma_lk)
    if engine.decisions.height == 0:
        return {}
    decisions, lines, reasons = in_force(
        con,
        engine.decisions,
        engine.lines,
        engine.reasons,
        settings.review_risk_threshold,
    )
    row = decisions.row(0, named=True)
    reviewed = stored.reviewed_current(con, engine.decisions)
    review_id = None
    if reviewed is not None and reviewed.decisions.height:
        states = stored.review_states(con, facility, ma_lk).filter(
            (pl.col("file_id") == current["file_id"])
            & pl.col("state").is_in(["decided", "approved"])
        )
        review_id = states["review_id"][0] if states.height else None
    decision = {
        "source": "engine" if review_id is None else "review",
        "review_id": review_id,
        "run_id": row["run_id"],
        "period": row["period"],
        "inpatient": row["inpatient"],
        "withdrawn": row["withdrawn"],
        "outcome": row["outcome"],
        "engine_outcome": engine.decisions["outcome"][0],
        "held_by_risk": HOLD_CODE in (row["reason_codes"] or []),
        "benefit_level": row["benefit_level"],
        "law_muc_huong": _money(row["law_muc_huong"]),
        **_amounts(row),
        "reason_codes": list(row["reason_codes"] or []),
        "pack": row["pack"],
        "catalogs": json.loads(row["catalogs"] or "{}"),
    }
    return {
        "decision": decision,
        "reasons": _reasons(reasons, hidden),
        "lines": _lines(con, current, lines, engine.lines, reasons),
    }


def _lines(
    con: duckdb.DuckDBPyConnection,
    current: dict[str, Any],
    lines: pl.DataFrame,
    engine: pl.DataFrame,
    reasons: pl.DataFrame,
) -> list[dict[str, Any]]:
    """The XML2 and XML3 lines in force with their names as sent, the engine's
    accepted T_BHTT and the codes of the reasons naming each."""
    if lines.height == 0:
        return []
    keys = ["table", "line_no"]
    named = line_details(con, current["file_id"], current["hoso_idx"])
    frame = (
        lines.join(named, on=keys, how="left")
        .join(
            engine.select(*keys, pl.col("accepted_bhtt").alias("engine_accepted_bhtt")),
            on=keys,
            how="left",
        )
        .sort("table", "line_no")
    )
    codes: dict[tuple[str, int], list[str]] = {}
    for r in reasons.filter(pl.col("line_no").is_not_null()).iter_rows(named=True):
        codes.setdefault((r["table"], r["line_no"]), []).append(r["code"])
    shown = frame.select(*[c for c in LINE_FIELDS if c in frame.columns],
                         "engine_accepted_bhtt")  # fmt: skip
    out = _rows(shown)
    for line in out:
        line["reasons"] = sorted(set(codes.get((line["table"], line["line_no"]), [])))
    return out


def _reasons(
    reasons: pl.DataFrame, hidden: dict[str, str] | None
) -> list[dict[str, Any]]:
    """Reasons as the check contract's objects (``values`` as ``{name: value}``),
    claim-level first, then by table and line. Unless ``hidden`` is None, personal
    values are masked, and in the message too (a message quotes the values a rule
    read), as are the patient's own (``hidden``: raw → masked)."""
    if reasons.height == 0:
        return []
    ordered = reasons.sort("line_no", "table", "code", nulls_last=False)
    out = _rows(ordered.select([c for c in REASON_FIELDS if c in ordered.columns]))
    for reason in out:
        values = {v["name"]: v["value"] for v in reason.get("values") or []}
        if hidden is not None:
            masked = {k: _masked_value(k, v) for k, v in values.items()}
            swaps = {**hidden}
            swaps |= {v: masked[k] for k, v in values.items() if v and masked[k] != v}
            reason["message"] = _swapped(reason["message"], swaps)
            values = masked
        reason["values"] = values
        reason["bhxh_y_nghia"] = BHXH_REASONS.get(reason.get("bhxh_code") or "")
    return out


def _hidden(row: dict[str, Any]) -> dict[str, str]:
    """The patient's personal values of XML1 (3 characters or more), raw → masked."""
    return {
        str(row[f]): str(_masked_value(f, str(row[f])))
        for f in PATIENT_FIELDS
        if f in PERSONAL and row.get(f) is not None and len(str(row[f])) >= 3
    }


def _swapped(text: str | None, swaps: dict[str, str]) -> str | None:
    """``text`` with each key of ``swaps`` replaced by its value, longest first."""
    if not text:
        return text
    for raw in sorted(swaps, key=len, reverse=True):
        text = text.replace(raw, swaps[raw])
    return text


def _patient(row: dict[str, Any], *, unmasked: bool) -> dict[str, Any]:
    """The patient's identity fields of XML1, masked unless ``unmasked``."""
    shown = {f: _plain(row.get(f)) for f in PATIENT_FIELDS}
    reference = masked_card(shown["ma_the_bhyt"])
    if not unmasked:
        for name in PATIENT_FIELDS:
            if name in PERSONAL and name != "ma_the_bhyt":
                shown[name] = _initial(shown[name])
        shown["ma_the_bhyt"] = reference
        born = shown.pop("ngay_sinh")
        shown["nam_sinh"] = born[:4] if born else None
    return {**shown, "reference": reference}


def masked_card(card: str | None) -> str | None:
    """MA_THE_BHYT with each card number (``;``-separated) cut to its first
    :data:`CARD_PREFIX` characters, the rest as ``*``."""
    if not card:
        return card
    return ";".join(
        c[:CARD_PREFIX] + "*" * max(len(c) - CARD_PREFIX, 0) for c in card.split(";")
    )


def _masked_value(name: str, value: str | None) -> str | None:
    """A value a reason names, masked when its field is personal (``ho_ten``, or a
    feature carrying one, ``claim_ma_the_bhyt``): a card as :func:`masked_card`."""
    low = name.lower()
    field = next((p for p in PERSONAL if low == p or low.endswith(f"_{p}")), None)
    if field is None:
        return value
    return masked_card(value) if field == "ma_the_bhyt" else _initial(value)


def _initial(value: str | None) -> str | None:
    return f"{value[:1]}***" if value else value


def _anomaly(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    facility: str,
    ma_lk: str,
    current: dict[str, Any],
) -> dict[str, Any] | None:
    """The current version's newest anomaly score: ``period, risk, statistic,
    peer_group, peer_n, top_features, explanation, held`` (``held``: its risk reaches
    ``Settings.review_risk_threshold``); None when never scored."""
    scores = score_of(con, facility, ma_lk).filter(
        (pl.col("file_id") == current["file_id"])
        & (pl.col("hoso_idx") == current["hoso_idx"])
    )
    if scores.height == 0:
        return None
    row = scores.row(0, named=True)
    return {
        "period": row["period"],
        "risk": row["risk"],
        "statistic": row["statistic"],
        "peer_group": row["peer_group"],
        "peer_n": row["peer_n"],
        "top_features": [f for f in (row["top_features"] or "").split(";") if f],
        "explanation": row["explanation"],
        "held": row["risk"] >= settings.review_risk_threshold,
        "scoring_id": row["scoring_id"],
    }


def _refused(record: ClaimRecord) -> list[dict[str, Any]]:
    """Submissions of the claim refused at validation, each with its causes."""
    causes = record.refused_reasons
    if causes.height:
        causes = causes.filter(pl.col("reason_code") != R.LINE_OF_REJECTED_CLAIM.value)
    out = []
    for r in _rows(record.refused):
        mine = causes.filter(
            (pl.col("file_id") == r["file_id"]) & (pl.col("hoso_idx") == r["hoso_idx"])
        )
        out.append({**r, "reasons": _rows(mine.drop("file_id", "hoso_idx"))})
    return out


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready dicts: money (2-decimal) as ``"123.40"``, other
    decimals as plain text, dates ISO; floats, ints, texts and lists kept."""
    money = {
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal) and dtype.scale == 2
    }
    return [
        {k: (_money(v) if k in money else _plain(v)) for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def _money(value: object) -> str | None:
    return None if value is None else f"{value:.2f}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


__all__ = ["CARD_PREFIX", "claim_detail", "masked_card", "reviews"]
