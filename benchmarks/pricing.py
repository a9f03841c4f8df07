"""As-of pricing benchmark: ``claims.price.price_lines`` next to a plain DuckDB range join.

Run: ``python benchmarks/pricing.py --lines 10000000 --json bench-pricing.json``.
Lines are drawn (seeded, vectorized) from the built-in catalogs' own (facility, code)
pairs of the 13,000 facilities — about 60 % drugs, 40 % services and supplies — with dates
spread over 2025 and 1 % of codes not in any catalog. Inputs are written to Parquet once;
each method then runs in its own process (so its peak RSS is its own) and writes its
catalog price per line, which are compared: the two must agree on every line.

The DuckDB baseline is one ``LEFT JOIN`` per catalog on facility, code and
``date BETWEEN valid_from AND valid_to``, then a second one on code and date for the
national rows, coalesced: the same answer as the engine's facility-then-national rule.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from catalogs.resolve import load_catalogs  # noqa: E402
from claims.price import PriceCatalogs, price_lines  # noqa: E402

CATALOG_FILES = ("drugs", "services", "supplies")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(work: Path, n: int, seed: int) -> dict[str, int]:
    """Write ``xml2.parquet``, ``xml3.parquet`` and the resolved catalogs into ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    prices = PriceCatalogs.of(load_catalogs(ids=CATALOG_FILES))
    for name, frame in zip(CATALOG_FILES, prices, strict=True):
        frame.write_parquet(work / f"{name}.parquet")
    rng = np.random.default_rng(seed)
    facilities = prices.drugs["ma_cskcb"].unique().sort()
    n2 = int(n * 0.6)
    n3 = n - n2

    def draw(pairs: pl.DataFrame, count: int, code: str) -> pl.DataFrame:
        picks = pairs[rng.integers(0, pairs.height, count)]
        unknown = rng.random(count) < 0.01
        codes = np.where(unknown, "ZZ.9999", picks[code].to_numpy())
        day = rng.integers(0, 365, count)
        minute = rng.integers(0, 24 * 60, count)
        start = np.datetime64("2025-01-01T00:00", "m")
        stamps = (
            start + day.astype("timedelta64[D]") + minute.astype("timedelta64[m]")
        ).astype("datetime64[us]")
        return pl.DataFrame(
            {
                "file_id": pl.Series(rng.integers(0, 300, count)).cast(pl.String),
                "hoso_idx": pl.Series(rng.integers(0, 5000, count), dtype=pl.UInt32),
                "line_no": pl.int_range(count, eager=True).cast(pl.UInt32),
                "ma_cskcb": picks["ma_cskcb"],
                code: codes,
                "tyle_tt_bh": pl.Series([100] * count, dtype=pl.Int16),
                "ngay_yl": pl.Series(stamps).cast(pl.Datetime("us")),
                "ngay_th_yl": pl.Series(stamps).cast(pl.Datetime("us")),
            }
        )

    drug_pairs = prices.drugs.select("ma_cskcb", "ma_thuoc")
    xml2 = draw(drug_pairs, n2, "ma_thuoc").with_columns(
        pl.lit(1000, pl.Decimal(38, 3)).alias("don_gia")
    )
    service_pairs = pl.concat(
        [
            prices.services.filter(pl.col("ma_cskcb").is_not_null()).select(
                "ma_cskcb", "ma_dich_vu"
            ),
            prices.services.filter(pl.col("ma_cskcb").is_null())
            .select("ma_dich_vu")
            .join(pl.DataFrame({"ma_cskcb": facilities}), how="cross")
            .select("ma_cskcb", "ma_dich_vu"),
        ]
    )
    services = draw(service_pairs, int(n3 * 0.85), "ma_dich_vu").with_columns(
        pl.lit(None, pl.String).alias("ma_vat_tu")
    )
    supply_pairs = prices.supplies.select("ma_cskcb", "ma_vat_tu")
    supplies = draw(supply_pairs, n3 - services.height, "ma_vat_tu").with_columns(
        pl.lit("DV").alias("ma_dich_vu")
    )
    xml3 = (
        pl.concat([services, supplies.select(services.columns)])
        .with_columns(pl.int_range(pl.len()).cast(pl.UInt32).alias("line_no"))
        .with_columns(pl.lit(1000, pl.Decimal(38, 3)).alias("don_gia_bh"))
    )
    xml2.write_parquet(work / "xml2.parquet")
    xml3.write_parquet(work / "xml3.parquet")
    return {
        "lines": xml2.height + xml3.height,
        "catalog_rows": sum(f.height for f in prices),
        "facilities": facilities.len(),
    }


