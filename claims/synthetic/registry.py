"""The facilities' registries: practitioners, departments with their beds, machines.

Deterministic from the ``facilities`` catalog alone (never from a run), so the built-in
``practitioners``, ``departments`` and ``equipment`` catalogs
(:mod:`claims.synthetic.seed`) hold exactly what generated claims name, and clean
claims stay clean under the registry checks (§4.3 E11, E12, F5, F6, H7, H9, J4).

- Practitioners: facility ``f`` (in ``ma_cskcb`` order over the whole catalog) has
  ``n_doc`` doctors numbered ``doc_base … doc_base + n_doc − 1`` plus
  :data:`RESERVE` spare practitioners after them (the generator's implausibly busy
  practitioner is one of these). Doctor ``k`` works in the exam department and, where
  the facility has wards, in ward ``WARDS[k % 3]``.
- Departments (QĐ 5937 PL5 codes): ``K01`` everywhere (communes keep observation beds
  there), the wards ``K03``, ``K18``, ``K19`` above communes; approved beds
  (``giuong_pd``) from the facility's beds with a floor per tier, extra beds
  (``giuong_tk``) half of them. Bed codes are ``H001…`` (approved) then ``T001…``
  (extra) within a department (§1.8 MA_GIUONG).
- Machines ``XX.1.YYYYY.Z`` (§3.8): three of each type group the facility's tier
  performs, with a daily capacity per group (:data:`CAPACITY`, [U]); above communes a
  fourth, retired (registration ended :data:`RETIRED_AFTER`), which clean claims never
  name.
"""

from __future__ import annotations

from datetime import date

import numba
import numpy as np
import polars as pl

from catalogs.seed_facilities import PROVINCES, province_abbreviation
from claims.synthetic.items import xml3_items

EXAM_DEPT = "K01"
WARDS = ("K03", "K18", "K19")
"""Internal medicine, paediatrics, surgery: the wards generated stays use."""
DEPARTMENT_NAMES = {
    "K01": "Khoa Khám bệnh",
    "K03": "Khoa Nội tổng hợp",
    "K18": "Khoa Nhi",
    "K19": "Khoa Ngoại tổng hợp",
}
TIERS = ("commune", "district", "provincial", "central")
TIER_DOCTORS = (3, 12, 40, 100)
"""Doctors per facility by tier index, before one per :data:`BEDS_PER_DOCTOR` beds."""
BEDS_PER_DOCTOR = (1, 25, 8, 6)
RESERVE = 1
"""Registered practitioners after a facility's doctors that normal claims never name."""
MIN_WARD_BEDS = (10, 40, 120, 300)
"""Approved beds per department at least (commune: the observation beds of K01)."""
MAX_BEDS = 999
"""Three digits of a bed number."""
MACHINES_PER_GROUP = 3
SERVICE_GROUP = {"HH": 1, "SH": 1, "VS": 1, "SA": 2, "XQ": 2, "CL": 2, "MRI": 2}
"""MA_NHOM of the tests each machine type group does (others: 3, functional)."""
CAPACITY = {
    "HH": 3000, "SH": 6000, "VS": 1500, "SA": 400, "XQ": 600, "CL": 300, "MRI": 120,
    "ĐT": 600, "TT": 300, "NS": 200,
}  # fmt: skip
"""Tests a machine of each group can do in a day [U]: no published norm was found
(§4.3 J4); generous, so a generated day never reaches them."""
RETIRED_AFTER = date(2024, 12, 31)
"""The registration end of each facility's retired machines (serial 4, above communes):
a test on one after it is on a machine not valid on the date (§4.3 F6, J4)."""


def _tier_index() -> pl.Expr:
    return pl.col("tier").replace_strict({t: i for i, t in enumerate(TIERS)})


