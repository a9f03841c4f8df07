"""An assessor's decision on a claim pending review, validated, and the claim's reviewed
decision version it makes.

An assessor decides a claim line by line (``XML2``/``XML3`` and the line's STT as sent):

- ``accept``: the engine's provisional accepted T_BHTT stands;
- ``reject``: the line is accepted at 0;
- ``reduce:AMOUNT``: the line's accepted T_BHTT becomes AMOUNT (0 ≤ AMOUNT ≤ the line's
  claimed T_BHTT);
- ``qty:Q``: the line is paid for Q of its claimed quantity: the engine's accepted T_BHTT
  × Q / claimed quantity, rounded half up to the hào (0 ≤ Q ≤ claimed quantity).

Lines the assessor does not name keep the engine's amounts. A reviewed line's accepted
THANH_TIEN_BH moves by the same đồng as its T_BHTT (0 when rejected, never below 0); its
other accepted amounts (co-payment, other sources) stay the engine's. Every decision
needs a justification; a BHXH reason code (:data:`BHXH_REASONS`, reference §4.4, CV
266/TTKS-NV 2025) may be given, and a code off that list is refused.

The reviewed version is the engine's decision, lines and reasons of the claim with the
reviewed lines' amounts changed, the claim's accepted T_BHTT the engine's plus the
lines' changes (never below 0 nor above the claimed T_BHTT), its outcome recomputed
(``rejected`` when nothing of a non-zero claim is accepted, ``partially_accepted``
when more than the 1 đồng tolerance is cut or a line is rejected, else ``accepted``),
one reason per reviewed line (source ``review``), and ``review_id``. Its reduction is
the engine's provisional accepted T_BHTT minus the reviewed one: above the four-eyes
amount (``Settings.review_four_eyes_amount``) the decision waits for a second
assessor (``awaiting_approval``); otherwise it is ``decided`` at once.

Pure: no clock (``decided_at`` comes in), no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import polars as pl

from claims.errors import ClaimsError
from claims.ids import content_id, frame_digest
from claims.money import MONEY, TOLERANCE, round_half_up
from claims.schema import REASON_VALUES

BHXH_REASONS: dict[str, str] = {
    "S.001.646": "Dịch vụ không được chỉ định do dịch vụ tiên quyết không thực hiện",
    "S.004.351": "Thuốc không có trong danh mục thuốc BHYT (TT 20/2022)",
    "S.004.367": "Thuốc ngoài điều kiện của danh mục cho nhóm người bệnh",
    "S.004.369": "Thuốc sử dụng ngoài điều kiện thanh toán của TT 20/2022 PL I",
    "S.004.602": "Thuốc đã bao gồm trong giá dịch vụ",
    "S.004.604": "Thuốc sử dụng ngoài chỉ định đã được phê duyệt",
    "S.004.605": "Thuốc sử dụng khi có chống chỉ định",
    "S.005.416": "DVKT vượt số lần cho phép trong ngày điều trị",
    "S.005.428": "DVKT ngoài điều kiện thanh toán của danh mục kỹ thuật",
    "S.005.429": "DVKT vi phạm giới hạn tần suất/khoảng cách",
    "S.005.430": "DVKT chỉ thanh toán ngoại trú, đề nghị trong nội trú",
    "S.005.433": "Số lần thực hiện vượt quy định",
    "S.005.434": "Tách thành phần của kỹ thuật khác đã thanh toán",
    "S.005.442": "Sai mức giá dịch vụ",
    "S.005.443": "Dịch vụ không phát sinh chi phí ngoài dịch vụ khác",
    "S.005.649": "Dịch vụ không có chỉ định phù hợp",
    "S.005.650": "Vượt tần suất theo hướng dẫn chuyên môn",
    "S.005.651": "Ngoài điều kiện thanh toán",
    "S.005.653": "Dịch vụ có chống chỉ định",
    "S.005.655": "Xét nghiệm đã bao gồm trong giá dịch vụ khác",
    "S.005.657": "Không đúng quy trình kỹ thuật",
    "S.005.658": "Thiếu điều kiện tiên quyết",
    "S.013.458": "Công khám khi khám và nhập viện qua khoa cấp cứu",
    "S.015.478": "Sai số ngày giường điều trị nội trú",
    "S.015.480": "Sai mức giá giường",
    "T.008.667": "Sai tỷ lệ thanh toán phẫu thuật thứ hai trở đi",
}
"""The BHXH rejection reason codes a review decision may carry (reference §4.4, CV
266/TTKS-NV 2025, PL1 services and PL2 drugs; the meanings of the groups are [U])."""
ACTIONS = ("accept", "reject", "reduce", "qty")
STATES = ("decided", "awaiting_approval", "approved", "refused")
"""A review's states: in force at once, waiting for a second assessor, approved,
refused by the second assessor (never in force)."""
REVIEW_CODES = {
    "accept": "REVIEW_ACCEPTED",
    "reject": "REVIEW_REJECTED",
    "reduce": "REVIEW_REDUCED",
    "qty": "REVIEW_REDUCED",
}
"""The reason code of a reviewed line, by action."""
QTY = pl.Decimal(38, 3)
REVIEW_DECISION_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "stt": pl.Int64(),
    "action": pl.String(),
    "amount": MONEY,
    "quantity": QTY,
    "engine_bhtt": MONEY,
    "claimed_bhtt": MONEY,
    "reason_code": pl.String(),
    "justification": pl.String(),
    "assessor": pl.String(),
    "decided_at": pl.String(),
    "approved_by": pl.String(),
    "approved_at": pl.String(),
    "state": pl.String(),
}
"""One row per reviewed line (``review_decisions``): ``amount`` is the line's accepted
T_BHTT after the review, ``quantity`` the quantity paid for (``qty``), ``engine_bhtt``
the engine's provisional accepted T_BHTT."""
_LINE = re.compile(
    r"^(?P<table>XML[23]):(?P<stt>-?\d+)=(?P<action>accept|reject|reduce|qty)"
    r"(?::(?P<value>[^:]+))?$",
    re.IGNORECASE,
)
_CHOSEN_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "stt": pl.Int64(),
    "action": pl.String(),
    "amount": MONEY,
    "quantity": QTY,
}


