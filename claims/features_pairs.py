"""Code-pair features of drug and service lines: what the ``code_pairs`` catalog says
of each line given the other lines of its claim (§4.3 F10–F16).

A line's item code is its MA_THUOC (XML2), else its MA_VAT_TU or MA_DICH_VU (XML3). Per
line, by joins against the catalog rows valid on the line's date:

- ``unbundled_with`` / ``included_in``: the parent code billed the same day on the same
  claim whose price already holds this line (kinds ``unbundled``, ``included_in_price``);
- ``prerequisite_missing``: the code the line needs on the claim and does not find;
- ``setting_excluded``: the line's code is not payable in the claim's setting
  (``inpatient``: MA_LOAI_KCB 03, 04, 06, 09; ``outpatient``: the others);
- ``indication_missing``: no diagnosis of the claim (principal or secondary) matches the
  row's ICD-10 pattern;
- ``code_day_limit``: units of the code allowed a day (rules compare ``units_same_day``);
- ``period_count`` / ``period_max``: the patient's lines of the code within
  ``per_period_days`` up to this line's date, over the batch, and the limit.
"""

from __future__ import annotations

import polars as pl

from claims.schema import CLAIM_KEYS, PAIR_LINE_FEATURES, Batch, patient_id

LINE = (*CLAIM_KEYS, "table", "line_no")


def _item_code(table: str) -> pl.Expr:
    if table == "XML2":
        return pl.col("ma_thuoc")
    return pl.coalesce("ma_vat_tu", "ma_dich_vu")


def _all_items(batch: Batch) -> pl.DataFrame:
    """Every drug and service line of the batch: claim, code, day."""
    from claims.dates import line_date

    parts = [
        frame.select(
            *CLAIM_KEYS,
            pl.lit(table).alias("table"),
            "line_no",
            _item_code(table).alias("_code"),
            line_date().alias("_day"),
        )
        for table, frame in (("XML2", batch.xml2), ("XML3", batch.xml3))
    ]
    return pl.concat(parts)


def _rows(pairs: pl.DataFrame, kind: str) -> pl.DataFrame:
    return pairs.filter(pl.col("kind") == kind)


def _valid() -> pl.Expr:
    """The catalog row is valid on the line's day (after a join that brought both)."""
    return (
        pl.col("valid_from").is_null() | (pl.col("valid_from") <= pl.col("_day"))
    ) & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= pl.col("_day")))


VALIDITY = ("valid_from", "valid_to")


def _parent_same_day(
    items: pl.DataFrame, every: pl.DataFrame, rows: pl.DataFrame, name: str
) -> pl.DataFrame:
    """Lines whose code is a row's ``code_b`` with the row's ``code_a`` billed the same
    day on the claim (in ``every``, both tables): the parent code as ``name``."""
    present = every.select(*CLAIM_KEYS, "_day", pl.col("_code").alias("code_a"))
    return (
        items.join(
            rows.select(pl.col("code_b").alias("_code"), "code_a", *VALIDITY),
            on="_code",
        )
        .filter(_valid())
        .join(present.unique(), on=[*CLAIM_KEYS, "_day", "code_a"], how="semi")
        .group_by(LINE)
        .agg(pl.col("code_a").min().alias(name))
    )


def _prerequisite(
    items: pl.DataFrame, every: pl.DataFrame, rows: pl.DataFrame
) -> pl.DataFrame:
    present = every.select(*CLAIM_KEYS, pl.col("_code").alias("code_b")).unique()
    return (
        items.join(
            rows.select(pl.col("code_a").alias("_code"), "code_b", *VALIDITY),
            on="_code",
        )
        .filter(_valid())
        .join(present, on=[*CLAIM_KEYS, "code_b"], how="anti")
        .group_by(LINE)
        .agg(pl.col("code_b").min().alias("prerequisite_missing"))
    )


def _setting(
    items: pl.DataFrame, rows: pl.DataFrame, claims: pl.DataFrame
) -> pl.DataFrame:
    setting = pl.when(pl.col("is_inpatient")).then(pl.lit("inpatient"))
    claim_setting = claims.select(
        *CLAIM_KEYS, setting.otherwise(pl.lit("outpatient")).alias("setting")
    )
    return (
        items.join(claim_setting, on=CLAIM_KEYS)
        .join(
            rows.select(pl.col("code_a").alias("_code"), "setting", *VALIDITY),
            on=["_code", "setting"],
        )
        .filter(_valid())
        .select(*LINE, pl.lit(True).alias("setting_excluded"))
        .unique(LINE)
    )


