"""The outcome of a claim and its money: claimed, law and accepted XML1 totals.

Outcome, strongest first: ``rejected`` (the claim is refused, or nothing of a non-zero
claim is accepted), ``pending_review`` (a review rule fired: amounts are provisional),
``partially_accepted`` (more than the ±1 đồng tolerance was cut, or a line rule cut
something) and ``accepted``. A claim's accepted T_BHTT is the sum of its lines, never
more than it claimed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import polars as pl

from claims.decide.amounts import CLAIM_REFUSALS
from claims.errors import ReasonCode as R
from claims.money import MONEY, TOLERANCE
from claims.schema import CLAIM_KEYS

TOTALS = ("t_tongchi_bv", "t_tongchi_bh", "t_bhtt", "t_bncct", "t_bntt", "t_nguonkhac")
"""XML1 totals carried as ``claimed_*``, ``law_*`` and ``accepted_*`` per claim."""
_LINE_OF_TOTAL = dict(
    zip(TOTALS, ("bv", "bh", "bhtt", "bncct", "bntt", "nguonkhac"), strict=True)
)

DECISION_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "period": pl.String(),
    "inpatient": pl.Boolean(),
    "benefit_level": pl.Int64(),
    "law_muc_huong": pl.Decimal(38, 2),
    "outcome": pl.String(),
    "withdrawn": pl.Boolean(),
    **{f"claimed_{t}": MONEY for t in TOTALS},
    **{f"law_{t}": MONEY for t in TOTALS},
    **{f"accepted_{t}": MONEY for t in TOTALS},
    "rejected_amount": MONEY,
    "reason_codes": pl.List(pl.String()),
    "pack": pl.String(),
    "catalogs": pl.String(),
}
"""One row per claim: the decision, its money and the versions it was made with."""


def claim_decisions(
    xml1: pl.DataFrame,
    assessed: pl.DataFrame,
    facts: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    run_id: str,
    catalogs: Mapping[str, str],
) -> pl.DataFrame:
    """:data:`DECISION_SCHEMA` rows, in ``xml1`` order."""
    zero = pl.lit(0).cast(MONEY)
    frame = _claim_frame(xml1, assessed, facts, lines, reasons)
    frame = frame.with_columns(
        pl.min_horizontal("accepted_t_bhtt", "claimed_t_bhtt").alias("accepted_t_bhtt")
    ).with_columns(
        pl.max_horizontal(
            pl.col("claimed_t_bhtt") - pl.col("accepted_t_bhtt"), zero
        ).alias("rejected_amount")
    )
    return (
        frame.with_columns(
            _outcome().alias("outcome"),
            pl.lit(run_id).alias("run_id"),
            pl.lit(json.dumps(dict(sorted(catalogs.items())), sort_keys=True)).alias(
                "catalogs"
            ),
        )
        .select(list(DECISION_SCHEMA))
        .cast(pl.Schema(DECISION_SCHEMA))
    )


def _line_sums(lines: pl.DataFrame) -> pl.DataFrame:
    """Per claim: law and accepted totals of its lines, whether a line was cut
    (``_line_cut``) or refused on its own (``_line_refused``), and whether the claim
    was refused (``_refused``: withdrawn or not eligible)."""
    whole_claim = [R.CLAIM_WITHDRAWN.value, *CLAIM_REFUSALS]
    return lines.group_by(CLAIM_KEYS).agg(
        *[pl.col(f"law_{_LINE_OF_TOTAL[t]}").sum().alias(f"law_{t}") for t in TOTALS],
        *[
            pl.col(f"accepted_{_LINE_OF_TOTAL[t]}").sum().alias(f"accepted_{t}")
            for t in TOTALS
        ],
        (pl.col("rejected_amount") > TOLERANCE).any().alias("_line_cut"),
        (
            pl.col("refused_by").is_not_null()
            & (pl.col("refused_by") != "CLAIM_REJECTED")
            & ~pl.col("refused_by").is_in(whole_claim)
        )
        .any()
        .alias("_line_refused"),
        pl.col("refused_by").is_in(whole_claim).any().alias("_refused"),
    )


def _claim_frame(
    xml1: pl.DataFrame,
    assessed: pl.DataFrame,
    facts: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
) -> pl.DataFrame:
    """XML1's claimed totals and period next to the payment's facts, the rules' outcome
    (``_rules``), the line sums and the sorted reason codes of every claim."""
    zero = pl.lit(0).cast(MONEY)
    codes = reasons.group_by(CLAIM_KEYS).agg(
        pl.col("code").unique().sort().alias("reason_codes")
    )
    return (
        xml1.select(
            *CLAIM_KEYS,
            "ma_cskcb",
            "ma_lk",
            pl.format(
                "{}-{}",
                pl.col("nam_qt").cast(pl.String),
                pl.col("thang_qt").cast(pl.String).str.zfill(2),
            ).alias("period"),
            *[pl.col(t).fill_null(zero).alias(f"claimed_{t}") for t in TOTALS],
        )
        .join(
            facts.select(
                *CLAIM_KEYS,
                "inpatient",
                "benefit_level",
                "law_muc_huong",
                (pl.col("route_class") == "withdrawal")
                .fill_null(False)
                .alias("withdrawn"),
            ),
            on=CLAIM_KEYS,
            how="left",
            maintain_order="left",
        )
        .join(
            assessed.select(*CLAIM_KEYS, "pack", pl.col("outcome").alias("_rules")),
            on=CLAIM_KEYS,
            how="left",
            maintain_order="left",
        )
        .join(_line_sums(lines), on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(codes, on=CLAIM_KEYS, how="left", maintain_order="left")
        .with_columns(
            *[
                pl.col(f"{k}_{t}").fill_null(zero)
                for k in ("law", "accepted")
                for t in TOTALS
            ],
            pl.col("reason_codes").fill_null(pl.lit([], pl.List(pl.String))),
        )
    )


def _outcome() -> pl.Expr:
    """The claim's outcome, strongest first."""
    return (
        pl.when(pl.col("_refused").fill_null(False) | (pl.col("_rules") == "rejected"))
        .then(pl.lit("rejected"))
        .when((pl.col("accepted_t_bhtt") == 0) & (pl.col("claimed_t_bhtt") > 0))
        .then(pl.lit("rejected"))
        .when(pl.col("_rules") == "pending_review")
        .then(pl.lit("pending_review"))
        .when(
            (pl.col("rejected_amount") > TOLERANCE)
            | pl.col("_line_refused").fill_null(False)
            | (pl.col("_rules") == "partially_accepted")
        )
        .then(pl.lit("partially_accepted"))
        .otherwise(pl.lit("accepted"))
    )
