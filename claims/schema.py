"""The engine's own data types: keys, the batch the stages read, service groups, and the
declared schema of every frame a stage hands to the next.

A leaf: it imports nothing of the engine but ``claims.xml130`` (the exchange format's
table specs) and ``claims.money``, so every stage, the store, the rule packs and the
catalogs may read it.
Schemas are declared here, never discovered by running a stage on empty frames; a test
checks each stage's output against its declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import polars as pl

from claims.money import MONEY, QUANTITY
from claims.xml130 import DOC_TABLES, PARSED_TABLES, Kind

CLAIM_KEYS = ("file_id", "hoso_idx")
"""A claim in a run: the input's sha256 and the claim's 0-based position in it."""
ROW_KEYS = (*CLAIM_KEYS, "line_no")
"""A row of one table of a claim (``line_no`` 1-based within its table)."""
LINE_KEYS = (*CLAIM_KEYS, "table", "line_no")
"""A drug or service line across XML2 and XML3."""
TABLES = ("XML1", "XML2", "XML3", "XML4", "XML5")
"""The typed tables every stage after validation reads."""
DOCUMENTS = DOC_TABLES
"""XML6–XML15, typed too: the features stage reads them (``Batch.docs``)."""

INPATIENT = ("03", "04", "06", "09")
"""MA_LOAI_KCB of stays (inpatient, day-inpatient, observation, under 4 hours)."""

COST_GROUPS: dict[str, tuple[str, ...]] = {
    "exam": ("13",),
    "beds": ("14", "15", "16"),
    "tests": ("1",),
    "imaging": ("2", "3"),
    "surgery": ("8",),
    "procedures": ("18",),
    "high_tech": ("9",),
    "drugs": ("4", "5", "6"),
    "blood": ("7", "17"),
    "supplies": ("10", "11"),
    "transport": ("12",),
}
"""The MA_NHOM service groups (the one declaration): a line's cost group by its MA_NHOM;
any other code is :data:`OTHER_GROUP` (MA_NHOM 19 included)."""
OTHER_GROUP = "other"
EXAM_GROUPS = COST_GROUPS["exam"]
BED_GROUPS = COST_GROUPS["beds"]
SURGERY_GROUPS = COST_GROUPS["surgery"]
PROCEDURE_GROUPS = COST_GROUPS["procedures"]
SUPPLY_GROUPS = COST_GROUPS["supplies"]
TRANSPORT_GROUPS = COST_GROUPS["transport"]
RATIO_GROUPS = (*EXAM_GROUPS, *BED_GROUPS, *SURGERY_GROUPS, *PROCEDURE_GROUPS)
"""Groups whose service ratio the payment stage sets by law (exams, beds, surgeries)."""


class Registries(NamedTuple):
    """The resolved registry catalogs line features read (§3.6–§3.8, §4.3 F10–F16)."""

    practitioners: pl.DataFrame
    departments: pl.DataFrame
    equipment: pl.DataFrame
    code_pairs: pl.DataFrame


class Batch(NamedTuple):
    """The typed tables of a batch, their prices and the reference rows features read."""

    xml1: pl.DataFrame
    xml2: pl.DataFrame
    xml3: pl.DataFrame
    xml4: pl.DataFrame
    xml5: pl.DataFrame
    prices: pl.DataFrame
    facilities: pl.DataFrame
    icd_codes: pl.Series | None = None
    """Known ICD-10 codes (the ``icd10`` catalog); None: not checked (always known)."""
    quarantined: pl.DataFrame | None = None
    """``file_id, hoso_idx, lines_quarantined`` from validation (None: none)."""
    registries: Registries | None = None
    """Practitioners, departments, equipment and code pairs (None: not checked)."""
    docs: Mapping[str, pl.DataFrame] | None = None
    """Typed XML6–XML15 by table (a table absent, or None: no documents)."""
    catalog_codes: pl.DataFrame | None = None
    """Every service and supply code of the price catalogs with its facility and window
    (``claims.features_episode.catalog_codes``; None: C11 not checked)."""
    catalog_attributes: pl.DataFrame | None = None
    """The price catalogs' names and drug attributes per row
    (``claims.features_registry.catalog_attributes``; None: E2, F3 not checked)."""

    def doc(self, table: str) -> pl.DataFrame:
        """The typed rows of document table ``table`` (none: an empty frame)."""
        found = (self.docs or {}).get(table)
        return pl.DataFrame(schema=table_schema(table)) if found is None else found

    @property
    def tables(self) -> dict[str, pl.DataFrame]:
        """XML1–XML5 by table name."""
        return dict(zip(TABLES, self[:5], strict=True))


VISIT_WINDOW_DAYS = 30
"""How far back cross-claim windows look for a patient's earlier visits (days)."""


