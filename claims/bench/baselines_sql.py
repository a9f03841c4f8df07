# ruff: noqa: E501  (the SQL of each rule stays on one line)
"""The SQL of the national-day baselines (:mod:`claims.bench.baselines`): DuckDB text only.

Ported from the scripts in ``benchmarks/`` (``pricing_methods.DUCKDB_SQL``,
``rules.SQL_RULES``, ``payment_baselines.pay_sql`` and ``settle_sql``), each with the
deliberately wrong variants the baselines run to show that their checks can fail.
"""

from __future__ import annotations

from collections.abc import Mapping

from catalogs.resolve import VERSION
from claims.errors import ReasonCode as R

# ---------------------------------------------------------------- pricing

PRICE_VARIANTS = ("as the engine", "valid_to exclusive", "national row preferred")
"""How :func:`price_sql` prices: the engine's rule, or one of two wrong variants."""


def price_sql(variant: str = "as the engine") -> str:
    """DuckDB range joins building the engine's 18 price columns (``claims.price``).

    Reads ``xml2`` and ``xml3`` (the typed lines with the claim's ``ma_cskcb``) and the
    resolved catalogs ``drugs``, ``services``, ``supplies``. Each line is joined on
    catalog, facility, code and ``valid_from <= date <= coalesce(valid_to, 9999-12-31)``,
    then on catalog and code to the national rows; the facility row is preferred.

    Args:
        variant: one of :data:`PRICE_VARIANTS`; ``valid_to exclusive`` (``date <
            valid_to``) and ``national row preferred`` are wrong on purpose.
    """
    if variant not in PRICE_VARIANTS:
        msg = f"variant: one of {PRICE_VARIANTS}, not {variant!r}"
        raise ValueError(msg)
    upto = "<" if variant == "valid_to exclusive" else "<="
    own = (
        "f.code IS NOT NULL AND n.code IS NULL"
        if variant == "national row preferred"
        else "f.code IS NOT NULL"
    )
    return f"""
WITH lines AS (
    SELECT file_id, hoso_idx, 'XML2' AS "table", line_no, ma_cskcb, 'drugs' AS catalog,
           ma_thuoc AS code, CAST(coalesce(ngay_th_yl, ngay_yl) AS DATE) AS line_date,
           don_gia AS claimed_price, tyle_tt_bh AS claimed_ratio
    FROM xml2
    UNION ALL
    SELECT file_id, hoso_idx, 'XML3', line_no, ma_cskcb,
           CASE WHEN ma_vat_tu IS NULL THEN 'services' ELSE 'supplies' END,
           coalesce(ma_vat_tu, ma_dich_vu), CAST(coalesce(ngay_th_yl, ngay_yl) AS DATE),
           don_gia_bh, tyle_tt_bh
    FROM xml3
), catalog AS (
    SELECT 'drugs' AS catalog, ma_cskcb, ma_thuoc AS code, valid_from,
           coalesce(valid_to, DATE '9999-12-31') AS valid_to, don_gia, tyle_tt_bh,
           NULL::DECIMAL(38, 2) AS tran_tt, NULL::BIGINT AS max_per_day, {VERSION}
    FROM drugs
    UNION ALL
    SELECT 'services', ma_cskcb, ma_dich_vu, valid_from,
           coalesce(valid_to, DATE '9999-12-31'), don_gia, tyle_tt_bh, NULL, max_per_day,
           {VERSION}
    FROM services
    UNION ALL
    SELECT 'supplies', ma_cskcb, ma_vat_tu, valid_from,
           coalesce(valid_to, DATE '9999-12-31'), don_gia, tyle_tt_bh, tran_tt, NULL,
           {VERSION}
    FROM supplies
), found AS (
    SELECT l.*, {own} AS own,
           CASE WHEN own THEN f.don_gia ELSE n.don_gia END AS catalog_price,
           CASE WHEN own THEN f.tyle_tt_bh ELSE n.tyle_tt_bh END AS ratio,
           CASE WHEN own THEN f.tran_tt ELSE n.tran_tt END AS catalog_ceiling,
           CASE WHEN own THEN f.max_per_day ELSE n.max_per_day END AS catalog_max_per_day,
           CASE WHEN own THEN 'facility' WHEN n.code IS NOT NULL THEN 'national' END
               AS catalog_scope,
           CASE WHEN own THEN f.{VERSION} ELSE n.{VERSION} END AS {VERSION}
    FROM lines l
    LEFT JOIN catalog f
        ON f.catalog = l.catalog AND f.ma_cskcb = l.ma_cskcb AND f.code = l.code
        AND l.line_date >= f.valid_from AND l.line_date {upto} f.valid_to
    LEFT JOIN catalog n
        ON n.catalog = l.catalog AND n.ma_cskcb IS NULL AND n.code = l.code
        AND l.line_date >= n.valid_from AND l.line_date {upto} n.valid_to
)
SELECT file_id, hoso_idx, "table", line_no, ma_cskcb, catalog, code, line_date,
       claimed_price, claimed_ratio, catalog_price,
       CASE WHEN catalog_price IS NOT NULL THEN coalesce(ratio, 100) END AS catalog_ratio,
       catalog_ceiling, catalog_max_per_day, catalog_scope, {VERSION},
       CASE WHEN catalog_price IS NULL OR claimed_price IS NULL THEN 0
            ELSE least(claimed_price, catalog_price) END::DECIMAL(38, 3) AS payable_price,
       CASE WHEN catalog_price IS NULL THEN '{R.NOT_IN_CATALOG.value}' END AS reason_code
FROM found
"""


