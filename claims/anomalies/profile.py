"""One row per claim: what the peer-group scores compare (reference §4.3 J7, J8).

From the stored typed tables (XML1, XML2, XML3 as validation and the store hold them)
and the ``facilities`` catalog. Money stays Decimal (``cost``, ``t_bhtt``); the other
features are floats or counts. The features, and how each is scored, are declared in
:data:`FEATURES` (the scores read the declaration; nothing else names a feature).

- ``cost``: the claim's total cost T_TONGCHI_BV (J8 cost outliers).
- ``los``: SO_NGAY_DTRI, treatment days (J8 length of stay).
- ``lines``: drug, service and supply lines of the claim (XML2 + XML3).
- ``drug_share``, ``supply_share``: the drug (XML2) and supply (MA_NHOM 10, 11) lines'
  share of the lines' THANH_TIEN_BV.
- ``concentration``: Herfindahl index of the lines' money over MA_NHOM (1: one group
  holds all the money).
- ``quantity_excess``: the lines' money over what they would cost at the period's
  median quantity of each drug, service or supply code (J8 cost outliers by quantity:
  the same items, more of them).
- ``dx_rarity``: how unusual the claim's services (XML3 MA_DICH_VU) are for its
  principal diagnosis: the largest −log P(service | ICD-10 3-character category)
  over its services, P estimated over the frame's claims with add-one smoothing
  ((claims with both + 1) / (claims with the diagnosis + 2)); ``dx_code`` names that
  service.
- ``visits``: the patient's claims in the frame (J7 visit frequency).
- ``readmits``: the patient's other claims at the same facility that start or end
  within :attr:`Profile.readmit_days` days of this one (J7 "tách đợt", one episode
  split into several claims, or repeated admissions in a short window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from claims.money import MONEY
from claims.schema import COST_GROUPS, patient_id

Tail = Literal["upper", "both"]
Transform = Literal["log", "linear"]


@dataclass(frozen=True)
class Feature:
    """How one profile column is scored and told.

    Attributes:
        name: the profile column.
        transform: ``log`` (log1p, for costs, days and counts: a ratio to the peers'
            median is what matters) or ``linear`` (shares, indices).
        tail: ``upper`` (only a value above the peers counts) or ``both``.
        min_scale: the smallest scale of a robust z, in transformed units: a peer
            group whose values barely vary (MAD 0: every outpatient's SO_NGAY_DTRI is
            0) does not make a tiny deviation enormous. log: 0.3 is about a third
            more than the median; linear: 0.05 is five percentage points.
    """

    name: str
    transform: Transform
    tail: Tail
    min_scale: float


FEATURES: tuple[Feature, ...] = (
    Feature("cost", "log", "upper", 0.10),
    Feature("los", "log", "upper", 0.30),
    Feature("lines", "log", "upper", 0.20),
    Feature("drug_share", "linear", "upper", 0.05),
    Feature("supply_share", "linear", "upper", 0.05),
    Feature("concentration", "linear", "both", 0.05),
    Feature("quantity_excess", "log", "upper", 0.05),
    Feature("dx_rarity", "linear", "upper", 0.50),
    Feature("visits", "log", "upper", 0.40),
    Feature("readmits", "log", "upper", 0.40),
)
"""The scored features, declared once: the scores and the explanations read this."""

LEVELS = {"primary": "ban đầu", "basic": "cơ bản", "specialised": "chuyên sâu"}
"""The facilities catalog's ``level_2025`` (reference §3.6) and the assessor's words."""


@dataclass(frozen=True)
class Profile:
    """What a profile reads besides the tables.

    Attributes:
        readmit_days: a claim of the same patient at the same facility starting within
            this many days of another's discharge counts as a readmission (J7). [U]:
            the reference names "a short window" without a figure; 7 days by default
            (``Settings.anomaly_readmit_days``).
    """

    readmit_days: int = 7


CLAIM_COLUMNS = ("file_id", "hoso_idx", "ma_cskcb", "ma_lk")
READS: dict[str, tuple[str, ...]] = {
    "XML1": (
        *CLAIM_COLUMNS,
        "t_bhtt",
        "t_tongchi_bv",
        "so_ngay_dtri",
        "ma_khoa",
        "ma_loai_kcb",
        "ma_benh_chinh",
        "ma_the_bhyt",
        "ngay_vao",
        "ngay_ra",
    ),
    "XML2": ("file_id", "hoso_idx", "ma_thuoc", "ma_nhom", "so_luong", "thanh_tien_bv"),
    "XML3": (
        "file_id",
        "hoso_idx",
        "ma_dich_vu",
        "ma_vat_tu",
        "ma_nhom",
        "so_luong",
        "thanh_tien_bv",
    ),
}
"""The columns of each table a profile reads (a store reads only these)."""


def claim_profiles(
    xml1: pl.DataFrame,
    xml2: pl.DataFrame,
    xml3: pl.DataFrame,
    facilities: pl.DataFrame,
    profile: Profile = Profile(),
) -> pl.DataFrame:
    """One row per XML1 row, in XML1's order: its keys, peer attributes and features.

    Columns: ``file_id, hoso_idx, ma_cskcb, ma_lk, t_bhtt`` (Decimal, the money a
    claim asks of the fund), ``level`` (the facility's ``level_2025``, ``unknown`` when
    the catalog has no row), ``department`` (the first MA_KHOA), ``province`` (MA_CSKCB
    characters 1–2), ``claim_type`` (MA_LOAI_KCB), ``icd3``, ``dx_code``, and the
    columns of :data:`FEATURES` (``cost`` Decimal, the others numbers).
    """
    claims = xml1.select(
        *CLAIM_COLUMNS,
        pl.col("t_bhtt").fill_null(0),
        pl.col("t_tongchi_bv").fill_null(0).alias("cost"),
        pl.col("so_ngay_dtri").fill_null(0).clip(lower_bound=0).alias("los"),
        pl.col("ma_khoa").str.split(";").list.first().fill_null("").alias("department"),
        pl.col("ma_cskcb").str.slice(0, 2).alias("province"),
        pl.col("ma_loai_kcb").fill_null("").alias("claim_type"),
        pl.col("ma_benh_chinh").str.slice(0, 3).fill_null("").alias("icd3"),
        patient_id().alias("_patient"),
        pl.col("ngay_vao"),
        pl.col("ngay_ra"),
    ).with_row_index("_c")
    lines = _lines(claims, xml2, xml3)
    levels = facilities.select("ma_cskcb", pl.col("level_2025").alias("level")).unique(
        "ma_cskcb", keep="first"
    )
    out = (
        claims.join(_line_money(lines), on="_c", how="left")
        .join(_quantity_excess(lines), on="_c", how="left")
        .join(_dx_rarity(claims, xml3), on="_c", how="left")
        .join(_patient_counts(claims, profile.readmit_days), on="_c", how="left")
        .join(levels, on="ma_cskcb", how="left")
        .sort("_c")
    )
    return out.select(
        *CLAIM_COLUMNS,
        "t_bhtt",
        pl.col("level").fill_null("unknown"),
        "department",
        "province",
        "claim_type",
        "icd3",
        "dx_code",
        "cost",
        pl.col("los").cast(pl.Int64),
        pl.col("lines").fill_null(0).cast(pl.Int64),
        pl.col("drug_share").fill_null(0.0),
        pl.col("supply_share").fill_null(0.0),
        pl.col("concentration").fill_null(0.0),
        pl.col("quantity_excess").fill_null(1.0),
        pl.col("dx_rarity").fill_null(0.0),
        pl.col("visits").cast(pl.Int64),
        pl.col("readmits").cast(pl.Int64),
    )


def _lines(
    claims: pl.DataFrame, xml2: pl.DataFrame, xml3: pl.DataFrame
) -> pl.DataFrame:
    """Every drug, service and supply line of the claims: ``_c, ma_nhom, code`` (the
    drug, service or supply code), ``quantity`` (float), ``money`` (THANH_TIEN_BV,
    Decimal), ``drug``, ``supply``."""
    keys = claims.select("file_id", "hoso_idx", "_c")
    supplies = list(COST_GROUPS["supplies"])
    service = pl.when(pl.col("ma_dich_vu").fill_null("") != "").then(
        pl.col("ma_dich_vu")
    )

    def common(frame: pl.DataFrame, code: pl.Expr, *, drug: bool) -> pl.DataFrame:
        return frame.select(
            "file_id",
            "hoso_idx",
            pl.col("ma_nhom").fill_null("?"),
            code.fill_null("").alias("code"),
            pl.col("so_luong").cast(pl.Float64).fill_null(0.0).alias("quantity"),
            pl.col("thanh_tien_bv").cast(MONEY).fill_null(0).alias("money"),
            pl.lit(drug).alias("drug"),
        )

    return (
        pl.concat(
            [
                common(xml2, pl.col("ma_thuoc"), drug=True),
                common(xml3, service.otherwise(pl.col("ma_vat_tu")), drug=False),
            ]
        )
        .join(keys, on=["file_id", "hoso_idx"])
        .with_columns(pl.col("ma_nhom").is_in(supplies).alias("supply"))
        .drop("file_id", "hoso_idx")
    )


def _line_money(lines: pl.DataFrame) -> pl.DataFrame:
    """``_c, lines, drug_share, supply_share, concentration`` of claims with lines.

    Sums are of Decimal money (exact, so the same whatever order the rows are summed
    in); only the shares are floats.
    """
    groups = lines.group_by("_c", "ma_nhom").agg(
        pl.len().alias("n"),
        pl.col("money").sum(),
        pl.col("drug").any(),
        pl.col("supply").any(),
    )
    total = pl.col("money").sum().cast(pl.Float64)
    safe = pl.when(total > 0).then(total).otherwise(None)
    return groups.group_by("_c").agg(
        pl.col("n").sum().alias("lines"),
        (pl.col("money").filter(pl.col("drug")).sum().cast(pl.Float64) / safe).alias(
            "drug_share"
        ),
        (pl.col("money").filter(pl.col("supply")).sum().cast(pl.Float64) / safe).alias(
            "supply_share"
        ),
        (
            (pl.col("money") * pl.col("money")).sum().cast(pl.Float64) / (safe * safe)
        ).alias("concentration"),
    )


def _quantity_excess(lines: pl.DataFrame) -> pl.DataFrame:
    """``_c, quantity_excess``: the claim's line money over what the same lines would
    cost at the frame's median quantity of each code (1: ordinary quantities; 3: three
    times the usual). Each line's expected money is rounded to the đồng before it is
    summed, so the sums are exact."""
    usual = pl.col("quantity").median().over("code")
    expected = (
        pl.when(pl.col("quantity") > 0)
        .then(pl.col("money").cast(pl.Float64) * usual / pl.col("quantity"))
        .otherwise(pl.col("money").cast(pl.Float64))
        .round(0)
        .cast(MONEY)
    )
    sums = (
        lines.with_columns(expected.alias("expected"))
        .group_by("_c")
        .agg(
            pl.col("money").sum().cast(pl.Float64),
            pl.col("expected").sum().cast(pl.Float64),
        )
    )
    return sums.select(
        "_c",
        pl.when(pl.col("expected") > 0)
        .then(pl.col("money") / pl.col("expected"))
        .otherwise(1.0)
        .alias("quantity_excess"),
    )


def _dx_rarity(claims: pl.DataFrame, xml3: pl.DataFrame) -> pl.DataFrame:
    """``_c, dx_rarity, dx_code``: the claim's rarest service for its diagnosis."""
    pairs = (
        xml3.filter(pl.col("ma_dich_vu").is_not_null() & (pl.col("ma_dich_vu") != ""))
        .select("file_id", "hoso_idx", "ma_dich_vu")
        .join(
            claims.select("file_id", "hoso_idx", "_c", "icd3"),
            on=["file_id", "hoso_idx"],
        )
        .select("_c", "icd3", "ma_dich_vu")
        .unique()
    )
    per_dx = claims.group_by("icd3").agg(pl.len().alias("dx_n"))
    scored = (
        pairs.with_columns(pl.len().over("icd3", "ma_dich_vu").alias("both"))
        .join(per_dx, on="icd3")
        .with_columns(
            (-((pl.col("both") + 1) / (pl.col("dx_n") + 2)).log()).alias("dx_rarity")
        )
    )
    return scored.group_by("_c").agg(
        pl.col("dx_rarity").max(),
        pl.col("ma_dich_vu")
        .sort_by("dx_rarity", "ma_dich_vu", descending=[True, False])
        .first()
        .alias("dx_code"),
    )


