"""The reasons of every claim: the fired rules (with their pack's Vietnamese
description), validation's quarantined lines and the payment stage's own codes, each
naming the inputs and the law's figure.

The payment stage's reasons are tables of code, condition and message: per line
(:func:`_line_reasons`) and per claim (:func:`_claim_reasons`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import polars as pl

from claims.decide.named import fired_rules, validation_entries, value_list
from claims.errors import ReasonCode as R
from claims.messages import BHXH_CODES, MESSAGES, as_text
from claims.money import TOLERANCE
from claims.pay import Payment, money, percent_of, times
from claims.schema import (
    BED_GROUPS,
    CLAIM_KEYS,
    EXAM_GROUPS,
    PROCEDURE_GROUPS,
    RATIO_GROUPS,
    REASON_VALUES,
    SURGERY_GROUPS,
)
from rules.evaluate import Pack

PAY_CUTS = (
    R.TRANSPORT_NOT_COVERED,
    R.CARD_NOT_COVERING_LINE,
    R.PROGRAMME_FUNDED,
    R.ITEM_CEILING,
    R.BED_TRANSFER_DAY,
    R.EXAM_DAY_CAP,
)
"""The payment stage's own cuts of a line, named by its ``pay_reason``."""

REASON_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "level": pl.String(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "stt": pl.Int64(),
    "item_code": pl.String(),
    "code": pl.String(),
    "bhxh_code": pl.String(),
    "field": pl.String(),
    "values": REASON_VALUES,
    "source": pl.String(),
    "message": pl.String(),
}
"""One row per reason of a claim: ``source`` is the rule id, ``validation`` or
``payment``; a line reason names its line (``table``, ``stt`` as sent, ``item_code``:
the drug, service or supply code); ``field`` the element concerned where one is;
``values`` the values compared (``{name, value}`` as text); ``bhxh_code`` the pack's or
the engine's BHXH code; ``message`` fully rendered."""
Pairs = tuple[tuple[str, pl.Expr], ...]


class LineReason(NamedTuple):
    """A reason of the payment stage on lines: its code, the lines it applies to, and
    what its message says after the code's own."""

    code: R
    when: pl.Expr
    detail: pl.Expr
    field: str | pl.Expr | None = None
    values: Pairs = ()
    """Default: the line's claimed and paid T_BHTT."""


class ClaimReason(NamedTuple):
    """A reason of the payment stage on claims: the claims it applies to, its code and
    its message (expressions on those rows)."""

    rows: pl.DataFrame
    code: pl.Expr
    message: pl.Expr
    field: str | None = None
    values: Pairs = ()


