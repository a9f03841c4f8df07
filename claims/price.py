"""As-of pricing: every drug, service and supply line joined to its catalog row.

The catalog row is the facility's own (or the national one where the facility has none)
valid on the line's date: NGAY_TH_YL, or NGAY_YL where it is empty (``claims.dates``).
XML2 lines are drugs (MA_THUOC); XML3 lines with a MA_VAT_TU are supplies, the others
services (MA_DICH_VU). A line with no valid row is flagged ``NOT_IN_CATALOG``: it stays
with its claim and the payment stage pays nothing for it. The catalog price, payment
ratio and ceiling are carried beside the claimed figures, with ``payable_price`` (the
lower of claimed and catalog, 0 off-catalog): payment never pays a unit above it.

How (no per-row Python): facility, code and catalog become small integers (Enums of the
catalogs' own values; a value in no catalog matches nothing); each line's catalog row
number comes from a lookup on that key with the date range, first in the facility rows,
then in the national rows for the lines still without one (a numba hash table from
:data:`HASHED_FROM` lines, polars equi-joins below); the output columns are gathered
once by that number from the catalog, whose last row is the one of unpriced lines.
Rows of a key never overlap in a resolved catalog; should they (an unchecked frame),
the one that starts last on or before the date decides (the last of rows starting the
same day), and a ``valid_to`` before the date leaves the line to the national row, as
an as-of join would.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import polars as pl

from catalogs.resolve import VERSION, Catalog
from claims.dates import line_date
from claims.errors import ReasonCode as R

PRICE_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "ma_cskcb": pl.String(),
    "catalog": pl.String(),
    "code": pl.String(),
    "line_date": pl.Date(),
    "claimed_price": pl.Decimal(38, 3),
    "claimed_ratio": pl.Int64(),
    "catalog_price": pl.Decimal(38, 3),
    "catalog_ratio": pl.Int64(),
    "catalog_ceiling": pl.Decimal(38, 2),
    "catalog_max_per_day": pl.Int64(),
    "catalog_scope": pl.String(),
    VERSION: pl.String(),
    "payable_price": pl.Decimal(38, 3),
    "reason_code": pl.String(),
}
"""One row per priced line: what was claimed next to what the catalog says."""


class PriceCatalogs(NamedTuple):
    """The resolved price catalogs a run prices against."""

    drugs: pl.DataFrame
    services: pl.DataFrame
    supplies: pl.DataFrame

    @classmethod
    def of(cls, catalogs: dict[str, Catalog]) -> PriceCatalogs:
        """Resolve the three price catalogs (as currently recorded)."""
        return cls(
            catalogs["drugs"].resolve(),
            catalogs["services"].resolve(),
            catalogs["supplies"].resolve(),
        )


PRICE_CATALOGS = ("drugs", "services", "supplies")
"""The catalogs that price lines, in the order warnings name them."""


def price_lines(
    xml2: pl.DataFrame, xml3: pl.DataFrame, prices: PriceCatalogs
) -> pl.DataFrame:
    """Price the drug lines (XML2) and the service and supply lines (XML3).

    Args:
        xml2: drug lines with ``file_id, hoso_idx, line_no, ma_cskcb``, ``ma_thuoc``,
            ``don_gia``, ``tyle_tt_bh``, ``ngay_yl``, ``ngay_th_yl``.
        xml3: service and supply lines with the same keys, ``ma_dich_vu``,
            ``ma_vat_tu``, ``don_gia_bh``, ``tyle_tt_bh``, ``ngay_yl``, ``ngay_th_yl``.
        prices: the resolved catalogs.

    Returns:
        One row per input line, drugs first, each table in input order
        (:data:`PRICE_SCHEMA`).
    """
    keyed = keyed_catalog(prices, hashed=xml2.height + xml3.height >= HASHED_FROM)
    parts = []
    for table, lines in zip(TABLES, (xml2, xml3), strict=True):
        probe = probe_keys(lines, table)
        rows = row_numbers(line_keys(probe, keyed), keyed)
        parts.append(price_output(probe, rows, keyed, table.name))
    return pl.concat(parts)


class LineTable(NamedTuple):
    """How one claim table's lines look up their catalog."""

    name: str
    catalog: pl.Expr
    """The catalog's name (``drugs``, ``services``, ``supplies``)."""
    catalog_index: pl.Expr
    """The catalog's position in :data:`PRICE_CATALOGS`."""
    code: pl.Expr
    claimed: str
    """The claimed unit price column."""


