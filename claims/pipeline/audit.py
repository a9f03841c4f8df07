"""Post-audit (hậu kiểm): re-assess a settled period with another pack or catalogs.

The current claims of the period are read back from the store, priced, assessed with a
pinned pack version (and the given catalog overlay), paid and decided again — in memory:
the original decisions are not touched. Comparing the re-decided accepted T_BHTT with
the settled one gives recoveries (paid more than the audit allows) and underpayments
per facility, per rule that fired only in the audit, and per claim, with the ledger
entries that would post them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl

from claims.config import Settings
from claims.errors import ConfigError
from claims.money import MONEY
from claims.pipeline.stages import Reference, assess_and_decide, batch_of, price
from claims.settle.compute import current_decisions, months_of, paid, write_frames
from claims.store.read import stored_batch
from claims.store.runs import open_store


def run_audit(
    settings: Settings, period: str, pack: str, facility: str | None
) -> tuple[dict[str, pl.DataFrame], Path]:
    """Re-assess ``period`` with ``pack`` and report the differences; (report, folder)."""
    months = months_of(period)
    reference = Reference.load(settings.catalog_dir, settings.pack_id, pack)
    with open_store(settings.store_path) as con:
        settled, _, settled_reasons = current_decisions(con, months, facility)
        if settled.height == 0:
            msg = f"no decided claims in {period}; nothing to audit"
            raise ConfigError(msg)
        keys = settled.select("file_id", "hoso_idx")
        con.register("_audit_keys", keys.to_arrow())
        try:
            stored = stored_batch(
                con,
                "(file_id, hoso_idx) IN (SELECT file_id, hoso_idx FROM _audit_keys)",
                [],
                catalog_dir=settings.catalog_dir,
            )
        finally:
            con.unregister("_audit_keys")
    tables = {
        "XML1": stored.xml1,
        "XML2": stored.xml2,
        "XML3": stored.xml3,
        "XML4": stored.xml4,
        "XML5": stored.xml5,
    }
    body = json.dumps(
        {
            "audit": period,
            "pack": reference.pack_labels,
            "catalogs": reference.catalog_labels,
        },
        sort_keys=True,
    )
    audit_id = hashlib.sha256(body.encode()).hexdigest()[:16]
    batch = batch_of(tables, price(tables, reference), reference, stored.quarantined)
    _, redone = assess_and_decide(batch, reference, run_id=audit_id)
    report = compare(settled, settled_reasons, redone.claims, redone.reasons)
    folder = settings.data_dir / "audits" / period / audit_id
    write_frames(folder, report)
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