PRICE_INPUTS = {
    "xml2": (
        "file_id",
        "hoso_idx",
        "line_no",
        "ma_cskcb",
        "ma_thuoc",
        "don_gia",
        "tyle_tt_bh",
        "ngay_yl",
        "ngay_th_yl",
    ),
    "xml3": (
        "file_id",
        "hoso_idx",
        "line_no",
        "ma_cskcb",
        "ma_dich_vu",
        "ma_vat_tu",
        "don_gia_bh",
        "tyle_tt_bh",
        "ngay_yl",
        "ngay_th_yl",
    ),
}
"""The line columns :func:`price_sql` reads."""

# ---------------------------------------------------------------- rules

RULE_SQL = {
    "B8_SCOPE_3_SERVICE": "pham_vi = '3' AND NOT coalesce(regexp_matches(claim_ma_the_bhyt, '^(QN|CA|CY)'), false)",
    "D7_OUT_OF_SCOPE_SERVICE_PAID": "CASE WHEN pham_vi IS NOT DISTINCT FROM '2' THEN t_bhtt > 0 ELSE false END",
    "F1_SERVICE_NOT_IN_CATALOG": "NOT coalesce(in_catalog, false)",
    "F2_SERVICE_PRICE_ABOVE_CATALOG": "CASE WHEN coalesce(in_catalog, false) THEN don_gia_bh > catalog_price ELSE false END",
    "F4_SUPPLY_RATIO": "ma_vat_tu IS NOT NULL AND coalesce(in_catalog, false) AND tyle_tt_bh IS DISTINCT FROM catalog_ratio",
    "F5_PERFORMER_MISSING": "coalesce(ma_nhom IN ('1','2','3','8','18'), false) AND nguoi_thuc_hien IS NULL",
    "F6_MACHINE_MISSING": "coalesce(ma_nhom IN ('1','2','3'), false) AND ma_may IS NULL",
    "F6_MACHINE_FORMAT": "ma_may IS NOT NULL AND NOT regexp_matches(ma_may, '^(?:[A-ZĐ]{2,3}[.][123][.][0-9]{5}[.][0-9A-Za-z]+$)')",
    "F7_ANAESTHESIA_MISSING": "ma_nhom IS NOT DISTINCT FROM '8' AND pp_vo_cam IS NULL",
    "F8_SURGERY_QUANTITY": "CASE WHEN ma_nhom IS NOT DISTINCT FROM '8' THEN so_luong > 1 ELSE false END",
    "C6_SERVICE_EXECUTED_BEFORE_ORDER": "ngay_th_yl IS NOT NULL AND ngay_yl IS NOT NULL AND ngay_th_yl < ngay_yl",
    "C7_RESULT_AFTER_DISCHARGE": "ngay_kq IS NOT NULL AND claim_ngay_ra IS NOT NULL AND ngay_kq > claim_ngay_ra",
    "C8_EXECUTION_EQUALS_RESULT": "coalesce(ma_nhom IN ('1','2','3'), false) AND ngay_kq IS NOT NULL AND ngay_th_yl IS NOT NULL AND ngay_kq = ngay_th_yl",
    "C9_IMPOSSIBLY_FAST": "coalesce(ma_nhom IN ('1','3'), false) AND ngay_kq IS NOT NULL AND ngay_th_yl IS NOT NULL AND ngay_kq > ngay_th_yl AND ngay_kq - ngay_th_yl < INTERVAL 3 MINUTE",
    "D9_ZERO_PRICE_CODE": "ma_dich_vu IS NOT NULL AND regexp_matches(ma_dich_vu, '[.]0000$') AND don_gia_bh > 0",
    "H4_BED_UNITS_PER_DAY": "CASE WHEN coalesce(ma_nhom IN ('14','15','16'), false) THEN units_same_day > 1 ELSE false END",
    "H6_BEDS_ON_OUTPATIENT": "coalesce(ma_nhom IN ('14','15','16'), false) AND coalesce(claim_ma_loai_kcb IN ('01','02','05','07','08'), false)",
    "F14_UNITS_PER_DAY": "catalog_max_per_day IS NOT NULL AND units_same_day > catalog_max_per_day",
}
"""The 18 XML3 line rules of ``vn-bhyt`` (every version since 2019.07; the first 18
XML3 rules of the corrected ones) hand-written as DuckDB SQL: true fires, null is
"not evaluable" (where rule-engine would raise)."""