def patient_id() -> pl.Expr:
    """The patient: the 10-digit BHXH number of the first card (characters 6–15)."""
    return pl.col("ma_the_bhyt").str.slice(5, 10)


HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "patient": pl.String(),
    "ma_cskcb": pl.String(),
    "ma_lk": pl.String(),
    "ngay_vao": pl.Datetime("us"),
    "ngay_ra": pl.Datetime("us"),
    "ma_loai_kcb": pl.String(),
    "ma_benh_chinh": pl.String(),
}
"""What cross-claim windows need of a stored claim (the principal diagnosis: J7's
split episodes compare its ICD-10 category)."""

QUARANTINED_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "lines_quarantined": pl.Int64(),
}
"""Per claim, how many of its lines validation quarantined."""

FACILITY_SCHEMA: dict[str, pl.DataType] = {
    "ma_cskcb": pl.String(),
    "tier": pl.String(),
    "level_2025": pl.String(),
    "beds": pl.Int64(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "catalog_version": pl.String(),
}
"""The columns of the ``facilities`` catalog that features read."""

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "txn_id": pl.String(),
    "settlement_id": pl.String(),
    "period": pl.String(),
    "ma_cskcb": pl.String(),
    "kind": pl.String(),
    "account": pl.String(),
    "treatment": pl.String(),
    "cost_group": pl.String(),
    "debit": MONEY,
    "credit": MONEY,
    "memo": pl.String(),
}
"""One row per ledger line (``claims.settle.ledger`` computes them, ``claims.store.ledger``
keeps them); a transaction's lines share ``txn_id`` and balance."""


def table_schema(table: str) -> dict[str, pl.DataType]:
    """The typed frame of ``table`` (XML1–XML15) as validation stores it."""
    spec = PARSED_TABLES[table]
    schema: dict[str, pl.DataType] = dict.fromkeys(ROW_KEYS, pl.UInt32())
    schema["file_id"] = pl.String()
    return schema | {
        f.column: KIND_DTYPES.get(f.kind, pl.String()) for f in spec.fields
    }


KIND_DTYPES: dict[Kind, pl.DataType] = {
    Kind.MONEY: MONEY,
    Kind.WEIGHT: MONEY,
    Kind.QTY: QUANTITY,
    Kind.INT: pl.Int64(),
    Kind.PCT: pl.Int16(),
    Kind.DATE: pl.Date(),
    Kind.DATETIME: pl.Datetime("us"),
    Kind.DATE_OR_DATETIME: pl.Datetime("us"),
    Kind.BIRTH: pl.Datetime("us"),
}
"""The typed column of each field kind (text kinds stay ``String``)."""


