"""Raw text frames → typed frames + quarantine, with nothing lost.

Every field is checked (required, size, format, dated code list); then cross-field checks
(date order, cards, key uniqueness, lines linked to their claim and inside its stay).
A problem in a line quarantines that line; a problem in XML1, or a claim-level error from
ingest, rejects the claim whole and quarantines all its rows with the reasons. The stage
asserts ``rows_in == stored + quarantined`` for every table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import polars as pl

from catalogs.resolve import as_of
from claims.errors import ClaimsError
from claims.errors import ReasonCode as R
from claims.intake.submission import KEYS, Submission, clean, empty_table
from claims.messages import MESSAGES
from claims.money import MONEY
from claims.schema import CLAIM_KEYS, table_schema
from claims.validate.checks import ADMISSION, card_reason, field_reason, typed
from claims.validate.codes import code_valid
from claims.xml130 import LINE_TABLES, PARSED_TABLES, TableSpec

_ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "ma_lk": pl.String(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "field": pl.String(),
    "reason_code": pl.String(),
    "message": pl.String(),
    "raw_value": pl.String(),
}
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    **_ENTRY_SCHEMA,
    "claimed_bh": MONEY,
    "claimed_bhtt": MONEY,
}
"""A quarantine entry: where, which field, why, the raw value, and the amounts a
quarantined drug or service line claimed (``KEPT_AMOUNTS``; null elsewhere)."""
_SLOT_SCHEMA = {
    "file_id": pl.String,
    "hoso_idx": pl.UInt32,
    "sender": pl.String,
    "file_order": pl.UInt32,
}
COUNTS_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "rows_in": pl.Int64(),
    "stored": pl.Int64(),
    "quarantined": pl.Int64(),
}
_MESSAGES = pl.DataFrame(
    {"reason_code": [c.value for c in MESSAGES], "_template": list(MESSAGES.values())}
)


class Validated(NamedTuple):
    """The validation stage's result."""

    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    claims: pl.DataFrame
    counts: pl.DataFrame


class ConservationError(ClaimsError):
    """Rows went missing between stages: a bug, never bad input."""


def empty_tables() -> dict[str, pl.DataFrame]:
    """The stored tables' typed schemas, as validation produces them, with no rows."""
    return {t: pl.DataFrame(schema=table_schema(t)) for t in PARSED_TABLES}


def validate(
    submissions: Sequence[Submission],
    codes: pl.DataFrame,
    facilities: pl.DataFrame | None = None,
) -> Validated:
    """Check every row of the readable submissions.

    Args:
        submissions: the readable submissions of the run.
        codes: the code lists (:func:`claims.validate.codes.code_list_frame`).
        facilities: the resolved ``facilities`` catalog; a claim whose facility is
            unknown or has no contract valid at admission is rejected. None: unchecked.

    Example:
        >>> result = validate([read_submission(path, max_bytes=2**31)], load_code_lists())
        >>> result.counts  # rows_in == stored + quarantined per table
    """
    raw = {t: _concat(t, [s.tables[t] for s in submissions]) for t in PARSED_TABLES}
    claims = _claim_frame(submissions, raw)
    problems = [_hoso_problems(submissions, claims)]
    problems.append(_unread_claims(claims, raw["XML1"], problems[0]))
    problems.append(_xml1_problems(raw["XML1"], claims, codes, submissions, facilities))
    for table in LINE_TABLES:
        problems.append(_line_problems(table, raw[table], claims, codes))
    found = pl.concat(problems)
    rejected = (
        found.filter(pl.col("table") == "XML1")
        .select(CLAIM_KEYS)
        .vstack(found.filter(pl.col("line_no").is_null()).select(CLAIM_KEYS))
    )
    quarantine = _with_amounts(
        _with_rejected_rows(found, raw, rejected.unique(), claims), raw
    )
    stored = {t: _stored(t, raw[t], quarantine) for t in PARSED_TABLES}
    counts = _counts(raw, stored, quarantine)
    status = _claim_status(claims, quarantine, stored["XML1"])
    return Validated(stored, quarantine, status, counts)


