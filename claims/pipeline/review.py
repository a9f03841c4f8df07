"""The review queue and assessors' decisions on the store: the pure stage
(``claims.review``) between the store's reads and writes (``claims.store.review``).

The caller (the CLI, the API) holds the writer lock for the writing functions, reads
the clock and names the user. A decision, an approval, a contest, a lock each commit
in one transaction. Each decision and approval writes the clinic's receipt of the
review to ``<data-dir>/reviews/<MA_CSKCB>/<review_id>.json`` (``giamdinh review show``
lists it too).

A review is for the claim version it decided (``file_id, hoso_idx``): re-running a day
whose files are stored changes nothing and the review stays current; a new version of
the claim (a resubmission) is assessed afresh by the engine and, when held again, is
back in the queue with no review (the old version's review stays in its history).

Each take, release, decision, approval, refusal and contest appends its audit-trail
event (``claims.store.events``: ``review.taken``, ``review.released``,
``review.decided``, ``review.approved``, ``review.refused``, ``review.contested``) in
the same transaction. Its subject is the claim, ``claim:<MA_CSKCB>/<MA_LK>``, so one
subject holds a claim's whole review history; ``before`` and ``after`` hold the claim's
queue ``status`` (``closed``: not in the queue), the ``outcome``, ``claimed_t_bhtt`` and
``accepted_t_bhtt`` of the decision in force (the current review's, else the engine's)
and ``review_in_force``, plus what the action adds (the review id, the lock).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl

from claims.config import Settings
from claims.errors import ConfigError
from claims.review.decisions import LineDecision, Reviewed, ReviewError, review
from claims.review.queue import QueueRules, review_queue
from claims.review.receipt import review_receipt
from claims.store import review as stored
from claims.store.events import append_event
from claims.store.runs import sql
from claims.store.versions import facilities_of


def rules_of(settings: Settings) -> QueueRules:
    return QueueRules(
        risk_threshold=settings.review_risk_threshold,
        due_days=settings.review_due_days,
        priority_high=settings.review_priority_high,
        priority_medium=settings.review_priority_medium,
    )


def queue(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    months: list[str] | None = None,
    facility: str | None = None,
    claim: str | None = None,
) -> pl.DataFrame:
    """The ranked review queue (``claims.review.queue.QUEUE_COLUMNS``)."""
    candidates = stored.review_candidates(
        con,
        months=months,
        facility=facility,
        claim=claim,
        threshold=settings.review_risk_threshold,
    )
    if candidates.width == 0 or candidates.height == 0:
        return pl.DataFrame()
    events = stored.events_of(con, facility, claim)
    return review_queue(
        candidates,
        stored.review_states(con, facility, claim),
        events.filter(pl.col("kind") == "contest"),
        rules_of(settings),
    )


def _transaction(con: duckdb.DuckDBPyConnection) -> Any:
    class Txn:
        def __enter__(self) -> None:
            stored.begin(con)

        def __exit__(self, kind: object, *_: object) -> None:
            sql(con, "COMMIT" if kind is None else "ROLLBACK")

    return Txn()


def _queued_row(
    con: duckdb.DuckDBPyConnection, settings: Settings, facility: str, claim: str
) -> dict[str, Any]:
    """The claim's queue row; refuses a claim unknown or not open for a decision."""
    engine = stored.engine_version(con, facility, claim)
    if engine.decisions.height == 0:
        others = facilities_of(con, claim)
        hint = (
            f"; MA_LK {claim} is stored for facility {', '.join(others)}"
            if others
            else "; check MA_CSKCB and MA_LK (`giamdinh review queue` lists the claims)"
        )
        msg = f"no claim {facility}/{claim} in the store{hint}"
        raise ConfigError(msg)
    found = queue(con, settings, facility=facility, claim=claim)
    if found.height == 0:
        outcome = engine.decisions["outcome"][0]
        states = stored.review_states(con, facility, claim)
        done = states.filter(pl.col("file_id") == engine.decisions["file_id"][0]).head(
            1
        )
        if done.height:
            r = done.row(0, named=True)
            msg = (
                f"claim {facility}/{claim} is not pending review: review "
                f"{r['review_id']} by {r['assessor']} decided it ({r['state']}); the "
                f"clinic may contest it (`giamdinh review contest {facility} {claim} "
                "--reason TEXT`), which reopens it for another assessor"
            )
        else:
            msg = (
                f"claim {facility}/{claim} is not pending review (its outcome is "
                f"{outcome}): only a claim held by a review rule or a risk score can "
                "be decided (`giamdinh review queue` lists them)"
            )
        raise ReviewError(msg)
    return found.row(0, named=True)


