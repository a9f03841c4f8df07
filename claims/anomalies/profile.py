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
- ``drug_lines``: the claim's drug lines (XML2): a prescription far longer than its
  peers' (J8 service mix).
- ``test_lines``: its paraclinical lines, MA_NHOM 1–3 (tests, imaging, functional
  tests): services added beyond what the diagnosis calls for (J8 service mix).
- ``dose_excess``: the geometric mean, over its drug lines whose LIEU_DUNG gives a dose
  per take ("1 viên/lần * 2 lần/ngày …"), of that dose over the frame's median dose of
  the same drug code (1: usual doses; 4: every drug at four times its usual dose, which
  inflates the claim's cost while each line stays consistent).
- ``care_per_day``: for a claim of at least one day of treatment, its lines other than
  beds (MA_NHOM 14–16) per day (SO_NGAY_DTRI); scored on its LOWER tail: a stay
  lengthened without the care that would fill it (J8 length of stay, compared with what
  the claim's services imply rather than with the peers' spread of stays); null (not
  scored) for a claim without a day of treatment.
- ``visits``: the patient's claims in the frame (J7 visit frequency).
- ``readmits``: the patient's other claims at the same facility that start or end
  within :attr:`Profile.readmit_days` days of this one (J7 "tách đợt", one episode
  split into several claims, or repeated admissions in a short window).
- ``overlaps``: the patient's claims at ANOTHER facility whose admission-to-discharge
  span overlaps this one's (J2: one person in two facilities at once; both claims).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from claims.money import MONEY
from claims.schema import BED_GROUPS, COST_GROUPS, patient_id

Tail = Literal["upper", "both"]
Transform = Literal["log", "linear", "neglog"]


@dataclass(frozen=True)
class Feature:
    """How one profile column is scored and told.

    Attributes:
        name: the profile column.
        transform: ``log`` (log1p, for costs, days and counts: a ratio to the peers'
            median is what matters), ``linear`` (shares, indices) or ``neglog``
            (−log1p of a rate: its upper tail is the rate's LOWER tail).
        tail: ``upper`` (only a value above the peers counts) or ``both``.
        min_scale: the smallest scale of a robust z, in transformed units: a peer
            group whose values barely vary (MAD 0: every outpatient's SO_NGAY_DTRI is
            0) does not make a tiny deviation enormous. log: 0.3 is about a third
            more than the median; linear: 0.05 is five percentage points.
        weight: what the feature's surprise is multiplied by before a claim's
            statistic takes the largest (``claims.anomalies.score``). 1 for a feature
            that measures one thing (drug lines, a dose, care per day, a patient's
            claims); :data:`BROAD` for a feature that sums up the whole claim (its
            cost, stay, lines, shares, mix, quantities, rarest service): those move
            with every specific one and with ordinary variety, so one of them names a
            claim only when it is far more extreme than a specific feature would need
            to be. Chosen on a generated month (seed 11), checked on another (seed 12).
    """

    name: str
    transform: Transform
    tail: Tail
    min_scale: float
    weight: float = 1.0


BROAD = 0.5
"""The ``weight`` of a feature that sums up the whole claim (see :class:`Feature`)."""


FEATURES: tuple[Feature, ...] = (
    Feature("cost", "log", "upper", 0.10, BROAD),
    Feature("los", "log", "upper", 0.30, BROAD),
    Feature("lines", "log", "upper", 0.20, BROAD),
    Feature("drug_share", "linear", "upper", 0.05, BROAD),
    Feature("supply_share", "linear", "upper", 0.05, BROAD),
    Feature("concentration", "linear", "both", 0.05, BROAD),
    Feature("quantity_excess", "log", "upper", 0.05, BROAD),
    Feature("dx_rarity", "linear", "upper", 0.50, BROAD),
    Feature("drug_lines", "log", "upper", 0.20),
    Feature("test_lines", "log", "upper", 0.30),
    Feature("dose_excess", "log", "upper", 0.05),
    Feature("care_per_day", "neglog", "upper", 0.20),
    Feature("visits", "log", "upper", 0.40),
    Feature("readmits", "log", "upper", 0.40),
    Feature("overlaps", "log", "upper", 0.40),
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
DOSE = r"^[^0-9*]*([0-9]+(?:[.,][0-9]+)?)"
"""LIEU_DUNG's dose per take: its first number ("1,5 viên/lần * 2 lần/ngày * 5 ngày")."""
TEST_GROUPS = (*COST_GROUPS["tests"], *COST_GROUPS["imaging"])
"""MA_NHOM of paraclinical lines: tests (1), imaging (2) and functional tests (3)."""
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
    "XML2": (
        "file_id",
        "hoso_idx",
        "ma_thuoc",
        "ma_nhom",
        "so_luong",
        "thanh_tien_bv",
        "lieu_dung",
    ),
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
        .join(_dose_excess(lines), on="_c", how="left")
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
        pl.col("drug_lines").fill_null(0).cast(pl.Int64),
        pl.col("test_lines").fill_null(0).cast(pl.Int64),
        pl.col("dose_excess").fill_null(1.0),
        pl.when(pl.col("los") >= 1)
        .then(pl.col("care_lines").fill_null(0).cast(pl.Float64) / pl.col("los"))
        .alias("care_per_day"),
        pl.col("visits").cast(pl.Int64),
        pl.col("readmits").cast(pl.Int64),
        pl.col("overlaps").cast(pl.Int64),
    )


def _lines(
    claims: pl.DataFrame, xml2: pl.DataFrame, xml3: pl.DataFrame
) -> pl.DataFrame:
    """Every drug, service and supply line of the claims: ``_c, ma_nhom, code`` (the
    drug, service or supply code), ``quantity`` (float), ``money`` (THANH_TIEN_BV,
    Decimal), ``drug``, ``supply``, ``dose`` (a drug line's dose per take from
    LIEU_DUNG, null when it gives none)."""
    keys = claims.select("file_id", "hoso_idx", "_c")
    supplies = list(COST_GROUPS["supplies"])
    service = pl.when(pl.col("ma_dich_vu").fill_null("") != "").then(
        pl.col("ma_dich_vu")
    )

    def common(frame: pl.DataFrame, code: pl.Expr, *, drug: bool) -> pl.DataFrame:
        dose = (
            pl.col("lieu_dung").str.extract(DOSE, 1).str.replace(",", ".", literal=True)
            if drug and "lieu_dung" in frame.columns
            else pl.lit(None, pl.String)
        )
        return frame.select(
            "file_id",
            "hoso_idx",
            pl.col("ma_nhom").fill_null("?"),
            code.fill_null("").alias("code"),
            pl.col("so_luong").cast(pl.Float64).fill_null(0.0).alias("quantity"),
            pl.col("thanh_tien_bv").cast(MONEY).fill_null(0).alias("money"),
            pl.lit(drug).alias("drug"),
            dose.cast(pl.Float64, strict=False).alias("dose"),
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
    """``_c, lines, drug_lines, test_lines, care_lines`` (lines other than beds),
    ``drug_share, supply_share, concentration`` of claims with lines.

    Sums are of Decimal money (exact, so the same whatever order the rows are summed
    in); only the shares are floats.
    """
    groups = lines.group_by("_c", "ma_nhom").agg(
        pl.len().alias("n"),
        pl.col("money").sum(),
        pl.col("drug").any(),
        pl.col("supply").any(),
        pl.col("drug").sum().alias("n_drug"),
    )
    group = pl.col("ma_nhom")
    total = pl.col("money").sum().cast(pl.Float64)
    safe = pl.when(total > 0).then(total).otherwise(None)
    return groups.group_by("_c").agg(
        pl.col("n").sum().alias("lines"),
        pl.col("n_drug").sum().alias("drug_lines"),
        pl.col("n").filter(group.is_in(TEST_GROUPS)).sum().alias("test_lines"),
        pl.col("n").filter(~group.is_in(BED_GROUPS)).sum().alias("care_lines"),
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


def _dose_excess(lines: pl.DataFrame) -> pl.DataFrame:
    """``_c, dose_excess``: the geometric mean of the claim's drug lines' dose per take
    over the frame's median dose of the same code (lines without a dose left out)."""
    dosed = lines.filter(pl.col("drug") & (pl.col("dose") > 0))
    ratio = (pl.col("dose") / pl.col("dose").median().over("code")).log()
    return (
        dosed.with_columns(ratio.alias("_log"))
        .group_by("_c")
        .agg(pl.col("_log").mean().exp().alias("dose_excess"))
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
    """``_c, visits, readmits, overlaps`` (J7, J2): the patient's claims in the frame,
    those at the same facility within ``readmit_days`` of this one (either side), and
    those at another facility whose admission-to-discharge span overlaps this one's."""
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
    elsewhere = (
        keyed.filter(pl.col("_patient").is_not_null())
        .join(keyed, on="_patient", suffix="_o")
        .filter(pl.col("ma_cskcb") != pl.col("ma_cskcb_o"))
        .filter(
            (pl.col("ngay_vao") <= pl.col("ngay_ra_o"))
            & (pl.col("ngay_vao_o") <= pl.col("ngay_ra"))
        )
        .group_by("_c")
        .agg(pl.len().alias("overlaps"))
    )
    return (
        visits.join(near, on="_c", how="left")
        .join(elsewhere, on="_c", how="left")
        .with_columns(pl.col("readmits", "overlaps").fill_null(0))
    )


def _within(end: pl.Expr, start: pl.Expr, days: int) -> pl.Expr:
    """``start`` falls from ``end``'s day to ``days`` days after it."""
    gap = (start.dt.date() - end.dt.date()).dt.total_days()
    return gap.is_between(0, days)
