"""``giamdinh review …``: the review queue and assessors' decisions (queue, show, take,
release, decide, approve, refuse, contest), on the embedded store under the writer lock.

Every command that acts names its user: ``--as USER`` or ``GIAMDINH_USER``. The
sampling commands (``review sample``, ``review extrapolate``) live in
``claims.cli.sampling`` and join this ``app``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer

from claims.cli.common import DataDir, Wait, err, fail, out, settings_for, writing
from claims.cli.listing import Format, FormatOption, emit
from claims.config import Settings
from claims.errors import ClaimsError, ConfigError

if TYPE_CHECKING:
    import duckdb

app = typer.Typer(
    help="The review queue (claims held for an assessor, money at risk first) and "
    "assessors' decisions, approvals and contests.",
    no_args_is_help=True,
)
Facility = Annotated[str, typer.Argument(help="The facility (MA_CSKCB).")]
Claim = Annotated[str, typer.Argument(help="The claim (MA_LK).")]
User = Annotated[
    str | None,
    typer.Option(
        "--as", envvar="GIAMDINH_USER", help="Your user id (or GIAMDINH_USER)."
    ),
]
QUEUE_SHOWN = (
    "rank", "priority_label", "ma_cskcb", "ma_lk", "status", "held_by", "risk",
    "claimed_t_bhtt", "money_at_risk", "due_date", "reasons",
)  # fmt: skip
REASONS_SHOWN = ("code", "bhxh_code", "table", "stt", "source", "message")


def _user(user: str | None, what: str = "assessor") -> str:
    if user is None or not user.strip():
        msg = (
            f"name the {what}: --as USER or set GIAMDINH_USER (every review action "
            "is recorded with who did it)"
        )
        raise fail(ConfigError(msg))
    return user.strip()


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


@contextmanager
def _store(
    settings: Settings, command: str, *, write: bool = True
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store, under the writer lock when ``write``; an engine error inside is
    told as the command's error (``fail``)."""
    from claims.store.runs import open_store

    try:
        with ExitStack() as stack:
            if write:
                stack.enter_context(writing(settings, command))
            yield stack.enter_context(
                open_store(settings.store_path, read_only=not write)
            )
    except ClaimsError as exc:
        raise fail(exc) from exc


