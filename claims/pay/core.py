"""The payment stage: what the law allows for every line and claim (§1.13, §2).

Per line, with the quantity the rules accepted (cap/adjust) and the payable unit price
(the lower of claimed and catalog, 0 out of catalog):

1. service ratio TYLE_TT_DV by law: exams ranked by price per claim and day get the
   ``exam_ratio`` row of their rank (100/30/30/30/10/0); surgeries and procedures of a
   claim and day, ranked by amount, get 100 for the first and the ``procedure_ratio`` of
   their kind and team after it (same NGUOI_THUC_HIEN set = same team); bed-days keep a
   claimed shared-bed ratio of the ``bed_ratio`` rows (floored to the nearest one); the
   rest keep the claimed ratio, at most 100;
2. payment ratio TYLE_TT_BH: the catalog's (100 where it has none; 100 for a card level
   whose ``level_rule`` ignores payment ratios);
3. THANH_TIEN_BV = qty × price_bv × ratio_dv; THANH_TIEN_BH = qty × payable price ×
   ratio_dv × ratio_bh, each product rounded half-up to 2 decimals (``claims.money``);
   out-of-scope lines (PHAM_VI 2, or 3 without a ``level_rule`` allowing it) have no BH
   part; PHAM_VI 3 on such a card is paid by the budget;
4. supplies ceiling: the in-scope supplies (MA_NHOM 10, 11) of one GOI_VTYT package are
   capped at ``supplies_ceiling_multiple`` × base salary; the excess is spread over the
   package's lines in proportion to their amounts (cumulative rounding, so the cuts add
   up exactly) and moves to self-pay.

Per claim, MUC_HUONG = card level % × route rate %, where the route class of
MA_DOITUONG_KCB (``route_code``) says on-route (100), or which ``route_rate`` row applies
(the facility's pre-2025 tier or the code's own class, inpatient or outpatient). On-route
claims are paid 100 % at primary level (``primary_care``), under the low-cost threshold
(T_TONGCHI_BH < ``low_cost_share`` × base salary) and, per line, from the 5-year
exemption date to the end of its calendar year (NGAY_MIEN_CCT ≤ line date, same
year). Then T_BHTT = BH × MUC_HUONG, T_BNCCT = BH − T_BHTT, T_BNTT = BV − BH
(− budget); other sources (T_NGUONKHAC, case (a) of §1.13.5) offset self-pay, then
co-pay, then the fund.

Every date choice comes from ``claims.dates``; every figure from the ``benefits`` and
``base_salary`` catalogs.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from claims.benefits import base_salary, lookup
from claims.dates import admission_date, line_date
from claims.eligibility import eligibility
from claims.features import CLAIM_KEYS, INPATIENT, Batch, facility_of
from claims.money import MONEY, round_half_up

LINE_KEYS = (*CLAIM_KEYS, "table", "line_no")
AMOUNTS = ("bv", "bh", "nguonkhac", "bhtt", "bncct", "bntt")
"""Line amounts, claimed (``claimed_*``) and by law (``law_*``): THANH_TIEN_BV,
THANH_TIEN_BH, T_NGUONKHAC, T_BHTT, T_BNCCT, T_BNTT."""
_D6 = pl.Decimal(38, 6)
PERCENT = pl.Decimal(38, 2)

EXAM_GROUPS = ("13",)
BED_GROUPS = ("14", "15", "16")
SURGERY_GROUPS = ("8",)
PROCEDURE_GROUPS = ("18",)
SUPPLY_GROUPS = ("10", "11")

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
    **{f"claimed_{a}": MONEY for a in AMOUNTS},
    **{f"law_{a}": MONEY for a in AMOUNTS},
}
"""One row per XML2/XML3 line: the claimed figures next to the law's."""

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
    "eligibility_reason": pl.String(),
    "law_t_tongchi_bh": MONEY,
}
"""One row per claim: the facts its MUC_HUONG was decided from."""


