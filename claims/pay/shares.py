"""Who pays what of a line: the claim's facts, MUC_HUONG and the shares.

Per claim, MUC_HUONG = card level % × route rate %, where the route class of
MA_DOITUONG_KCB (``route_code``) says on-route (100), or which ``route_rate`` row applies
(the facility's pre-2025 tier or the code's own class, inpatient or outpatient). On-route
claims are paid 100 % at primary level (``primary_care``), under the low-cost threshold
(T_TONGCHI_BH < ``low_cost_share`` × base salary) and, per line, from the 5-year
exemption date to the end of its calendar year (NGAY_MIEN_CCT ≤ line date, same
year). Then T_BHTT = BH × MUC_HUONG, T_BNCCT = BH − T_BHTT, T_BNTT = BV − BH
(− budget); other sources (T_NGUONKHAC, case (a) of §1.13.5) offset self-pay, then
co-pay, then the fund.
"""

from __future__ import annotations

import polars as pl

from claims.benefits import base_salary, lookup
from claims.dates import admission_date
from claims.eligibility import eligibility
from claims.errors import ReasonCode as R
from claims.features import facility_of
from claims.money import MONEY, round_half_up
from claims.pay.lines import EXACT, PERCENT, cut, money, percent_of, times
from claims.pay.policy import (
    BASE_SALARY_DATE,
    BED_BELOW_SHARED,
    CEILING_EXEMPT_LEVELS,
    CHRONIC_DRUG_VISITS,
    K_AREA_LOW_COST,
    LOOSE_SUPPLIES,
    OPERATION_SESSION,
    PROGRAMME_LINE,
    answer,
)
from claims.schema import CLAIM_KEYS, INPATIENT, Batch

PROGRAMME_SOURCES = ("2", "3", "4")
"""NGUON_CTRA of a line a project, a national target programme or another source pays
(1 is the BHYT fund; §1.7)."""


def claim_facts(
    batch: Batch,
    benefits: pl.DataFrame,
    salaries: pl.DataFrame,
    policy: pl.DataFrame,
) -> pl.DataFrame:
    """Per claim: eligibility, facility, route class and rate, base salary, thresholds,
    and the ``policy`` answers payment reads (base-salary date, ceiling-exempt levels,
    K-area low-cost reading)."""
    claims = _claim_rows(batch, benefits)
    adm = pl.col("_adm")
    claims = claims.with_columns(
        answer(claims, policy, BASE_SALARY_DATE, adm, name="_salary_date"),
        answer(claims, policy, CEILING_EXEMPT_LEVELS, adm, name="_exempt_levels"),
        answer(claims, policy, K_AREA_LOW_COST, adm, name="_k_area"),
        answer(claims, policy, PROGRAMME_LINE, adm, name="_programme"),
        answer(claims, policy, OPERATION_SESSION, adm, name="_session"),
        answer(claims, policy, LOOSE_SUPPLIES, adm, name="_loose"),
        answer(claims, policy, BED_BELOW_SHARED, adm, name="_bed_low"),
        answer(claims, policy, CHRONIC_DRUG_VISITS, adm, name="_chronic_visits"),
    )
    salary_day = (
        pl.when(pl.col("_salary_date") == "discharge")
        .then(pl.coalesce("_ra", "_adm"))
        .otherwise(adm)
    )

    def at(
        kind: str, name: str, column: str = "value", **keys: pl.Expr | str
    ) -> pl.Series:
        # looks up in ``claims`` as it is when called (late binding, on purpose)
        return lookup(claims, benefits, kind, keys, adm, name=name, column=column)

    code = pl.col("ma_doituong_kcb")
    claims = claims.with_columns(
        at("route_code", "route_class", column="key2", key=code),
        at("route_code", "on_route", key=code) > 0,
    )
    in_out = (
        pl.when(pl.col("inpatient"))
        .then(pl.lit("inpatient"))
        .otherwise(pl.lit("outpatient"))
    )
    rate_key = (
        pl.when(pl.col("route_class") == "off")
        .then(pl.col("facility_tier"))
        .otherwise(pl.col("route_class"))
    )
    tier, level = pl.col("facility_tier"), pl.col("benefit_level").cast(pl.String)
    claims = claims.with_columns(
        at("route_rate", "_rate", key=rate_key, key2=in_out, key3=tier),
        at("primary_care", "_p1", key="tier", key2=tier),
        at("primary_care", "_p2", key="level_2025", key2=pl.col("facility_level")),
        at("threshold", "_share", key="low_cost_share"),
        at("threshold", "_multiple", key="supplies_ceiling_multiple"),
        at("threshold", "_other_case", key="other_source_case"),
        at("threshold", "_exam_cap", key="exam_day_cap_multiple"),
        at("level_rule", "_ignore", key=level, key2="ignore_payment_ratio"),
        at("level_rule", "_budget", key=level, key2="out_of_list_budget"),
        at("level_rule", "_transport", key=level, key2="transport"),
        base_salary(claims, salaries, salary_day).cast(MONEY),
    )
    return claims.with_columns(*_derived_facts())


