"""Decisions: rule outcomes and the law's amounts become accepted amounts per line and
an outcome per claim, with every reason.

Per line, a line refused on its own (a fired line ``reject`` rule, not in the catalog)
or with its claim (a fired claim ``reject`` rule, a card that does not cover the stay or
names an unknown object, a withdrawal: MA_DOITUONG_KCB of class ``withdrawal``) is
accepted at 0. Otherwise the accepted fund share is the law's T_BHTT, never more than
the clinic claimed for the line; the other accepted amounts are the law's. A claim's
accepted T_BHTT is the sum of its lines, capped at the claimed XML1 T_BHTT (the cut is
spread over the lines, :func:`claims.pay.core.allocate`). ``rejected_amount`` = claimed −
accepted ≥ 0.

Outcome, strongest first: ``rejected`` (the claim is refused, or nothing of a non-zero
claim is accepted), ``pending_review`` (a review rule fired: amounts are provisional),
``partially_accepted`` (more than the ±1 đồng tolerance was cut, or a line rule cut
something) and ``accepted``. Where the law allows more than was claimed the claim gets
``UNDERCLAIMED`` and the claimed amount is paid.

Reasons are the fired rules (with their pack's Vietnamese description) and the payment
stage's own codes, each naming the inputs and the law's figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import polars as pl

from claims.errors import ReasonCode as R
from claims.features import CLAIM_KEYS
from claims.messages import MESSAGES
from claims.money import MONEY, TOLERANCE
from claims.pay.core import (
    AMOUNTS,
    LINE_KEYS,
    PAY_LINE_SCHEMA,
    Payment,
    allocate,
    money,
    percent_of,
    times,
)
from rules.evaluate import Pack

COST_GROUPS: dict[str, tuple[str, ...]] = {
    "exam": ("13",),
    "beds": ("14", "15", "16"),
    "tests": ("1",),
    "imaging": ("2", "3"),
    "surgery": ("8",),
    "procedures": ("18",),
    "high_tech": ("9",),
    "drugs": ("4", "5", "6"),
    "blood": ("7", "17"),
    "supplies": ("10", "11"),
    "transport": ("12",),
}
"""Cost group of a line by MA_NHOM; any other code is ``other`` (MA_NHOM 19 included)."""
OTHER_GROUP = "other"
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

REASON_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "level": pl.String(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "stt": pl.Int64(),
    "code": pl.String(),
    "bhxh_code": pl.String(),
    "source": pl.String(),
    "message": pl.String(),
}
"""One row per reason of a claim: ``source`` is the rule id or ``payment``."""


class Decisions(NamedTuple):
    """The decision stage's result."""

    claims: pl.DataFrame
    """:data:`DECISION_SCHEMA`, in batch order."""
    lines: pl.DataFrame
    """:data:`DECISION_LINE_SCHEMA`."""
    reasons: pl.DataFrame
    """:data:`REASON_SCHEMA`."""


def cost_group() -> pl.Expr:
    """The cost group of a line from its MA_NHOM (every line lands in exactly one)."""
    expr = pl.lit(OTHER_GROUP)
    for group, codes in reversed(COST_GROUPS.items()):
        expr = (
            pl.when(pl.col("ma_nhom").is_in(codes)).then(pl.lit(group)).otherwise(expr)
        )
    return expr


