"""Post-audit (hậu kiểm): re-assess a settled period with another pack or catalogs.

The current claims of the period are read back from the store, priced, assessed with a
pinned pack version (and the given catalog overlay), paid and decided again — in memory:
the original decisions are not touched. Comparing the re-decided accepted T_BHTT with
the settled one gives recoveries (paid more than the audit allows) and underpayments
per facility, per rule that fired only in the audit, and per claim, with the ledger
entries that would post them.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from claims.config import Settings
from claims.errors import ConfigError
from claims.ids import content_id, frame_digest
from claims.money import MONEY
from claims.pipeline.context import Reference, RunContext
from claims.pipeline.daily import store_history
from claims.pipeline.stages import STORED_STAGES, Frames, run_stages
from claims.settle import months_of, paid
from claims.store import open_store, stored_claims
from claims.store.settlements import current_decisions, write_frames


def run_audit(
    settings: Settings, period: str, pack: str, facility: str | None
) -> tuple[dict[str, pl.DataFrame], Path]:
    """Re-assess ``period`` with ``pack`` and report the differences; (report, folder)."""
    months = months_of(period)
    reference = Reference.load(settings.catalog_dir, settings.pack_id, pack)
    with open_store(settings.store_path) as con:
        settled, _, settled_reasons = current_decisions(con, months, facility)
        if settled.height == 0:
            scope = f" for facility {facility}" if facility else ""
            msg = f"no decided claims in {period}{scope}; nothing to audit"
            raise ConfigError(msg)
        con.register("_audit_keys", settled.select("file_id", "hoso_idx").to_arrow())
        try:
            stored = stored_claims(
                con,
                "(file_id, hoso_idx) IN (SELECT file_id, hoso_idx FROM _audit_keys)",
                [],
            )
        finally:
            con.unregister("_audit_keys")
    parts = {
        "audit": period,
        "facility": facility,
        "pack": reference.pack_labels,
        "catalogs": reference.catalog_labels,
        "decisions": frame_digest(settled.sort("file_id", "hoso_idx")),
    }
    audit_id = content_id("audit", **parts)
    # the stored claims of other facilities and days stay visible to the windows
    ctx = RunContext(audit_id, period, reference, settings, store_history(settings))
    frames = Frames(tables=stored.tables, claims=stored.quarantined)
    done = run_stages(ctx, frames, stages=STORED_STAGES)
    redone = done.need("decisions", done.decisions)
    report = compare(settled, settled_reasons, redone.claims, redone.reasons)
    folder = settings.data_dir / "audits" / period / audit_id
    write_frames(folder, report)
    body = json.dumps(parts, sort_keys=True)
    (folder / "audit.json").write_text(body + "\n", encoding="utf-8")
    return report, folder


def compare(
    settled: pl.DataFrame,
    settled_reasons: pl.DataFrame,
    audited: pl.DataFrame,
    audited_reasons: pl.DataFrame,
) -> dict[str, pl.DataFrame]:
    """Settled against audited decisions: per claim, facility and new reason code.

    ``difference`` = settled − audited paid T_BHTT: positive is a recovery (overpaid),
    negative an underpayment. Withdrawn or never-stored claims are not in ``audited``
    and keep their settled amount.
    """
    keys = ["file_id", "hoso_idx"]
    zero = pl.lit(0).cast(MONEY)
    left = settled.select(*keys, "ma_cskcb", "ma_lk", "period", paid().alias("settled"))
    right = audited.select(
        *keys, paid().alias("audited"), pl.col("outcome").alias("audit_outcome")
    )
    claims = (
        left.join(right, on=keys, how="left")
        .with_columns(pl.coalesce("audited", "settled").alias("audited"))
        .with_columns((pl.col("settled") - pl.col("audited")).alias("difference"))
        .with_columns(
            pl.when(pl.col("difference") > 0)
            .then(pl.col("difference"))
            .otherwise(zero)
            .alias("recovery"),
            pl.when(pl.col("difference") < 0)
            .then(-pl.col("difference"))
            .otherwise(zero)
            .alias("underpayment"),
        )
    )
    changed = claims.filter(pl.col("difference") != 0).sort(
        pl.col("difference").abs(), "ma_cskcb", "ma_lk", descending=[True, False, False]
    )
    facilities = (
        claims.group_by("ma_cskcb")
        .agg(
            pl.len().alias("claims"),
            (pl.col("difference") != 0).sum().cast(pl.Int64).alias("claims_changed"),
            pl.col("settled", "audited", "recovery", "underpayment").sum(),
        )
        .with_columns(
            (pl.col("recovery") - pl.col("underpayment")).alias("net_recovery")
        )
        .sort("ma_cskcb")
    )
    before = settled_reasons.select(*keys, "code").unique()
    new_codes = (
        audited_reasons.select(*keys, "code")
        .unique()
        .join(before, on=[*keys, "code"], how="anti")
    )
    rules = (
        new_codes.join(
            changed.select(*keys, "recovery", "underpayment"), on=keys, how="inner"
        )
        .group_by("code")
        .agg(pl.len().alias("claims"), pl.col("recovery", "underpayment").sum())
        .sort("recovery", "code", descending=[True, False])
    )
    ledger = facilities.filter(pl.col("net_recovery") != 0).select(
        "ma_cskcb",
        pl.when(pl.col("net_recovery") > 0)
        .then(pl.lit("facility_receivable"))
        .otherwise(pl.lit("fund_expense"))
        .alias("debit_account"),
        pl.when(pl.col("net_recovery") > 0)
        .then(pl.lit("fund_expense"))
        .otherwise(pl.lit("facility_payable"))
        .alias("credit_account"),
        pl.col("net_recovery").abs().alias("amount"),
    )
    return {
        "facilities": facilities,
        "rules": rules,
        "claims": changed,
        "ledger_proposal": ledger,
    }