def staff_numbers(facilities: pl.DataFrame) -> pl.DataFrame:
    """``ma_cskcb, n_doc, doc_base, abbr`` per facility of the whole catalog."""
    abbr = {p[0]: province_abbreviation(p[1]) for p in PROVINCES}
    tier = _tier_index()
    frame = (
        facilities.select("ma_cskcb", "ma_tinh", "tier", "beds")
        .unique("ma_cskcb", keep="last")
        .sort("ma_cskcb")
        .select(
            "ma_cskcb",
            (
                tier.replace_strict(dict(enumerate(TIER_DOCTORS)))
                + pl.col("beds").fill_null(0).cast(pl.Int64)
                // tier.replace_strict(dict(enumerate(BEDS_PER_DOCTOR)))
            )
            .cast(pl.Int64)
            .alias("n_doc"),
            pl.col("ma_tinh").replace_strict(abbr).alias("abbr"),
            (tier > 0).alias("has_wards"),
        )
    )
    size = pl.col("n_doc") + RESERVE
    return frame.with_columns((size.cum_sum() - size + 1).alias("doc_base"))


def practitioner_code(serial: pl.Expr, abbr: pl.Expr) -> pl.Expr:
    """A practising-certificate number, ``000012/HN-CCHN`` (§3.7)."""
    return pl.concat_str(
        serial.cast(pl.String).str.zfill(6), pl.lit("/"), abbr, pl.lit("-CCHN")
    )


def practitioner_rows(facilities: pl.DataFrame) -> pl.DataFrame:
    """The ``practitioners`` catalog: every doctor and spare of every facility."""
    staff = staff_numbers(facilities)
    k = pl.int_ranges(pl.col("n_doc") + RESERVE, dtype=pl.Int64)
    wards = pl.lit(list(WARDS)).list.get(pl.col("k") % len(WARDS))
    return (
        staff.with_columns(k.alias("k"))
        .explode("k")
        .select(
            "ma_cskcb",
            practitioner_code(pl.col("doc_base") + pl.col("k"), pl.col("abbr")).alias(
                "ma_bac_si"
            ),
            pl.lit("Khám bệnh, chữa bệnh đa khoa").alias("pham_vi_cm"),
            pl.when(pl.col("has_wards"))
            .then(pl.concat_str(pl.lit(EXAM_DEPT + ";"), wards))
            .otherwise(pl.lit(EXAM_DEPT))
            .alias("ma_khoa"),
            pl.lit(None, pl.Date).alias("valid_from"),
            pl.lit(None, pl.Date).alias("valid_to"),
        )
    )