def _claim_rows(batch: Batch, benefits: pl.DataFrame) -> pl.DataFrame:
    """Per claim: object code, stay, admission, exemption date, eligibility, facility."""
    xml1 = batch.xml1
    return (
        xml1.select(
            *CLAIM_KEYS,
            "ma_doituong_kcb",
            pl.col("ma_loai_kcb").is_in(INPATIENT).fill_null(False).alias("inpatient"),
            admission_date().alias("_adm"),
            pl.col("ngay_ra").dt.date().alias("_ra"),
            pl.col("ma_loai_kcb").alias("_loai"),
            pl.col("ngay_mien_cct").dt.date().alias("exempt_from"),
        )
        .join(
            eligibility(xml1, benefits),
            on=CLAIM_KEYS,
            how="left",
            maintain_order="left",
        )
        .join(facility_of(batch), on=CLAIM_KEYS, how="left", maintain_order="left")
    )


def _derived_facts() -> list[pl.Expr]:
    """The claim's figures from its catalog rows: route rate, primary care, thresholds."""
    return [
        pl.col("ma_doituong_kcb").alias("route_code"),
        pl.when(pl.col("route_class") == "on")
        .then(pl.lit(100))
        .otherwise(pl.col("_rate"))
        .cast(PERCENT)
        .alias("route_rate"),
        (pl.col("_p1").is_not_null() | pl.col("_p2").is_not_null()).alias(
            "primary_care"
        ),
        percent_of(pl.col("base_salary"), pl.col("_share") * 100).alias(
            "low_cost_limit"
        ),
        pl.when(_ceiling_exempt())
        .then(pl.lit(None, MONEY))
        .otherwise(money(times(pl.col("base_salary"), pl.col("_multiple"))))
        .alias("supplies_ceiling"),
        (pl.col("_transport").fill_null(0) > 0).alias("transport_covered"),
        (
            pl.col("on_route").fill_null(False)
            | ((pl.col("route_class") == "k_area") & (pl.col("_k_area") == "on_route"))
        )
        .fill_null(False)
        .alias("low_cost_route"),
        (pl.col("_ignore").fill_null(0) > 0).alias("ignore_payment_ratio"),
        (pl.col("_budget").fill_null(0) > 0).alias("out_of_list_budget"),
        pl.col("benefit_percent").cast(PERCENT).alias("level_percent"),
    ]


def _ceiling_exempt() -> pl.Expr:
    """The card level is one the ``policy`` exempts from the supplies ceiling."""
    levels = pl.col("_exempt_levels").fill_null("").str.split(";")
    level = pl.col("benefit_level").cast(pl.String)
    return (
        levels.list.eval(pl.element().str.strip_chars())
        .list.contains(level)
        .fill_null(False)
    )