def _indication(
    items: pl.DataFrame, rows: pl.DataFrame, claims: pl.DataFrame
) -> pl.DataFrame:
    diagnoses = claims.select(
        *CLAIM_KEYS,
        pl.concat_list(
            pl.col("ma_benh_chinh"),
            pl.col("ma_benh_kt").str.split(";").fill_null([]),
        ).alias("_dx"),
    )
    wanted = (
        items.join(
            rows.select(pl.col("code_a").alias("_code"), "icd", *VALIDITY), on="_code"
        )
        .filter(_valid())
        .join(diagnoses, on=CLAIM_KEYS, how="left")
    )
    checked = (
        wanted.explode("_dx")
        .with_columns(
            pl.col("_dx").str.strip_chars().str.contains(pl.col("icd")).fill_null(False)
        )
        .group_by(LINE)
        .agg((~pl.col("_dx").any()).alias("indication_missing"))
    )
    return checked


def _period(
    items: pl.DataFrame, rows: pl.DataFrame, claims: pl.DataFrame
) -> pl.DataFrame:
    """The patient's lines of a period-limited code within the period, up to each line."""
    limited = rows.filter(pl.col("per_period_days").is_not_null()).select(
        pl.col("code_a").alias("_code"), "per_period_days", "max_count", *VALIDITY
    )
    patients = claims.select(*CLAIM_KEYS, patient_id().alias("_patient"))
    mine = (
        items.join(limited, on="_code")
        .filter(_valid())
        .join(patients, on=CLAIM_KEYS, how="left")
    )
    other = mine.select("_patient", "_code", pl.col("_day").alias("_other"))
    lo = pl.col("_day") - pl.duration(days=pl.col("per_period_days") - 1)
    return (
        mine.join(other, on=["_patient", "_code"])
        .filter((pl.col("_other") <= pl.col("_day")) & (pl.col("_other") >= lo))
        .group_by(LINE)
        .agg(
            pl.len().cast(pl.Int64).alias("period_count"),
            pl.col("max_count").first().alias("period_max"),
        )
    )


def pair_features(
    table: str, batch: Batch, lines: pl.DataFrame, claims: pl.DataFrame
) -> pl.DataFrame:
    """``lines`` (XML2 or XML3 line frame) with
    :data:`claims.schema.PAIR_LINE_FEATURES`."""
    reg = batch.registries
    pairs = (
        reg.code_pairs
        if reg is not None
        else pl.DataFrame(
            schema={
                "kind": pl.String,
                "code_a": pl.String,
                "code_b": pl.String,
                "icd": pl.String,
                "setting": pl.String,
                "per_day": pl.Int64,
                "per_period_days": pl.Int64,
                "max_count": pl.Int64,
                "valid_from": pl.Date,
                "valid_to": pl.Date,
            }
        )
    )
    items = _all_items(batch)
    own = items.filter(pl.col("table") == table)
    day_limit = (
        own.join(
            pairs.filter(
                (pl.col("kind") == "limit") & pl.col("per_day").is_not_null()
            ).select(pl.col("code_a").alias("_code"), "per_day", *VALIDITY),
            on="_code",
        )
        .filter(_valid())
        .group_by(LINE)
        .agg(pl.col("per_day").min().cast(pl.Int64).alias("code_day_limit"))
    )
    found = [
        _parent_same_day(own, items, _rows(pairs, "unbundled"), "unbundled_with"),
        _parent_same_day(own, items, _rows(pairs, "included_in_price"), "included_in"),
        _prerequisite(own, items, _rows(pairs, "prerequisite")),
        _setting(own, _rows(pairs, "setting"), claims),
        _indication(own, _rows(pairs, "indication"), claims),
        _period(own, _rows(pairs, "limit"), claims),
    ]
    out = lines.with_columns(pl.lit(table).alias("table"))
    for frame in found:
        out = out.join(frame, on=LINE, how="left", maintain_order="left")
    out = out.join(day_limit, on=LINE, how="left", maintain_order="left").with_columns(
        pl.col("setting_excluded").fill_null(False),
        pl.col("indication_missing").fill_null(False),
    )
    keep = [c for c in lines.columns if c not in PAIR_LINE_FEATURES]
    return out.select(
        *keep, *(pl.col(c).cast(t) for c, t in PAIR_LINE_FEATURES.items())
    )