def decide(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    facility: str,
    claim: str,
    chosen: Sequence[LineDecision],
    *,
    assessor: str,
    justification: str | None,
    reason_code: str | None,
    decided_at: str,
) -> Reviewed:
    """Record an assessor's decision on a claim open for review, and its receipt.

    Raises:
        ConfigError: no such claim.
        ReviewError: the claim is not pending, awaits approval, the assessor decided
            the review the clinic contested, or the decision is invalid.
        ReviewLocked: another assessor holds the claim.
    """
    row = _queued_row(con, settings, facility, claim)
    if row["status"] == "awaiting_approval":
        states = stored.review_states(con, facility, claim)
        waiting = states.filter(pl.col("state") == "awaiting_approval").row(
            0, named=True
        )
        msg = (
            f"claim {facility}/{claim} has review {waiting['review_id']} by "
            f"{waiting['assessor']} awaiting approval: a second assessor approves it "
            f"(`giamdinh review approve {waiting['review_id']} --as USER`)"
        )
        raise ReviewError(msg)
    if assessor in (row["excluded"] or []):
        msg = (
            f"assessor {assessor} decided the review of {facility}/{claim} that the "
            "clinic contested; another assessor must decide it"
        )
        raise ReviewError(msg)
    stored.refuse_locked(con, facility, claim, assessor, decided_at)
    engine = stored.engine_version(con, facility, claim)
    reviewed = review(
        engine.decisions,
        engine.lines,
        engine.reasons,
        chosen,
        assessor=assessor,
        justification=justification,
        reason_code=reason_code,
        decided_at=decided_at,
        four_eyes=settings.review_four_eyes_amount,
    )
    version = stored.ReviewVersion(reviewed.decision, reviewed.lines, reviewed.reasons)
    before = snapshot(con, facility, claim, settings)
    with _transaction(con):
        stored.append_review(con, reviewed.records, version)
        if stored.lock_holder(con, facility, claim, decided_at) is not None:
            stored.append_lock(
                con,
                _lock_row(facility, claim, assessor, "release", decided_at, decided_at),
            )
        after = {**snapshot(con, facility, claim, settings), **_reviewed(reviewed)}
        _trail(con, "review.decided", facility, claim, assessor, decided_at, before,
               after)  # fmt: skip
    write_receipt(settings, reviewed.decision, reviewed.reasons, reviewed.review_id,
                  state=reviewed.state, assessor=assessor, decided_at=decided_at)  # fmt: skip
    return reviewed


def approve(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    review_id: str,
    *,
    approver: str,
    at: str,
    refuse: str | None = None,
) -> dict[str, Any]:
    """A second assessor approves a review awaiting approval (it becomes current), or
    with ``refuse`` (the reason) refuses it (the claim is open for a decision again).

    Raises:
        ReviewError: no such review, it does not await approval, the approver is the
            assessor who decided it, or a refusal without a reason.
    """
    state = _awaiting(
        con, review_id, approver, "refuse" if refuse is not None else "approve"
    )
    if refuse is not None and not refuse.strip():
        msg = "a refusal needs a reason: --reason TEXT (lý do không phê duyệt)"
        raise ReviewError(msg)
    outcome = "approved" if refuse is None else "refused"
    records = stored.review_records(con, review_id).with_columns(
        pl.lit(outcome).alias("state"),
        pl.lit(approver).alias("approved_by"),
        pl.lit(at).alias("approved_at"),
    )
    text = f"phê duyệt review {review_id}" if refuse is None else refuse.strip()
    event = _event(state, "approve" if refuse is None else "refuse", approver, at, text)
    facility, claim = state["ma_cskcb"], state["ma_lk"]
    before = {**snapshot(con, facility, claim, settings), "review_id": review_id}
    with _transaction(con):
        stored.append_approval(con, records)
        stored.append_event(con, event)
        after = {**snapshot(con, facility, claim, settings), "review_id": review_id}
        if refuse is not None:
            after["reason"] = text
        _trail(con, f"review.{outcome}", facility, claim, approver, at, before, after)
    version = stored.reviewed_version(con, review_id)
    write_receipt(settings, version.decisions, version.reasons, review_id, state=outcome,
                  assessor=state["assessor"], decided_at=state["decided_at"],
                  approved_by=approver)  # fmt: skip
    return {**state, "state": outcome, "approved_by": approver, "approved_at": at}