class ReviewError(ClaimsError):
    """An assessor's decision that cannot be recorded (the message names the value and
    the fix)."""


@dataclass(frozen=True)
class LineDecision:
    """One line's decision: ``table`` (``XML2``/``XML3``), ``stt`` as sent, ``action``
    (:data:`ACTIONS`) and its ``amount`` (reduce) or ``quantity`` (qty)."""

    table: str
    stt: int
    action: str
    amount: Decimal | None = None
    quantity: Decimal | None = None


def parse_line(text: str) -> LineDecision:
    """``TABLE:STT=accept|reject|reduce:AMOUNT|qty:Q`` as a :class:`LineDecision`.

    Raises:
        ReviewError: the text is not of that form, or its amount is not a number ≥ 0.
    """
    found = _LINE.match(text.strip())
    if found is None:
        msg = (
            f"--line {text!r} is not TABLE:STT=ACTION; write e.g. XML3:5=reject, "
            "XML2:1=reduce:120000, XML3:2=qty:1 or XML2:3=accept (TABLE is XML2 or XML3)"
        )
        raise ReviewError(msg)
    action, value = found["action"].lower(), found["value"]
    if (action in ("reduce", "qty")) != (value is not None):
        need = f"{action}:VALUE" if action in ("reduce", "qty") else action
        msg = f"--line {text!r}: write {need} (reduce and qty take a value, no other)"
        raise ReviewError(msg)
    number = _number(value, text) if value is not None else None
    return LineDecision(
        table=found["table"].upper(),
        stt=int(found["stt"]),
        action=action,
        amount=number if action == "reduce" else None,
        quantity=number if action == "qty" else None,
    )


def _number(value: str, text: str) -> Decimal:
    try:
        number = Decimal(value.replace(",", "").replace("_", ""))
    except InvalidOperation:
        number = Decimal(-1)
    if not number.is_finite() or number < 0:
        msg = f"--line {text!r}: {value!r} is not a number ≥ 0 (đồng or a quantity)"
        raise ReviewError(msg)
    return number


def check_reason_code(code: str | None) -> str | None:
    """``code`` when it is a BHXH reason code of :data:`BHXH_REASONS` (or None).

    Raises:
        ReviewError: a code off the list; the message names the list.
    """
    if code is None or code in BHXH_REASONS:
        return code
    msg = (
        f"BHXH reason code {code!r} is not in the list of reference §4.4 (CV 266); "
        f"use one of {', '.join(BHXH_REASONS)} or leave --reason-code out"
    )
    raise ReviewError(msg)


