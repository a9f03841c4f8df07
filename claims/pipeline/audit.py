"""Post-audit (hậu kiểm): re-assess a settled period with another pack or catalogs.

The current claims of the period are read back from the store, priced, assessed with a
pinned pack version (and the given catalog overlay), paid and decided again — in memory:
the original decisions are not touched. Comparing the re-decided accepted T_BHTT with
the settled one gives recoveries (paid more than the audit allows) and underpayments
per facility, per reason that the audit added or dropped, and per claim, with the
ledger entries that would post them.

A claim pending review, in the settlement or in the audit, is neither: nothing was paid
for it yet, or the audit cannot say what is due without a reviewer. Such claims are
listed apart (``pending``) and stay out of the facility sums and the ledger proposal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from claims.config import Settings
from claims.errors import ConfigError
from claims.ids import content_id, frame_digest
from claims.money import MONEY
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.daily import Engine, executor_for, store_history
from claims.pipeline.partitions import (
    LINES_PER_CLAIM,
    default_budget,
    in_process,
    partition_lines,
)
from claims.pipeline.stages import STORED_STAGES, Frames, OnStage, run_stages
from claims.settle import months_of, paid
from claims.store import open_store, stored_claims
from claims.store.settlements import current_decisions, write_frames

KEYS = ["file_id", "hoso_idx"]
ZERO = pl.lit(0).cast(MONEY)


def run_audit(
    settings: Settings,
    period: str,
    pack: str,
    facility: str | None,
    *,
    engine: Engine = "local",
    scheduler: str | None = None,
    read_only: bool = True,
) -> tuple[dict[str, pl.DataFrame], Path]:
    """Re-assess ``period`` with ``pack`` and report the differences; (report, folder).

    The period's claims are re-assessed in groups of whole facilities that fit
    ``settings.memory_budget`` (:func:`audit_groups`), each seeing the whole store as
    its history (so a pair of claims in two groups is still a pair), one after the
    other or as tasks of a Dask cluster (``engine="dask"``); the results are the same.
    It reads the store read-only (other readers beside it), or read-write with
    ``read_only=False``: inside a process whose other connections are read-write (the
    API server), DuckDB refuses a read-only one.
    """
    months = months_of(period)
    reference = Reference.load(settings.catalog_dir, settings.pack_id, pack)
    with open_store(settings.store_path, read_only=read_only) as con:
        settled, _, settled_reasons = current_decisions(
            con, months, facility, settings.review_risk_threshold
        )
    if settled.height == 0:
        scope = f" for facility {facility}" if facility else ""
        msg = f"no decided claims in {period}{scope}; nothing to audit"
        raise ConfigError(msg)
    parts = {
        "audit": period,
        "facility": facility,
        "pack": reference.pack_labels,
        "catalogs": reference.catalog_labels,
        "decisions": frame_digest(settled.sort("file_id", "hoso_idx")),
    }
    audit_id = content_id("audit", **parts)
    budget = settings.memory_budget or default_budget()
    tasks = [
        AuditTask(settings, (audit_id, period), keys, pack, read_only)
        for keys in audit_groups(settled, budget)
    ]
    with executor_for(engine, scheduler) as executor:
        done = (executor or in_process)(tasks, reference, None)
    redone = [d for d in done if d[0].height]
    claims = pl.concat([d[0] for d in redone]) if redone else done[0][0]
    reasons = pl.concat([d[1] for d in redone]) if redone else done[0][1]
    report = compare(settled, settled_reasons, claims, reasons)
    folder = settings.data_dir / "audits" / period / audit_id
    write_frames(folder, report)
    body = json.dumps(parts, sort_keys=True)
    (folder / "audit.json").write_text(body + "\n", encoding="utf-8")
    return report, folder


def audit_groups(settled: pl.DataFrame, budget: int) -> list[pl.DataFrame]:
    """The settled claims' keys in groups of whole facilities (in code order) whose
    estimated detail lines fit ``budget``."""
    capacity = max(1, partition_lines(budget) // LINES_PER_CLAIM)
    per_facility = (
        settled.group_by("ma_cskcb").len("claims").sort("ma_cskcb", nulls_last=True)
    )
    # a facility never splits: its group is where its first claim falls
    group = (per_facility["claims"].cum_sum() - per_facility["claims"]) // capacity
    groups = per_facility.with_columns(group.alias("_group")).select(
        "ma_cskcb", "_group"
    )
    keyed = settled.select(*KEYS, "ma_cskcb").join(
        groups, on="ma_cskcb", how="left", nulls_equal=True
    )
    return [
        part.select(KEYS)
        for part in keyed.sort("_group", *KEYS).partition_by(
            "_group", maintain_order=True
        )
    ]


@dataclass(frozen=True)
class AuditTask:
    """One group of the audit: its stored claims re-assessed, decided in memory."""

    settings: Settings
    ids: tuple[str, str]
    """The audit id and period."""
    keys: pl.DataFrame
    pack: str | None = None
    read_only: bool = True
    """Open the store read-only (see :func:`run_audit`)."""

    def run(
        self, reference: Reference, on_stage: OnStage | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The group's re-decided claims and reasons."""
        settings = self.settings
        with open_store(settings.store_path, read_only=self.read_only) as con:
            con.register("_audit_keys", self.keys.to_arrow())
            try:
                stored = stored_claims(
                    con,
                    "(file_id, hoso_idx) IN (SELECT file_id, hoso_idx FROM _audit_keys)",
                    [],
                )
            finally:
                con.unregister("_audit_keys")
        # the stored claims of other facilities and days stay visible to the windows
        history = store_history(settings, read_only=self.read_only)
        ctx = RunContext(*self.ids, reference, settings, history)
        frames = Frames(tables=stored.tables, claims=stored.quarantined)
        done = run_stages(ctx, frames, stages=STORED_STAGES, on_stage=on_stage)
        redone = done.need("decisions", done.decisions)
        return redone.claims, redone.reasons