RULE_SQL_WRONG = {
    "F2_SERVICE_PRICE_ABOVE_CATALOG": RULE_SQL[
        "F2_SERVICE_PRICE_ABOVE_CATALOG"
    ].replace("don_gia_bh > catalog_price", "don_gia_bh >= catalog_price"),
    "C6_SERVICE_EXECUTED_BEFORE_ORDER": RULE_SQL[
        "C6_SERVICE_EXECUTED_BEFORE_ORDER"
    ].replace("ngay_th_yl < ngay_yl", "ngay_th_yl >= ngay_yl"),
}
"""Wrong variants: a comparison flipped (``>`` as ``>=``, ``<`` as ``>=``)."""


RULE_COLUMNS = (
    "pham_vi",
    "claim_ma_the_bhyt",
    "t_bhtt",
    "in_catalog",
    "don_gia_bh",
    "catalog_price",
    "ma_vat_tu",
    "tyle_tt_bh",
    "catalog_ratio",
    "ma_nhom",
    "nguoi_thuc_hien",
    "ma_may",
    "pp_vo_cam",
    "so_luong",
    "ngay_yl",
    "ngay_th_yl",
    "ngay_kq",
    "claim_ngay_ra",
    "ma_dich_vu",
    "units_same_day",
    "claim_ma_loai_kcb",
    "catalog_max_per_day",
)
"""The XML3 line frame's columns :data:`RULE_SQL` reads."""


def rules_sql(rules: Mapping[str, str], source: str = "lines") -> str:
    """One select of every rule's flag over the table ``source`` (keys and pack kept)."""
    columns = ", ".join(f'({expr}) AS "{rid}"' for rid, expr in rules.items())
    return f"SELECT file_id, hoso_idx, line_no, _pack, {columns} FROM {source}"


def hits_sql(rules: Mapping[str, str], source: str = "out") -> str:
    """The flags of :func:`rules_sql`'s table ``source`` as hits (``HIT_SCHEMA``'s
    compared columns): true fired, null not evaluable, false left out."""
    return "\nUNION ALL\n".join(
        f"""SELECT 'XML3' AS "table", file_id, hoso_idx, line_no, '{rid}' AS rule_id,
       _pack AS pack,
       CASE WHEN "{rid}" THEN 'fired' ELSE 'not_evaluable' END AS outcome
FROM {source} WHERE "{rid}" IS NOT FALSE"""
        for rid in rules
    )


# ---------------------------------------------------------------- payment

FLAGS = ("file_id", "hoso_idx", "out_of_list_budget")
"""Per claim, the budget flag the SQL reads (``claims.pay.claim_facts``)."""


