"""The payment stage function: the law's amounts for every line and claim of a batch.

Steps, in order: the claim's facts (:mod:`claims.pay.shares`), the lines with their
accepted quantity and payable price (:mod:`claims.pay.lines`), the service and payment
ratios (:mod:`claims.pay.ratios`), the line amounts, the item and package supplies
ceilings (:mod:`claims.pay.ceiling`), MUC_HUONG on the law's T_TONGCHI_BH, the shares
and the T_TRANTT cap of supply lines.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from claims.money import MONEY
from claims.pay.ceiling import (
    exam_day_cap,
    item_ceiling,
    supplies_ceiling,
    trantt_cap,
)
from claims.pay.lines import AMOUNTS, PERCENT, amounts, join_columns, lines_of
from claims.pay.ratios import payment_ratios, service_ratios, transfer_days
from claims.pay.shares import claim_facts, muc_huong, shares
from claims.schema import CLAIM_KEYS, Batch

PAY_LINE_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "stt": pl.Int64(),
    "ma_nhom": pl.String(),
    "code": pl.String(),
    "line_date": pl.Date(),
    "pham_vi": pl.String(),
    "claimed_qty": pl.Decimal(38, 3),
    "law_qty": pl.Decimal(38, 3),
    "claimed_price_bv": pl.Decimal(38, 3),
    "claimed_price": pl.Decimal(38, 3),
    "law_price": pl.Decimal(38, 3),
    "price_reason": pl.String(),
    "claimed_ratio_dv": pl.Int64(),
    "law_ratio_dv": pl.Int64(),
    "claimed_ratio_bh": pl.Int64(),
    "law_ratio_bh": pl.Int64(),
    "claimed_muc_huong": PERCENT,
    "law_muc_huong": PERCENT,
    "package_cut": MONEY,
    "law_budget": MONEY,
    "pay_reason": pl.String(),
    **{f"claimed_{a}": MONEY for a in AMOUNTS},
    **{f"law_{a}": MONEY for a in AMOUNTS},
}
"""One row per XML2/XML3 line: the claimed figures next to the law's; ``pay_reason``
names the payment stage's first cut of the line that no ratio or price explains
(transport not covered, outside the card's window, programme-funded, item ceiling,
transfer-day bed)."""

PAY_CLAIM_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "inpatient": pl.Boolean(),
    "object_code": pl.String(),
    "benefit_level": pl.Int64(),
    "level_percent": PERCENT,
    "route_code": pl.String(),
    "route_class": pl.String(),
    "on_route": pl.Boolean(),
    "route_rate": PERCENT,
    "base_salary": MONEY,
    "low_cost_limit": MONEY,
    "low_cost": pl.Boolean(),
    "primary_care": pl.Boolean(),
    "exempt_from": pl.Date(),
    "law_muc_huong": PERCENT,
    "supplies_ceiling": MONEY,
    "transport_covered": pl.Boolean(),
    "eligibility_reason": pl.String(),
    "law_t_tongchi_bh": MONEY,
}
"""One row per claim: the facts its MUC_HUONG was decided from."""


LINE_FACTS = (
    "_adm",
    "_session",
    "_bed_low",
    "ignore_payment_ratio",
    "out_of_list_budget",
    "transport_covered",
    "cover_from",
    "cover_to",
    "supplies_ceiling",
    "_loose",
    "_exam_cap",
    "on_route",
    "exempt_from",
    "_other_case",
    "_programme",
)
"""The claim's facts the line steps read (all but MUC_HUONG, known after the lines'
amounts)."""


class Payment(NamedTuple):
    """The payment stage's result."""

    lines: pl.DataFrame
    """:data:`PAY_LINE_SCHEMA`."""
    claims: pl.DataFrame
    """:data:`PAY_CLAIM_SCHEMA`."""


def pay(
    batch: Batch,
    benefits: pl.DataFrame,
    salaries: pl.DataFrame,
    hits: pl.DataFrame | None = None,
    *,
    policy: pl.DataFrame,
) -> Payment:
    """The law's amounts for every line and claim of a batch.

    Args:
        batch: the typed tables and their prices (``claims.price``).
        benefits: the resolved ``benefits`` catalog.
        salaries: the resolved ``base_salary`` catalog.
        policy: the resolved ``policy`` catalog (:mod:`claims.pay.policy`).
        hits: rule hits (``rules.evaluate.HIT_SCHEMA``); fired ``cap``/``adjust`` hits
            set the accepted quantity of their line (the lowest wins).
    """
    claims = claim_facts(batch, benefits, salaries, policy).with_row_index("_c")
    lines = transfer_days(lines_of(batch, hits))
    # the claim's facts every step reads, joined once (``_c``: the claim's row)
    lines = join_columns(
        lines, claims.select(*CLAIM_KEYS, "_c", *LINE_FACTS), list(CLAIM_KEYS)
    )
    lines = payment_ratios(service_ratios(lines, benefits))
    lines = exam_day_cap(supplies_ceiling(item_ceiling(amounts(lines))))
    # the low-cost threshold is tested on what is assessed: refused lines do not count
    # (out-of-catalog lines and lines outside the card's window have law_bh 0)
    totals = lines.group_by("_c").agg(
        pl.col("law_bh").filter(~pl.col("_refused")).sum().alias("law_t_tongchi_bh")
    )
    claims = muc_huong(claims, totals)
    lines = trantt_cap(shares(lines, claims))
    return Payment(
        lines.select(list(PAY_LINE_SCHEMA)).cast(pl.Schema(PAY_LINE_SCHEMA)),
        claims.select(list(PAY_CLAIM_SCHEMA)).cast(pl.Schema(PAY_CLAIM_SCHEMA)),
    )
