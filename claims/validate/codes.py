"""Dated code lists: which codes are valid on a date (the claim's admission NGAY_VAO).

The lists are data (catalog ``code_lists``); a list may change over time, as
MA_DOITUONG_KCB did in 2025, and each entry carries its own validity window.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from catalogs.loader import CatalogVersion, load_versions

FAR_FUTURE = date(9999, 12, 31)


def load_code_lists(catalog_dir: Path | None = None) -> pl.DataFrame:
    """The code lists in force (latest version), with typed validity dates."""
    return code_list_frame(load_versions("code_lists", catalog_dir)[-1])


def code_list_frame(version: CatalogVersion) -> pl.DataFrame:
    """One loaded ``code_lists`` version as the frame :func:`code_valid` reads."""
    return version.rows.select(
        "list_id",
        "code",
        pl.col("valid_from").fill_null(version.manifest.effective_from),
        pl.col("valid_to").fill_null(version.manifest.effective_to or FAR_FUTURE),
    )


def code_valid(
    code: pl.Expr, on: pl.Expr, codes: pl.DataFrame, list_id: str
) -> pl.Expr:
    """Whether ``code`` is in list ``list_id`` on date ``on`` (null date → not checked).

    One ``is_in`` per validity window of the list: lists have few windows, so this stays a
    handful of vectorized comparisons instead of a join.
    """
    entries = codes.filter(pl.col("list_id") == list_id)
    ok = pl.lit(False)
    windows = entries.group_by("valid_from", "valid_to").agg("code").sort("valid_from")
    for start, end, members in windows.iter_rows():
        inside = on.is_between(pl.lit(start), pl.lit(end))
        ok = ok | (inside & code.is_in(list(members)))
    return ok | on.is_null()