CLAIM_FEATURES: dict[str, pl.DataType] = {
    **dict.fromkeys(
        (
            "sum_thanh_tien_bv",
            "sum_thanh_tien_bh",
            "sum_t_bntt",
            "sum_t_bncct",
            "sum_t_bhtt",
            "sum_t_nguonkhac",
            "sum_drug_bv",
            "sum_supply_bv",
            "sum_bhtt_gdv",
        ),
        MONEY,
    ),
    **dict.fromkeys(
        (
            "n_xml2",
            "n_xml3",
            "n_exam",
            "n_bed",
            "n_surgery",
            "n_xml4",
            "n_xml5",
            "n_not_in_catalog",
            "n_lines_quarantined",
        ),
        pl.Int64(),
    ),
    "facility_tier": pl.String(),
    "facility_level": pl.String(),
    "facility_beds": pl.Int64(),
    "visits_30d": pl.Int64(),
    "visits_30d_same_condition": pl.Int64(),
    "overlapping_stays": pl.Int64(),
    "same_day_claims": pl.Int64(),
    "visits_during_stay": pl.Int64(),
    "readmission_days": pl.Int64(),
    "duplicate_percent": pl.Int64(),
    "max_exams_per_practitioner_day": pl.Int64(),
    "practitioner_facilities_same_day": pl.Int64(),
    "practitioner_overlapping_lines": pl.Int64(),
    "stay_days": pl.Int64(),
    "stay_minutes": pl.Int64(),
    "age_years": pl.Int32(),
    "is_inpatient": pl.Boolean(),
    "icd_principal_known": pl.Boolean(),
    "n_secondary_icd": pl.Int64(),
}
"""The columns the features stage adds to XML1 (line sums, counts, facility, windows)."""
CLAIM_CONTEXT = (
    "ngay_vao",
    "ngay_ra",
    "ma_loai_kcb",
    "ma_doituong_kcb",
    "gioi_tinh",
    "ma_benh_chinh",
    "ma_the_bhyt",
    "ma_cskcb",
    "ket_qua_dtri",
    "ma_loai_rv",
)
"""XML1 fields copied onto every line as ``claim_<field>``."""
LINE_FEATURES: dict[str, pl.DataType] = {
    "claim_age_years": pl.Int32(),
    "claim_is_inpatient": pl.Boolean(),
    "facility_tier": pl.String(),
    "facility_level": pl.String(),
    "catalog_price": QUANTITY,
    "catalog_ratio": pl.Int64(),
    "catalog_ceiling": MONEY,
    "catalog_max_per_day": pl.Int64(),
    "in_catalog": pl.Boolean(),
    "line_date": pl.Date(),
    "units_same_day": QUANTITY,
}
"""The columns the features stage adds to an XML2/XML3 line after its claim context."""

# ---- registry and code-pair line features (issue 13 item 2; claims/features_registry.py,
# claims/features_pairs.py)
REGISTRY_LINE_FEATURES: dict[str, pl.DataType] = {
    **dict.fromkeys(
        (
            "prescriber_registered",
            "prescriber_in_department",
            "performer_registered",
            "department_known",
            "machine_registered",
            "orderer_performs",
            "bed_in_department",
        ),
        pl.Boolean(),
    ),
    **dict.fromkeys(
        (
            "machine_tests_day",
            "machine_capacity",
            "bed_other_patients",
            "department_occupancy",
            "department_beds",
            "facility_occupancy",
            "facility_total_beds",
        ),
        pl.Int64(),
    ),
}
"""Registered practitioners, departments and machines; beds and machines over the batch."""
PAIR_LINE_FEATURES: dict[str, pl.DataType] = {
    "unbundled_with": pl.String(),
    "included_in": pl.String(),
    "prerequisite_missing": pl.String(),
    "setting_excluded": pl.Boolean(),
    "indication_missing": pl.Boolean(),
    "code_day_limit": pl.Int64(),
    "period_count": pl.Int64(),
    "period_max": pl.Int64(),
}
"""What the ``code_pairs`` catalog says of a line (§4.3 F10–F16)."""
LINE_FEATURES |= REGISTRY_LINE_FEATURES | PAIR_LINE_FEATURES