class Payment(NamedTuple):
    """The payment stage's result."""

    lines: pl.DataFrame
    """:data:`PAY_LINE_SCHEMA`."""
    claims: pl.DataFrame
    """:data:`PAY_CLAIM_SCHEMA`."""


def money(expr: pl.Expr) -> pl.Expr:
    """Round an exact product half-up to the standard's 2 decimals."""
    return round_half_up(expr, 2)


def times(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a × b`` exactly (both have at most 3 decimals), not yet rounded."""
    return a.cast(_D6) * b.cast(_D6)


def percent_of(amount: pl.Expr, percent: pl.Expr) -> pl.Expr:
    """``amount × percent / 100`` rounded half-up to 2 decimals."""
    return money(amount.cast(_D6) * percent.cast(_D6) / pl.lit(100).cast(_D6))


def pay(
    batch: Batch,
    benefits: pl.DataFrame,
    salaries: pl.DataFrame,
    hits: pl.DataFrame | None = None,
) -> Payment:
    """The law's amounts for every line and claim of a batch.

    Args:
        batch: the typed tables and their prices (``claims.price``).
        benefits: the resolved ``benefits`` catalog.
        salaries: the resolved ``base_salary`` catalog.
        hits: rule hits (``rules.evaluate.HIT_SCHEMA``); fired ``cap``/``adjust`` hits
            set the accepted quantity of their line (the lowest wins).
    """
    claims = _claim_facts(batch, benefits, salaries)
    lines = _lines(batch, hits)
    lines = _service_ratios(lines, benefits, claims)
    lines = _payment_ratios(lines, claims)
    lines = _amounts(lines)
    lines = _supplies_ceiling(lines, claims)
    totals = lines.group_by(CLAIM_KEYS).agg(
        pl.col("law_bh").sum().alias("law_t_tongchi_bh")
    )
    claims = _muc_huong(claims, totals)
    lines = _shares(lines, claims)
    return Payment(
        lines.select(list(PAY_LINE_SCHEMA)).cast(PAY_LINE_SCHEMA),  # type: ignore[arg-type]
        claims.select(list(PAY_CLAIM_SCHEMA)).cast(PAY_CLAIM_SCHEMA),  # type: ignore[arg-type]
    )


def _claim_facts(
    batch: Batch, benefits: pl.DataFrame, salaries: pl.DataFrame
) -> pl.DataFrame:
    """Per claim: eligibility, facility, route class and rate, base salary, thresholds."""
    xml1 = batch.xml1
    claims = (
        xml1.select(
            *CLAIM_KEYS,
            "ma_doituong_kcb",
            pl.col("ma_loai_kcb").is_in(INPATIENT).fill_null(False).alias("inpatient"),
            admission_date().alias("_adm"),
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
    adm = pl.col("_adm")

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
        at("level_rule", "_ignore", key=level, key2="ignore_payment_ratio"),
        at("level_rule", "_budget", key=level, key2="out_of_list_budget"),
        base_salary(claims, salaries, adm).cast(MONEY),
    )
    return claims.with_columns(
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
        money(times(pl.col("base_salary"), pl.col("_multiple"))).alias(
            "supplies_ceiling"
        ),
        (pl.col("_ignore").fill_null(0) > 0).alias("ignore_payment_ratio"),
        (pl.col("_budget").fill_null(0) > 0).alias("out_of_list_budget"),
        pl.col("benefit_percent").cast(PERCENT).alias("level_percent"),
    )


def _lines(batch: Batch, hits: pl.DataFrame | None) -> pl.DataFrame:
    """XML2 and XML3 lines in one frame, with the payable price and accepted quantity."""
    common = (
        *CLAIM_KEYS,
        "line_no",
        "stt",
        "ma_nhom",
        "pham_vi",
        "so_luong",
        "tyle_tt_bh",
        "muc_huong",
        "thanh_tien_bv",
        "thanh_tien_bh",
        "t_nguonkhac",
        "t_bhtt",
        "t_bncct",
        "t_bntt",
    )
    xml2 = batch.xml2.select(
        *common,
        pl.lit("XML2").alias("table"),
        pl.col("ma_thuoc").alias("code"),
        pl.col("don_gia").alias("price_bv"),
        pl.col("don_gia").alias("claimed_price"),
        pl.lit(100, pl.Int16).alias("tyle_tt_dv"),
        pl.lit(None, pl.String).alias("goi_vtyt"),
        pl.lit(None, pl.String).alias("nguoi_thuc_hien"),
        line_date().alias("line_date"),
    )
    xml3 = batch.xml3.select(
        *common,
        pl.lit("XML3").alias("table"),
        pl.coalesce("ma_vat_tu", "ma_dich_vu").alias("code"),
        pl.col("don_gia_bv").alias("price_bv"),
        pl.col("don_gia_bh").alias("claimed_price"),
        "tyle_tt_dv",
        "goi_vtyt",
        "nguoi_thuc_hien",
        line_date().alias("line_date"),
    )
    lines = pl.concat([xml2, xml3], how="vertical_relaxed")
    prices = batch.prices.select(
        *CLAIM_KEYS,
        "table",
        "line_no",
        "payable_price",
        "catalog_ratio",
        pl.col("reason_code").alias("price_reason"),
    )
    lines = lines.join(prices, on=list(LINE_KEYS), how="left", maintain_order="left")
    qty = pl.col("so_luong")
    if hits is not None and hits.height:
        caps = (
            hits.filter(
                (pl.col("outcome") == "fired")
                & pl.col("action").is_in(["cap", "adjust"])
                & pl.col("adjust_to").is_not_null()
            )
            .group_by(LINE_KEYS)
            .agg(pl.col("adjust_to").min().alias("_cap"))
        )
        lines = lines.join(caps, on=list(LINE_KEYS), how="left", maintain_order="left")
        qty = (
            pl.when(pl.col("_cap").is_not_null() & (pl.col("_cap") < qty))
            .then(pl.max_horizontal(pl.col("_cap"), pl.lit(0).cast(pl.Decimal(38, 3))))
            .otherwise(qty)
        )
    return lines.with_columns(
        pl.col("so_luong").alias("claimed_qty"),
        pl.col("price_bv").alias("claimed_price_bv"),
        qty.cast(pl.Decimal(38, 3)).alias("law_qty"),
        pl.col("payable_price").fill_null(0).cast(pl.Decimal(38, 3)).alias("law_price"),
        pl.col("tyle_tt_dv").cast(pl.Int64).alias("claimed_ratio_dv"),
        pl.col("tyle_tt_bh").cast(pl.Int64).alias("claimed_ratio_bh"),
        pl.col("muc_huong").cast(PERCENT).alias("claimed_muc_huong"),
        pl.col("thanh_tien_bv").alias("claimed_bv"),
        pl.col("thanh_tien_bh").alias("claimed_bh"),
        pl.col("t_nguonkhac").fill_null(0).alias("claimed_nguonkhac"),
        pl.col("t_bhtt").alias("claimed_bhtt"),
        pl.col("t_bncct").alias("claimed_bncct"),
        pl.col("t_bntt").alias("claimed_bntt"),
    )


def _ranked(subset: pl.DataFrame, by: list[pl.Expr]) -> pl.DataFrame:
    """``subset`` with ``_rank``: 0-based within its claim and day, ordered by ``by``
    (ascending) then STT and line number."""
    group = [*CLAIM_KEYS, "line_date"]
    keys = [k.alias(f"_by{i}") for i, k in enumerate(by)]
    return (
        subset.with_columns(keys)
        .sort([*group, *(f"_by{i}" for i in range(len(by))), "stt", "line_no"])
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over(group).alias("_rank"))
        .drop([f"_by{i}" for i in range(len(by))])
    )


def _exam_ratios(exams: pl.DataFrame, benefits: pl.DataFrame) -> pl.DataFrame:
    """``_i, _law``: the exam sequence of each claim and day, highest price first."""
    ranked = _ranked(exams, [-pl.col("law_price")])
    key = (
        pl.when(pl.col("_rank") < 5)
        .then((pl.col("_rank") + 1).cast(pl.String))
        .otherwise(pl.lit("6+"))
    )
    ratio = lookup(
        ranked, benefits, "exam_ratio", {"key": key}, pl.col("_adm"), name="_law"
    )
    return ranked.select("_i", ratio.cast(pl.Int64))


def _procedure_ratios(works: pl.DataFrame, benefits: pl.DataFrame) -> pl.DataFrame:
    """``_i, _law``: surgeries before procedures (the most complex service first), each
    by amount; the first 100, later ones by kind and team (the same NGUOI_THUC_HIEN set
    as the first is the same team)."""
    procedure = pl.col("ma_nhom").is_in(PROCEDURE_GROUPS)
    team = (
        pl.col("nguoi_thuc_hien")
        .fill_null("")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars())
        .list.sort()
        .list.join(";")
    )
    amount = times(pl.col("law_price"), pl.col("law_qty"))
    ranked = _ranked(works.with_columns(team.alias("_team")), [procedure, -amount])
    first_team = (
        pl.col("_team")
        .filter(pl.col("_rank") == 0)
        .first()
        .over(*CLAIM_KEYS, "line_date")
    )
    key2 = (
        pl.when(pl.col("_rank") == 0)
        .then(pl.lit("first"))
        .when(procedure)
        .then(pl.lit("additional"))
        .when(pl.col("_team") == first_team)
        .then(pl.lit("same_team"))
        .otherwise(pl.lit("other_team"))
    )
    kind = pl.when(procedure).then(pl.lit("procedure")).otherwise(pl.lit("surgery"))
    ranked = ranked.with_columns(kind.alias("_kind"), key2.alias("_key2"))
    ratio = lookup(
        ranked,
        benefits,
        "procedure_ratio",
        {"key": pl.col("_kind"), "key2": pl.col("_key2")},
        pl.col("_adm"),
        name="_law",
    )
    return ranked.select("_i", ratio.cast(pl.Int64))


def _service_ratios(
    lines: pl.DataFrame, benefits: pl.DataFrame, claims: pl.DataFrame
) -> pl.DataFrame:
    """TYLE_TT_DV by law: exam sequence, surgeries and procedures, shared beds."""
    xml3 = pl.col("table") == "XML3"
    exam = xml3 & pl.col("ma_nhom").is_in(EXAM_GROUPS)
    works = xml3 & pl.col("ma_nhom").is_in((*SURGERY_GROUPS, *PROCEDURE_GROUPS))
    bed = xml3 & pl.col("ma_nhom").is_in(BED_GROUPS)
    needed = ("_i", *CLAIM_KEYS, "line_date", "stt", "line_no", "ma_nhom")
    ranked = (
        lines.with_row_index("_i")
        .filter(exam | works)
        .select(*needed, "law_price", "law_qty", "nguoi_thuc_hien")
        .join(claims.select(*CLAIM_KEYS, "_adm"), on=CLAIM_KEYS, how="left")
    )
    special = pl.concat(
        [
            _exam_ratios(ranked.filter(pl.col("ma_nhom").is_in(EXAM_GROUPS)), benefits),
            _procedure_ratios(
                ranked.filter(~pl.col("ma_nhom").is_in(EXAM_GROUPS)), benefits
            ),
        ]
    )
    claimed = pl.col("claimed_ratio_dv")
    shared = sorted(
        {
            int(v)
            for v in benefits.filter(
                (pl.col("kind") == "bed_ratio") & (pl.col("key") == "shared")
            )["value"]
        },
        reverse=True,
    )
    bed_ratio: pl.Expr = pl.lit(0)
    for value in reversed([100, *shared]):  # floored to the nearest allowed ratio
        bed_ratio = pl.when(claimed >= value).then(pl.lit(value)).otherwise(bed_ratio)
    law = (
        pl.when(pl.col("_law").is_not_null())
        .then(pl.col("_law"))
        .when(bed)
        .then(bed_ratio)
        .otherwise(pl.min_horizontal(claimed, pl.lit(100)))
    )
    return (
        lines.with_row_index("_i")
        .join(special, on="_i", how="left", maintain_order="left")
        .with_columns(law.fill_null(claimed).cast(pl.Int64).alias("law_ratio_dv"))
        .drop("_i", "_law")
    )


def _payment_ratios(lines: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    """TYLE_TT_BH by law and the budget-paid scope of level-5 cards."""
    facts = claims.select(*CLAIM_KEYS, "ignore_payment_ratio", "out_of_list_budget")
    lines = lines.join(facts, on=CLAIM_KEYS, how="left", maintain_order="left")
    ratio = (
        pl.when(pl.col("ignore_payment_ratio"))
        .then(pl.lit(100))
        .otherwise(
            pl.min_horizontal(pl.col("catalog_ratio").fill_null(100), pl.lit(100))
        )
    )
    return lines.with_columns(ratio.cast(pl.Int64).alias("law_ratio_bh"))


def _amounts(lines: pl.DataFrame) -> pl.DataFrame:
    """THANH_TIEN_BV and THANH_TIEN_BH by law, rounded at each step."""
    ratio_dv = pl.col("law_ratio_dv")
    bv = percent_of(money(times(pl.col("law_qty"), pl.col("price_bv"))), ratio_dv)
    base_bh = percent_of(money(times(pl.col("law_qty"), pl.col("law_price"))), ratio_dv)
    bh = percent_of(base_bh, pl.col("law_ratio_bh"))
    scope = pl.col("pham_vi").fill_null("1")
    in_scope = scope == "1"
    budget = (scope == "3") & pl.col("out_of_list_budget").fill_null(False)
    zero = pl.lit(0).cast(MONEY)
    return lines.with_columns(
        bv.alias("law_bv"),
        pl.when(in_scope).then(bh).otherwise(zero).alias("law_bh"),
        pl.when(budget).then(bv).otherwise(zero).alias("law_budget"),
    )


def allocate(
    frame: pl.DataFrame, *, total: str, weight: str, group: list[str], name: str
) -> pl.DataFrame:
    """Add ``name``: ``total`` (one value per group) split over the group's rows in
    proportion to ``weight``, rounded half-up to 2 decimals so the parts add up exactly.

    Cumulative rounding: row i gets round(total × W_i / W) − round(total × W_{i−1} / W)
    where W_i is the running sum of weights in frame order (input order, the same every
    run). Callers pass only the rows that share something: it runs windows per group.
    """
    zero = pl.lit(0).cast(MONEY)
    whole = pl.col("_whole")
    safe = pl.when(whole > 0).then(whole).otherwise(pl.lit(1).cast(MONEY))
    return (
        frame.with_columns(
            pl.col(weight).cum_sum().over(group).alias("_running"),
            pl.col(weight).sum().over(group).alias("_whole"),
        )
        .with_columns(
            money(
                pl.col(total).cast(_D6) * pl.col("_running").cast(_D6) / safe.cast(_D6)
            ).alias("_share")
        )
        .with_columns(
            (pl.col("_share") - pl.col("_share").shift(1, fill_value=zero).over(group))
            .cast(MONEY)
            .alias(name)
        )
        .drop("_running", "_whole", "_share")
    )


def _supplies_ceiling(lines: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    """Cap each GOI_VTYT package's in-scope supplies at the ceiling; spread the excess."""
    zero = pl.lit(0).cast(MONEY)
    package = (
        (pl.col("table") == "XML3")
        & pl.col("ma_nhom").is_in(SUPPLY_GROUPS)
        & (pl.col("goi_vtyt").fill_null("").str.strip_chars() != "")
    )
    group = [*CLAIM_KEYS, "goi_vtyt"]
    packaged = (
        lines.select(*CLAIM_KEYS, "goi_vtyt", "law_bh", package.alias("_in"))
        .with_row_index("_i")
        .filter(pl.col("_in"))
        .join(
            claims.select(*CLAIM_KEYS, "supplies_ceiling"),
            on=CLAIM_KEYS,
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("law_bh").sum().over(group) - pl.col("supplies_ceiling"), zero
            )
            .fill_null(zero)
            .alias("_excess")
        )
    )
    cuts = allocate(
        packaged.filter(pl.col("_excess").max().over(group) > 0),
        total="_excess",
        weight="law_bh",
        group=group,
        name="package_cut",
    ).select("_i", "package_cut")
    if cuts.height == 0:  # the usual case: no package above the ceiling
        return lines.with_columns(zero.alias("package_cut"))
    return (
        lines.with_row_index("_i")
        .join(cuts, on="_i", how="left", maintain_order="left")
        .drop("_i")
        .with_columns(pl.col("package_cut").fill_null(zero))
        .with_columns((pl.col("law_bh") - pl.col("package_cut")).alias("law_bh"))
    )