def muc_huong(claims: pl.DataFrame, totals: pl.DataFrame) -> pl.DataFrame:
    """MUC_HUONG per claim: level × route, 100 on-route at primary level or under the
    low-cost threshold (on the law's T_TONGCHI_BH). ``_drug_muc`` is its drug lines':
    the same, except chronic-disease drugs handed out at primary level on a higher-level
    prescription (a visit type the ``chronic_drug_visits`` policy names), which get the
    card's level × route unless the visit is low-cost (§2.3.2). ``totals``:
    ``law_t_tongchi_bh`` per claim row ``_c`` of ``claims``."""
    claims = claims.join(
        totals, on="_c", how="left", maintain_order="left"
    ).with_columns(pl.col("law_t_tongchi_bh").fill_null(pl.lit(0).cast(MONEY)))
    on_route = pl.col("on_route").fill_null(False)
    below = pl.col("law_t_tongchi_bh") < pl.col("low_cost_limit")
    low = pl.col("low_cost_route") & below.fill_null(False)
    base = (
        pl.col("level_percent").cast(EXACT)
        * pl.col("route_rate").cast(EXACT)
        / pl.lit(100).cast(EXACT)
    )
    full = low | (on_route & pl.col("primary_care"))
    muc = (
        pl.when(
            pl.col("eligibility_reason").is_not_null()
            & pl.col("level_percent").is_null()
        )
        .then(pl.lit(0))
        .when(full)
        .then(pl.lit(100))
        .otherwise(base)
    )
    visits = pl.col("_chronic_visits").fill_null("").str.split(";")
    chronic = (
        on_route
        & pl.col("primary_care")
        & ~low
        & visits.list.contains(pl.col("_loai").fill_null("")).fill_null(False)
    )
    return claims.with_columns(
        low.alias("low_cost"),
        round_half_up(muc.fill_null(0).cast(EXACT), 2)
        .cast(PERCENT)
        .alias("law_muc_huong"),
        round_half_up(
            pl.when(chronic).then(base).otherwise(muc).fill_null(0).cast(EXACT), 2
        )
        .cast(PERCENT)
        .alias("_drug_muc"),
    )