def pay_sql(
    rounding: str = "round", *, steps: bool = True, programme: bool = False
) -> str:
    """The payment stage's line arithmetic in SQL over the engine's law inputs.

    Args:
        rounding: the SQL rounding function (``round`` is half away from zero on
            DECIMAL, as the engine; ``round_even`` is the wrong, half-even variant).
        steps: round each product to 2 decimals (the law); False rounds once at the end
            (a wrong variant).
        programme: read the table ``pay_programme`` (``file_id, hoso_idx, table,
            line_no``): the drug lines a programme funds (NGUON_CTRA 2–4 where the
            ``programme_line`` policy answers ``fund_to_programme``), whose fund share
            the programme pays (T_BHTT 0; co-pay and self-pay stay). False: no such
            lines (the payment benchmark's inputs).
    """
    funded = "p.line_no IS NOT NULL" if programme else "false"
    programme_join = (
        'LEFT JOIN pay_programme p USING (file_id, hoso_idx, "table", line_no)'
        if programme
        else ""
    )
    r = rounding
    if steps:
        bv = f"{r}({r}(law_qty * price_bv, 2) * law_ratio_dv * 0.01, 2)"
        base = f"{r}({r}(law_qty * law_price, 2) * law_ratio_dv * 0.01, 2)"
        bh = f"{r}({base} * law_ratio_bh * 0.01, 2)"
    else:
        bv = f"{r}(law_qty * price_bv * law_ratio_dv * 0.01, 2)"
        bh = f"{r}(law_qty * law_price * law_ratio_dv * 0.01 * law_ratio_bh * 0.01, 2)"
    return f"""
WITH lines AS (
    SELECT l.file_id, l.hoso_idx, l."table", l.line_no,
           l.law_qty, l.claimed_price_bv AS price_bv, l.law_price,
           l.law_ratio_dv, l.law_ratio_bh, l.law_muc_huong,
           coalesce(l.pham_vi, '1') AS scope,
           coalesce(f.out_of_list_budget, false) AS budget_paid,
           {funded} AS programme
    FROM pay_lines l LEFT JOIN pay_flags f USING (file_id, hoso_idx)
    {programme_join}
), amounts AS (
    SELECT *, {bv} AS bv, {bh} AS bh_all FROM lines
), scoped AS (
    SELECT *,
           CASE WHEN scope = '1' THEN bh_all ELSE 0 END AS bh,
           CASE WHEN scope = '3' AND budget_paid THEN bv ELSE 0 END AS budget
    FROM amounts
), shares AS (
    SELECT *, {r}(bh * law_muc_huong * 0.01, 2) AS fund FROM scoped
)
SELECT file_id, hoso_idx, "table", line_no,
       bv::DECIMAL(38, 2) AS law_bv,
       bh::DECIMAL(38, 2) AS law_bh,
       (CASE WHEN programme THEN 0 ELSE fund END)::DECIMAL(38, 2) AS law_bhtt,
       (bh - fund)::DECIMAL(38, 2) AS law_bncct,
       (bv - bh - budget)::DECIMAL(38, 2) AS law_bntt
FROM shares
"""


PAY_SQL_COLUMNS = (
    "file_id",
    "hoso_idx",
    "table",
    "line_no",
    "law_qty",
    "claimed_price_bv",
    "law_price",
    "law_ratio_dv",
    "law_ratio_bh",
    "law_muc_huong",
    "pham_vi",
)
"""The law inputs the SQL reads from the engine's payment lines."""


PENDING = ("apart", "left out", "rejected")
"""How :func:`settle_sql` counts the claims pending review: ``apart`` (the settlement's
definition: in requested and in pending, accepted and rejected 0); the wrong variants
``left out`` (the definition before the settlement reconciled to the line) and
``rejected`` (their amount rejected instead of pending)."""