# --- episode checks (helper "coverage", issue 13; claims/features_episode.py) ----------
EPISODE_CLAIM_FEATURES: dict[str, pl.DataType] = {
    "dkbd_known": pl.Boolean(),
    "dkbd_is_facility": pl.Boolean(),
    "withdrawal_of_stored": pl.Boolean(),
}
"""B4/B5: MA_DKBD a known facility, MA_DKBD the treating one; J9: a withdrawal's claim
is stored (null for other claims, and without a history)."""
EPISODE_LINE_FEATURES: dict[str, pl.DataType] = {
    "nguonkhac_gap": MONEY,
    "dosage_parsed": pl.Boolean(),
    "dosage_days": pl.Int64(),
    "dosage_quantity": QUANTITY,
    "days_on_hand": pl.Int64(),
    "xml4_kq_matches": pl.Boolean(),
    "bed_units_day": QUANTITY,
    "bed_depts_day": pl.Int64(),
    "catalog_code_known": pl.Boolean(),
}
"""D2 T_NGUONKHAC − its parts; E10 LIEU_DUNG parsed (XML2); J6 days of the drug on hand
(XML2); C10 XML4's result date matches (XML3); H5 bed-days and departments of the day
(XML3); C11 the service or supply code is in the facility's or the national catalog at
some date (XML3). Null where the table has no such input."""
CLAIM_FEATURES |= EPISODE_CLAIM_FEATURES
LINE_FEATURES |= EPISODE_LINE_FEATURES
HISTORY_DAY = ("day_file_id", "day_hoso_idx")
"""Optional columns of a history frame: the claim keys of a row that is a claim of the
run's own day in another partition (null for a claim of an earlier run), so checks
that order claims (J6) order it as one batch would."""
HISTORY_DRUGS = "drugs"
"""An optional column of a history frame beside :data:`HISTORY_SCHEMA`: the stored
claim's drug lines (:data:`HISTORY_DRUG`), which J6 reads for the days on hand."""
HISTORY_DRUG = pl.List(
    pl.Struct(
        {"ma_thuoc": pl.String(), "line_date": pl.Date(), "lieu_dung": pl.String()}
    )
)


# --- catalog attributes (helper "attributes", issue 13; claims/features_registry.py) -----
ATTRIBUTE_LINE_FEATURES: dict[str, pl.DataType] = {
    "catalog_mismatch": pl.String(),
}
"""E2, F3, F4: the XML fields of the line that differ from the catalog row that priced
it (';'-separated, e.g. ``HAM_LUONG;SO_DANG_KY``; null when all match, off-catalog, or
not checked): XML2 TEN_THUOC, HAM_LUONG, DUONG_DUNG, DON_VI_TINH, SO_DANG_KY; XML3
TEN_DICH_VU (services) or TEN_VAT_TU (supplies). Text compared trimmed, NFC, case-folded,
spaces collapsed."""
_ordered = {
    c: d
    for c, d in LINE_FEATURES.items()
    if c not in PAIR_LINE_FEATURES and c not in EPISODE_LINE_FEATURES
}
_ordered |= ATTRIBUTE_LINE_FEATURES | PAIR_LINE_FEATURES | EPISODE_LINE_FEATURES
LINE_FEATURES.clear()
LINE_FEATURES.update(
    _ordered
)  # the order features computes them: registry, pairs, episode


# --- document checks (helper "documents", issue 13; claims/features_documents.py) ------
DOCUMENT_CLAIM_FEATURES: dict[str, pl.DataType] = {
    **dict.fromkeys(
        (
            "n_xml7",
            "n_xml8",
            "n_xml9",
            "n_xml10",
            "n_xml11",
            "n_xml13",
            "n_xml14",
            "n_xml5_repeated",
            "n_imaging_without_conclusion",
        ),
        pl.Int64(),
    ),
    **dict.fromkeys(
        (
            "xml7_leave_days",
            "xml7_leave_span",
            "xml7_leave_after_discharge",
            "xml10_days",
            "xml10_span",
            "xml11_days",
            "xml8_summary_chars",
            "xml14_after_discharge",
        ),
        pl.Int64(),
    ),
    "xml7_leave_partial": pl.Boolean(),
    "xml11_pregnancy_stop": pl.Boolean(),
    "xml14_matches_tai_kham": pl.Boolean(),
}
"""I1–I6, C13: rows of each document per claim (0 when none); XML7 leave days, to −
from + 1, start − discharge (days), only some of the three given; XML10 SO_NGAY and
DEN_NGAY − TU_NGAY; XML11 leave days and a pregnancy termination; XML8 TOMTAT_KQ
length; XML5 notes repeating an earlier one; XML4 imaging results without KET_LUAN;
XML14 NGAY_HEN_KL − discharge (days) and whether it is XML1's NGAY_TAI_KHAM. Null where
the claim has no such document."""
CLAIM_FEATURES |= DOCUMENT_CLAIM_FEATURES


