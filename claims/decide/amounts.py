"""Accepted amounts per line: who refused a line, its cost group, and what is accepted.

A line refused on its own (a fired line ``reject`` rule, not in the catalog) or with its
claim (a fired claim ``reject`` rule, a card that does not cover the stay or names an
unknown object, a withdrawal: MA_DOITUONG_KCB of class ``withdrawal``) is accepted at 0.
Otherwise the accepted fund share is the law's T_BHTT, never more than the clinic claimed
for the line; the other accepted amounts are the law's. A claim's accepted T_BHTT is
capped at its claimed XML1 T_BHTT: the cut is spread over its lines
(:func:`claims.pay.allocate`). ``rejected_amount`` = claimed − accepted ≥ 0.
"""

from __future__ import annotations

import polars as pl

from claims.errors import ReasonCode as R
from claims.money import MONEY
from claims.pay import AMOUNTS, PAY_LINE_SCHEMA, Payment, allocate
from claims.schema import CLAIM_KEYS, COST_GROUPS, LINE_KEYS, OTHER_GROUP

CLAIM_REFUSALS = (R.CARD_OBJECT_UNKNOWN.value, R.CARD_NOT_COVERING_STAY.value)
"""Eligibility facts that refuse the whole claim."""

DECISION_LINE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    **PAY_LINE_SCHEMA,
    "cost_group": pl.String(),
    "refused_by": pl.String(),
    **{f"accepted_{a}": MONEY for a in AMOUNTS},
    "rejected_amount": MONEY,
}
"""One row per line: claimed, law and accepted amounts; ``refused_by`` names the
reason a line was refused (null when it was not)."""


def cost_group() -> pl.Expr:
    """The cost group of a line from its MA_NHOM (every line lands in exactly one)."""
    expr = pl.lit(OTHER_GROUP)
    for group, codes in reversed(COST_GROUPS.items()):
        expr = (
            pl.when(pl.col("ma_nhom").is_in(codes)).then(pl.lit(group)).otherwise(expr)
        )
    return expr


def accepted_lines(
    xml1: pl.DataFrame,
    assessed: pl.DataFrame,
    hits: pl.DataFrame,
    payment: Payment,
    run_id: str,
) -> pl.DataFrame:
    """The payment's lines with ``refused_by``, ``cost_group``, the accepted amounts,
    ``rejected_amount``, ``run_id`` and ``_cut`` (the claim cap's share of the line)."""
    zero = pl.lit(0).cast(MONEY)
    lines = _accepted(payment.lines, _claim_refusals(assessed, payment.claims), hits)
    return (
        _cap_to_claim(lines, xml1)
        .with_columns(
            (pl.col("accepted_bhtt") - pl.col("_cut"))
            .cast(MONEY)
            .alias("accepted_bhtt"),
            pl.lit(run_id).alias("run_id"),
        )
        .with_columns(
            pl.max_horizontal(pl.col("claimed_bhtt") - pl.col("accepted_bhtt"), zero)
            .cast(MONEY)
            .alias("rejected_amount")
        )
    )


def _claim_refusals(assessed: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """Per claim: ``_rule_refusal`` (a claim rule rejected it) and ``_claim_refusal``
    (withdrawn, or an eligibility fact that refuses the claim)."""
    return assessed.select(
        *CLAIM_KEYS,
        pl.when(pl.col("outcome") == "rejected")
        .then(pl.lit("rule"))
        .alias("_rule_refusal"),
    ).join(
        facts.select(
            *CLAIM_KEYS,
            pl.when(pl.col("route_class") == "withdrawal")
            .then(pl.lit(R.CLAIM_WITHDRAWN.value))
            .when(pl.col("eligibility_reason").is_in(CLAIM_REFUSALS))
            .then(pl.col("eligibility_reason"))
            .alias("_claim_refusal"),
        ),
        on=CLAIM_KEYS,
        how="left",
    )


def _accepted(
    lines: pl.DataFrame, claim_refusal: pl.DataFrame, hits: pl.DataFrame
) -> pl.DataFrame:
    """``refused_by`` (the claim's refusal, then the line's first rule reject, then
    NOT_IN_CATALOG), ``cost_group`` and the accepted amounts of every line."""
    line_rejects = (
        hits.filter(pl.col("outcome") == "fired")
        .filter(pl.col("line_no").is_not_null() & (pl.col("action") == "reject"))
        .group_by(LINE_KEYS)
        .agg(  # the first code in sort order (a null sorts first), without a sort
            pl.when(pl.col("reason_code").is_null().any())
            .then(pl.lit(None, pl.String))
            .otherwise(pl.col("reason_code").min())
            .alias("_line_refusal")
        )
    )
    zero = pl.lit(0).cast(MONEY)
    paid = pl.col("refused_by").is_null()
    # the refusals are joined on the key columns alone, then set beside the lines
    refusals = (
        lines.lazy()
        .select(LINE_KEYS)
        .join(claim_refusal.lazy(), on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(
            line_rejects.lazy(), on=list(LINE_KEYS), how="left", maintain_order="left"
        )
        .drop(LINE_KEYS)
        .collect()
    )
    return (
        lines.hstack(refusals.get_columns())
        .lazy()
        .with_columns(
            pl.coalesce(
                "_claim_refusal",
                pl.when(pl.col("_rule_refusal").is_not_null()).then(
                    pl.lit("CLAIM_REJECTED")
                ),
                "_line_refusal",
                "price_reason",  # NOT_IN_CATALOG
            ).alias("refused_by"),
            cost_group().alias("cost_group"),
        )
        .with_columns(
            *[
                pl.when(paid)
                .then(pl.col(f"law_{a}"))
                .otherwise(zero)
                .alias(f"accepted_{a}")
                for a in AMOUNTS
                if a != "bhtt"
            ],
            pl.when(paid)
            .then(
                pl.max_horizontal(pl.min_horizontal("law_bhtt", "claimed_bhtt"), zero)
            )
            .otherwise(zero)
            .alias("accepted_bhtt"),
        )
        .drop("_claim_refusal", "_rule_refusal", "_line_refusal")
        .collect()
    )


def _cap_to_claim(lines: pl.DataFrame, xml1: pl.DataFrame) -> pl.DataFrame:
    """Add ``_cut``: where a claim's accepted lines sum above its claimed XML1 T_BHTT,
    the excess spread over its lines (only those claims' lines are allocated)."""
    zero = pl.lit(0).cast(MONEY)
    over = (
        lines.group_by(CLAIM_KEYS)
        .agg(pl.col("accepted_bhtt").sum().alias("_sum"))
        .join(xml1.select(*CLAIM_KEYS, "t_bhtt"), on=CLAIM_KEYS, how="left")
        .with_columns(
            (pl.col("_sum") - pl.col("t_bhtt").fill_null(zero)).alias("_excess")
        )
        .filter(pl.col("_excess") > 0)
        .select(*CLAIM_KEYS, "_excess")
    )
    if over.height == 0:  # the usual case: no claim sums above its claimed T_BHTT
        return lines.with_columns(zero.alias("_cut"))
    indexed = lines.with_row_index("_i")
    cuts = allocate(
        indexed.select("_i", *CLAIM_KEYS, "accepted_bhtt").join(
            over, on=CLAIM_KEYS, how="inner", maintain_order="left"
        ),
        total="_excess",
        weight="accepted_bhtt",
        group=list(CLAIM_KEYS),
        name="_cut",
    ).select("_i", "_cut")
    return (
        indexed.join(cuts, on="_i", how="left", maintain_order="left")
        .drop("_i")
        .with_columns(pl.col("_cut").fill_null(zero))
    )
