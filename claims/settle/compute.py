"""Settlement per facility and period (thanh quyết toán, reference §5) and its ledger.

A settlement takes, for every claim of the period (declared NAM_QT/THANG_QT; a month
``2026-10`` or a quarter ``2026-Q3``), the decision of its current version (a
resubmission or a withdrawal supersedes the earlier one) and sums, per facility:

- ``summary`` (C79 outpatient / C80 inpatient in spirit): claims, requested (claimed
  T_BHTT), accepted, rejected, and the claims pending review with their amount, which
  are listed apart (``pending``) and not paid until decided;
- ``groups``: the same per cost group of MA_NHOM (``claims.decide.core.COST_GROUPS``): every
  line is in exactly one group, so the groups add up to the claims;
- ``facilities``: the totals, the advances recorded for the period and the amount due
  net of them;
- ``rejected_claims`` and ``rejected_lines`` (C79b/C80b in spirit): what a clinic must
  correct and resubmit, with every reason;
- ``claims``: one row per claim and cost group, what ``settle diff`` compares.

The ledger is double-entry: every posting is a transaction whose debits equal its
credits. A settlement posts, per facility, fund expense against facility payable per
cost group and treatment, and offsets the advances against the payable. Settling the
same period again after claims changed (re-assessed, resubmitted, withdrawn) reverses
the facility's previous posting and posts the new one; nothing is overwritten. A
settlement whose content did not change gets the same id and posts nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from claims.decide.core import COST_GROUPS, OTHER_GROUP
from claims.errors import ConfigError
from claims.money import MONEY
from claims.store.runs import has_table

PERIOD = re.compile(
    r"^(?P<year>\d{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))$"
)
PAYABLE = ("accepted", "partially_accepted")
ACCOUNTS = (
    "fund_expense",
    "facility_payable",
    "facility_advance",
    "facility_receivable",
    "fund_cash",
)
"""Ledger accounts: the fund's expense, what it owes each facility, advances paid to a
facility (an asset until settled), what a facility owes back after a post-audit, the
fund's cash."""
GROUPS = (*COST_GROUPS, OTHER_GROUP)
LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "txn_id": pl.String(),
    "settlement_id": pl.String(),
    "period": pl.String(),
    "ma_cskcb": pl.String(),
    "kind": pl.String(),
    "account": pl.String(),
    "treatment": pl.String(),
    "cost_group": pl.String(),
    "debit": MONEY,
    "credit": MONEY,
    "memo": pl.String(),
}
"""One row per ledger line; a transaction's lines share ``txn_id`` and balance."""


def paid() -> pl.Expr:
    """What a decision pays: its accepted T_BHTT when accepted in whole or in part
    (a rejected claim pays nothing, a claim pending review nothing yet)."""
    return (
        pl.when(pl.col("outcome").is_in(PAYABLE))
        .then(pl.col("accepted_t_bhtt"))
        .otherwise(pl.lit(0).cast(MONEY))
    )


def write_frames(folder: Path, frames: Mapping[str, pl.DataFrame]) -> None:
    """Each frame as ``<name>.parquet`` (exact decimals) and ``<name>.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet", statistics=False)
        frame.write_csv(folder / f"{name}.csv")


def months_of(period: str) -> list[str]:
    """The ``YYYY-MM`` months of a month or quarter period.

    Raises:
        ConfigError: ``period`` is neither ``YYYY-MM`` nor ``YYYY-Qn``.
    """
    found = PERIOD.match(period)
    if found is None:
        msg = f"period {period!r} is not YYYY-MM (a month) or YYYY-Qn (a quarter)"
        raise ConfigError(msg)
    year = found["year"]
    if found["month"]:
        return [f"{year}-{found['month']}"]
    first = 3 * (int(found["quarter"]) - 1) + 1
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


@dataclass(frozen=True)
class Settlement:
    """One settlement's frames (see the module docstring) and its id."""

    settlement_id: str
    period: str
    frames: dict[str, pl.DataFrame]