def check_justification(text: str | None) -> str:
    """The justification, stripped.

    Raises:
        ReviewError: it is missing or blank.
    """
    if text is None or not text.strip():
        msg = (
            "a review decision needs a justification: add --justification TEXT "
            "(lý do giám định, read by the clinic)"
        )
        raise ReviewError(msg)
    return text.strip()


@dataclass(frozen=True)
class Reviewed:
    """The reviewed decision version of a claim (see the module docstring)."""

    review_id: str
    decision: pl.DataFrame
    """One ``DECISION_SCHEMA`` row with ``review_id``."""
    lines: pl.DataFrame
    """The claim's ``DECISION_LINE_SCHEMA`` rows with ``review_id``."""
    reasons: pl.DataFrame
    """The claim's ``REASON_SCHEMA`` rows and one per reviewed line, with ``review_id``."""
    records: pl.DataFrame
    """:data:`REVIEW_DECISION_SCHEMA` rows, one per reviewed line."""
    reduction: Decimal
    state: str


def review(
    decision: pl.DataFrame,
    lines: pl.DataFrame,
    reasons: pl.DataFrame,
    chosen: Sequence[LineDecision],
    *,
    assessor: str,
    justification: str | None,
    reason_code: str | None,
    decided_at: str,
    four_eyes: Decimal,
) -> Reviewed:
    """The reviewed version of one claim (``decision``: its engine decision row,
    ``lines``/``reasons``: its decision lines and reasons).

    Raises:
        ReviewError: no line chosen, a line named twice or not on the claim, an amount
            above the claimed one, a quantity above the claimed one, a blank
            justification or a reason code off the list.
    """
    said = check_justification(justification)
    code = check_reason_code(reason_code)
    if not chosen:
        msg = (
            "name at least one line: --line TABLE:STT=accept|reject|reduce:AMOUNT|qty:Q"
        )
        raise ReviewError(msg)
    claim = decision.row(0, named=True)
    picked = _picked(lines, chosen, claim)
    review_id = content_id(
        "review",
        claim={k: claim[k] for k in ("ma_cskcb", "ma_lk", "file_id", "hoso_idx")},
        lines=frame_digest(picked.select(list(_CHOSEN_SCHEMA))),
        assessor=assessor,
        decided_at=decided_at,
    )
    new_lines = _new_lines(lines, picked, review_id)
    new_decision = _new_decision(decision, picked, review_id)
    reduction = claim["accepted_t_bhtt"] - new_decision["accepted_t_bhtt"][0]
    state = "awaiting_approval" if reduction > four_eyes else "decided"
    records = picked.select(
        pl.lit(review_id).alias("review_id"),
        pl.lit(claim["ma_cskcb"]).alias("ma_cskcb"),
        pl.lit(claim["ma_lk"]).alias("ma_lk"),
        "file_id", "hoso_idx", "table", "line_no", "stt", "action",
        pl.col("_new").alias("amount"), "quantity",
        pl.col("accepted_bhtt").alias("engine_bhtt"), "claimed_bhtt",
        pl.lit(code, pl.String).alias("reason_code"),
        pl.lit(said).alias("justification"),
        pl.lit(assessor).alias("assessor"),
        pl.lit(decided_at).alias("decided_at"),
        pl.lit(None, pl.String).alias("approved_by"),
        pl.lit(None, pl.String).alias("approved_at"),
        pl.lit(state).alias("state"),
    ).cast(pl.Schema(REVIEW_DECISION_SCHEMA))  # fmt: skip
    added = _review_reasons(picked, reasons, review_id, assessor, said, code)
    return Reviewed(
        review_id=review_id,
        decision=new_decision,
        lines=new_lines,
        reasons=pl.concat(
            [reasons.with_columns(pl.lit(review_id).alias("review_id")), added],
            how="vertical_relaxed",
        ),
        records=records,
        reduction=reduction,
        state=state,
    )