def _awaiting(
    con: duckdb.DuckDBPyConnection, review_id: str, approver: str, verb: str
) -> dict[str, Any]:
    """The state of a review awaiting approval by someone other than ``approver``."""
    states = stored.review_states(con).filter(pl.col("review_id") == review_id)
    if states.height == 0:
        msg = (
            f"no review {review_id!r}; `giamdinh review show MA_CSKCB MA_LK` lists "
            "a claim's reviews"
        )
        raise ReviewError(msg)
    state = states.row(0, named=True)
    if state["state"] != "awaiting_approval":
        msg = (
            f"review {review_id} is {state['state']}: only a review awaiting approval "
            f"can be approved or refused"
        )
        raise ReviewError(msg)
    if approver == state["assessor"]:
        msg = (
            f"assessor {approver} decided review {review_id} and cannot {verb} it "
            f"(four-eyes rule): another assessor does"
        )
        raise ReviewError(msg)
    return state


def contest(
    con: duckdb.DuckDBPyConnection,
    facility: str,
    claim: str,
    *,
    reason: str,
    by: str,
    at: str,
) -> str:
    """The clinic contests the review in force of a claim's current version: the claim
    is reopened for another assessor. Returns the contested review's id.

    Raises:
        ReviewError: a blank reason, or no review of the current version to contest.
    """
    if not reason.strip():
        msg = "a contest needs a reason: --reason TEXT (lý do khiếu nại)"
        raise ReviewError(msg)
    engine = stored.engine_version(con, facility, claim)
    states = stored.review_states(con, facility, claim)
    if engine.decisions.height:
        states = states.filter(pl.col("file_id") == engine.decisions["file_id"][0])
    in_force = states.filter(pl.col("state").is_in(["decided", "approved"]))
    if in_force.height == 0:
        msg = (
            f"claim {facility}/{claim} has no assessor's decision in force to contest "
            "(a decision awaiting approval is not in force yet)"
        )
        raise ReviewError(msg)
    latest = in_force.row(0, named=True)
    contests = stored.events_of(con, facility, claim).filter(
        (pl.col("kind") == "contest") & (pl.col("review_id") == latest["review_id"])
    )
    if contests.height:
        msg = (
            f"review {latest['review_id']} of {facility}/{claim} is already contested; "
            "it waits for another assessor"
        )
        raise ReviewError(msg)
    before = {**snapshot(con, facility, claim), "status": "closed"}
    after = {**before, "status": "reopened", "contested_review": latest["review_id"],
             "reason": reason.strip()}  # fmt: skip
    with _transaction(con):
        stored.append_event(con, _event(latest, "contest", by, at, reason.strip()))
        _trail(con, "review.contested", facility, claim, by, at, before, after)
    return str(latest["review_id"])


def take(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    facility: str,
    claim: str,
    *,
    assessor: str,
    at: str,
    expires_at: str,
) -> None:
    """Lock a claim open for review to ``assessor`` until ``expires_at``.

    Raises:
        ReviewLocked: another assessor holds it.
        ReviewError: it is not open for a decision, or the assessor may not decide it.
    """
    row = _queued_row(con, settings, facility, claim)
    if assessor in (row["excluded"] or []):
        msg = (
            f"assessor {assessor} decided the contested review of {facility}/{claim}; "
            "another assessor must take it"
        )
        raise ReviewError(msg)
    stored.refuse_locked(con, facility, claim, assessor, at)
    before = snapshot(con, facility, claim, settings)
    after = {**before, "locked_to": assessor, "lock_expires_at": expires_at}
    with _transaction(con):
        stored.append_lock(
            con, _lock_row(facility, claim, assessor, "take", at, expires_at)
        )
        _trail(con, "review.taken", facility, claim, assessor, at, before, after)


def release(
    con: duckdb.DuckDBPyConnection, facility: str, claim: str, *, assessor: str, at: str
) -> None:
    """Release ``assessor``'s lock on a claim (refused when another holds it)."""
    stored.refuse_locked(con, facility, claim, assessor, at)
    held = stored.lock_holder(con, facility, claim, at)
    state = snapshot(con, facility, claim)
    with _transaction(con):
        stored.append_lock(con, _lock_row(facility, claim, assessor, "release", at, at))
        _trail(con, "review.released", facility, claim, assessor, at,
               {**state, "locked_to": held[0] if held else None},
               {**state, "locked_to": None})  # fmt: skip