def current_decisions(
    con: duckdb.DuckDBPyConnection, months: list[str], facility: str | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Decisions, lines and reasons of the current version of each claim of ``months``."""
    if not has_table(con, "claims"):
        msg = (
            "the store holds no claims yet; run `giamdinh run` or `giamdinh demo` first"
        )
        raise ConfigError(msg)
    where = "c.is_current AND d.period IN (SELECT unnest(?))"
    params: list[object] = [months]
    if facility is not None:
        where += " AND d.ma_cskcb = ?"
        params.append(facility)
    keys = (
        "SELECT d.file_id, d.hoso_idx FROM decisions d JOIN claims c "
        f"USING (file_id, hoso_idx) WHERE {where}"
    )
    decisions = con.sql(
        f"SELECT d.* FROM decisions d WHERE (d.file_id, d.hoso_idx) IN ({keys}) "
        "ORDER BY d.ma_cskcb, d.ma_lk, d.file_id, d.hoso_idx",
        params=params,
    ).pl()
    con.register("_keys", decisions.select("file_id", "hoso_idx").to_arrow())
    try:
        lines = con.sql(
            "SELECT l.* FROM decision_lines l JOIN _keys USING (file_id, hoso_idx) "
            "ORDER BY l.file_id, l.hoso_idx, l.table, l.line_no"
        ).pl()
        reasons = con.sql(
            "SELECT r.* FROM decision_reasons r JOIN _keys USING (file_id, hoso_idx)"
        ).pl()
    finally:
        con.unregister("_keys")
    return decisions, lines, reasons


def settle(
    decisions: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    advances: pl.DataFrame,
    *,
    period: str,
) -> Settlement:
    """Build a settlement from the current decisions of its period.

    Args:
        decisions: ``claims.decide.core.DECISION_SCHEMA`` rows of the period's current claims.
        lines: their ``DECISION_LINE_SCHEMA`` rows.
        reasons: their ``REASON_SCHEMA`` rows.
        advances: ``ma_cskcb, amount`` advances recorded for the period.
        period: ``YYYY-MM`` or ``YYYY-Qn``.
    """
    zero = pl.lit(0).cast(MONEY)
    treatment = (
        pl.when(pl.col("inpatient"))
        .then(pl.lit("inpatient"))
        .otherwise(pl.lit("outpatient"))
    )
    decided = decisions.drop("reason_codes").with_columns(
        treatment.alias("treatment"),
        (pl.col("outcome") == "pending_review").alias("pending"),
        paid().alias("paid"),
    )
    payable = decided.select(
        "file_id",
        "hoso_idx",
        "treatment",
        "pending",
        pl.col("outcome").is_in(PAYABLE).alias("_pays"),
    )
    used = (
        "file_id", "hoso_idx", "table", "line_no", "stt", "code", "cost_group",
        "claimed_bh", "accepted_bh", "claimed_bhtt", "accepted_bhtt", "refused_by",
    )  # fmt: skip
    per_line = (
        lines.select(used)
        .join(payable, on=["file_id", "hoso_idx"], how="inner")
        .filter(~pl.col("pending"))
    )
    paid_line = pl.when(pl.col("_pays")).then(pl.col("accepted_bhtt")).otherwise(zero)
    claim_groups = (
        per_line.join(
            decided.select("file_id", "hoso_idx", "ma_cskcb", "ma_lk"),
            on=["file_id", "hoso_idx"],
        )
        .group_by("ma_cskcb", "ma_lk", "file_id", "hoso_idx", "treatment", "cost_group")
        .agg(
            pl.col("claimed_bh").sum(),
            pl.when(pl.col("_pays"))
            .then(pl.col("accepted_bh"))
            .otherwise(zero)
            .sum()
            .alias("accepted_bh"),
            pl.col("claimed_bhtt").sum(),
            paid_line.sum().alias("accepted_bhtt"),
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("claimed_bhtt") - pl.col("accepted_bhtt"), zero
            ).alias("rejected_amount"),
            pl.lit(period).alias("period"),
        )
        .sort("ma_cskcb", "ma_lk", "file_id", "hoso_idx", "cost_group")
    )
    groups = (
        claim_groups.group_by("ma_cskcb", "treatment", "cost_group")
        .agg(
            pl.col(
                "claimed_bh",
                "accepted_bh",
                "claimed_bhtt",
                "accepted_bhtt",
                "rejected_amount",
            ).sum()
        )
        .sort("ma_cskcb", "treatment", "cost_group")
    )
    settled = ~pl.col("pending")
    sums = [
        pl.len().alias("claims"),
        pl.col("claimed_t_bhtt").filter(settled).sum().alias("requested"),
        pl.col("paid").sum().alias("accepted"),
        (pl.col("claimed_t_bhtt") - pl.col("paid"))
        .filter(settled)
        .sum()
        .alias("rejected"),
        pl.col("pending").sum().cast(pl.Int64).alias("pending_claims"),
        pl.col("claimed_t_bhtt")
        .filter(pl.col("pending"))
        .sum()
        .alias("pending_amount"),
    ]
    summary = (
        decided.group_by("ma_cskcb", "treatment")
        .agg(sums)
        .sort("ma_cskcb", "treatment")
    )
    facilities = (
        decided.group_by("ma_cskcb")
        .agg(sums)
        .join(
            advances.group_by("ma_cskcb").agg(pl.col("amount").sum().alias("advances")),
            on="ma_cskcb",
            how="left",
        )
        .with_columns(pl.col("advances").fill_null(zero).cast(MONEY))
        .with_columns((pl.col("accepted") - pl.col("advances")).alias("due"))
        .sort("ma_cskcb")
    )
    messages = reasons.group_by("file_id", "hoso_idx").agg(
        pl.col("code").unique().sort().str.join(", ").alias("reason_codes"),
        pl.col("message").unique(maintain_order=True).str.join("; ").alias("messages"),
    )
    rejected_claims = (
        decided.filter(settled & (pl.col("claimed_t_bhtt") - pl.col("paid") > 0))
        .join(messages, on=["file_id", "hoso_idx"], how="left")
        .select(
            "ma_cskcb",
            "ma_lk",
            "outcome",
            "claimed_t_bhtt",
            pl.col("paid").alias("accepted_t_bhtt"),
            (pl.col("claimed_t_bhtt") - pl.col("paid")).alias("rejected_amount"),
            "reason_codes",
            "messages",
            "file_id",
            "hoso_idx",
        )
        .sort("ma_cskcb", "ma_lk")
    )
    line_messages = (
        reasons.filter(pl.col("line_no").is_not_null())
        .group_by("file_id", "hoso_idx", "table", "line_no")
        .agg(pl.format("{}: {}", "code", "message").str.join("; ").alias("reasons"))
    )
    rejected_lines = (
        per_line.filter(paid_line < pl.col("claimed_bhtt"))
        .join(
            decided.select("file_id", "hoso_idx", "ma_cskcb", "ma_lk"),
            on=["file_id", "hoso_idx"],
        )
        .join(line_messages, on=["file_id", "hoso_idx", "table", "line_no"], how="left")
        .select(
            "ma_cskcb",
            "ma_lk",
            "table",
            "stt",
            "code",
            "cost_group",
            "claimed_bhtt",
            paid_line.alias("accepted_bhtt"),
            (pl.col("claimed_bhtt") - paid_line).alias("rejected_amount"),
            "refused_by",
            "reasons",
        )
        .sort("ma_cskcb", "ma_lk", "table", "stt")
    )
    pending = (
        decided.filter(pl.col("pending"))
        .join(messages, on=["file_id", "hoso_idx"], how="left")
        .select(
            "ma_cskcb", "ma_lk", "claimed_t_bhtt", "accepted_t_bhtt", "reason_codes"
        )
        .sort("ma_cskcb", "ma_lk")
    )
    frames = {
        "facilities": facilities,
        "summary": summary,
        "groups": groups,
        "claims": claim_groups,
        "rejected_claims": rejected_claims,
        "rejected_lines": rejected_lines,
        "pending": pending,
    }
    frames = {
        k: v.with_columns(pl.lit(period).alias("period")) for k, v in frames.items()
    }
    return Settlement(_settlement_id(period, frames), period, frames)


def _settlement_id(period: str, frames: dict[str, pl.DataFrame]) -> str:
    """Content hash of what a settlement pays: same decisions and advances → same id."""
    digest = hashlib.sha256(period.encode())
    for name in ("claims", "facilities", "pending"):
        digest.update(name.encode())
        digest.update(frames[name].write_csv().encode())
    return digest.hexdigest()[:16]


def postings(settlement: Settlement) -> pl.DataFrame:
    """The ledger lines a settlement posts (before reversals), per facility.

    Per facility one transaction: debit ``fund_expense`` per treatment and cost group,
    credit ``facility_payable`` with the total; then, when advances exist, a second
    transaction moving min(advances, payable) from ``facility_payable`` to
    ``facility_advance``.
    """
    groups = settlement.frames["groups"].filter(pl.col("accepted_bhtt") != 0)
    sid, period = settlement.settlement_id, settlement.period
    txn = pl.format("{}:{}:settle", pl.lit(sid), pl.col("ma_cskcb"))
    zero = pl.lit(0).cast(MONEY)
    expense = groups.select(
        txn.alias("txn_id"),
        "ma_cskcb",
        pl.lit("settlement").alias("kind"),
        pl.lit("fund_expense").alias("account"),
        "treatment",
        "cost_group",
        pl.col("accepted_bhtt").alias("debit"),
        zero.alias("credit"),
        pl.lit("chi phí KCB BHYT được chấp nhận").alias("memo"),
    )
    payable = (
        groups.group_by("ma_cskcb")
        .agg(pl.col("accepted_bhtt").sum().alias("credit"))
        .select(
            txn.alias("txn_id"),
            "ma_cskcb",
            pl.lit("settlement").alias("kind"),
            pl.lit("facility_payable").alias("account"),
            pl.lit(None, pl.String).alias("treatment"),
            pl.lit(None, pl.String).alias("cost_group"),
            zero.alias("debit"),
            "credit",
            pl.lit("phải trả cơ sở KCB").alias("memo"),
        )
    )
    facilities = settlement.frames["facilities"]
    offset = pl.min_horizontal("advances", pl.max_horizontal("accepted", zero))
    with_advance = facilities.filter(offset > 0).with_columns(offset.alias("_offset"))
    adv_txn = pl.format("{}:{}:advance-offset", pl.lit(sid), pl.col("ma_cskcb"))
    offsets = pl.concat(
        [
            with_advance.select(
                adv_txn.alias("txn_id"),
                "ma_cskcb",
                pl.lit("advance_offset").alias("kind"),
                pl.lit(account).alias("account"),
                pl.lit(None, pl.String).alias("treatment"),
                pl.lit(None, pl.String).alias("cost_group"),
                (pl.col("_offset") if side == "debit" else zero).alias("debit"),
                (pl.col("_offset") if side == "credit" else zero).alias("credit"),
                pl.lit("bù trừ tạm ứng").alias("memo"),
            )
            for account, side in (
                ("facility_payable", "debit"),
                ("facility_advance", "credit"),
            )
        ]
    )
    every = pl.concat([expense, payable, offsets], how="vertical_relaxed")
    return (
        every.select(
            "txn_id",
            pl.lit(sid).alias("settlement_id"),
            pl.lit(period).alias("period"),
            *[
                c
                for c in LEDGER_SCHEMA
                if c not in ("txn_id", "settlement_id", "period")
            ],
        )
        .cast(LEDGER_SCHEMA)  # type: ignore[arg-type]
        .sort("txn_id", "account", "treatment", "cost_group", nulls_last=True)
    )


def reversal(entries: pl.DataFrame, settlement_id: str) -> pl.DataFrame:
    """Entries that undo ``entries``: debits and credits swapped, new transaction ids."""
    return entries.with_columns(
        (pl.col("txn_id") + pl.lit(f":reversed-by:{settlement_id}")).alias("txn_id"),
        pl.lit(settlement_id).alias("settlement_id"),
        pl.lit("reversal").alias("kind"),
        pl.col("credit").alias("debit"),
        pl.col("debit").alias("credit"),
        pl.format("đảo bút toán: {}", "memo").alias("memo"),
    )


def advance_entries(
    facility: str, period: str, amount: Decimal, advance_id: str
) -> pl.DataFrame:
    """The transaction recording an advance paid to a facility."""
    rows = [
        (
            f"{advance_id}:advance",
            advance_id,
            period,
            facility,
            "advance",
            "facility_advance",
            None,
            None,
            amount,
            Decimal(0),
            "tạm ứng cho cơ sở KCB",
        ),
        (
            f"{advance_id}:advance",
            advance_id,
            period,
            facility,
            "advance",
            "fund_cash",
            None,
            None,
            Decimal(0),
            amount,
            "tạm ứng cho cơ sở KCB",
        ),
    ]
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA, orient="row")