# --- the item a line names (helper "contract": reasons name the line) -------------------
REASON_VALUE = pl.Struct({"name": pl.String(), "value": pl.String()})
"""A value a reason names: the column (or field) and its value as text."""
REASON_VALUES = pl.List(REASON_VALUE)
"""The values a reason compared, in the order its check reads them."""
ITEM_CODE_COLUMNS: dict[str, tuple[str, ...]] = {
    "XML2": ("ma_thuoc",),
    "XML3": ("ma_vat_tu", "ma_dich_vu"),
    "XML4": ("ma_dich_vu",),
}
"""The columns naming a line's drug, supply or service, first non-null wins (a supply
line names its service too); tables absent here have no item code."""


def rule_frame_schemas() -> dict[str, dict[str, pl.DataType]]:
    """The frames rules read, by table: XML1 with :data:`CLAIM_FEATURES`, XML2/XML3
    with the claim context and :data:`LINE_FEATURES`, XML4/XML5 as stored."""
    xml1 = table_schema("XML1")
    context = {f"claim_{c}": xml1[c] for c in CLAIM_CONTEXT}
    out = {"XML1": xml1 | CLAIM_FEATURES}
    for table in ("XML2", "XML3"):
        out[table] = table_schema(table) | context | LINE_FEATURES
    for table in ("XML4", "XML5"):
        out[table] = table_schema(table)
    return out


# --- stored window of the bed, machine and practitioner checks (helper "window", issue
# 13; claims/store/window.py reads it and gives it to the features) ------------------
HISTORY_BEDS = "beds"
"""An optional column of a history frame: the stored claim's bed lines (XML3 lines with
MA_GIUONG, :data:`HISTORY_BED`) that H7 occupancy and H9 shared beds count."""
HISTORY_BED = pl.List(
    pl.Struct(
        {"ma_khoa": pl.String(), "ma_giuong": pl.String(), "ma_nhom": pl.String()}
    )
)
HISTORY_MACHINES = "machines"
"""An optional column of a history frame: the stored claim's XML3 lines per machine and
day (:data:`HISTORY_MACHINE`), which J4 adds to the batch's tests per machine-day."""
HISTORY_MACHINE = pl.List(
    pl.Struct({"ma_may": pl.String(), "line_date": pl.Date(), "n": pl.Int64()})
)
HISTORY_EXAMS = "exams"
"""An optional column of a history frame: the stored claim's XML3 lines per practitioner,
group and day (:data:`HISTORY_EXAM`; the exam groups count toward H3's load)."""
HISTORY_EXAM = pl.List(
    pl.Struct(
        {
            "ma_bac_si": pl.String(),
            "ma_nhom": pl.String(),
            "line_date": pl.Date(),
            "n": pl.Int64(),
        }
    )
)
HISTORY_PERFORMED = "performed"
"""An optional column of a history frame: the stored claim's XML3 lines with a performer
and both times (:data:`HISTORY_PERFORM`: NGUOI_THUC_HIEN, from COALESCE(NGAY_TH_YL,
NGAY_YL) to NGAY_KQ), which J3 sweeps for one practitioner at two facilities at
overlapping times."""
HISTORY_PERFORM = pl.List(
    pl.Struct(
        {
            "nguoi_thuc_hien": pl.String(),
            "start": pl.Datetime("us"),
            "end": pl.Datetime("us"),
        }
    )
)
HISTORY_CODES = "codes"
"""An optional column of a history frame: the stored claim's item codes (XML2 MA_THUOC,
XML3 MA_VAT_TU else MA_DICH_VU) with their line counts (:data:`HISTORY_CODE`), read for
the stored claims of a batch claim's patient, facility and admission day only (J1's
near-duplicates)."""
HISTORY_CODE = pl.List(pl.Struct({"code": pl.String(), "n": pl.Int64()}))