@app.command("queue")
def queue_cmd(
    period: Annotated[
        str | None, typer.Option("--period", help="YYYY-MM or YYYY-Qn (default: all).")
    ] = None,
    facility: Annotated[
        str | None, typer.Option("--facility", help="One facility (MA_CSKCB).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown.", min=1)] = 50,
    data_dir: DataDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Claims waiting for an assessor, ranked by money at risk (claimed T_BHTT × risk)."""
    from claims.pipeline.review import queue
    from claims.settle import months_of

    settings = settings_for(data_dir, None)
    with _store(settings, "review queue", write=False) as con:
        months = months_of(period) if period else None
        found = queue(con, settings, months=months, facility=facility)
    if found.height == 0:
        err.print("the review queue is empty for this selection")
        return
    shown = found.head(limit)
    if fmt is Format.table:
        emit(
            out,
            [(f"review queue: {found.height:,} claims", _readable(shown))],
            fmt,
        )
    else:
        emit(out, [("queue", shown)], fmt)


def _readable(queue: pl.DataFrame) -> pl.DataFrame:
    """The queue as a table for people: risk to 4 decimals, and the score's
    explanation where no rule gave a reason."""
    return queue.with_columns(
        pl.col("risk").round(4),
        pl.coalesce("reasons", "explanation").alias("reasons"),
    ).select(QUEUE_SHOWN)


@app.command("show")
def show_cmd(
    facility: Facility,
    claim: Claim,
    data_dir: DataDir = None,
    fmt: FormatOption = Format.table,
) -> None:
    """A claim under review: lines, rule reasons, score explanation, reviews, events,
    the current reviewed version and the clinic's receipts."""
    from claims.pipeline.review import show

    settings = settings_for(data_dir, None)
    with _store(settings, "review show", write=False) as con:
        record = show(con, settings, facility, claim)
    engine = record.engine
    current = record.current
    lines = engine.lines.select(
        "table",
        "stt",
        "code",
        "claimed_qty",
        "claimed_bhtt",
        "accepted_bhtt",
        "refused_by",
    )
    if current is not None:
        lines = lines.join(
            current.lines.select(
                "table", "stt", pl.col("accepted_bhtt").alias("reviewed_bhtt")
            ),
            on=["table", "stt"],
            how="left",
        )
    queued = record.queued
    if queued.height:
        queued = queued.select(*QUEUE_SHOWN, "explanation")
    listings = [
        ("decision (engine)", engine.decisions.select(
            "ma_cskcb", "ma_lk", "period", "outcome", "claimed_t_bhtt", "accepted_t_bhtt"
        )),
        ("queue", queued),
        ("lines", lines),
        ("reasons", engine.reasons.select(REASONS_SHOWN)),
        ("reviews (version history)", record.reviews),
        ("events", record.events),
    ]  # fmt: skip
    if current is not None:
        said = current.reasons.filter(pl.col("source") == "review")
        listings.append(("review reasons", said.select(REASONS_SHOWN)))
        listings.append(
            ("current reviewed version", current.decisions.select(
                "outcome", "claimed_t_bhtt", "accepted_t_bhtt", "rejected_amount"
            ))
        )  # fmt: skip
    if fmt is Format.table:
        emit(out, [(t, f) for t, f in listings if f.height], fmt, limit=60)
        for receipt in record.receipts:
            out.print(f"receipt {receipt['review_id']}: {receipt['thong_diep']}")
    else:
        names = [
            "decision",
            "queue",
            "lines",
            "reasons",
            "reviews",
            "events",
            "current",
        ]
        emit(out, [(n, f) for n, (_, f) in zip(names, listings, strict=False)], fmt)


@app.command("take")
def take_cmd(
    facility: Facility,
    claim: Claim,
    user: User = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Lock a claim to you while you decide it (Settings.review_lock_minutes)."""
    from claims.pipeline.review import take

    assessor = _user(user)
    settings = settings_for(data_dir, None, wait=wait)
    moment = _now()
    until = moment + timedelta(minutes=settings.review_lock_minutes)
    with _store(settings, f"review take {facility} {claim}") as con:
        take(con, settings, facility, claim, assessor=assessor, at=_stamp(moment),
             expires_at=_stamp(until))  # fmt: skip
    err.print(f"{facility}/{claim} is locked to {assessor} until {_stamp(until)}")


@app.command("release")
def release_cmd(
    facility: Facility,
    claim: Claim,
    user: User = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Release your lock on a claim."""
    from claims.pipeline.review import release

    assessor = _user(user)
    settings = settings_for(data_dir, None, wait=wait)
    with _store(settings, f"review release {facility} {claim}") as con:
        release(con, facility, claim, assessor=assessor, at=_stamp(_now()))
    err.print(f"{facility}/{claim} released")


@app.command("decide")
def decide_cmd(
    facility: Facility,
    claim: Claim,
    line: Annotated[
        list[str],
        typer.Option(
            "--line",
            help="TABLE:STT=accept|reject|reduce:AMOUNT|qty:Q (repeat per line; "
            "TABLE is XML2 or XML3, STT as sent).",
        ),
    ],
    justification: Annotated[
        str | None, typer.Option("--justification", help="Why (mandatory).")
    ] = None,
    reason_code: Annotated[
        str | None,
        typer.Option("--reason-code", help="A BHXH reason code (reference §4.4)."),
    ] = None,
    user: User = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Decide a claim pending review line by line; a cut above the four-eyes amount
    waits for another assessor's approval."""
    from claims.pipeline.review import decide
    from claims.review import parse_line

    assessor = _user(user)
    settings = settings_for(data_dir, None, wait=wait)
    with _store(settings, f"review decide {facility} {claim}") as con:
        chosen = [parse_line(text) for text in line]
        reviewed = decide(con, settings, facility, claim, chosen, assessor=assessor,
                          justification=justification, reason_code=reason_code,
                          decided_at=_stamp(_now()))  # fmt: skip
    row = reviewed.decision.row(0, named=True)
    out.print(
        f"review {reviewed.review_id}: {facility}/{claim} {row['outcome']}, accepted "
        f"{row['accepted_t_bhtt']} of {row['claimed_t_bhtt']} (cut {reviewed.reduction}); "
        f"state {reviewed.state}"
    )
    if reviewed.state == "awaiting_approval":
        err.print(
            f"the cut is above {settings.review_four_eyes_amount} đồng: another "
            f"assessor approves it (`giamdinh review approve {reviewed.review_id} --as USER`)"
        )


@app.command("approve")
def approve_cmd(
    review_id: Annotated[str, typer.Argument(help="The review id.")],
    user: User = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Approve another assessor's review awaiting approval (four-eyes)."""
    from claims.pipeline.review import approve

    approver = _user(user)
    settings = settings_for(data_dir, None, wait=wait)
    with _store(settings, f"review approve {review_id}") as con:
        approve(con, settings, review_id, approver=approver, at=_stamp(_now()))
    out.print(f"review {review_id} approved by {approver}: it is now current")


@app.command("refuse")
def refuse_cmd(
    review_id: Annotated[str, typer.Argument(help="The review id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is not approved.")],
    user: User = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Refuse another assessor's review awaiting approval: the claim is open again."""
    from claims.pipeline.review import approve

    approver = _user(user)
    settings = settings_for(data_dir, None, wait=wait)
    with _store(settings, f"review refuse {review_id}") as con:
        approve(con, settings, review_id, approver=approver, at=_stamp(_now()),
                refuse=reason)  # fmt: skip
    out.print(
        f"review {review_id} refused by {approver}: the claim is open for review again"
    )


@app.command("contest")
def contest_cmd(
    facility: Facility,
    claim: Claim,
    reason: Annotated[str, typer.Option("--reason", help="Why the clinic contests.")],
    user: Annotated[
        str | None,
        typer.Option(
            "--as", envvar="GIAMDINH_USER", help="Who contests (default: MA_CSKCB)."
        ),
    ] = None,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """The clinic contests an assessor's decision: the claim is reopened for another
    assessor."""
    from claims.pipeline.review import contest

    settings = settings_for(data_dir, None, wait=wait)
    with _store(settings, f"review contest {facility} {claim}") as con:
        review_id = contest(con, facility, claim, reason=reason,
                            by=(user or facility).strip(), at=_stamp(_now()))  # fmt: skip
    out.print(
        f"review {review_id} of {facility}/{claim} contested: the claim is back in the "
        "queue for another assessor"
    )