def reasons(
    xml1: pl.DataFrame,
    hits: pl.DataFrame,
    payment: Payment,
    lines: pl.DataFrame,
    packs: Sequence[Pack],
    run_id: str,
    quarantine: pl.DataFrame | None,
    values: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every reason of every claim: quarantined lines, fired rules, the payment stage's.
    ``values``: the assessment's values of the fired rules (``claims.assess``)."""
    frames = [
        _rule_reasons(hits, lines, packs, values),
        *_line_reasons(lines),
        *_claim_reasons(xml1, payment, lines),
    ]
    if quarantine is not None and quarantine.height:
        frames.append(_quarantine_reasons(xml1, quarantine))
    every = pl.concat(frames)
    return (
        every.with_columns(pl.lit(run_id).alias("run_id"))
        .sort(
            *CLAIM_KEYS,
            pl.col("level") != "claim",
            "table",
            "line_no",
            "code",
            "source",
            nulls_last=False,
        )
        .select(list(REASON_SCHEMA))
        .cast(pl.Schema(REASON_SCHEMA))
    )


def _reason_rows(
    frame: pl.DataFrame,
    *,
    code: pl.Expr,
    source: pl.Expr,
    message: pl.Expr,
    line: bool | pl.Expr = True,
    item_code: pl.Expr | None = None,
    field: str | pl.Expr | None = None,
    values: pl.Expr | None = None,
    bhxh_code: pl.Expr | None = None,
) -> pl.DataFrame:
    """:data:`REASON_SCHEMA` rows (without ``run_id``) from ``frame``: a line reason
    reads ``table, line_no`` (and ``stt`` when present); a claim reason is on XML1.
    ``line`` may be an expression choosing per row. ``item_code`` defaults to the
    frame's ``item_code`` (else ``code``, the payment lines' item); ``bhxh_code`` to the
    engine's BHXH code of the reason code."""
    # one chunk per column: polars 2.1 panics ("i < self.len()") formatting a message
    # from a Decimal column in two chunks (a claim's XML1 T_BHTT after a join)
    frame = frame.rechunk()
    on_line = pl.lit(line) if isinstance(line, bool) else line
    stt = pl.col("stt") if "stt" in frame.columns else pl.lit(None, pl.Int64)
    if item_code is None:
        named = [c for c in ("item_code", "code") if c in frame.columns]
        item_code = pl.col(named[0]) if named else pl.lit(None, pl.String)
    if isinstance(field, str) or field is None:
        field = pl.lit(field, pl.String)
    if bhxh_code is None and BHXH_CODES:
        bhxh_code = code.replace_strict(
            {c.value: b for c, b in BHXH_CODES.items()}, default=None
        )
    return frame.select(
        *CLAIM_KEYS,
        pl.when(on_line).then(pl.lit("line")).otherwise(pl.lit("claim")).alias("level"),
        pl.when(on_line).then(pl.col("table")).otherwise(pl.lit("XML1")).alias("table")
        if "table" in frame.columns
        else pl.lit("XML1").alias("table"),
        pl.when(on_line).then(pl.col("line_no")).alias("line_no")
        if "line_no" in frame.columns
        else pl.lit(None, pl.UInt32).alias("line_no"),
        pl.when(on_line).then(stt).cast(pl.Int64).alias("stt"),
        pl.when(on_line).then(item_code).cast(pl.String).alias("item_code"),
        code.alias("code"),
        (pl.lit(None, pl.String) if bhxh_code is None else bhxh_code).alias(
            "bhxh_code"
        ),
        field.alias("field"),
        (pl.lit([], REASON_VALUES) if values is None else values).alias("values"),
        source.alias("source"),
        message.alias("message"),
    ).cast({k: v for k, v in REASON_SCHEMA.items() if k != "run_id"})


def _rule_reasons(
    hits: pl.DataFrame,
    lines: pl.DataFrame,
    packs: Sequence[Pack],
    values: pl.DataFrame | None,
) -> pl.DataFrame:
    """The fired rules: their code's message in the pack (else the rule's description)
    with the values the rule read, and the code's BHXH code in the pack."""
    fired = fired_rules(hits, lines, packs, values)
    return _reason_rows(
        fired,
        code=pl.col("reason_code"),
        source=pl.coalesce("rule_id", pl.lit("engine")),
        message=pl.col("message"),
        line=pl.col("line_no").is_not_null(),
        values=pl.col("values"),
        bhxh_code=pl.col("bhxh_code"),
    )


def _quarantine_reasons(xml1: pl.DataFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    """The lines validation refused, kept as reasons of their stored claims (each
    line and code once)."""
    stored = xml1.select(*CLAIM_KEYS)
    return (
        quarantine.filter(pl.col("line_no").is_not_null() & (pl.col("table") != "XML1"))
        .join(stored, on=CLAIM_KEYS, how="semi")
        .unique(
            [*CLAIM_KEYS, "table", "line_no", "reason_code"],
            keep="first",
            maintain_order=True,
        )
        .pipe(quarantine_reasons)
    )


def quarantine_reasons(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Validation's entries as :data:`REASON_SCHEMA` rows (without ``run_id``): the
    element as ``field``, its value as sent in ``values``, a line's ``stt`` and
    ``item_code`` where the entries carry them (the pipeline adds them from the
    submissions); an entry without ``line_no`` or on XML1 is a claim reason."""
    entries = validation_entries(quarantine)
    return _reason_rows(
        entries,
        code=pl.col("reason_code"),
        source=pl.lit("validation"),
        message=pl.col("message"),
        line=pl.col("line_no").is_not_null() & (pl.col("table") != "XML1"),
        item_code=pl.col("item_code"),
        field=pl.col("field"),
        values=pl.col("values"),
    )


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


def _line_reasons(lines: pl.DataFrame) -> list[pl.DataFrame]:
    """The payment stage's reasons on lines, one frame per row of the table."""
    paid = (
        ("claimed_bhtt", pl.col("claimed_bhtt")),
        ("law_bhtt", pl.col("law_bhtt")),
    )
    return [
        _reason_rows(
            lines.filter(r.when),
            code=pl.lit(r.code.value),
            source=pl.lit("payment"),
            message=pl.concat_str(pl.lit(MESSAGES[r.code] + ": "), r.detail),
            field=r.field,
            values=value_list(r.values or paid),
        )
        for r in _line_reason_table()
    ]


def _ratio_reasons() -> list[LineReason]:
    """The ratio reasons: TYLE_TT_BH, then TYLE_TT_DV of exams, beds, procedures and
    other services."""
    scope = pl.col("pham_vi").fill_null("1") == "1"
    ratio_dv = pl.col("claimed_ratio_dv") != pl.col("law_ratio_dv")
    group = pl.col("ma_nhom")
    ratio_detail = pl.format(
        "{} kê {}%, đúng {}%",
        pl.col("code"),
        pl.col("claimed_ratio_dv"),
        pl.col("law_ratio_dv"),
    )
    ratio_named: tuple[str, Pairs] = (
        "TYLE_TT_DV",
        (
            ("claimed_ratio_dv", pl.col("claimed_ratio_dv")),
            ("law_ratio_dv", pl.col("law_ratio_dv")),
        ),
    )
    return [
        LineReason(
            R.PAYMENT_RATIO,
            scope & (pl.col("claimed_ratio_bh") != pl.col("law_ratio_bh")),
            pl.format(
                "{} kê {}%, đúng {}%",
                pl.col("code"),
                pl.col("claimed_ratio_bh"),
                pl.col("law_ratio_bh"),
            ),
            "TYLE_TT_BH",
            (
                ("claimed_ratio_bh", pl.col("claimed_ratio_bh")),
                ("law_ratio_bh", pl.col("law_ratio_bh")),
            ),
        ),
        LineReason(
            R.EXAM_RATIO,
            ratio_dv & group.is_in(EXAM_GROUPS),
            ratio_detail,
            *ratio_named,
        ),
        LineReason(
            R.BED_RATIO, ratio_dv & group.is_in(BED_GROUPS), ratio_detail, *ratio_named
        ),
        LineReason(
            R.PROCEDURE_RATIO,
            ratio_dv & group.is_in((*SURGERY_GROUPS, *PROCEDURE_GROUPS)),
            ratio_detail,
            *ratio_named,
        ),
        LineReason(
            R.SERVICE_RATIO,
            ratio_dv & ~group.is_in(RATIO_GROUPS),
            ratio_detail,
            *ratio_named,
        ),
    ]


def _line_reason_table() -> list[LineReason]:
    """Code, condition and detail of each line reason, in order."""
    scope = pl.col("pham_vi").fill_null("1") == "1"
    claimed_bv, claimed_bh = _recomputed()
    return [
        LineReason(
            R.CATALOG_PRICE,
            (pl.col("law_price") > 0) & (pl.col("claimed_price") > pl.col("law_price")),
            pl.format(
                "{} đơn giá {}, giá danh mục {}",
                pl.col("code"),
                _text(pl.col("claimed_price")),
                _text(pl.col("law_price")),
            ),
            _price_field(),
            (
                ("claimed_price", pl.col("claimed_price")),
                ("law_price", pl.col("law_price")),
            ),
        ),
        *_ratio_reasons(),
        LineReason(
            R.SUPPLIES_CEILING,
            pl.col("package_cut") > 0,
            pl.format(
                "{} giảm {} (phần vượt trần chuyển người bệnh tự trả)",
                pl.col("code"),
                _text(pl.col("package_cut")),
            ),
            "T_BHTT",
            (
                ("claimed_bhtt", pl.col("claimed_bhtt")),
                ("package_cut", pl.col("package_cut")),
                ("law_bhtt", pl.col("law_bhtt")),
            ),
        ),
        *(
            LineReason(
                code,
                pl.col("pay_reason") == code.value,
                pl.format(
                    "{} T_BHTT đề nghị {}, được thanh toán {}",
                    pl.col("code"),
                    _text(pl.col("claimed_bhtt")),
                    _text(pl.col("law_bhtt")),
                ),
            )
            for code in PAY_CUTS
        ),
        LineReason(
            R.LINE_ARITHMETIC,
            ((pl.col("claimed_bv") - claimed_bv).abs() > TOLERANCE)
            | (scope & ((pl.col("claimed_bh") - claimed_bh).abs() > TOLERANCE)),
            pl.format(
                "{} THANH_TIEN_BV {} (tính lại {}), THANH_TIEN_BH {} (tính lại {})",
                pl.col("code"),
                _text(pl.col("claimed_bv")),
                _text(claimed_bv),
                _text(pl.col("claimed_bh")),
                _text(claimed_bh),
            ),
            "THANH_TIEN_BV",
            (
                ("claimed_bv", pl.col("claimed_bv")),
                ("recomputed_bv", claimed_bv),
                ("claimed_bh", pl.col("claimed_bh")),
                ("recomputed_bh", claimed_bh),
            ),
        ),
    ]


def _price_field() -> pl.Expr:
    """The element of a line's claimed price: DON_GIA on a drug, DON_GIA_BH else."""
    return (
        pl.when(pl.col("table") == "XML2")
        .then(pl.lit("DON_GIA"))
        .otherwise(pl.lit("DON_GIA_BH"))
    )


def _recomputed() -> tuple[pl.Expr, pl.Expr]:
    """THANH_TIEN_BV and THANH_TIEN_BH recomputed from the line's own claimed figures."""
    claimed_bv = percent_of(
        money(times(pl.col("claimed_qty"), pl.col("claimed_price_bv"))),
        pl.col("claimed_ratio_dv"),
    )
    claimed_bh = percent_of(
        percent_of(
            money(times(pl.col("claimed_qty"), pl.col("claimed_price"))),
            pl.col("claimed_ratio_dv"),
        ),
        pl.col("claimed_ratio_bh"),
    )
    return claimed_bv, claimed_bh


def _claim_reasons(
    xml1: pl.DataFrame, payment: Payment, lines: pl.DataFrame
) -> list[pl.DataFrame]:
    """The payment stage's reasons on claims, one frame per row of the table."""
    return [
        _reason_rows(
            reason.rows,
            code=reason.code,
            source=pl.lit("payment"),
            message=reason.message,
            line=False,
            field=reason.field,
            values=value_list(reason.values),
        )
        for reason in _claim_reason_table(xml1, payment, lines)
    ]


def _claim_reason_table(
    xml1: pl.DataFrame, payment: Payment, lines: pl.DataFrame
) -> list[ClaimReason]:
    """Claims, code and message of each claim reason, in order: MUC_HUONG, the
    eligibility fact, a withdrawal, an unknown route code, underclaimed, the claim cap."""
    facts = payment.claims
    paid = lines.select(
        *CLAIM_KEYS, "claimed_muc_huong", "law_muc_huong", "law_bhtt", "_cut"
    ).filter(lines["refused_by"].is_null())
    sums = (
        paid.group_by(CLAIM_KEYS)
        .agg(pl.col("law_bhtt").sum().alias("_law"), pl.col("_cut").sum().alias("_cut"))
        .join(xml1.select(*CLAIM_KEYS, "t_bhtt"), on=CLAIM_KEYS, how="left")
    )
    stay = [
        c
        for c in ("gt_the_tu", "gt_the_den", "ngay_vao", "ngay_ra")
        if c in xml1.columns
    ]
    card = xml1.select(
        *CLAIM_KEYS, *(as_text(c, xml1.schema[c]).alias(f"_{c}") for c in stay)
    )
    route = (("MA_DOITUONG_KCB", pl.col("route_code")),)
    return [
        _benefit_reason(paid, facts),
        ClaimReason(
            facts.filter(pl.col("eligibility_reason").is_not_null()).join(
                card, on=CLAIM_KEYS, how="left"
            ),
            pl.col("eligibility_reason"),
            pl.col("eligibility_reason").replace_strict(
                {c.value: m for c, m in MESSAGES.items()},
                default=pl.col("eligibility_reason"),
            ),
            "GT_THE_DEN",
            tuple((c.upper(), pl.col(f"_{c}")) for c in stay),
        ),
        ClaimReason(
            facts.filter(pl.col("route_class") == "withdrawal"),
            pl.lit(R.CLAIM_WITHDRAWN.value),
            pl.lit(MESSAGES[R.CLAIM_WITHDRAWN]),
            "MA_DOITUONG_KCB",
            route,
        ),
        ClaimReason(
            facts.filter(pl.col("route_class").is_null()),
            pl.lit(R.ROUTE_UNKNOWN.value),
            pl.format(
                "{}: {}",
                pl.lit(MESSAGES[R.ROUTE_UNKNOWN]),
                pl.col("route_code").fill_null(""),
            ),
            "MA_DOITUONG_KCB",
            route,
        ),
        ClaimReason(
            sums.filter(pl.col("_law") - pl.col("t_bhtt") > TOLERANCE),
            pl.lit(R.UNDERCLAIMED.value),
            pl.format(
                "{}: đề nghị {}, được hưởng {}",
                pl.lit(MESSAGES[R.UNDERCLAIMED]),
                _text(pl.col("t_bhtt")),
                _text(pl.col("_law")),
            ),
            "T_BHTT",
            (("T_BHTT", pl.col("t_bhtt")), ("law_bhtt", pl.col("_law"))),
        ),
        ClaimReason(
            sums.filter(pl.col("_cut") > 0),
            pl.lit(R.CLAIM_TOTAL_CAP.value),
            pl.format(
                "{}: giảm {}",
                pl.lit(MESSAGES[R.CLAIM_TOTAL_CAP]),
                _text(pl.col("_cut")),
            ),
            "T_BHTT",
            (("T_BHTT", pl.col("t_bhtt")), ("cut", pl.col("_cut"))),
        ),
    ]


def _benefit_reason(paid: pl.DataFrame, facts: pl.DataFrame) -> ClaimReason:
    """Claims whose paid lines claim another MUC_HUONG than the law's: LOW_COST_THRESHOLD
    where the low-cost threshold decides it, else BENEFIT_RATE_MISMATCH."""
    rate = (
        paid.filter(pl.col("claimed_muc_huong") != pl.col("law_muc_huong"))
        .group_by(CLAIM_KEYS)
        .agg(
            pl.col("claimed_muc_huong").first().alias("_claimed_muc"),
            pl.col("law_muc_huong").first().alias("_law_muc"),
        )
    )
    rate = rate.join(facts, on=CLAIM_KEYS, how="left")
    low_cost_decides = (
        pl.col("on_route").fill_null(False)
        & (pl.col("level_percent") * pl.col("route_rate") / 100 < 100)
        & ~pl.col("primary_care").fill_null(False)
        & (pl.col("low_cost") | (pl.col("_claimed_muc") == 100))
    )
    low_cost = pl.format(
        "{}: mức hưởng {}% không đúng, đúng {}% "
        "(T_TONGCHI_BH {} so với 15% lương cơ sở {} = {})",
        pl.lit(MESSAGES[R.LOW_COST_THRESHOLD]),
        _text(pl.col("_claimed_muc")),
        _text(pl.col("_law_muc")),
        _text(pl.col("law_t_tongchi_bh")),
        _text(pl.col("base_salary")),
        _text(pl.col("low_cost_limit")),
    )
    mismatch = pl.format(
        "Mức hưởng {}% không đúng: thẻ {} mức {} ({}%), "
        "MA_DOITUONG_KCB {} tỷ lệ tuyến {}% → {}%",
        _text(pl.col("_claimed_muc")),
        pl.col("object_code"),
        _text(pl.col("benefit_level")),
        _text(pl.col("level_percent")),
        pl.col("route_code"),
        _text(pl.col("route_rate")),
        _text(pl.col("_law_muc")),
    )
    return ClaimReason(
        rate,
        pl.when(low_cost_decides)
        .then(pl.lit(R.LOW_COST_THRESHOLD.value))
        .otherwise(pl.lit(R.BENEFIT_RATE_MISMATCH.value)),
        pl.when(low_cost_decides).then(low_cost).otherwise(mismatch),
        "MUC_HUONG",
        (
            ("MUC_HUONG", pl.col("_claimed_muc")),
            ("law_muc_huong", pl.col("_law_muc")),
            ("T_TONGCHI_BH", pl.col("law_t_tongchi_bh")),
            ("low_cost_limit", pl.col("low_cost_limit")),
        ),
    )