def run_engine(work: Path) -> dict[str, float]:
    """Time ``price_lines`` on the prepared files; write the prices it found."""
    t0 = time.perf_counter()
    xml2 = pl.read_parquet(work / "xml2.parquet")
    xml3 = pl.read_parquet(work / "xml3.parquet")
    prices = PriceCatalogs(
        *(pl.read_parquet(work / f"{n}.parquet") for n in CATALOG_FILES)
    )
    read = time.perf_counter() - t0
    rss_inputs = _peak_rss_mb()
    t0 = time.perf_counter()
    priced = price_lines(xml2, xml3, prices)
    seconds = time.perf_counter() - t0
    priced.select("table", "line_no", "catalog_price").write_parquet(
        work / "out-engine.parquet"
    )
    return {
        "read_s": read,
        "seconds": seconds,
        "rss_inputs_mb": rss_inputs,
        "peak_rss_mb": _peak_rss_mb(),
    }


DUCKDB_SQL = """
WITH lines AS (
    SELECT 'XML2' AS tbl, line_no, ma_cskcb, ma_thuoc AS code,
           CAST(coalesce(ngay_th_yl, ngay_yl) AS DATE) AS d, 'drugs' AS cat FROM xml2
    UNION ALL
    SELECT 'XML3', line_no, ma_cskcb, coalesce(ma_vat_tu, ma_dich_vu),
           CAST(coalesce(ngay_th_yl, ngay_yl) AS DATE),
           CASE WHEN ma_vat_tu IS NULL THEN 'services' ELSE 'supplies' END FROM xml3
), catalog AS (
    SELECT 'drugs' AS cat, ma_cskcb, ma_thuoc AS code, valid_from,
           coalesce(valid_to, DATE '9999-12-31') AS valid_to, don_gia FROM drugs
    UNION ALL
    SELECT 'services', ma_cskcb, ma_dich_vu, valid_from,
           coalesce(valid_to, DATE '9999-12-31'), don_gia FROM services
    UNION ALL
    SELECT 'supplies', ma_cskcb, ma_vat_tu, valid_from,
           coalesce(valid_to, DATE '9999-12-31'), don_gia FROM supplies
)
SELECT l.tbl AS "table", l.line_no, coalesce(f.don_gia, n.don_gia) AS catalog_price
FROM lines l
LEFT JOIN catalog f ON f.cat = l.cat AND f.ma_cskcb = l.ma_cskcb AND f.code = l.code
    AND l.d BETWEEN f.valid_from AND f.valid_to
LEFT JOIN catalog n ON n.cat = l.cat AND n.ma_cskcb IS NULL AND n.code = l.code
    AND l.d BETWEEN n.valid_from AND n.valid_to
"""


def run_duckdb(work: Path) -> dict[str, float]:
    """Time the plain DuckDB range joins on the same files."""
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    for name in ("xml2", "xml3", *CATALOG_FILES):
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{work / name}.parquet')"
        )
    read = time.perf_counter() - t0
    rss_inputs = _peak_rss_mb()
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE out AS {DUCKDB_SQL}")
    seconds = time.perf_counter() - t0
    con.execute(f"COPY out TO '{work / 'out-duckdb.parquet'}' (FORMAT parquet)")
    return {
        "read_s": read,
        "seconds": seconds,
        "rss_inputs_mb": rss_inputs,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(method: str, work: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", method, "--work", str(work)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Prepare the lines once, run each method in its own process, compare, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--work", type=Path, default=Path("bench-work/pricing"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", choices=("engine", "duckdb"), default=None)
    args = parser.parse_args()
    if args.child:
        run = run_engine if args.child == "engine" else run_duckdb
        print(json.dumps(run(args.work)))
        return
    t0 = time.perf_counter()
    sizes = prepare(args.work, args.lines, args.seed)
    print(
        f"prepared {sizes['lines']:,} lines in {time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    engine = _child("engine", args.work)
    baseline = _child("duckdb", args.work)
    keys = ["table", "line_no"]
    ours = pl.read_parquet(args.work / "out-engine.parquet").sort(keys)
    theirs = pl.read_parquet(args.work / "out-duckdb.parquet").sort(keys)
    mismatches = int(
        (
            ~ours["catalog_price"].eq_missing(
                theirs["catalog_price"].cast(pl.Decimal(38, 3))
            )
        ).sum()
    ) + abs(ours.height - theirs.height)
    import duckdb

    report = {
        **sizes,
        "engine": engine,
        "duckdb": baseline,
        "engine_lines_per_s": sizes["lines"] / engine["seconds"],
        "duckdb_lines_per_s": sizes["lines"] / baseline["seconds"],
        "engine_over_duckdb_time": engine["seconds"] / baseline["seconds"],
        "not_in_catalog": int(ours["catalog_price"].null_count()),
        "mismatches": mismatches,
        "cpus": os.cpu_count(),
        "polars": pl.__version__,
        "duckdb_version": duckdb.__version__,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if mismatches:
        sys.exit(f"engine and DuckDB disagree on {mismatches:,} lines")


if __name__ == "__main__":
    main()