HASHED_FROM = 2_000_000
"""From this many lines a call looks rows up in numba hash tables rather than by polars
joins: numba's start, once per process (about 0.3 s of CPU), costs more than the
lookup saves on fewer lines (0.08 s per million)."""
_SUPPLY = pl.col("ma_vat_tu").is_not_null()
TABLES = (
    LineTable("XML2", pl.lit("drugs"), pl.lit(0), pl.col("ma_thuoc"), "don_gia"),
    LineTable(
        "XML3",
        pl.when(_SUPPLY).then(pl.lit("supplies")).otherwise(pl.lit("services")),
        pl.when(_SUPPLY).then(2).otherwise(1),
        pl.coalesce("ma_vat_tu", "ma_dich_vu"),
        "don_gia_bh",
    ),
)
"""XML2 lines are drugs; XML3 lines with a MA_VAT_TU are supplies, the others services."""


NO_KEY = np.uint64(2**64 - 1)
"""A line's key where its facility or code is in no catalog (no key reaches it)."""
NO_DAY = np.iinfo(np.int32).min
"""A line's day where it has no date (such a line is never looked up)."""
OPEN = np.iinfo(np.int32).max
"""``valid_to`` of an open-ended row."""


class RowIndex(NamedTuple):
    """Catalog rows under one integer key, found by an open-addressing hash table."""

    keys: np.ndarray
    """The distinct keys (uint64)."""
    starts: np.ndarray
    """The rows of ``keys[i]`` are ``starts[i]`` to ``starts[i + 1]`` (int64)."""
    slots: np.ndarray
    """The hash table: a position in ``keys``, or -1 (int64; a power of two long)."""
    valid_from: np.ndarray
    """Per row, its first day (int32 days since 1970)."""
    valid_to: np.ndarray
    """Per row, its last day (:data:`OPEN` if none)."""
    rows: np.ndarray
    """Per row, its catalog row number (uint32)."""


def _row_index(rows: pl.DataFrame, key: str) -> RowIndex:
    """``rows`` (``key, _r, valid_from, valid_to``, one row per key and day) indexed."""
    rows = rows.sort(key)
    keys = rows[key].to_numpy()
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys
    starts = np.r_[first, len(keys)].astype(np.int64)
    distinct = np.ascontiguousarray(keys[first], dtype=np.uint64)
    return RowIndex(
        distinct,
        starts,
        _hash_table(distinct),
        rows["valid_from"].to_physical().to_numpy().astype(np.int32),
        rows["valid_to"].to_physical().fill_null(OPEN).to_numpy().astype(np.int32),
        rows["_r"].to_numpy().astype(np.uint32),
    )


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True)
def _slot(key: np.uint64, bits: int) -> np.int64:  # pragma: no cover - compiled
    """Fibonacci hashing: the top ``bits`` bits of ``key`` times the golden ratio."""
    return np.int64((key * _GOLDEN) >> np.uint64(64 - bits))