def decide(
    xml1: pl.DataFrame,
    assessed: pl.DataFrame,
    hits: pl.DataFrame,
    payment: Payment,
    *,
    run_id: str,
    catalogs: Mapping[str, str],
    packs: Sequence[Pack] = (),
    quarantine: pl.DataFrame | None = None,
) -> Decisions:
    """Turn an assessment and a payment into decisions.

    Args:
        xml1: the typed XML1 rows of the batch (claimed totals, period).
        assessed: ``claims.assess.ASSESSMENT_SCHEMA`` rows.
        hits: rule hits (``rules.evaluate.HIT_SCHEMA``).
        payment: the payment stage's lines and claims.
        run_id: the run the decisions belong to.
        catalogs: catalog id → ``version#hash`` labels the run used.
        packs: the loaded pack versions (their Vietnamese rule descriptions).
        quarantine: validation's quarantine entries: the lines it refused stay in their
            claim as reasons (their money is not accepted: they were never stored).
    """
    facts = payment.claims
    fired = hits.filter(pl.col("outcome") == "fired")
    claim_refusal = assessed.select(
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
    line_rejects = (
        fired.filter(pl.col("line_no").is_not_null() & (pl.col("action") == "reject"))
        .group_by(LINE_KEYS)
        .agg(pl.col("reason_code").sort().first().alias("_line_refusal"))
    )
    zero = pl.lit(0).cast(MONEY)
    paid = pl.col("refused_by").is_null()
    lines = (
        payment.lines.lazy()
        .join(claim_refusal.lazy(), on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(
            line_rejects.lazy(), on=list(LINE_KEYS), how="left", maintain_order="left"
        )
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
    lines = (
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
    reasons = _reasons(xml1, hits, payment, lines, packs, run_id, quarantine)
    claims = _claims(xml1, assessed, facts, lines, reasons, run_id, catalogs)
    return Decisions(
        claims,
        lines.select(list(DECISION_LINE_SCHEMA)).cast(DECISION_LINE_SCHEMA),  # type: ignore[arg-type]
        reasons,
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


def _claims(
    xml1: pl.DataFrame,
    assessed: pl.DataFrame,
    facts: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    run_id: str,
    catalogs: Mapping[str, str],
) -> pl.DataFrame:
    zero = pl.lit(0).cast(MONEY)
    sums = lines.group_by(CLAIM_KEYS).agg(
        *[pl.col(f"law_{_LINE_OF_TOTAL[t]}").sum().alias(f"law_{t}") for t in TOTALS],
        *[
            pl.col(f"accepted_{_LINE_OF_TOTAL[t]}").sum().alias(f"accepted_{t}")
            for t in TOTALS
        ],
        (pl.col("rejected_amount") > TOLERANCE).any().alias("_line_cut"),
        (
            pl.col("refused_by").is_not_null()
            & (pl.col("refused_by") != "CLAIM_REJECTED")
            & ~pl.col("refused_by").is_in([R.CLAIM_WITHDRAWN.value, *CLAIM_REFUSALS])
        )
        .any()
        .alias("_line_refused"),
        pl.col("refused_by")
        .is_in([R.CLAIM_WITHDRAWN.value, *CLAIM_REFUSALS])
        .any()
        .alias("_refused"),
    )
    codes = reasons.group_by(CLAIM_KEYS).agg(
        pl.col("code").unique().sort().alias("reason_codes")
    )
    frame = (
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
        .join(sums, on=CLAIM_KEYS, how="left", maintain_order="left")
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
    frame = frame.with_columns(
        pl.min_horizontal("accepted_t_bhtt", "claimed_t_bhtt").alias("accepted_t_bhtt")
    ).with_columns(
        pl.max_horizontal(
            pl.col("claimed_t_bhtt") - pl.col("accepted_t_bhtt"), zero
        ).alias("rejected_amount")
    )
    outcome = (
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
    return (
        frame.with_columns(
            outcome.alias("outcome"),
            pl.lit(run_id).alias("run_id"),
            pl.lit(json.dumps(dict(sorted(catalogs.items())), sort_keys=True)).alias(
                "catalogs"
            ),
        )
        .select(list(DECISION_SCHEMA))
        .cast(DECISION_SCHEMA)  # type: ignore[arg-type]
    )


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String)


def _reasons(
    xml1: pl.DataFrame,
    hits: pl.DataFrame,
    payment: Payment,
    lines: pl.DataFrame,
    packs: Sequence[Pack],
    run_id: str,
    quarantine: pl.DataFrame | None,
) -> pl.DataFrame:
    """Every reason of every claim: quarantined lines, fired rules, the payment stage's."""
    messages = pl.DataFrame(
        [(p.label, r.spec.id, r.spec.description.vi) for p in packs for r in p.rules],
        schema={"pack": pl.String, "rule_id": pl.String, "message": pl.String},
        orient="row",
    )
    stt = lines.select(*LINE_KEYS, "stt")
    fired = (
        hits.filter(pl.col("outcome") == "fired")
        .join(messages, on=["pack", "rule_id"], how="left")
        .join(stt, on=list(LINE_KEYS), how="left")
    )
    rules = _reason_rows(
        fired,
        code=pl.col("reason_code"),
        source=pl.coalesce("rule_id", pl.lit("engine")),
        message=pl.coalesce("message", pl.col("reason_code")),
        line=pl.col("line_no").is_not_null(),
    )
    frames = [rules, *_line_reasons(lines), *_claim_reasons(xml1, payment, lines)]
    if quarantine is not None and quarantine.height:
        stored = xml1.select(*CLAIM_KEYS)
        frames.append(
            quarantine.filter(
                pl.col("line_no").is_not_null() & (pl.col("table") != "XML1")
            )
            .join(stored, on=CLAIM_KEYS, how="semi")
            .unique(
                [*CLAIM_KEYS, "table", "line_no", "reason_code"],
                keep="first",
                maintain_order=True,
            )
            .pipe(
                _reason_rows,
                code=pl.col("reason_code"),
                source=pl.lit("validation"),
                message=pl.col("message"),
            )
        )
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
        .cast(REASON_SCHEMA)  # type: ignore[arg-type]
    )


def _reason_rows(
    frame: pl.DataFrame,
    *,
    code: pl.Expr,
    source: pl.Expr,
    message: pl.Expr,
    line: bool | pl.Expr = True,
) -> pl.DataFrame:
    """:data:`REASON_SCHEMA` rows (without ``run_id``) from ``frame``: a line reason
    reads ``table, line_no`` (and ``stt`` when present); a claim reason is on XML1.
    ``line`` may be an expression choosing per row."""
    on_line = pl.lit(line) if isinstance(line, bool) else line
    stt = pl.col("stt") if "stt" in frame.columns else pl.lit(None, pl.Int64)
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
        code.alias("code"),
        pl.lit(None, pl.String).alias("bhxh_code"),
        source.alias("source"),
        message.alias("message"),
    ).cast({k: v for k, v in REASON_SCHEMA.items() if k != "run_id"})


def _line_reason(
    lines: pl.DataFrame, when: pl.Expr, code: R, detail: pl.Expr
) -> pl.DataFrame:
    return _reason_rows(
        lines.filter(when),
        code=pl.lit(code.value),
        source=pl.lit("payment"),
        message=pl.concat_str(pl.lit(MESSAGES[code] + ": "), detail),
    )


def _line_reasons(lines: pl.DataFrame) -> list[pl.DataFrame]:
    scope = pl.col("pham_vi").fill_null("1") == "1"
    ratio_dv = pl.col("claimed_ratio_dv") != pl.col("law_ratio_dv")
    group = pl.col("ma_nhom")
    ratio_detail = pl.format(
        "{} kê {}%, đúng {}%",
        pl.col("code"),
        pl.col("claimed_ratio_dv"),
        pl.col("law_ratio_dv"),
    )
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
    off = ((pl.col("claimed_bv") - claimed_bv).abs() > TOLERANCE) | (
        scope & ((pl.col("claimed_bh") - claimed_bh).abs() > TOLERANCE)
    )
    return [
        _line_reason(
            lines,
            (pl.col("law_price") > 0) & (pl.col("claimed_price") > pl.col("law_price")),
            R.CATALOG_PRICE,
            pl.format(
                "{} đơn giá {}, giá danh mục {}",
                pl.col("code"),
                _text(pl.col("claimed_price")),
                _text(pl.col("law_price")),
            ),
        ),
        _line_reason(
            lines,
            scope & (pl.col("claimed_ratio_bh") != pl.col("law_ratio_bh")),
            R.PAYMENT_RATIO,
            pl.format(
                "{} kê {}%, đúng {}%",
                pl.col("code"),
                pl.col("claimed_ratio_bh"),
                pl.col("law_ratio_bh"),
            ),
        ),
        _line_reason(lines, ratio_dv & group.is_in(["13"]), R.EXAM_RATIO, ratio_detail),
        _line_reason(
            lines, ratio_dv & group.is_in(["14", "15", "16"]), R.BED_RATIO, ratio_detail
        ),
        _line_reason(
            lines, ratio_dv & group.is_in(["8", "18"]), R.PROCEDURE_RATIO, ratio_detail
        ),
        _line_reason(
            lines,
            ratio_dv & ~group.is_in(["13", "14", "15", "16", "8", "18"]),
            R.SERVICE_RATIO,
            ratio_detail,
        ),
        _line_reason(
            lines,
            pl.col("package_cut") > 0,
            R.SUPPLIES_CEILING,
            pl.format(
                "{} giảm {} (phần vượt trần chuyển người bệnh tự trả)",
                pl.col("code"),
                _text(pl.col("package_cut")),
            ),
        ),
        _line_reason(
            lines,
            off,
            R.LINE_ARITHMETIC,
            pl.format(
                "{} THANH_TIEN_BV {} (tính lại {}), THANH_TIEN_BH {} (tính lại {})",
                pl.col("code"),
                _text(pl.col("claimed_bv")),
                _text(claimed_bv),
                _text(pl.col("claimed_bh")),
                _text(claimed_bh),
            ),
        ),
    ]


def _claim_reasons(
    xml1: pl.DataFrame, payment: Payment, lines: pl.DataFrame
) -> list[pl.DataFrame]:
    facts = payment.claims
    paid = lines.select(
        *CLAIM_KEYS, "claimed_muc_huong", "law_muc_huong", "law_bhtt", "_cut"
    ).filter(lines["refused_by"].is_null())
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

    def claim_row(frame: pl.DataFrame, code: pl.Expr, message: pl.Expr) -> pl.DataFrame:
        return _reason_rows(
            frame, code=code, source=pl.lit("payment"), message=message, line=False
        )

    benefit = claim_row(
        rate,
        pl.when(low_cost_decides)
        .then(pl.lit(R.LOW_COST_THRESHOLD.value))
        .otherwise(pl.lit(R.BENEFIT_RATE_MISMATCH.value)),
        pl.when(low_cost_decides)
        .then(
            pl.format(
                "{}: mức hưởng {}% không đúng, đúng {}% "
                "(T_TONGCHI_BH {} so với 15% lương cơ sở {} = {})",
                pl.lit(MESSAGES[R.LOW_COST_THRESHOLD]),
                _text(pl.col("_claimed_muc")),
                _text(pl.col("_law_muc")),
                _text(pl.col("law_t_tongchi_bh")),
                _text(pl.col("base_salary")),
                _text(pl.col("low_cost_limit")),
            )
        )
        .otherwise(
            pl.format(
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
        ),
    )
    eligibility = claim_row(
        facts.filter(pl.col("eligibility_reason").is_not_null()),
        pl.col("eligibility_reason"),
        pl.col("eligibility_reason").replace_strict(
            {c.value: m for c, m in MESSAGES.items()},
            default=pl.col("eligibility_reason"),
        ),
    )
    withdrawn = claim_row(
        facts.filter(pl.col("route_class") == "withdrawal"),
        pl.lit(R.CLAIM_WITHDRAWN.value),
        pl.lit(MESSAGES[R.CLAIM_WITHDRAWN]),
    )
    unknown = claim_row(
        facts.filter(pl.col("route_class").is_null()),
        pl.lit(R.ROUTE_UNKNOWN.value),
        pl.format(
            "{}: {}",
            pl.lit(MESSAGES[R.ROUTE_UNKNOWN]),
            pl.col("route_code").fill_null(""),
        ),
    )
    sums = (
        paid.group_by(CLAIM_KEYS)
        .agg(pl.col("law_bhtt").sum().alias("_law"), pl.col("_cut").sum().alias("_cut"))
        .join(xml1.select(*CLAIM_KEYS, "t_bhtt"), on=CLAIM_KEYS, how="left")
    )
    under = claim_row(
        sums.filter(pl.col("_law") - pl.col("t_bhtt") > TOLERANCE),
        pl.lit(R.UNDERCLAIMED.value),
        pl.format(
            "{}: đề nghị {}, được hưởng {}",
            pl.lit(MESSAGES[R.UNDERCLAIMED]),
            _text(pl.col("t_bhtt")),
            _text(pl.col("_law")),
        ),
    )
    capped = claim_row(
        sums.filter(pl.col("_cut") > 0),
        pl.lit(R.CLAIM_TOTAL_CAP.value),
        pl.format(
            "{}: giảm {}", pl.lit(MESSAGES[R.CLAIM_TOTAL_CAP]), _text(pl.col("_cut"))
        ),
    )
    return [benefit, eligibility, withdrawn, unknown, under, capped]
