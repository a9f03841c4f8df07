"""The answers of the ``policy`` catalog: how payment reads what the law leaves open.

Each row of the catalog is one interpretation question with the answer payment applies,
its choices, its tag ([U] for a documented default) and its source. A policy office
changes an answer with a catalog correction, not a release. :func:`answer` looks one
question up per row of a frame, on a date (the row's validity window applies).
"""

from __future__ import annotations

import polars as pl

from claims.benefits import lookup

K_AREA_LOW_COST = "k_area_low_cost"
"""``on_route``: a K-area self-referral (3.6 before 2025) counts as on-route for the
low-cost rule; ``off_route``: it does not."""
BASE_SALARY_DATE = "base_salary_date"
"""``admission`` or ``discharge``: the date that picks a claim's base salary."""
CEILING_EXEMPT_LEVELS = "supplies_ceiling_exempt_levels"
"""Card levels (``;``-separated) the supplies ceiling does not apply to."""
LOOSE_SUPPLIES = "loose_supplies_package"
"""``claim``: supplies without GOI_VTYT form one package per claim; ``none``: no
ceiling for them."""
BED_BELOW_SHARED = "bed_ratio_below_shared"
"""``claimed``: a bed ratio below the lowest shared one is paid as claimed; ``zero``."""
PROGRAMME_LINE = "programme_line"
"""``fund_to_programme``: the fund's share of a NGUON_CTRA 2–4 drug line is paid by the
programme (T_BHTT 0, T_NGUONKHAC); ``bhyt``: it is paid as any other line."""
CHRONIC_DRUG_VISITS = "chronic_drug_visits"
"""MA_LOAI_KCB (``;``-separated) of visits whose drug lines at a primary-level facility
are chronic-disease drugs on a higher-level prescription: the card's level, not 100 %."""
OPERATION_SESSION = "operation_session"
"""``overlap``: a session is a run of overlapping NGAY_TH_YL–NGAY_KQ intervals;
``day``: every operation of the claim's day."""


def answer(
    frame: pl.DataFrame, policy: pl.DataFrame, question: str, day: pl.Expr, *, name: str
) -> pl.Series:
    """The answer to ``question`` valid on ``day`` for each row of ``frame`` (null where
    the catalog has no answer on that day)."""
    table = policy.select(
        pl.lit("policy").alias("kind"),
        pl.col("question").alias("key"),
        "answer",
        "valid_from",
        "valid_to",
    )
    return lookup(
        frame, table, "policy", {"key": question}, day, name=name, column="answer"
    )