_SETTLE_SQL = """
WITH claims AS (
    SELECT file_id, hoso_idx, ma_cskcb,
           CASE WHEN inpatient THEN 'inpatient' ELSE 'outpatient' END AS treatment,
           {is_pending} AS pending,
           outcome IN ('accepted', 'partially_accepted') AS pays,
           claimed_t_tongchi_bh, accepted_t_tongchi_bh, claimed_t_bhtt, accepted_t_bhtt
    FROM decisions {where}
), stored AS (
    SELECT l.file_id, l.hoso_idx, l.cost_group, l.claimed_bh,
           CASE WHEN c.pays THEN l.accepted_bh ELSE 0 END AS accepted_bh,
           l.claimed_bhtt,
           CASE WHEN c.pays THEN l.accepted_bhtt ELSE 0 END AS accepted_bhtt
    FROM decision_lines l JOIN claims c USING (file_id, hoso_idx)
), in_lines AS (
    SELECT file_id, hoso_idx,
           sum(claimed_bh) AS claimed_bh, sum(accepted_bh) AS accepted_bh,
           sum(claimed_bhtt) AS claimed_bhtt, sum(accepted_bhtt) AS accepted_bhtt
    FROM stored
    GROUP BY ALL
), quarantined AS (
    SELECT DISTINCT file_id, hoso_idx
    FROM reasons
    WHERE source = 'validation' AND "table" IN ('XML2', 'XML3')
          AND line_no IS NOT NULL
), rest AS (
    SELECT c.file_id, c.hoso_idx, 'unallocated' AS cost_group,
           c.claimed_t_tongchi_bh - coalesce(s.claimed_bh, 0) AS claimed_bh,
           CASE WHEN c.pays THEN c.accepted_t_tongchi_bh ELSE 0 END
               - coalesce(s.accepted_bh, 0) AS accepted_bh,
           c.claimed_t_bhtt - coalesce(s.claimed_bhtt, 0) AS claimed_bhtt,
           CASE WHEN c.pays THEN c.accepted_t_bhtt ELSE 0 END
               - coalesce(s.accepted_bhtt, 0) AS accepted_bhtt,
           q.file_id IS NOT NULL AS quarantined
    FROM claims c
    LEFT JOIN in_lines s USING (file_id, hoso_idx)
    LEFT JOIN quarantined q USING (file_id, hoso_idx)
), settled AS (
    SELECT file_id, hoso_idx, cost_group,
           claimed_bh, accepted_bh, claimed_bhtt, accepted_bhtt
    FROM stored
    UNION ALL
    SELECT file_id, hoso_idx, cost_group,
           claimed_bh, accepted_bh, claimed_bhtt, accepted_bhtt
    FROM rest
    WHERE quarantined OR claimed_bh <> 0 OR accepted_bh <> 0
          OR claimed_bhtt <> 0 OR accepted_bhtt <> 0
)
SELECT c.ma_cskcb, c.treatment, r.cost_group,
       sum(r.claimed_bh)::DECIMAL(38, 2) AS claimed_bh,
       sum(r.accepted_bh)::DECIMAL(38, 2) AS accepted_bh,
       sum(r.claimed_bhtt)::DECIMAL(38, 2) AS claimed_bhtt,
       sum(r.accepted_bhtt)::DECIMAL(38, 2) AS accepted_bhtt,
       sum(CASE WHEN c.pending THEN 0 ELSE r.claimed_bhtt - r.accepted_bhtt END)
           ::DECIMAL(38, 2) AS rejected_amount,
       sum(CASE WHEN c.pending THEN r.claimed_bhtt ELSE 0 END)::DECIMAL(38, 2)
           AS pending_amount
FROM settled r JOIN claims c USING (file_id, hoso_idx)
{lines_only}
GROUP BY ALL
"""
"""The settlement SQL; ``where``, ``is_pending`` and ``lines_only`` choose the variant
(:func:`settle_sql`)."""


def settle_sql(pending: str = "apart", *, unallocated: bool = True) -> str:
    """Settlement groups per facility, treatment and cost group, as ``settle`` defines
    them since it reconciles to the line (``claims.settle.lines``).

    A claim asks its XML1 T_BHTT (and T_TONGCHI_BH); its stored decision lines carry
    part of it in their cost groups, with their accepted amounts only where the claim
    is accepted in whole or in part. The rest of the XML1 totals (totals minus the
    lines' sums, negative where the lines ask more; accepted: what the claim pays minus
    its lines' accepted sums) is in the cost group ``unallocated``, where the
    quarantined lines are too. The engine counts a quarantined line at the amounts
    validation kept and its claim's rest smaller by as much, so the group's sums are
    the totals minus the stored lines either way; a claim is in ``unallocated`` when
    that rest is not zero or validation quarantined one of its XML2/XML3 lines (then
    possibly with zeros). Per row, rejected = claimed T_BHTT − accepted − pending, where
    pending is all a claim pending review asks; no clamping (a line or a rest accepted
    above what it asks rejects a negative amount).

    Args:
        pending: one of :data:`PENDING` (``apart``: the definition; the others are
            wrong variants).
        unallocated: False: the wrong variant without the ``unallocated`` group (the
            stored lines only, as before the settlement reconciled to the line).
    """
    if pending not in PENDING:
        msg = f"pending: one of {PENDING}, not {pending!r}"
        raise ValueError(msg)
    where = "WHERE outcome <> 'pending_review'" if pending == "left out" else ""
    is_pending = "false" if pending == "rejected" else "outcome = 'pending_review'"
    lines_only = "" if unallocated else "WHERE r.cost_group <> 'unallocated'"
    return _SETTLE_SQL.format(where=where, is_pending=is_pending, lines_only=lines_only)


SETTLE_SQL_COLUMNS = {
    "decisions": (
        "file_id",
        "hoso_idx",
        "ma_cskcb",
        "inpatient",
        "outcome",
        "claimed_t_tongchi_bh",
        "accepted_t_tongchi_bh",
        "claimed_t_bhtt",
        "accepted_t_bhtt",
    ),
    "decision_lines": (
        "file_id",
        "hoso_idx",
        "cost_group",
        "claimed_bh",
        "accepted_bh",
        "claimed_bhtt",
        "accepted_bhtt",
    ),
    "reasons": ("file_id", "hoso_idx", "table", "line_no", "source"),
}
"""The columns the settlement SQL reads, per table."""