def shares(lines: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    """Fund share, co-pay and self-pay per line, with other sources (T_NGUONKHAC).

    The ``other_source_case`` threshold at admission chooses the reading of §1.13.5:
    1 = case (a), support for this patient: the shares are computed as usual, then the
    other sources offset self-pay, then co-pay, then the fund; 2 = case (b), support
    given to the facility: it comes off the cost first and the rest is split as usual.

    ``lines`` carry the claim's facts and ``_c``, the row of their claim in ``claims``
    (:func:`claims.pay.pay`): its MUC_HUONG is taken by position, not joined.
    """
    row = lines["_c"]
    lines = lines.with_columns(
        claims["law_muc_huong"].gather(row).alias("_muc"),
        claims["_drug_muc"].gather(row).alias("_drug_muc"),
    )
    return _programme(_offset(_split(lines)))


def _programme(lines: pl.DataFrame) -> pl.DataFrame:
    """A drug line funded by a programme (NGUON_CTRA 2–4, check D7): where the
    ``programme_line`` policy says ``fund_to_programme`` the fund pays nothing and its
    share moves to the other sources (T_NGUONKHAC); co-pay and self-pay stay."""
    funded = pl.col("nguon_ctra").is_in(PROGRAMME_SOURCES).fill_null(False) & (
        pl.col("_programme") == "fund_to_programme"
    ).fill_null(False)
    zero = pl.lit(0).cast(MONEY)
    return lines.with_columns(
        pl.when(funded)
        .then(pl.col("law_nguonkhac") + pl.col("law_bhtt"))
        .otherwise(pl.col("law_nguonkhac"))
        .cast(MONEY)
        .alias("law_nguonkhac"),
        pl.when(funded).then(zero).otherwise(pl.col("law_bhtt")).alias("law_bhtt"),
        cut(R.PROGRAMME_FUNDED, funded & (pl.col("law_bhtt") > 0)),
    )


def _line_muc_huong() -> pl.Expr:
    """The claim's MUC_HUONG (its drug lines': ``_drug_muc``), or 100 on-route where
    the exemption is in force: the
    certificate exempts co-pay from its date to the end of that calendar year (Law
    46/2014 art. 22.1(e): co-pay "in the year" above 6 months of base salary)."""
    since = pl.col("exempt_from")
    in_force = (since <= pl.col("line_date")) & (
        since.dt.year() == pl.col("line_date").dt.year()
    )
    exempt = pl.col("on_route").fill_null(False) & in_force.fill_null(False)
    drug = pl.col("table") == "XML2"
    return (
        pl.when(exempt)
        .then(pl.lit(100).cast(PERCENT))
        .when(drug)
        .then(pl.col("_drug_muc"))
        .otherwise(pl.col("_muc"))
    )


def _split(lines: pl.DataFrame) -> pl.DataFrame:
    """``law_muc_huong`` per line, then BH (shrunk in case (b)) into ``_fund`` and
    ``_copay``, the rest of BV into ``_self``; ``_other`` is what case (a) offsets."""
    zero = pl.lit(0).cast(MONEY)
    other = pl.min_horizontal(
        pl.max_horizontal(pl.col("claimed_nguonkhac"), zero), pl.col("law_bv")
    )
    # case (b): support to the facility comes off the cost first, the rest is split
    # as usual; THANH_TIEN_BH shrinks in proportion (BH × (BV − other) / BV)
    general = (pl.col("_other_case") == 2) & (pl.col("_other") > 0)
    safe_bv = pl.when(pl.col("law_bv") > 0).then(pl.col("law_bv")).otherwise(None)
    shrunk = money(
        pl.col("law_bh").cast(EXACT)
        * (pl.col("law_bv") - pl.col("_other")).cast(EXACT)
        / safe_bv.cast(EXACT)
    )
    return (
        lines.with_columns(
            _line_muc_huong().cast(PERCENT).alias("law_muc_huong"),
            other.alias("_other"),
        )
        .with_columns(
            pl.when(general).then(shrunk).otherwise(pl.col("law_bh")).alias("law_bh"),
            pl.when(general).then(pl.col("_other")).otherwise(zero).alias("_off_top"),
        )
        .with_columns(
            percent_of(pl.col("law_bh"), pl.col("law_muc_huong")).alias("_fund"),
            # case (a) offsets what is left of the other sources below
            (pl.col("_other") - pl.col("_off_top")).alias("_other"),
        )
        .with_columns(
            (pl.col("law_bh") - pl.col("_fund")).alias("_copay"),
            (
                pl.col("law_bv")
                - pl.col("_off_top")
                - pl.col("law_bh")
                - pl.col("law_budget")
            ).alias("_self"),
        )
    )


def _offset(lines: pl.DataFrame) -> pl.DataFrame:
    """Case (a): the other sources offset self-pay, then co-pay, then the fund; the
    line's T_BHTT, T_BNCCT, T_BNTT and T_NGUONKHAC by law."""
    zero = pl.lit(0).cast(MONEY)
    to_self = pl.min_horizontal(
        pl.col("_other"), pl.max_horizontal(pl.col("_self"), zero)
    )
    lines = (
        lines.with_columns(to_self.alias("_a1"))
        .with_columns(
            pl.min_horizontal(pl.col("_other") - pl.col("_a1"), pl.col("_copay")).alias(
                "_a2"
            )
        )
        .with_columns(
            pl.min_horizontal(
                pl.col("_other") - pl.col("_a1") - pl.col("_a2"), pl.col("_fund")
            ).alias("_a3")
        )
    )
    return lines.with_columns(
        (pl.col("_fund") - pl.col("_a3")).cast(MONEY).alias("law_bhtt"),
        (pl.col("_copay") - pl.col("_a2")).cast(MONEY).alias("law_bncct"),
        (pl.col("_self") - pl.col("_a1")).cast(MONEY).alias("law_bntt"),
        (pl.col("_off_top") + pl.col("_a1") + pl.col("_a2") + pl.col("_a3"))
        .cast(MONEY)
        .alias("law_nguonkhac"),
        pl.col("law_bh").cast(MONEY),
    )
