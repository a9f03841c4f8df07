"""The settled lines of a period: every amount a claim asks for, on exactly one row.

A claim's requested amount is its XML1 T_BHTT as claimed. It is spread over three kinds
of rows (``kind``), so that the rows of a claim add up to it to the đồng:

- ``line``: a stored XML2/XML3 line and its decision;
- ``quarantined``: an XML2/XML3 line that validation refused, with its reasons and the
  amount it claimed where validation kept one that parsed (else 0: the money is then
  on the claim's ``claim_total`` row);
- ``claim_total``: what the XML1 totals ask beyond the claim's lines (T_BHTT and
  T_TONGCHI_BH minus the lines' sums; negative when the lines ask more than the
  total). A claim whose lines add up to its totals has none.

Quarantined and ``claim_total`` rows are in the cost group :data:`UNALLOCATED`: no
validated MA_NHOM places them.

Every row splits its requested T_BHTT (``claimed_bhtt``) by its claim's outcome:
``accepted_bhtt`` (what a claim accepted in whole or in part pays on it),
``pending_amount`` (all of it while the claim waits for review) and
``rejected_amount`` (the rest), so that ``claimed_bhtt = accepted_bhtt +
rejected_amount + pending_amount`` on every row.
"""

from __future__ import annotations

import polars as pl

from claims.errors import ReasonCode as R
from claims.messages import MESSAGES
from claims.money import MONEY

UNALLOCATED = "unallocated"
"""The cost group of amounts no validated line carries (quarantined lines, totals)."""
TOTAL_NOT_IN_LINES = R.TOTAL_NOT_IN_LINES.value
"""Why a ``claim_total`` row is refused: no stored line carries its amount."""
MONEY_TABLES = ("XML2", "XML3")
"""The tables whose lines carry money."""
CLAIM = ["file_id", "hoso_idx"]
LINE = [*CLAIM, "table", "line_no"]
LINE_COLUMNS = (
    *LINE, "stt", "code", "cost_group",
    "claimed_bh", "accepted_bh", "claimed_bhtt", "accepted_bhtt", "refused_by",
)  # fmt: skip
"""The decision line columns a settlement reads."""
AMOUNTS_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "claimed_bh": MONEY,
    "claimed_bhtt": MONEY,
}
"""What validation kept of a quarantined line's amounts (null: it did not parse)."""
SUMS = ("claimed_bh", "accepted_bh", "claimed_bhtt", "accepted_bhtt")
SPLIT = ("rejected_amount", "pending_amount")
"""What a row's requested T_BHTT splits into besides its accepted amount."""
CLAIM_FACTS = ("ma_cskcb", "ma_lk", "treatment", "pending", "pays")
"""What every row carries of its claim."""
ROW = (
    *LINE, "stt", "code", "cost_group", *SUMS, "refused_by", "reasons", "kind",
    *CLAIM_FACTS,
)  # fmt: skip
"""The columns of a row, in order, before it is split."""
XML1_TOTALS = (
    "claimed_t_tongchi_bh",
    "accepted_t_tongchi_bh",
    "claimed_t_bhtt",
    "paid",
)
"""The claim totals a ``claim_total`` row is the rest of."""
ZERO = pl.lit(0).cast(MONEY)
NO_TEXT = pl.lit(None, pl.String)