def _concat(table: str, frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    base = pl.concat(frames, rechunk=True) if frames else empty_table(table)
    return base.with_columns(clean(f) for f in PARSED_TABLES[table].fields)


def _claim_frame(
    submissions: Sequence[Submission], raw: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """One row per HOSO: its keys, sender and the XML1 fields other checks need.

    A claim without a readable XML1 takes the MA_LK of its first line, so its receipt
    and its lines still name it.
    """
    slots = pl.concat(
        [
            pl.DataFrame(
                {
                    "hoso_idx": pl.int_range(
                        s.meta.hoso_count, dtype=pl.UInt32, eager=True
                    )
                }
            )
            .with_columns(
                pl.lit(s.meta.file_id).alias("file_id"),
                pl.lit(s.meta.sender, pl.String).alias("sender"),
                pl.lit(n, pl.UInt32).alias("file_order"),
            )
            .select("file_id", "hoso_idx", "sender", "file_order")
            for n, s in enumerate(submissions)
        ]
        or [pl.DataFrame(schema=_SLOT_SCHEMA)]
    )
    spec = PARSED_TABLES["XML1"]
    head = (
        raw["XML1"]
        .select(
            *CLAIM_KEYS,
            "ma_lk",
            "ma_cskcb",
            typed(spec.field("ngay_vao")).alias("_vao"),
            typed(spec.field("ngay_ra")).alias("_ra"),
        )
        .with_columns(pl.col("_vao").dt.date().alias(ADMISSION))
    )
    linked = [t for t in LINE_TABLES if "ma_lk" in PARSED_TABLES[t].columns]
    from_lines = (
        pl.concat([raw[t].select(*CLAIM_KEYS, "ma_lk") for t in linked])
        .drop_nulls()
        .group_by(CLAIM_KEYS)
        .agg(pl.col("ma_lk").first().alias("_line_lk"))
    )
    return (
        slots.join(head, on=CLAIM_KEYS, how="left", maintain_order="left")
        .join(from_lines, on=CLAIM_KEYS, how="left", maintain_order="left")
        .with_columns(pl.coalesce("ma_lk", "_line_lk").alias("ma_lk"))
        .drop("_line_lk")
    )


def _long(
    reasons: pl.DataFrame, raw: pl.DataFrame, spec: TableSpec, table: str
) -> pl.DataFrame:
    """Wide per-field reason columns → one row per (row, field, reason)."""
    columns = list(spec.columns)
    bad = reasons.filter(pl.any_horizontal(pl.col(columns).is_not_null()))
    if bad.height == 0:
        return pl.DataFrame(schema=_ENTRY_SCHEMA)
    index = [*KEYS, "_ma_lk"]
    long = bad.unpivot(
        index=index, on=columns, variable_name="field", value_name="reason_code"
    )
    values = raw.join(bad.select(KEYS), on=list(KEYS), how="semi", nulls_equal=True)
    masked = [_masked(f.column, f.pii) for f in spec.fields]
    raw_long = values.select(*KEYS, *masked).unpivot(
        index=list(KEYS), on=columns, variable_name="field", value_name="raw_value"
    )
    long = long.drop_nulls("reason_code").join(
        raw_long, on=[*KEYS, "field"], how="left", nulls_equal=True
    )
    return _shape(long.rename({"_ma_lk": "ma_lk"}), table)


def _masked(column: str, pii: bool) -> pl.Expr:  # noqa: FBT001 - mirrors Field.pii
    if not pii:
        return pl.col(column)
    value = pl.col(column)
    return (
        pl.when(value.is_not_null())
        .then(pl.concat_str(value.str.slice(0, 1), pl.lit("***")))
        .alias(column)
    )


def _shape(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Add table and message; select the quarantine columns."""
    out = frame.with_columns(pl.lit(table).alias("table")).join(
        _MESSAGES, on="reason_code", how="left"
    )
    for name, dtype in _ENTRY_SCHEMA.items():
        if name not in out.columns and name != "message":
            out = out.with_columns(pl.lit(None, dtype).alias(name))
    field_name = pl.col("field").fill_null("").str.to_uppercase()
    message = pl.col("_template").str.replace("{field}", field_name, literal=True)
    if "message" in out.columns:
        message = pl.coalesce(pl.col("message"), message)
    out = out.with_columns(message.alias("message"))
    return out.select([pl.col(n).cast(d) for n, d in _ENTRY_SCHEMA.items()])


def _with_admission(raw: pl.DataFrame, claims: pl.DataFrame) -> pl.DataFrame:
    extra = claims.select(
        *CLAIM_KEYS, pl.col("ma_lk").alias("_ma_lk"), ADMISSION, "_vao", "_ra"
    )
    return raw.join(extra, on=CLAIM_KEYS, how="left", maintain_order="left")


def _field_reasons(
    frame: pl.DataFrame, spec: TableSpec, codes: pl.DataFrame
) -> pl.DataFrame:
    exprs = []
    for f in spec.fields:
        ok = (
            code_valid(pl.col(f.column), pl.col(ADMISSION), codes, f.code_list)
            if f.code_list
            else None
        )
        exprs.append(field_reason(f, ok))
    return frame.select(*KEYS, "_ma_lk", *exprs)


def _xml1_problems(
    xml1: pl.DataFrame,
    claims: pl.DataFrame,
    codes: pl.DataFrame,
    submissions: Sequence[Submission],
    facilities: pl.DataFrame | None,
) -> pl.DataFrame:
    spec = PARSED_TABLES["XML1"]
    frame = _with_contract(_with_admission(xml1, claims), facilities)
    found = [_long(_field_reasons(frame, spec, codes), frame, spec, "XML1")]
    senders = pl.DataFrame(
        [(s.meta.file_id, s.meta.sender) for s in submissions],
        schema={"file_id": pl.String, "_sender": pl.String},
        orient="row",
    )
    # rows are in file and claim order, so the first occurrence is the one kept
    duplicate = (
        pl.col("ma_lk").is_not_null()
        & ~pl.struct("file_id", "ma_lk").is_first_distinct()
    )
    mismatch = pl.col("_sender").is_not_null() & (
        pl.col("ma_cskcb") != pl.col("_sender")
    )
    after = typed(spec.field("ngay_vao_noi_tru")) < pl.col("_vao")
    cross = frame.join(senders, on="file_id", how="left").select(
        *KEYS,
        "_ma_lk",
        card_reason().alias("ma_the_bhyt"),
        _flag(pl.col("_vao") > pl.col("_ra"), R.DATE_ORDER, "ngay_ra"),
        _flag(after, R.DATE_ORDER, "ngay_vao_noi_tru"),
        _flag(duplicate, R.CLAIM_DUPLICATE_KEY, "ma_lk"),
        pl.coalesce(
            _flag(mismatch, R.HOSO_FACILITY_MISMATCH, "ma_cskcb"),
            pl.col("_facility_reason"),
        ).alias("ma_cskcb"),
    )
    found.append(_cross_long(cross, frame, "XML1"))
    return pl.concat(found)


def _with_contract(
    frame: pl.DataFrame, facilities: pl.DataFrame | None
) -> pl.DataFrame:
    """Add ``_facility_reason``: FACILITY_UNKNOWN or NO_CONTRACT at admission, else null."""
    if facilities is None:
        return frame.with_columns(pl.lit(None, pl.String).alias("_facility_reason"))
    found = as_of(
        frame.select("ma_cskcb", ADMISSION),
        facilities,
        code=("ma_cskcb", "ma_cskcb"),
        on=ADMISSION,
        columns=["contract_from", "contract_to"],
        facility=None,
    )
    day = pl.col(ADMISSION)
    # an empty contract_to is an open-ended contract, as an empty valid_to is
    ends = pl.col("contract_to")
    covered = (pl.col("contract_from") <= day) & (ends.is_null() | (day <= ends))
    checkable = pl.col("ma_cskcb").is_not_null() & day.is_not_null()
    reason = (
        pl.when(checkable & pl.col("catalog_scope").is_null())
        .then(pl.lit(R.FACILITY_UNKNOWN.value))
        .when(checkable & ~covered.fill_null(False))
        .then(pl.lit(R.NO_CONTRACT.value))
    )
    return frame.with_columns(found.select(reason.alias("_facility_reason")))


def _flag(condition: pl.Expr, code: R, column: str) -> pl.Expr:
    return pl.when(condition).then(pl.lit(code.value)).alias(column)


def _cross_long(cross: pl.DataFrame, raw: pl.DataFrame, table: str) -> pl.DataFrame:
    """Cross-field reason columns (named after the field at fault) → quarantine rows."""
    on = [c for c in cross.columns if c not in (*KEYS, "_ma_lk")]
    flagged = cross.filter(pl.any_horizontal(pl.col(on).is_not_null()))
    if flagged.height == 0:
        return pl.DataFrame(schema=_ENTRY_SCHEMA)
    long = (
        flagged.unpivot(
            index=[*KEYS, "_ma_lk"],
            on=on,
            variable_name="field",
            value_name="reason_code",
        )
        .drop_nulls("reason_code")
        .rename({"_ma_lk": "ma_lk"})
    )
    spec = PARSED_TABLES[table]
    fields = [spec.field(c) for c in on]
    values = (
        raw.join(flagged.select(KEYS), on=list(KEYS), how="semi", nulls_equal=True)
        .select(*KEYS, *[_masked(f.column, f.pii) for f in fields])
        .unpivot(index=list(KEYS), variable_name="field", value_name="raw_value")
    )
    long = long.join(values, on=[*KEYS, "field"], how="left", nulls_equal=True)
    return _shape(long, table)


def _line_problems(
    table: str, raw: pl.DataFrame, claims: pl.DataFrame, codes: pl.DataFrame
) -> pl.DataFrame:
    spec = PARSED_TABLES[table]
    frame = _with_admission(raw, claims)
    found = [_long(_field_reasons(frame, spec, codes), frame, spec, table)]
    checks = []
    if "ma_lk" in spec.columns:  # XML12 has none: it belongs to its HOSO
        orphan = pl.col("_ma_lk").is_null() | (pl.col("ma_lk") != pl.col("_ma_lk"))
        checks.append(_flag(orphan, R.LINE_ORPHAN, "ma_lk"))
    if "stt" in spec.columns:
        # rows are in claim and line order, so the first occurrence is the one kept
        repeated = (
            pl.col("stt").is_not_null()
            & ~pl.struct("file_id", "hoso_idx", "stt").is_first_distinct()
        )
        checks.append(_flag(repeated, R.LINE_DUPLICATE_KEY, "stt"))
    if "ngay_yl" in spec.columns:
        moment = typed(spec.field("ngay_yl"))
        outside = (moment < pl.col("_vao")) | (moment > pl.col("_ra"))
        checks.append(_flag(outside, R.LINE_DATE_OUTSIDE_STAY, "ngay_yl"))
    if checks:
        cross = frame.select(*KEYS, "_ma_lk", *checks)
        found.append(_cross_long(cross, frame, table))
    return pl.concat(found)


def _hoso_problems(
    submissions: Sequence[Submission], claims: pl.DataFrame
) -> pl.DataFrame:
    errors = [s.hoso_errors for s in submissions if s.hoso_errors.height]
    if not errors:
        return pl.DataFrame(schema=_ENTRY_SCHEMA)
    frame = pl.concat(errors).join(
        claims.select(*CLAIM_KEYS, "ma_lk"), on=CLAIM_KEYS, how="left"
    )
    return frame.with_columns(
        pl.lit(None, pl.UInt32).alias("line_no"),
        pl.lit(None, pl.String).alias("field"),
        pl.lit(None, pl.String).alias("raw_value"),
    ).select([pl.col(n).cast(d) for n, d in _ENTRY_SCHEMA.items()])


def _unread_claims(
    claims: pl.DataFrame, xml1: pl.DataFrame, hoso_problems: pl.DataFrame
) -> pl.DataFrame:
    """A claim with no XML1 row and no claim error from ingest: HOSO_NO_XML1.

    Ingest already flags these; this keeps a claim from passing as accepted with
    nothing stored, whatever the reader did (the receipt names only stored claims).
    """
    flagged = hoso_problems.filter(pl.col("table") == "XML1").select(CLAIM_KEYS)
    unread = (
        claims.select(*CLAIM_KEYS, "ma_lk")
        .join(xml1.select(CLAIM_KEYS), on=CLAIM_KEYS, how="anti")
        .join(flagged, on=CLAIM_KEYS, how="anti")
    )
    return _shape(
        unread.with_columns(
            pl.lit(R.HOSO_NO_XML1.value).alias("reason_code"),
            pl.lit(None, pl.UInt32).alias("line_no"),
        ),
        "XML1",
    )


def _with_rejected_rows(
    found: pl.DataFrame,
    raw: dict[str, pl.DataFrame],
    rejected: pl.DataFrame,
    claims: pl.DataFrame,
) -> pl.DataFrame:
    """Add a LINE_OF_REJECTED_CLAIM entry for each row of a rejected claim with none."""
    parts = [found]
    lk = claims.select(*CLAIM_KEYS, "ma_lk")
    for table, frame in raw.items():
        rows = frame.select(KEYS).join(rejected, on=CLAIM_KEYS, how="semi")
        own = found.filter(pl.col("table") == table).select(KEYS)
        rows = rows.join(own, on=list(KEYS), how="anti", nulls_equal=True)
        if rows.height:
            rows = rows.join(lk, on=CLAIM_KEYS, how="left").with_columns(
                pl.lit(R.LINE_OF_REJECTED_CLAIM.value).alias("reason_code")
            )
            parts.append(_shape(rows, table))
    out = pl.concat(parts)
    return out.sort(
        "file_id",
        "hoso_idx",
        "table",
        "line_no",
        "field",
        "reason_code",
        nulls_last=True,
    )


KEPT_AMOUNTS = {"thanh_tien_bh": "claimed_bh", "t_bhtt": "claimed_bhtt"}
"""A quarantined drug or service line keeps what it claimed, where the amount parses
(settlement counts the line at it; else at 0, its claim's total carrying the money)."""
_AMOUNT = r"^-?\d{1,15}(\.\d{1,2})?$"


def _with_amounts(
    quarantine: pl.DataFrame, raw: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """Add ``claimed_bh`` and ``claimed_bhtt`` to each quarantine row of a money line."""
    amounts = pl.concat(
        [
            raw[table].select(
                *KEYS,
                pl.lit(table).alias("table"),
                *[
                    pl.when(pl.col(src).str.contains(_AMOUNT))
                    .then(pl.col(src))
                    .otherwise(None)
                    .str.to_decimal(scale=2)
                    .cast(MONEY)
                    .alias(dst)
                    for src, dst in KEPT_AMOUNTS.items()
                ],
            )
            for table in ("XML2", "XML3")
        ]
    )
    return quarantine.join(
        amounts,
        on=[*KEYS, "table"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )


def _stored(table: str, raw: pl.DataFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    bad = quarantine.filter(
        (pl.col("table") == table) & pl.col("line_no").is_not_null()
    )
    kept = raw.join(
        bad.select(KEYS).unique(), on=list(KEYS), how="anti", nulls_equal=True
    )
    return kept.select(*KEYS, *[typed(f) for f in PARSED_TABLES[table].fields])


def _counts(
    raw: dict[str, pl.DataFrame],
    stored: dict[str, pl.DataFrame],
    quarantine: pl.DataFrame,
) -> pl.DataFrame:
    rows = []
    for table, frame in raw.items():
        bad = (
            quarantine.filter(
                (pl.col("table") == table) & pl.col("line_no").is_not_null()
            )
            .select(KEYS)
            .unique()
        )
        rows.append((table, frame.height, stored[table].height, bad.height))
        if frame.height != stored[table].height + bad.height:
            msg = (
                f"{table}: {frame.height} rows in, {stored[table].height} stored, "
                f"{bad.height} quarantined"
            )
            raise ConservationError(msg)
    return pl.DataFrame(rows, schema=COUNTS_SCHEMA, orient="row")


def _claim_status(
    claims: pl.DataFrame, quarantine: pl.DataFrame, xml1: pl.DataFrame
) -> pl.DataFrame:
    """Per claim: status, fatal reasons, quarantined lines and ``stored`` (its XML1 row
    is stored). Every claim of every file is stored or rejected with a reason: a claim
    that is neither is a bug (:class:`ConservationError`), never a silent loss."""
    fatal = quarantine.filter(
        (pl.col("table") == "XML1") | pl.col("line_no").is_null()
    ).filter(pl.col("reason_code") != R.LINE_OF_REJECTED_CLAIM.value)
    fatal_codes = fatal.group_by(CLAIM_KEYS).agg(
        pl.col("reason_code").unique(maintain_order=True).alias("claim_reasons")
    )
    line_codes = (
        quarantine.filter((pl.col("table") != "XML1") & pl.col("line_no").is_not_null())
        .group_by(CLAIM_KEYS)
        .agg(pl.len().alias("lines_quarantined"))
    )
    out = claims.join(fatal_codes, on=CLAIM_KEYS, how="left").join(
        line_codes, on=CLAIM_KEYS, how="left"
    )
    status = (
        pl.when(pl.col("claim_reasons").is_not_null())
        .then(pl.lit("rejected"))
        .when(pl.col("lines_quarantined").is_not_null())
        .then(pl.lit("accepted_with_errors"))
        .otherwise(pl.lit("accepted"))
    )
    kept = xml1.select(*CLAIM_KEYS, pl.lit(value=True).alias("stored"))
    out = out.join(kept, on=CLAIM_KEYS, how="left").with_columns(
        status.alias("status"),
        pl.col("lines_quarantined").fill_null(0),
        pl.col("stored").fill_null(value=False),
    )
    lost = out.filter(pl.col("stored") == pl.col("claim_reasons").is_not_null())
    if lost.height:
        msg = (
            f"{lost.height} claims are both stored and rejected, or neither, e.g. "
            f"{lost.select(CLAIM_KEYS).row(0)}"
        )
        raise ConservationError(msg)
    return out.sort("file_order", "hoso_idx")
