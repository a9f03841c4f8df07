"""Raw text frames of synthetic claims: shared helpers, and the XML4/XML5 tables.

Every value is the text a facility would write (``pl.String``; null for an empty
element). Column order and names come from :mod:`claims.xml130`; a value given for a
column the spec does not have is an error, so a typo cannot slip through. XML1 is
built in :mod:`claims.synthetic.summary`, XML2/XML3 in :mod:`claims.synthetic.detail`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.plan import practitioner
from claims.xml130 import XML4, XML5, TableSpec


def datetime_text(minutes: pl.Expr) -> pl.Expr:
    """Minutes since 1970 as ``yyyyMMddHHmm`` (null for negative: no value)."""
    text = pl.from_epoch(minutes * 60, time_unit="s").dt.strftime("%Y%m%d%H%M")
    return pl.when(minutes >= 0).then(text)


def date_text(days: pl.Expr) -> pl.Expr:
    """Day numbers as ``yyyyMMdd``."""
    return pl.from_epoch(days, time_unit="d").dt.strftime("%Y%m%d")


def to_spec(
    frame: pl.DataFrame, spec: TableSpec, values: dict[str, pl.Expr], *, line: bool
) -> pl.DataFrame:
    """Select ``values`` in the spec's column order, null for the rest, all as text.

    Raises:
        ValueError: when ``values`` names a column the spec does not have.
    """
    unknown = sorted(set(values) - set(spec.columns) - {"ma_cskcb"})
    if unknown:
        msg = f"{spec.table} has no column {unknown}"
        raise ValueError(msg)
    columns = [
        values.get(c, pl.lit(None, pl.String)).cast(pl.String).alias(c)
        for c in spec.columns
    ]
    if line:
        columns.insert(0, values["ma_cskcb"].cast(pl.String).alias("ma_cskcb"))
    return frame.select(columns)


def claim_columns(
    claims: pl.DataFrame, lines: pl.DataFrame, names: list[str]
) -> pl.DataFrame:
    """Claim columns ``names`` gathered onto each line (by ``ci``)."""
    return claims.select(names)[lines["ci"].to_numpy()]


def chance(rng: np.random.Generator, n: int, share: float) -> pl.Series:
    """A random mask: True with probability ``share``."""
    return pl.Series(rng.random(n) < share)


def pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pl.Series:
    """``n`` values drawn uniformly from ``values``."""
    return pl.Series(values, dtype=pl.String).gather(rng.integers(0, len(values), n))


def xml4(claims: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """XML4 rows, numbered 1..n per claim."""
    frame = pl.concat(
        [rows, claim_columns(claims, rows, ["ma_cskcb", "ma_lk", "abbr"])],
        how="horizontal",
    ).with_columns((pl.int_range(pl.len()).over("ci") + 1).alias("stt"))
    values = {
        **{
            c: pl.col(c)
            for c in (
                "ma_cskcb",
                "ma_lk",
                "stt",
                "ma_dich_vu",
                "ma_chi_so",
                "ten_chi_so",
                "gia_tri",
                "don_vi_do",
                "mo_ta",
                "ket_luan",
            )
        },
        "ngay_kq": datetime_text(pl.col("kq")),
        "ma_bs_doc_kq": practitioner(pl.col("performer_serial"), pl.col("abbr")),
    }
    return to_spec(frame, XML4, values, line=True)


def xml5(claims: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """XML5 rows, numbered 1..n per claim."""
    frame = pl.concat(
        [
            rows,
            claim_columns(claims, rows, ["ma_cskcb", "ma_lk", "abbr", "doc_serial"]),
        ],
        how="horizontal",
    ).with_columns((pl.int_range(pl.len()).over("ci") + 1).alias("stt"))
    values = {
        **{
            c: pl.col(c)
            for c in (
                "ma_cskcb",
                "ma_lk",
                "stt",
                "dien_bien_ls",
                "giai_doan_benh",
                "hoi_chan",
                "phau_thuat",
            )
        },
        "thoi_diem_dbls": datetime_text(pl.col("time")),
        "nguoi_thuc_hien": practitioner(pl.col("doc_serial"), pl.col("abbr")),
    }
    return to_spec(frame, XML5, values, line=True)