def department_rows(facilities: pl.DataFrame) -> pl.DataFrame:
    """The ``departments`` catalog: departments of each facility and their beds."""
    tier = _tier_index()
    share = pl.col("beds").fill_null(0).cast(pl.Int64) // len(WARDS)
    floor = tier.replace_strict(dict(enumerate(MIN_WARD_BEDS)))
    frame = (
        facilities.select("ma_cskcb", "tier", "beds")
        .unique("ma_cskcb", keep="last")
        .with_columns(
            pl.when(tier > 0)
            .then(pl.lit([EXAM_DEPT, *WARDS]))
            .otherwise(pl.lit([EXAM_DEPT]))
            .alias("ma_khoa"),
            pl.max_horizontal(share, floor).clip(upper_bound=MAX_BEDS).alias("_pd"),
            (tier > 0).alias("_wards"),
        )
        .explode("ma_khoa")
    )
    ward = pl.col("ma_khoa") != EXAM_DEPT
    beds = ward | ~pl.col("_wards")
    pd = pl.when(beds).then(pl.col("_pd")).otherwise(0)
    return frame.select(
        "ma_cskcb",
        "ma_khoa",
        pl.col("ma_khoa").replace_strict(DEPARTMENT_NAMES).alias("ten_khoa"),
        pl.when(ward).then(0).otherwise(pl.max_horizontal(1, tier)).alias("ban_kham"),
        pd.cast(pl.Int64).alias("giuong_pd"),
        (pd // 2).cast(pl.Int64).alias("giuong_tk"),
        pl.lit(None, pl.Date).alias("valid_from"),
        pl.lit(None, pl.Date).alias("valid_to"),
    ).sort("ma_cskcb", "ma_khoa")


def machine_groups() -> pl.DataFrame:
    """``group, min_tier``: the lowest tier that uses each machine type group.

    A facility whose tier performs none of a kind's items still bills the kind's first
    item (:func:`claims.synthetic.lines._in_tier`), so that item's group counts from
    tier 0.
    """
    items = xml3_items().filter(pl.col("machine").is_not_null())
    first = items.sort("min_tier", "item_id").group_by("kind").first()
    every = pl.concat(
        [
            items.select("machine", "min_tier"),
            first.select(
                "machine", pl.lit(0, items["min_tier"].dtype).alias("min_tier")
            ),
        ]
    )
    return (
        every.group_by("machine")
        .agg(pl.col("min_tier").min())
        .rename({"machine": "group"})
        .sort("group")
    )


def equipment_rows(facilities: pl.DataFrame) -> pl.DataFrame:
    """The ``equipment`` catalog: three machines of each group a facility uses, and
    above communes a fourth whose registration ended on :data:`RETIRED_AFTER`."""
    serials = list(range(1, MACHINES_PER_GROUP + 2))
    groups = machine_groups().join(pl.DataFrame({"serial": serials}), how="cross")
    retired = pl.col("serial") > MACHINES_PER_GROUP
    return (
        facilities.select("ma_cskcb", _tier_index().alias("_tier"))
        .unique("ma_cskcb", keep="last")
        .join(groups, how="cross")
        .filter(
            (pl.col("min_tier") <= pl.col("_tier")) & (~retired | (pl.col("_tier") > 0))
        )
        .select(
            pl.format("{}.1.{}.{}", "group", "ma_cskcb", "serial").alias("ma_may"),
            "ma_cskcb",
            pl.col("group").alias("nhom_may"),
            pl.col("group")
            .replace_strict(SERVICE_GROUP, default=3, return_dtype=pl.Int64)
            .alias("ma_nhom"),
            pl.format("{}/{}/BYT-TB", "serial", "ma_cskcb").alias("so_luu_hanh"),
            pl.col("group")
            .replace_strict(CAPACITY, return_dtype=pl.Int64)
            .alias("capacity_per_day"),
            pl.lit(True).alias("uncertain"),
            pl.lit(None, pl.Date).alias("valid_from"),
            pl.when(retired).then(pl.lit(RETIRED_AFTER)).alias("valid_to"),
        )
        .sort("ma_cskcb", "ma_may")
    )


@numba.njit(cache=True)
def _first_free(
    group: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Over stays sorted by (group, start): the lowest bed free at each admission.

    First fit in admission order uses as many beds as the most stays present at once.
    """
    n = len(group)
    out = np.zeros(n, np.int64)
    free_at = np.zeros(n, np.int64)
    used = 0
    for i in range(n):
        if i == 0 or group[i] != group[i - 1]:
            used = 0
        b = 0
        while b < used and free_at[b] > start[i]:
            b += 1
        if b == used:
            used += 1
        free_at[b] = end[i]
        out[i] = b
    return out


def bed_codes(stays: pl.DataFrame, departments: pl.DataFrame) -> pl.Series:
    """A bed code per stay (``ma_cskcb, dept, vao, ra``; null where ``vao`` is null).

    Stays of one department never share a bed at the same time (§4.3 H9); codes are
    the approved beds ``H001…`` first, then the extra beds ``T001…``.
    """
    frame = (
        stays.with_row_index("_row")
        .join(
            departments.select(
                "ma_cskcb", pl.col("ma_khoa").alias("dept"), "giuong_pd"
            ),
            on=["ma_cskcb", "dept"],
            how="left",
        )
        .filter(pl.col("vao").is_not_null())
        .with_columns(pl.struct("ma_cskcb", "dept").rank("dense").alias("_g"))
        .sort("_g", "vao", "_row")
    )
    bed = _first_free(
        frame["_g"].to_numpy(), frame["vao"].to_numpy(), frame["ra"].to_numpy()
    )
    pd = frame["giuong_pd"].fill_null(0).to_numpy()
    number = np.where(bed < pd, bed + 1, bed - pd + 1)
    code = frame.select(
        "_row",
        pl.concat_str(
            pl.Series(np.where(bed < pd, "H", "T")),
            pl.Series(number).cast(pl.String).str.zfill(3),
        ).alias("bed"),
    )
    out = stays.with_row_index("_row").join(code, on="_row", how="left").sort("_row")
    return out["bed"]
