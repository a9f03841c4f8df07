"""The day-wide index of a partitioned run: what of each partition another can see.

A partitioned run (``claims.pipeline.partitions``) decides each partition with a
history of the store plus the day's other partitions. A cross-claim check pairs two
claims by a key: patient, practitioner, or a facility's own keys (facility, department,
bed, machine). A claim of partition *q* can only be paired with one of partition *p*
when they share such a key value, and a value seen in one partition only can never pair
across partitions. :func:`build_day_index` therefore keeps, of each partition, only the
claims that carry a value some other partition carries too (a patient, a practitioner
as examiner or performer, a facility), with all their lines, in one pass over the day.
Reading it costs each partition what is shared, not the whole day: the run's cost stays
linear in the day instead of partitions × day.

Each index folder holds ``tables/{XML1,XML2,XML3}.parquet`` (the columns of
:data:`DAY_COLUMNS`) and ``keys.parquet`` (MA_CSKCB, MA_LK of every claim of the
partition: a stored claim that the day re-submits is hidden from every partition).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from claims.schema import patient_id
from claims.store.window import performers

DAY_COLUMNS = {
    "XML1": [
        "file_id",
        "hoso_idx",
        "ma_the_bhyt",
        "ma_cskcb",
        "ma_lk",
        "ngay_vao",
        "ngay_ra",
        "ma_loai_kcb",
        "ma_benh_chinh",
    ],
    "XML2": ["file_id", "hoso_idx", "ma_thuoc", "lieu_dung", "ngay_th_yl", "ngay_yl"],
    "XML3": [
        "file_id",
        "hoso_idx",
        "ma_giuong",
        "ma_khoa",
        "ma_nhom",
        "ma_may",
        "ma_bac_si",
        "nguoi_thuc_hien",
        "ngay_th_yl",
        "ngay_yl",
        "ngay_kq",
        "ma_dich_vu",
        "ma_vat_tu",
    ],
}
"""The columns of the day's tables that the history reads (``claims.store.read``)."""

_CLAIM = ["file_id", "hoso_idx"]


def _table(folder: Path, name: str) -> pl.LazyFrame | None:
    path = folder / "tables" / f"{name}.parquet"
    return pl.scan_parquet(path) if path.is_file() else None


def _claim_keys(folder: Path) -> pl.LazyFrame | None:
    """``file_id, hoso_idx, kind, value``: each claim's patient, facility and the
    practitioners of its lines (MA_BAC_SI as sent, each NGUOI_THUC_HIEN code trimmed,
    as ``claims.store.window`` matches them)."""
    xml1 = _table(folder, "XML1")
    if xml1 is None:
        return None
    frames = [
        xml1.select(*_CLAIM, pl.lit(kind).alias("kind"), value.alias("value"))
        for kind, value in (
            ("patient", patient_id()),
            ("facility", pl.col("ma_cskcb")),
        )
    ]
    xml3 = _table(folder, "XML3")
    if xml3 is not None:
        kind = pl.lit("practitioner").alias("kind")
        frames.append(xml3.select(*_CLAIM, kind, pl.col("ma_bac_si").alias("value")))
        frames.append(  # apart: a null NGUOI_THUC_HIEN would null a concat_list
            xml3.select(*_CLAIM, kind, performers().alias("value")).explode("value")
        )
    keys = pl.concat(frames, how="vertical_relaxed")
    return keys.filter(pl.col("value").is_not_null() & (pl.col("value") != ""))


def _shared(folders: Sequence[Path]) -> pl.DataFrame:
    """``kind, value``: the key values found in two partitions or more."""
    seen = [
        keys.select("kind", "value").unique().collect()
        for folder in folders
        if (keys := _claim_keys(folder)) is not None
    ]
    if not seen:
        return pl.DataFrame(schema={"kind": pl.String, "value": pl.String})
    return (
        pl.concat(seen)
        .group_by("kind", "value")
        .len()
        .filter(pl.col("len") > 1)
        .select("kind", "value")
    )


def build_day_index(reads: Sequence[Path], out: Sequence[Path]) -> None:
    """Write the index of each read partition ``reads[n]`` into ``out[n]`` (one pass
    over the day's claim keys, then one over each partition's tables)."""
    shared = _shared(reads)
    for folder, target in zip(reads, out, strict=True):
        (target / "tables").mkdir(parents=True, exist_ok=True)
        keys = _claim_keys(folder)
        kept = (
            pl.DataFrame(schema={"file_id": pl.String, "hoso_idx": pl.UInt32})
            if keys is None
            else keys.join(shared.lazy(), on=["kind", "value"], how="semi")
            .select(_CLAIM)
            .unique()
            .collect()
        )
        for name, columns in DAY_COLUMNS.items():
            table = _table(folder, name)
            if table is None:
                continue
            table.select(columns).join(kept.lazy(), on=_CLAIM, how="semi").sink_parquet(
                target / "tables" / f"{name}.parquet"
            )
        xml1 = _table(folder, "XML1")
        claims = (
            pl.DataFrame(schema={"ma_cskcb": pl.String, "ma_lk": pl.String})
            if xml1 is None
            else xml1.select("ma_cskcb", "ma_lk").collect()
        )
        claims.write_parquet(target / "keys.parquet")