def settled_lines(
    decided: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    amounts: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every row a period's claims ask money on (see the module docstring).

    Args:
        decided: the decisions with ``treatment``, ``pending``, ``pays`` (accepted in
            whole or in part) and ``paid`` (``claims.settle.compute``).
        lines: their decision lines.
        reasons: their reasons (validation's quarantined lines among them).
        amounts: :data:`AMOUNTS_SCHEMA` rows, the amounts of quarantined lines
            validation kept (None: none kept).

    Returns:
        One row per line, quarantined line and claim total: claim keys, ``ma_cskcb``,
        ``ma_lk``, ``treatment``, ``kind``, ``table``, ``line_no``, ``stt``, ``code``,
        ``cost_group``, the amounts of :data:`SUMS` and :data:`SPLIT`, ``refused_by``
        and ``reasons``.
    """
    claims = decided.select(*CLAIM, *CLAIM_FACTS)
    found = [
        _stored(claims, lines, reasons),
        _quarantined(claims, reasons, amounts),
    ]
    found.append(_claim_totals(decided, claims, pl.concat(found)))
    return (
        pl.concat(found)
        .with_columns(
            pl.when(pl.col("pending"))
            .then(pl.col("claimed_bhtt"))
            .otherwise(ZERO)
            .alias("pending_amount")
        )
        .with_columns(
            (
                pl.col("claimed_bhtt")
                - pl.col("accepted_bhtt")
                - pl.col("pending_amount")
            )
            .cast(MONEY)
            .alias("rejected_amount")
        )
        .select(
            *CLAIM,
            "ma_cskcb",
            "ma_lk",
            "treatment",
            "pending",
            "kind",
            "table",
            "line_no",
            "stt",
            "code",
            "cost_group",
            *[pl.col(c).cast(MONEY) for c in (*SUMS, *SPLIT)],
            "refused_by",
            "reasons",
        )
        .sort(*CLAIM, "table", "line_no", nulls_last=True)
    )


def _line_reasons(reasons: pl.DataFrame) -> pl.DataFrame:
    """Per line, its reasons as ``code: message`` texts and its first validation code."""
    return (
        reasons.filter(pl.col("line_no").is_not_null())
        .group_by(LINE)
        .agg(
            pl.format("{}: {}", "code", "message").str.join("; ").alias("reasons"),
            pl.col("code")
            .filter(pl.col("source") == "validation")
            .sort()
            .first()
            .alias("_validation"),
        )
    )


def _stored(
    claims: pl.DataFrame, lines: pl.DataFrame, reasons: pl.DataFrame
) -> pl.DataFrame:
    """The stored lines; accepted amounts only where their claim pays."""
    return (
        lines.select(LINE_COLUMNS)
        .join(claims, on=CLAIM, how="inner")
        .join(_line_reasons(reasons).drop("_validation"), on=LINE, how="left")
        .with_columns(
            pl.lit("line").alias("kind"),
            *[
                pl.when(pl.col("pays")).then(pl.col(c)).otherwise(ZERO).alias(c)
                for c in ("accepted_bh", "accepted_bhtt")
            ],
        )
        .select(ROW)
    )


def _quarantined(
    claims: pl.DataFrame, reasons: pl.DataFrame, amounts: pl.DataFrame | None
) -> pl.DataFrame:
    """The money lines validation refused, at their kept amounts (else 0), accepted at 0."""
    kept = pl.DataFrame(schema=AMOUNTS_SCHEMA) if amounts is None else amounts
    refused = _line_reasons(
        reasons.filter(
            (pl.col("source") == "validation") & pl.col("table").is_in(MONEY_TABLES)
        )
    )
    return (
        refused.join(claims, on=CLAIM, how="inner")
        .join(
            kept.select(list(AMOUNTS_SCHEMA)).cast(pl.Schema(AMOUNTS_SCHEMA)),
            on=LINE,
            how="left",
        )
        .select(
            *LINE,
            pl.lit(None, pl.Int64).alias("stt"),
            NO_TEXT.alias("code"),
            pl.lit(UNALLOCATED).alias("cost_group"),
            pl.col("claimed_bh").fill_null(ZERO),
            ZERO.alias("accepted_bh"),
            pl.col("claimed_bhtt").fill_null(ZERO),
            ZERO.alias("accepted_bhtt"),
            pl.col("_validation").alias("refused_by"),
            "reasons",
            pl.lit("quarantined").alias("kind"),
            *CLAIM_FACTS,
        )
    )


def _claim_totals(
    decided: pl.DataFrame, claims: pl.DataFrame, rows: pl.DataFrame
) -> pl.DataFrame:
    """Per claim, its XML1 totals minus its rows' sums, where they differ."""
    sums = rows.group_by(CLAIM).agg(pl.col(SUMS).sum().name.prefix("_"))
    pays = pl.col("pays")
    totals = {
        "claimed_bh": pl.col("claimed_t_tongchi_bh"),
        "accepted_bh": pl.when(pays).then("accepted_t_tongchi_bh").otherwise(ZERO),
        "claimed_bhtt": pl.col("claimed_t_bhtt"),
        "accepted_bhtt": pl.col("paid"),
    }
    message = MESSAGES[R.TOTAL_NOT_IN_LINES]
    return (
        decided.select(*CLAIM, *XML1_TOTALS)
        .join(claims, on=CLAIM)
        .join(sums, on=CLAIM, how="left")
        .select(
            *CLAIM,
            pl.lit("XML1").alias("table"),
            pl.lit(None, pl.UInt32).alias("line_no"),
            pl.lit(None, pl.Int64).alias("stt"),
            NO_TEXT.alias("code"),
            pl.lit(UNALLOCATED).alias("cost_group"),
            *[
                (total - pl.col(f"_{c}").fill_null(ZERO)).cast(MONEY).alias(c)
                for c, total in totals.items()
            ],
            pl.lit(TOTAL_NOT_IN_LINES).alias("refused_by"),
            pl.lit(f"{TOTAL_NOT_IN_LINES}: {message}").alias("reasons"),
            pl.lit("claim_total").alias("kind"),
            *CLAIM_FACTS,
        )
        .filter(pl.any_horizontal(pl.col(c) != 0 for c in SUMS))
    )