def _lock_row(
    facility: str, claim: str, assessor: str, kind: str, at: str, expires_at: str
) -> pl.DataFrame:
    return pl.DataFrame(
        [(facility, claim, assessor, kind, at, expires_at)],
        schema=stored.LOCK_SCHEMA,
        orient="row",
    )


def _event(
    review: dict[str, Any], kind: str, by: str, at: str, text: str
) -> pl.DataFrame:
    return pl.DataFrame(
        [(review["review_id"], review["ma_cskcb"], review["ma_lk"], review["file_id"],
          review["hoso_idx"], kind, by, at, text)],
        schema=stored.EVENT_SCHEMA,
        orient="row",
    )  # fmt: skip


def snapshot(
    con: duckdb.DuckDBPyConnection,
    facility: str,
    claim: str,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """What the audit trail records of a claim before or after a review action: the
    decision in force (the current review's, else the engine's) and, with
    ``settings``, its queue status (``closed``: not in the queue)."""
    engine = stored.engine_version(con, facility, claim)
    if engine.decisions.height == 0:
        return {}
    current = stored.reviewed_current(con, engine.decisions)
    decision = engine.decisions
    if current is not None and current.decisions.height:
        decision = current.decisions
    row = decision.row(0, named=True)
    states = stored.review_states(con, facility, claim).filter(
        (pl.col("file_id") == row["file_id"])
        & pl.col("state").is_in(["decided", "approved"])
    )
    found: dict[str, Any] = {
        "outcome": row["outcome"],
        "claimed_t_bhtt": str(row["claimed_t_bhtt"]),
        "accepted_t_bhtt": str(row["accepted_t_bhtt"]),
        "review_in_force": states["review_id"][0] if states.height else None,
    }
    if settings is not None:
        queued = queue(con, settings, facility=facility, claim=claim)
        found["status"] = str(queued["status"][0]) if queued.height else "closed"
    return found


def _reviewed(reviewed: Reviewed) -> dict[str, Any]:
    return {
        "review_id": reviewed.review_id,
        "review_state": reviewed.state,
        "reduction": str(reviewed.reduction),
    }


def _trail(
    con: duckdb.DuckDBPyConnection,
    action: str,
    facility: str,
    claim: str,
    actor: str,
    at: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    append_event(con, at=at, actor=actor, action=action,
                 subject=f"claim:{facility}/{claim}", before=before, after=after)  # fmt: skip


def receipt_path(settings: Settings, facility: str, review_id: str) -> Path:
    return settings.data_dir / "reviews" / facility / f"{review_id}.json"


def write_receipt(
    settings: Settings,
    decision: pl.DataFrame,
    reasons: pl.DataFrame,
    review_id: str,
    **details: Any,
) -> Path:
    """Write the clinic's receipt of a review (see the module docstring)."""
    body = review_receipt(decision, reasons, review_id=review_id, **details)
    path = receipt_path(settings, body["ma_cskcb"], review_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return path


class ReviewRecord(NamedTuple):
    """What ``giamdinh review show`` prints of a claim."""

    engine: stored.ReviewVersion
    queued: pl.DataFrame
    reviews: pl.DataFrame
    events: pl.DataFrame
    current: stored.ReviewVersion | None
    receipts: list[dict[str, Any]]


def show(
    con: duckdb.DuckDBPyConnection, settings: Settings, facility: str, claim: str
) -> ReviewRecord:
    """A claim's engine decision, queue row, reviews, events and current reviewed
    version (None: no review in force).

    Raises:
        ConfigError: the store holds no current version of the claim.
    """
    engine = stored.engine_version(con, facility, claim)
    if engine.decisions.height == 0:
        others = facilities_of(con, claim)
        hint = (
            f"; MA_LK {claim} is stored for facility {', '.join(others)}"
            if others
            else ""
        )
        msg = f"no claim {facility}/{claim} in the store{hint}"
        raise ConfigError(msg)
    reviews = stored.review_states(con, facility, claim)
    current = stored.reviewed_current(con, engine.decisions)
    receipts = []
    for review_id in reviews["review_id"].to_list():
        path = receipt_path(settings, facility, review_id)
        if path.is_file():
            receipts.append(json.loads(path.read_text(encoding="utf-8")))
    return ReviewRecord(
        engine,
        queue(con, settings, facility=facility, claim=claim),
        reviews,
        stored.events_of(con, facility, claim),
        current if current is not None and current.decisions.height else None,
        receipts,
    )


__all__ = [
    "ReviewRecord",
    "approve",
    "contest",
    "decide",
    "queue",
    "release",
    "show",
    "snapshot",
    "take",
]