def _picked(
    lines: pl.DataFrame, chosen: Sequence[LineDecision], claim: dict[str, object]
) -> pl.DataFrame:
    """The chosen lines joined to the claim's decision lines, ``_new`` their accepted
    T_BHTT after the review; refuses what cannot be."""
    frame = pl.DataFrame(
        [(c.table, c.stt, c.action, c.amount, c.quantity) for c in chosen],
        schema=_CHOSEN_SCHEMA,
        orient="row",
    )
    twice = frame.filter(pl.struct("table", "stt").is_duplicated())
    if twice.height:
        named = ", ".join(
            sorted({f"{t}:{s}" for t, s in twice.select("table", "stt").iter_rows()})
        )
        msg = f"line(s) {named} named twice; give each line one decision"
        raise ReviewError(msg)
    found = frame.join(lines, on=["table", "stt"], how="left", maintain_order="left")
    where = f"claim {claim['ma_cskcb']}/{claim['ma_lk']}"
    missing = found.filter(pl.col("line_no").is_null())
    if missing.height:
        have = ", ".join(
            f"{t}:{s}" for t, s in lines.select("table", "stt").iter_rows()
        )
        gone = ", ".join(
            f"{t}:{s}" for t, s in missing.select("table", "stt").iter_rows()
        )
        msg = f"{where} has no line {gone}; its lines are {have or 'none'}"
        raise ReviewError(msg)
    if found.height != frame.height:
        msg = f"{where} has several lines with the same TABLE:STT; name another line"
        raise ReviewError(msg)
    _refuse_above(found, where)
    qty_paid = (
        pl.col("accepted_bhtt").cast(pl.Decimal(38, 6))
        * pl.col("quantity").cast(pl.Decimal(38, 6))
        / pl.col("claimed_qty").cast(pl.Decimal(38, 6))
    )
    new = (
        pl.when(pl.col("action") == "accept")
        .then(pl.col("accepted_bhtt"))
        .when(pl.col("action") == "reject")
        .then(pl.lit(0).cast(MONEY))
        .when(pl.col("action") == "reduce")
        .then(pl.col("amount"))
        .otherwise(round_half_up(qty_paid))
    )
    return found.with_columns(new.cast(MONEY).alias("_new"))


def _refuse_above(found: pl.DataFrame, where: str) -> None:
    """Refuse an amount above the line's claimed T_BHTT, a quantity above (or of) the
    claimed one."""
    over = found.filter(
        (pl.col("action") == "reduce") & (pl.col("amount") > pl.col("claimed_bhtt"))
    )
    if over.height:
        row = over.row(0, named=True)
        msg = (
            f"{where} line {row['table']}:{row['stt']}: reduce to {row['amount']} đồng "
            f"is above the claimed T_BHTT {row['claimed_bhtt']}; give an amount from 0 "
            f"to {row['claimed_bhtt']}"
        )
        raise ReviewError(msg)
    bad_qty = found.filter(
        (pl.col("action") == "qty")
        & (
            (pl.col("claimed_qty").fill_null(0) <= 0)
            | (pl.col("quantity") > pl.col("claimed_qty"))
        )
    )
    if bad_qty.height:
        row = bad_qty.row(0, named=True)
        msg = (
            f"{where} line {row['table']}:{row['stt']}: qty {row['quantity']} is not "
            f"within the claimed quantity {row['claimed_qty']}; give a quantity from 0 "
            f"to {row['claimed_qty']}, or reduce:AMOUNT"
        )
        raise ReviewError(msg)


def _new_lines(
    lines: pl.DataFrame, picked: pl.DataFrame, review_id: str
) -> pl.DataFrame:
    """The claim's lines, the reviewed ones at their new accepted amounts."""
    zero = pl.lit(0).cast(MONEY)
    changes = picked.select(
        "table", "line_no", "_new", pl.col("action").alias("_action")
    )
    delta = pl.col("_new") - pl.col("accepted_bhtt")
    reviewed = pl.col("_new").is_not_null()
    return (
        lines.join(changes, on=["table", "line_no"], how="left", maintain_order="left")
        .with_columns(
            pl.when(reviewed)
            .then(pl.col("_new"))
            .otherwise("accepted_bhtt")
            .cast(MONEY)
            .alias("accepted_bhtt"),
            pl.when(pl.col("_action") == "reject")
            .then(zero)
            .when(reviewed)
            .then(pl.max_horizontal(pl.col("accepted_bh") + delta, zero))
            .otherwise("accepted_bh")
            .cast(MONEY)
            .alias("accepted_bh"),
            pl.when(pl.col("_action") == "reject")
            .then(pl.lit("REVIEW_REJECTED"))
            .otherwise("refused_by")
            .alias("refused_by"),
        )
        .with_columns(
            pl.max_horizontal(pl.col("claimed_bhtt") - pl.col("accepted_bhtt"), zero)
            .cast(MONEY)
            .alias("rejected_amount"),
            pl.lit(review_id).alias("review_id"),
        )
        .drop("_new", "_action")
    )