def compare(
    settled: pl.DataFrame,
    settled_reasons: pl.DataFrame,
    audited: pl.DataFrame,
    audited_reasons: pl.DataFrame,
) -> dict[str, pl.DataFrame]:
    """Settled against audited decisions: per claim, facility and changed reason code.

    ``difference`` = settled − audited paid T_BHTT: positive is a recovery (overpaid),
    negative an underpayment. Withdrawn or never-stored claims are not in ``audited``
    and keep their settled amount and outcome. Claims pending review on either side are
    listed in ``pending`` and compared no further.

    Returns:
        ``facilities``, ``rules``, ``claims`` (the changed ones, largest first),
        ``pending`` and ``ledger_proposal``.
    """
    review = pl.lit("pending_review")
    left = settled.select(
        *KEYS,
        "ma_cskcb",
        "ma_lk",
        "period",
        pl.col("outcome").alias("settled_outcome"),
        paid().alias("settled"),
    )
    right = audited.select(
        *KEYS, pl.col("outcome").alias("audit_outcome"), paid().alias("audited")
    )
    every = (
        left.join(right, on=KEYS, how="left")
        .with_columns(
            pl.coalesce("audited", "settled").alias("audited"),
            pl.coalesce("audit_outcome", "settled_outcome").alias("audit_outcome"),
        )
        .with_columns(
            (
                (pl.col("settled_outcome") == review)
                | (pl.col("audit_outcome") == review)
            ).alias("_pending")
        )
    )
    pending = (
        every.filter(pl.col("_pending")).drop("_pending").sort("ma_cskcb", "ma_lk")
    )
    claims = _differences(every.filter(~pl.col("_pending")).drop("_pending"))
    changed = claims.filter(pl.col("difference") != 0).sort(
        pl.col("difference").abs(), "ma_cskcb", "ma_lk", descending=[True, False, False]
    )
    facilities = _facilities(claims, pending)
    return {
        "facilities": facilities,
        "rules": _rules(changed, settled_reasons, audited_reasons),
        "claims": changed.drop("settled_outcome"),
        "pending": pending,
        "ledger_proposal": _proposal(facilities),
    }