@numba.njit(cache=True)
def _hash_table(keys: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Open addressing with linear probing, at most half full."""
    bits = 1
    while (1 << bits) < 2 * len(keys):
        bits += 1
    slots = np.full(1 << bits, -1, dtype=np.int64)
    mask = (1 << bits) - 1
    for i in range(len(keys)):
        h = _slot(keys[i], bits)
        while slots[h] != -1:
            h = (h + 1) & mask
        slots[h] = i
    return slots


@numba.njit(cache=True)
def _lookup(
    line_keys: np.ndarray,
    days: np.ndarray,
    index: RowIndex,
    row: np.ndarray,
    missing: int,
) -> None:  # pragma: no cover - compiled
    """Set ``row`` of each line still at ``missing`` to its key's row valid on its day."""
    keys, starts, slots, valid_from, valid_to, rows = index
    bits = 0
    while (1 << bits) < len(slots):
        bits += 1
    mask = len(slots) - 1
    for i in range(len(line_keys)):
        key, day = line_keys[i], days[i]
        if row[i] != missing or key == NO_KEY or day == NO_DAY:
            continue
        h = _slot(key, bits)
        while slots[h] != -1:
            at = slots[h]
            if keys[at] == key:
                for j in range(starts[at], starts[at + 1]):
                    if valid_from[j] <= day <= valid_to[j]:
                        row[i] = rows[j]
                        break
                break
            h = (h + 1) & mask


class KeyedCatalog(NamedTuple):
    """The three price catalogs as row numbers under integer keys, and their columns."""

    facility: pl.Enum
    """The catalogs' facilities."""
    codes: pl.Enum
    """The catalogs' codes (of all three)."""
    by_facility: pl.DataFrame
    """``fk, _r, valid_from, valid_to``: the facility rows, at most one per key and day."""
    national: pl.DataFrame
    """``ck, _r, valid_from, valid_to``: the national rows, likewise."""
    attached: pl.DataFrame
    """The output columns a line takes from its row ``_r``; the last row (``missing``)
    is the one of a line no catalog row prices."""
    hashed: tuple[RowIndex, RowIndex] | None = None
    """``by_facility`` and ``national`` as hash tables (numba), if asked for."""

    @property
    def missing(self) -> int:
        """The row number of lines without a catalog row."""
        return self.attached.height - 1

    def keys(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``fk`` (facility, catalog and code) and ``ck`` (catalog and code) of the rows
        of ``frame`` (``ma_cskcb``, ``code``, ``_c``); null where a value is in no
        catalog."""
        count = len(PRICE_CATALOGS)
        code = _physical(frame["code"], self.codes)
        ck = code * count + frame["_c"].cast(pl.UInt64)
        fk = _physical(frame["ma_cskcb"], self.facility) * (count * self.codes_count)
        return pl.DataFrame([(fk + ck).alias("fk"), ck.alias("ck")])

    @property
    def codes_count(self) -> int:
        """How many codes the catalogs have."""
        return self.codes.categories.len()


def _physical(values: pl.Series, dtype: pl.Enum) -> pl.Series:
    """``values`` as their number in ``dtype`` (null if absent)."""
    return values.cast(dtype, strict=False).to_physical().cast(pl.UInt64)


def keyed_catalog(prices: PriceCatalogs, *, hashed: bool = False) -> KeyedCatalog:
    """Key the catalogs' rows by integers: facility, code and catalog as Enums of the
    catalogs' own values (a line's value in no catalog becomes null, matching nothing);
    ``hashed`` also builds the hash tables :func:`row_numbers` then looks rows up in."""
    codes_of = ("ma_thuoc", "ma_dich_vu", "ma_vat_tu")
    catalog = pl.concat(
        [
            _unified(frame, name, code).with_columns(pl.lit(i, pl.UInt64).alias("_c"))
            for i, (frame, name, code) in enumerate(
                zip(prices, PRICE_CATALOGS, codes_of, strict=True)
            )
        ]
    )
    facility = pl.Enum(catalog["ma_cskcb"].drop_nulls().unique().sort())
    codes = pl.Enum(catalog["code"].drop_nulls().unique().sort())
    empty = pl.DataFrame()
    keyed = KeyedCatalog(facility, codes, empty, empty, _output_columns(catalog))
    rows = pl.concat(
        [
            catalog.select("valid_from", "valid_to").with_row_index("_r"),
            keyed.keys(catalog),
        ],
        how="horizontal",
    )
    own = _one_per_day(rows.filter(pl.col("fk").is_not_null()).drop("ck"), "fk")
    national = _one_per_day(rows.filter(pl.col("fk").is_null()).drop("fk"), "ck")
    tables = (_row_index(own, "fk"), _row_index(national, "ck")) if hashed else None
    return keyed._replace(by_facility=own, national=national, hashed=tables)


def _output_columns(catalog: pl.DataFrame) -> pl.DataFrame:
    """The columns a line takes from its catalog row, and a last row of nulls for a line
    no row prices (``NOT_IN_CATALOG``)."""
    priced = pl.col("don_gia").is_not_null()
    columns = catalog.select(
        pl.col("don_gia").alias("catalog_price"),
        # a catalog without ratios (services) pays 100 % of its price
        pl.when(priced)
        .then(pl.col("tyle_tt_bh").fill_null(100))
        .alias("catalog_ratio"),
        pl.col("tran_tt").alias("catalog_ceiling"),
        pl.col("max_per_day").alias("catalog_max_per_day"),
        pl.when(pl.col("ma_cskcb").is_null())
        .then(pl.lit("national"))
        .otherwise(pl.lit("facility"))
        .alias("catalog_scope"),
        VERSION,
        pl.when(~priced).then(pl.lit(R.NOT_IN_CATALOG.value)).alias("reason_code"),
    )
    missing = pl.select(
        *(pl.lit(None, dtype).alias(name) for name, dtype in columns.schema.items())
    ).with_columns(pl.lit(R.NOT_IN_CATALOG.value).alias("reason_code"))
    schema = {name: PRICE_SCHEMA[name] for name in columns.columns}
    return pl.concat([columns, missing]).cast(schema)  # type: ignore[arg-type]


def _one_per_day(rows: pl.DataFrame, key: str) -> pl.DataFrame:
    """Rows of a key that cannot overlap: each ends at the latest the day before the
    next one starts (of rows starting the same day, the last in catalog order stays).

    A resolved catalog has no overlapping rows, and keys with a single row pass
    unchanged; this keeps the as-of meaning (the row starting last on or before the
    date decides) for any frame.
    """
    rows = rows.filter(pl.col(key).is_not_null() & pl.col("valid_from").is_not_null())
    if rows[key].n_unique() == rows.height:
        return rows
    several = pl.col(key).is_duplicated()
    single, dated = rows.filter(~several), rows.filter(several)
    dated = dated.sort(key, "valid_from", "_r")
    same_key = pl.col(key).shift(-1) == pl.col(key)
    tied = same_key & (pl.col("valid_from").shift(-1) == pl.col("valid_from"))
    dated = dated.filter(~tied.fill_null(False))
    before_next = pl.when(same_key).then(
        pl.col("valid_from").shift(-1) - pl.duration(days=1)
    )
    dated = dated.with_columns(pl.min_horizontal("valid_to", before_next))
    return pl.concat([single, dated])


def probe_keys(lines: pl.DataFrame, table: LineTable) -> pl.DataFrame:
    """A table's :func:`probe_lines` and the catalog's index ``_c`` (its lookup keys)."""
    probe = probe_lines(lines, table.catalog, table.code, table.claimed)
    index = lines.with_columns(table.catalog_index.cast(pl.UInt64).alias("_c"))
    return probe.with_columns(index["_c"])


def line_keys(probe: pl.DataFrame, keyed: KeyedCatalog) -> pl.DataFrame:
    """Per line: ``fk``, ``ck`` and ``line_date``."""
    return keyed.keys(probe).with_columns(probe["line_date"])


def row_numbers(keys: pl.DataFrame, keyed: KeyedCatalog) -> pl.Series:
    """Each line's catalog row number (:func:`line_keys`): the facility's row valid on
    the line's date, else the national one; else :attr:`KeyedCatalog.missing`.

    With :attr:`KeyedCatalog.hashed`, a numba hash lookup; else an equi-join on the key
    with the date range as a filter (the same rows: at most one per key and day)."""
    if keyed.hashed is None:
        return _joined_rows(keys, keyed)
    days = keys["line_date"].to_physical().fill_null(NO_DAY).to_numpy()
    days = np.ascontiguousarray(days, dtype=np.int32)
    row = np.full(keys.height, keyed.missing, dtype=np.uint32)
    for key, index in zip(("fk", "ck"), keyed.hashed, strict=True):
        found = keys[key].fill_null(NO_KEY).to_numpy()
        _lookup(np.ascontiguousarray(found, np.uint64), days, index, row, keyed.missing)
    return pl.Series("_r", row)


def _joined_rows(keys: pl.DataFrame, keyed: KeyedCatalog) -> pl.Series:
    """:func:`row_numbers` by two polars equi-joins (facility rows, then national)."""
    keys = keys.with_row_index("_i")
    row = pl.repeat(keyed.missing, keys.height, dtype=pl.UInt32, eager=True)
    dated = pl.col("line_date").is_not_null()
    valid = (pl.col("line_date") >= pl.col("valid_from")) & (
        pl.col("valid_to").is_null() | (pl.col("line_date") <= pl.col("valid_to"))
    )
    for key, rows in (("fk", keyed.by_facility), ("ck", keyed.national)):
        left = keys.filter(dated & pl.col(key).is_not_null() & (row == keyed.missing))
        hit = left.join(rows, on=key, how="inner").filter(valid)
        row.scatter(hit["_i"], hit["_r"])
    return row.alias("_r")


def price_output(
    probe: pl.DataFrame, rows: pl.Series, keyed: KeyedCatalog, table: str
) -> pl.DataFrame:
    """The probe rows next to their catalog row's columns, as :data:`PRICE_SCHEMA`."""
    found = probe.with_columns(keyed.attached[rows].get_columns())
    return found.select(
        *(pl.col(name).cast(PRICE_SCHEMA[name]) for name in ("file_id", "hoso_idx")),
        pl.lit(table).alias("table"),
        *(
            pl.col(name).cast(PRICE_SCHEMA[name])
            for name in PRICE_SCHEMA
            if name
            not in ("file_id", "hoso_idx", "table", "payable_price", "reason_code")
        ),
        payable_price(pl.col("claimed_price"), pl.col("catalog_price")).alias(
            "payable_price"
        ),
        "reason_code",
    )


def _unified(resolved: pl.DataFrame, catalog: str, code: str) -> pl.DataFrame:
    """A price catalog in the shape all three share (absent columns are null)."""

    def column(name: str, dtype: pl.DataType) -> pl.Expr:
        value = pl.col(name) if name in resolved.columns else pl.lit(None)
        return value.cast(dtype).alias(name)

    return resolved.select(
        "ma_cskcb",
        pl.lit(catalog).alias("catalog"),
        pl.col(code).alias("code"),
        "valid_from",
        "valid_to",
        "don_gia",
        column("tyle_tt_bh", pl.Int64()),
        column("tran_tt", pl.Decimal(38, 2)),
        column("max_per_day", pl.Int64()),
        VERSION,
    )


def payable_price(claimed: pl.Expr, catalog: pl.Expr) -> pl.Expr:
    """The most a unit can be paid at: the lower of claimed and catalog; 0 off-catalog.

    A null claimed price (a line the validator let through without one) pays nothing.
    """
    return (
        pl.when(catalog.is_null() | claimed.is_null())
        .then(pl.lit(0, pl.Decimal(38, 3)))
        .when(claimed < catalog)
        .then(claimed)
        .otherwise(catalog)
        .cast(pl.Decimal(38, 3))
    )


def probe_lines(
    lines: pl.DataFrame, catalog: pl.Expr, code: pl.Expr, claimed: str
) -> pl.DataFrame:
    """What pricing looks up per line: keys, catalog, code, date, the claimed figures."""
    return lines.select(
        "file_id",
        "hoso_idx",
        "line_no",
        "ma_cskcb",
        catalog.alias("catalog"),
        code.alias("code"),
        line_date().alias("line_date"),
        pl.col(claimed).alias("claimed_price"),
        pl.col("tyle_tt_bh").alias("claimed_ratio"),
    )


def unpriced_warnings(prices: pl.DataFrame, limit: float) -> list[str]:
    """One warning per price catalog that leaves more than ``limit`` of its lines unpriced.

    A share of ``NOT_IN_CATALOG`` lines that high is rarely the claims' fault: a
    ``--catalog-dir`` or catalog version that does not cover the facilities and dates
    claimed prices most lines at 0 without any row being wrong.

    Args:
        prices: the priced lines (:data:`PRICE_SCHEMA`: ``catalog``, ``reason_code``).
        limit: the share (0 to 1) above which a catalog is named
            (``Settings.max_unpriced_share``).

    Returns:
        The warnings, drugs, services then supplies; empty when every share is within
        ``limit`` (and for a run without lines).

    Example:
        >>> unpriced_warnings(done.prices, settings.max_unpriced_share)
        ['drugs: 57 of 60 lines (95.0%) are NOT_IN_CATALOG and paid 0 (…']
    """
    counts = prices.group_by("catalog").agg(
        pl.len().alias("lines"),
        pl.col("reason_code")
        .eq_missing(R.NOT_IN_CATALOG.value)
        .sum()
        .alias("unpriced"),
    )
    found = {row["catalog"]: row for row in counts.iter_rows(named=True)}
    warnings = []
    for catalog in PRICE_CATALOGS:
        row = found.get(catalog)
        if row is None or row["lines"] == 0:
            continue
        share = row["unpriced"] / row["lines"]
        if share > limit:
            warnings.append(
                f"{catalog}: {row['unpriced']:,} of {row['lines']:,} lines ({share:.1%}) "
                f"are NOT_IN_CATALOG and paid 0 (no {catalog} row valid for their "
                f"facility and date), above the limit of {limit:.1%} "
                f"(GIAMDINH_MAX_UNPRICED_SHARE); check --catalog-dir and the "
                f"{catalog} catalog's versions (giamdinh catalogs list)"
            )
    return warnings
