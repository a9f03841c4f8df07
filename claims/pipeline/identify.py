"""The line a validation entry names, as the clinic sent it: its STT and its drug,
service or supply code, read from the submissions' raw tables (the typed tables do
not hold a quarantined line)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from claims.intake import Submission
from claims.schema import CLAIM_KEYS, ITEM_CODE_COLUMNS
from claims.xml130 import LINE_TABLES

IDENTITY_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "stt": pl.Int64(),
    "item_code": pl.String(),
}


def line_identities(subs: Sequence[Submission]) -> pl.DataFrame:
    """Per line of XML2–XML5 of ``subs``: its STT (null where it is not an integer)
    and item code (:data:`~claims.schema.ITEM_CODE_COLUMNS`, first non-blank)."""
    parts = [pl.DataFrame(schema=IDENTITY_SCHEMA)]
    for sub in subs:
        for table in LINE_TABLES:
            raw = sub.tables.get(table)
            if raw is None or raw.height == 0:
                continue
            stt = (
                pl.col("stt").str.strip_chars().cast(pl.Int64, strict=False)
                if "stt" in raw.columns
                else pl.lit(None, pl.Int64)
            )
            parts.append(
                raw.select(
                    *CLAIM_KEYS,
                    pl.lit(table).alias("table"),
                    "line_no",
                    stt.alias("stt"),
                    _item(raw.columns, table).alias("item_code"),
                )
            )
    return (
        pl.concat(parts, how="vertical_relaxed")
        .select(list(IDENTITY_SCHEMA))
        .cast(pl.Schema(IDENTITY_SCHEMA))
    )


def _item(columns: Sequence[str], table: str) -> pl.Expr:
    """The first non-blank item code column of ``table`` (null: none)."""
    named = [c for c in ITEM_CODE_COLUMNS.get(table, ()) if c in columns]
    blank = [pl.col(c).str.strip_chars().replace("", None) for c in named]
    return pl.coalesce(blank) if blank else pl.lit(None, pl.String)


def with_identities(
    quarantine: pl.DataFrame, subs: Sequence[Submission]
) -> pl.DataFrame:
    """``quarantine`` with each line entry's ``stt`` and ``item_code`` as sent (null
    on claim entries and where the submissions do not hold the line)."""
    ids = line_identities(subs)
    drop = [c for c in ("stt", "item_code") if c in quarantine.columns]
    return quarantine.drop(drop).join(
        ids, on=[*CLAIM_KEYS, "table", "line_no"], how="left", maintain_order="left"
    )