def _differences(claims: pl.DataFrame) -> pl.DataFrame:
    """``difference``, ``recovery`` and ``underpayment`` of each compared claim."""
    difference = pl.col("difference")
    return claims.with_columns(
        (pl.col("settled") - pl.col("audited")).alias("difference")
    ).with_columns(
        pl.when(difference > 0).then(difference).otherwise(ZERO).alias("recovery"),
        pl.when(difference < 0).then(-difference).otherwise(ZERO).alias("underpayment"),
    )


def _facilities(claims: pl.DataFrame, pending: pl.DataFrame) -> pl.DataFrame:
    """Per facility: its claims, those changed and those pending, and the sums of the
    compared ones."""
    both = pl.concat(
        [
            claims.select("ma_cskcb", pl.lit(False).alias("_pending")),
            pending.select("ma_cskcb", pl.lit(True).alias("_pending")),
        ]
    )
    counts = both.group_by("ma_cskcb").agg(
        pl.len().alias("claims"),
        pl.col("_pending").sum().cast(pl.Int64).alias("pending_claims"),
    )
    sums = claims.group_by("ma_cskcb").agg(
        (pl.col("difference") != 0).sum().cast(pl.Int64).alias("claims_changed"),
        pl.col("settled", "audited", "recovery", "underpayment").sum(),
    )
    money = ("settled", "audited", "recovery", "underpayment")
    return (
        counts.join(sums, on="ma_cskcb", how="left")
        .with_columns(
            pl.col("claims_changed").fill_null(0),
            *[pl.col(c).fill_null(ZERO) for c in money],
        )
        .with_columns(
            (pl.col("recovery") - pl.col("underpayment")).alias("net_recovery")
        )
        .select(
            "ma_cskcb",
            "claims",
            "claims_changed",
            "pending_claims",
            *money,
            "net_recovery",
        )
        .sort("ma_cskcb")
    )


def _rules(
    changed: pl.DataFrame, settled_reasons: pl.DataFrame, audited_reasons: pl.DataFrame
) -> pl.DataFrame:
    """Per reason code the audit ``added`` to or ``removed`` from changed claims: the
    claims and their recoveries and underpayments (a claim counts under each of its
    changed codes); the changes no reason explains under code null, ``unexplained``."""
    # the audit starts from the stored claims: it does not validate again, so
    # validation's reasons (quarantined lines) are neither added nor removed by it
    before, after = (
        reasons.filter(pl.col("source") != "validation").select(*KEYS, "code").unique()
        for reasons in (settled_reasons, audited_reasons)
    )
    changes = pl.concat(
        [
            after.join(before, on=[*KEYS, "code"], how="anti").with_columns(
                pl.lit("added").alias("change")
            ),
            before.join(after, on=[*KEYS, "code"], how="anti").with_columns(
                pl.lit("removed").alias("change")
            ),
        ]
    )
    money = changed.select(*KEYS, "recovery", "underpayment")
    explained = changes.join(money, on=KEYS, how="inner")
    unexplained = money.join(explained, on=KEYS, how="anti").select(
        *KEYS,
        pl.lit(None, pl.String).alias("code"),
        pl.lit("unexplained").alias("change"),
        "recovery",
        "underpayment",
    )
    return (
        pl.concat([explained, unexplained])
        .group_by("code", "change")
        .agg(pl.len().alias("claims"), pl.col("recovery", "underpayment").sum())
        .sort(
            "recovery",
            "underpayment",
            "code",
            descending=[True, True, False],
            nulls_last=True,
        )
    )


def _proposal(facilities: pl.DataFrame) -> pl.DataFrame:
    """Per facility whose net differs from 0, the entry that posts it: a recovery is
    owed back by the facility, an underpayment owed to it."""
    recovers = pl.col("net_recovery") > 0
    return facilities.filter(pl.col("net_recovery") != 0).select(
        "ma_cskcb",
        pl.when(recovers)
        .then(pl.lit("facility_receivable"))
        .otherwise(pl.lit("fund_expense"))
        .alias("debit_account"),
        pl.when(recovers)
        .then(pl.lit("fund_expense"))
        .otherwise(pl.lit("facility_payable"))
        .alias("credit_account"),
        pl.col("net_recovery").abs().alias("amount"),
    )