def _patient_counts(claims: pl.DataFrame, readmit_days: int) -> pl.DataFrame:
    """``_c, visits, readmits`` (J7): the patient's claims in the frame, and those at
    the same facility within ``readmit_days`` of this one (either side)."""
    keyed = claims.select("_c", "_patient", "ma_cskcb", "ngay_vao", "ngay_ra")
    visits = keyed.select(
        "_c",
        pl.when(pl.col("_patient").is_null())
        .then(1)
        .otherwise(pl.len().over("_patient"))
        .alias("visits"),
    )
    near = (
        keyed.filter(pl.col("_patient").is_not_null())
        .join(keyed, on=["_patient", "ma_cskcb"], suffix="_o")
        .filter(pl.col("_c") != pl.col("_c_o"))
        .filter(
            _within(pl.col("ngay_ra_o"), pl.col("ngay_vao"), readmit_days)
            | _within(pl.col("ngay_ra"), pl.col("ngay_vao_o"), readmit_days)
        )
        .group_by("_c")
        .agg(pl.len().alias("readmits"))
    )
    return visits.join(near, on="_c", how="left").with_columns(
        pl.col("readmits").fill_null(0)
    )


def _within(end: pl.Expr, start: pl.Expr, days: int) -> pl.Expr:
    """``start`` falls from ``end``'s day to ``days`` days after it."""
    gap = (start.dt.date() - end.dt.date()).dt.total_days()
    return gap.is_between(0, days)