def _new_decision(
    decision: pl.DataFrame, picked: pl.DataFrame, review_id: str
) -> pl.DataFrame:
    """The claim's decision row with the reviewed accepted amounts and outcome."""
    zero = pl.lit(0).cast(MONEY)
    bhtt = picked.select((pl.col("_new") - pl.col("accepted_bhtt")).sum()).item()
    bh = picked.select(
        pl.when(pl.col("action") == "reject")
        .then(-pl.col("accepted_bh"))
        .otherwise(
            pl.max_horizontal(
                pl.col("accepted_bh") + pl.col("_new") - pl.col("accepted_bhtt"), zero
            )
            - pl.col("accepted_bh")
        )
        .sum()
    ).item()
    rejected_line = bool((picked["action"] == "reject").any())
    accepted = pl.min_horizontal(
        pl.max_horizontal(pl.col("accepted_t_bhtt") + pl.lit(bhtt).cast(MONEY), zero),
        pl.col("claimed_t_bhtt"),
    ).cast(MONEY)
    return (
        decision.with_columns(
            accepted.alias("accepted_t_bhtt"),
            pl.max_horizontal(
                pl.col("accepted_t_tongchi_bh") + pl.lit(bh).cast(MONEY), zero
            )
            .cast(MONEY)
            .alias("accepted_t_tongchi_bh"),
        )
        .with_columns(
            pl.max_horizontal(
                pl.col("claimed_t_bhtt") - pl.col("accepted_t_bhtt"), zero
            )
            .cast(MONEY)
            .alias("rejected_amount")
        )
        .with_columns(
            pl.when((pl.col("accepted_t_bhtt") == 0) & (pl.col("claimed_t_bhtt") > 0))
            .then(pl.lit("rejected"))
            .when((pl.col("rejected_amount") > TOLERANCE) | pl.lit(rejected_line))
            .then(pl.lit("partially_accepted"))
            .otherwise(pl.lit("accepted"))
            .alias("outcome"),
            pl.lit(review_id).alias("review_id"),
        )
    )


_SAID = {
    "accept": "chấp nhận",
    "reject": "từ chối thanh toán",
    "reduce": "giảm còn",
    "qty": "thanh toán theo số lượng",
}


def _review_reasons(
    picked: pl.DataFrame,
    reasons: pl.DataFrame,
    review_id: str,
    assessor: str,
    justification: str,
    code: str | None,
) -> pl.DataFrame:
    """One reason per reviewed line, in the reasons' schema (source ``review``)."""
    action_text = pl.col("action").replace_strict(_SAID, return_dtype=pl.String)
    detail = (
        pl.when(pl.col("action") == "qty")
        .then(pl.format(" {}", pl.col("quantity").cast(pl.String)))
        .when(pl.col("action") == "reduce")
        .then(pl.format(" {} đồng", pl.col("_new").cast(pl.String)))
        .otherwise(pl.lit(""))
    )
    value = pl.struct(
        pl.lit("accepted_bhtt").alias("name"),
        pl.col("_new").cast(pl.String).alias("value"),
    )
    claimed = pl.struct(
        pl.lit("claimed_bhtt").alias("name"),
        pl.col("claimed_bhtt").cast(pl.String).alias("value"),
    )
    run_id = (
        reasons["run_id"][0] if reasons.height and "run_id" in reasons.columns else None
    )
    frame = picked.select(
        pl.lit(run_id, pl.String).alias("run_id"),
        "file_id",
        "hoso_idx",
        pl.lit("line").alias("level"),
        "table",
        "line_no",
        "stt",
        pl.col("code").alias("item_code"),
        pl.col("action").replace_strict(REVIEW_CODES, return_dtype=pl.String).alias("code"),
        pl.lit(code, pl.String).alias("bhxh_code"),
        pl.lit(None, pl.String).alias("field"),
        pl.concat_list(claimed, value).cast(REASON_VALUES).alias("values"),
        pl.lit("review").alias("source"),
        pl.format(
            "Giám định viên {}: dòng {} STT {} {}{}. Lý do: {}",
            pl.lit(assessor), "table", "stt", action_text, detail, pl.lit(justification),
        ).alias("message"),
        pl.lit(review_id).alias("review_id"),
    )  # fmt: skip
    schema = {c: t for c, t in reasons.schema.items() if c in frame.columns}
    return frame.cast(schema)  # type: ignore[arg-type]