def _muc_huong(claims: pl.DataFrame, totals: pl.DataFrame) -> pl.DataFrame:
    """MUC_HUONG per claim: level × route, 100 on-route at primary level or under the
    low-cost threshold (on the law's T_TONGCHI_BH)."""
    claims = claims.join(
        totals, on=CLAIM_KEYS, how="left", maintain_order="left"
    ).with_columns(pl.col("law_t_tongchi_bh").fill_null(pl.lit(0).cast(MONEY)))
    on_route = pl.col("on_route").fill_null(False)
    low = on_route & (pl.col("law_t_tongchi_bh") < pl.col("low_cost_limit")).fill_null(
        False
    )
    base = (
        pl.col("level_percent").cast(_D6)
        * pl.col("route_rate").cast(_D6)
        / pl.lit(100).cast(_D6)
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
    return claims.with_columns(
        low.alias("low_cost"),
        round_half_up(muc.fill_null(0).cast(_D6), 2)
        .cast(PERCENT)
        .alias("law_muc_huong"),
    )


def _shares(lines: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    """Fund share, co-pay and self-pay per line, with other sources (T_NGUONKHAC).

    The ``other_source_case`` threshold at admission chooses the reading of §1.13.5:
    1 = case (a), support for this patient: the shares are computed as usual, then the
    other sources offset self-pay, then co-pay, then the fund; 2 = case (b), support
    given to the facility: it comes off the cost first and the rest is split as usual.
    """
    facts = claims.select(
        *CLAIM_KEYS,
        pl.col("law_muc_huong").alias("_muc"),
        "on_route",
        "exempt_from",
        "_other_case",
    )
    lines = lines.join(facts, on=CLAIM_KEYS, how="left", maintain_order="left")
    # the certificate exempts co-pay from its date to the end of that calendar year
    # (Law 46/2014 art. 22.1(e): co-pay "in the year" above 6 months of base salary)
    since = pl.col("exempt_from")
    in_force = (since <= pl.col("line_date")) & (
        since.dt.year() == pl.col("line_date").dt.year()
    )
    exempt = pl.col("on_route").fill_null(False) & in_force.fill_null(False)
    muc = pl.when(exempt).then(pl.lit(100).cast(PERCENT)).otherwise(pl.col("_muc"))
    zero = pl.lit(0).cast(MONEY)
    other = pl.min_horizontal(
        pl.max_horizontal(pl.col("claimed_nguonkhac"), zero), pl.col("law_bv")
    )
    # case (b): support to the facility comes off the cost first, the rest is split
    # as usual; THANH_TIEN_BH shrinks in proportion (BH × (BV − other) / BV)
    general = (pl.col("_other_case") == 2) & (pl.col("_other") > 0)
    safe_bv = pl.when(pl.col("law_bv") > 0).then(pl.col("law_bv")).otherwise(None)
    shrunk = money(
        pl.col("law_bh").cast(_D6)
        * (pl.col("law_bv") - pl.col("_other")).cast(_D6)
        / safe_bv.cast(_D6)
    )
    lines = (
        lines.with_columns(
            muc.cast(PERCENT).alias("law_muc_huong"),
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
