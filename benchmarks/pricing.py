"""As-of pricing benchmark: ``claims.price.price_lines`` next to plain DuckDB range joins.

Run: ``python benchmarks/pricing.py --lines 10000000 --json bench-pricing.json``.

Lines are drawn (seeded, vectorized) from the built-in catalogs' own (facility, code)
pairs of the 13,000 facilities: 60 % drugs (XML2), 40 % XML3 lines of which 85 % services
(a third of them national codes) and 15 % supplies; dates over 2025, 3 % without
NGAY_TH_YL (priced on NGAY_YL), claimed prices around the catalog's, and 1 % of codes not
in any catalog. ``--churn F`` also revises a fraction F of catalog rows mid-2025 (new
price from a cut date, a tenth withdrawn instead) and gives that fraction of facilities
their own row for each national service code from a cut date, so that the as-of date and
the facility-over-national rule decide real cases.

Inputs go to Parquet in a temporary folder (``--work`` to keep them). Every timed run is
a process of its own that reads the same files (timed apart) and prices them once; the
methods are interleaved over ``--repeat`` rounds so that other load on the machine hits
them alike, and each reports its best and median time and its peak RSS (the kernel's
high-water mark). The parent generates in a child process too: Linux carries a process's
peak RSS (``ru_maxrss``) across fork and exec, so a child of a parent that had grown
would report the parent's peak.

Methods:

* ``engine``: ``claims.price.price_lines`` (facility, code and catalog as Enum numbers,
  each line's catalog row number from a hash lookup on that key with the date range,
  facility rows first, then national rows for the lines left; one gather).
* ``duckdb``: one ``LEFT JOIN`` of the lines to the catalog rows on catalog, facility,
  code and ``date BETWEEN valid_from AND coalesce(valid_to, 9999-12-31)``, a second on
  catalog and code to the national rows, the facility row preferred; it builds the same
  18 output columns as the engine, into a DuckDB table.
* ``duckdb-price``: the same two joins returning the catalog price only (the bare join).
* ``asof``: the previous engine, kept in ``pricing_methods.py`` (until 2026-12-03): per
  table a backward ``join_asof`` on the facility rows, the ``valid_to`` check, the same
  on the national rows for the lines left, re-joined to the lines by row index. Same
  output as the engine, column for column.

Every method's output is compared with the engine's on each of its columns for every
line (``mismatches`` counts lines whose catalog price differs; it must be 0). ``--stages``
adds a run of the engine step by step from its own pieces (checked equal to it) that
times each step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import Laps  # noqa: E402
from benchmarks.pricing_methods import (  # noqa: E402
    CATALOGS,
    DUCKDB_PRICE_SQL,
    DUCKDB_SQL,
    compare,
    engine_stages,
    price_by_asof,
    priced_by,
)
from catalogs.resolve import VERSION, load_catalogs  # noqa: E402
from claims.price import PriceCatalogs, price_lines  # noqa: E402

METHODS = ("engine", "duckdb", "duckdb-price", "asof")
LABELS = {
    "engine": "engine price_lines",
    "duckdb": "DuckDB range joins",
    "duckdb-price": "DuckDB range joins, price only",
    "asof": "previous engine: join_asof",
    "stages": "engine, step by step",
}
YEAR = date(2025, 1, 1)


# ---------------------------------------------------------------- generation


def prepare(work: Path, n: int, seed: int, churn: float) -> dict[str, Any]:
    """Write the resolved catalogs and ``xml2``/``xml3`` lines as Parquet into ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    prices = PriceCatalogs.of(load_catalogs(ids=CATALOGS))
    if churn:
        prices = _churn(prices, rng, churn)
    for name, frame in zip(CATALOGS, prices, strict=True):
        frame.write_parquet(work / f"{name}.parquet")

    facilities = prices.drugs["ma_cskcb"].unique().sort()
    drug_pairs = _pairs(prices.drugs, "ma_thuoc")
    services = prices.services.filter(pl.col("ma_cskcb").is_not_null())
    service_pairs = _pairs(services, "ma_dich_vu")
    national = prices.services.filter(pl.col("ma_cskcb").is_null())
    national_pairs = (
        pl.DataFrame({"ma_cskcb": facilities})
        .join(_pairs(national, "ma_dich_vu").drop("ma_cskcb"), how="cross")
        .sort("ma_cskcb")
    )
    supply_pairs = _pairs(prices.supplies, "ma_vat_tu")

    n2 = round(n * 0.6)
    n_services = round((n - n2) * 0.85)
    n_national = round(n_services / 3)
    xml2 = _draw(rng, drug_pairs, n2, "ma_thuoc").rename({"claimed": "don_gia"})
    xml3 = (
        pl.concat(
            [
                _draw(rng, service_pairs, n_services - n_national, "ma_dich_vu"),
                _draw(rng, national_pairs, n_national, "ma_dich_vu"),
                _draw(rng, supply_pairs, n - n2 - n_services, "ma_vat_tu"),
            ],
            how="diagonal",
        )
        .sort("ma_cskcb", maintain_order=True)  # lines come in files per facility
        .with_columns(_claims())
        .rename({"claimed": "don_gia_bh"})
    )
    xml2 = xml2.with_columns(_claims())
    xml2.write_parquet(work / "xml2.parquet")
    xml3.select(
        "file_id",
        "hoso_idx",
        "line_no",
        "ma_cskcb",
        "ma_dich_vu",
        "ma_vat_tu",
        "don_gia_bh",
        "tyle_tt_bh",
        "ngay_yl",
        "ngay_th_yl",
    ).write_parquet(work / "xml3.parquet")
    national_rows = national.height
    return {
        "lines": xml2.height + xml3.height,
        "lines_xml2_drugs": xml2.height,
        "lines_xml3_services": n_services,
        "lines_xml3_supplies": n - n2 - n_services,
        "facilities": facilities.len(),
        "churn": churn,
        "catalog_rows": {
            "drugs": prices.drugs.height,
            "services": prices.services.height,
            "services_national": national_rows,
            "supplies": prices.supplies.height,
            "total": sum(f.height for f in prices),
        },
    }


def _pairs(catalog: pl.DataFrame, code: str) -> pl.DataFrame:
    """The distinct (facility, code) keys of a catalog with a typical price, by facility."""
    return (
        catalog.group_by("ma_cskcb", code)
        .agg(pl.col("don_gia").first().cast(pl.Float64).alias("price"))
        .sort("ma_cskcb", code)
    )


def _draw(
    rng: np.random.Generator, pairs: pl.DataFrame, count: int, code: str
) -> pl.DataFrame:
    """``count`` lines on random keys of ``pairs`` (grouped by facility, as in files)."""
    picks = pairs[np.sort(rng.integers(0, pairs.height, count))]
    unknown = pl.Series(rng.random(count) < 0.01)
    strangers = pl.Series([f"ZZ.{i:04d}" for i in range(100)])[
        rng.integers(0, 100, count)
    ]
    start = np.datetime64(YEAR.isoformat(), "m")
    minutes = rng.integers(0, 365 * 24 * 60, count).astype("timedelta64[m]")
    done = (start + minutes).astype("datetime64[us]")
    ordered = done - rng.integers(0, 12 * 60, count).astype("timedelta64[m]")
    no_done = pl.Series(rng.random(count) < 0.03)
    factor = rng.choice([1.0, 1.0, 1.0, 0.95, 1.1], count)
    ratio = rng.choice(np.array([100, 100, 100, 100, 70, 50], dtype=np.int16), count)
    return pl.DataFrame(
        {
            "ma_cskcb": picks["ma_cskcb"],
            code: pl.select(
                pl.when(unknown).then(strangers).otherwise(picks[code])
            ).to_series(),
            "claimed": (picks["price"] * factor).round(0).cast(pl.Decimal(38, 3)),
            "tyle_tt_bh": pl.Series(ratio, dtype=pl.Int16),
            "ngay_yl": pl.Series(ordered),
            "ngay_th_yl": pl.select(
                pl.when(no_done).then(None).otherwise(pl.Series(done))
            ).to_series(),
        }
    )


def _claims() -> list[pl.Expr]:
    """File per facility, a claim every 8 lines of it, lines numbered in table order."""
    first = pl.int_range(pl.len()).min().over("ma_cskcb")
    return [
        pl.format("{}-2025.xml", "ma_cskcb").alias("file_id"),
        ((pl.int_range(pl.len()) - first) // 8).cast(pl.UInt32).alias("hoso_idx"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("line_no"),
    ]


def _churn(
    prices: PriceCatalogs, rng: np.random.Generator, share: float
) -> PriceCatalogs:
    """Revise a ``share`` of rows from a cut date in 2025 (a tenth withdrawn instead).

    Services also get, for a ``share`` of facilities, the facility's own row for every
    national code from a cut date (national before it, facility's own after).
    """
    label = "2025-cut#benchmark"

    def cut_dates(count: int) -> pl.Series:
        days = rng.integers(31, 334, count).astype("timedelta64[D]")
        return pl.Series(np.datetime64(YEAR.isoformat(), "D") + days).cast(pl.Date)

    def revise(frame: pl.DataFrame) -> pl.DataFrame:
        picked = pl.Series(rng.random(frame.height) < share)
        revised = frame.filter(picked).with_columns(
            cut_dates(int(picked.sum())).alias("_cut")
        )
        withdrawn = pl.Series(rng.random(revised.height) < 0.1)
        old = revised.with_columns(
            (pl.col("_cut") - pl.duration(days=1)).alias("valid_to")
        )
        new = revised.filter(~withdrawn).with_columns(
            pl.col("_cut").alias("valid_from"),
            (pl.col("don_gia") + pl.lit(500, pl.Decimal(38, 3))).alias("don_gia"),
            pl.lit(label).alias(VERSION),
        )
        return pl.concat([frame.filter(~picked), old.drop("_cut"), new.drop("_cut")])

    services = revise(prices.services)
    national = prices.services.filter(pl.col("ma_cskcb").is_null())
    facilities = prices.drugs["ma_cskcb"].unique().sort()
    own = facilities.filter(pl.Series(rng.random(facilities.len()) < share))
    overrides = (
        pl.DataFrame({"ma_cskcb": own})
        .join(national.drop("ma_cskcb"), how="cross")
        .with_columns(
            pl.col("don_gia") - pl.lit(100, pl.Decimal(38, 3)),
            pl.lit(label).alias(VERSION),
        )
    )
    overrides = overrides.with_columns(cut_dates(overrides.height).alias("valid_from"))
    return PriceCatalogs(
        revise(prices.drugs),
        pl.concat([services, overrides.select(services.columns)]),
        revise(prices.supplies),
    )


def _memory() -> dict[str, float]:
    """Peak RSS of this process: the kernel's high-water mark and ``ru_maxrss`` (MB)."""
    hwm = 0.0
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"hwm_mb": hwm or ru, "ru_maxrss_mb": ru}


def run_polars(method: str, work: Path, write: bool) -> dict[str, Any]:
    """Time one run of a polars method (``engine``, ``asof``, ``stages``)."""
    t0 = time.perf_counter()
    xml2 = pl.read_parquet(work / "xml2.parquet")
    xml3 = pl.read_parquet(work / "xml3.parquet")
    prices = PriceCatalogs(*(pl.read_parquet(work / f"{n}.parquet") for n in CATALOGS))
    read_s = time.perf_counter() - t0
    inputs = _memory()
    lap = Laps()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if method == "engine":
        priced = price_lines(xml2, xml3, prices)
    elif method == "asof":
        priced = price_by_asof(xml2, xml3, prices, lap)
    else:
        priced = engine_stages(xml2, xml3, prices, lap)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = _memory()
    report: dict[str, Any] = {
        "seconds": seconds,
        "cpu_s": cpu,
        "read_s": read_s,
        "rss_inputs_mb": inputs["hwm_mb"],
        "peak_rss_mb": peak["hwm_mb"],
        "ru_maxrss_mb": peak["ru_maxrss_mb"],
    }
    if method != "engine":
        report["steps_s"] = lap.seconds
    if method == "stages":
        report["equal_to_price_lines"] = priced.equals(price_lines(xml2, xml3, prices))
    if write:
        priced.write_parquet(work / f"out-{method}.parquet")
    return report


def run_duckdb(work: Path, write: bool, sql: str, method: str) -> dict[str, Any]:
    """Time one run of plain DuckDB range joins (into a DuckDB table)."""
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    for table in ("xml2", "xml3", *CATALOGS):
        path = work / f"{table}.parquet"
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{path}')")
    read_s = time.perf_counter() - t0
    inputs = _memory()
    t0, cpu0 = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE priced AS {sql}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = _memory()
    if write:
        out = work / f"out-{method}.parquet"
        con.execute(
            f"""COPY (SELECT * FROM priced ORDER BY "table", line_no) TO '{out}' (FORMAT parquet)"""
        )
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "read_s": read_s,
        "rss_inputs_mb": inputs["hwm_mb"],
        "peak_rss_mb": peak["hwm_mb"],
        "ru_maxrss_mb": peak["ru_maxrss_mb"],
        "threads": threads[0] if threads else None,
    }


# ---------------------------------------------------------------- parent


def _child(args: list[str]) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh process; its last stdout line is JSON."""
    load = os.getloadavg()[0]
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_avg_1m"] = load
    return result


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One method's runs (one per process): best and median time, highest peak RSS."""
    seconds = [r["seconds"] for r in runs]
    merged: dict[str, Any] = {
        "seconds_best": min(seconds),
        "seconds_median": statistics.median(seconds),
        "seconds_all": [round(s, 3) for s in seconds],
        "cpu_s_best": min(r["cpu_s"] for r in runs),
        "read_s": statistics.median(r["read_s"] for r in runs),
        "rss_inputs_mb": max(r["rss_inputs_mb"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "ru_maxrss_mb": max(r["ru_maxrss_mb"] for r in runs),
        "load_avg_1m": [r["load_avg_1m"] for r in runs],
    }
    if "steps_s" in runs[0]:
        merged["steps_best_s"] = {
            k: min(r["steps_s"][k] for r in runs) for k in runs[0]["steps_s"]
        }
    if "equal_to_price_lines" in runs[0]:
        merged["equal_to_price_lines"] = all(r["equal_to_price_lines"] for r in runs)
    if "threads" in runs[0]:
        merged["threads"] = runs[0]["threads"]
    return merged


def _machine() -> dict[str, Any]:
    import duckdb

    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "numpy": np.__version__,
        "polars_threads": pl.thread_pool_size(),
    }


def _table(report: dict[str, Any]) -> str:
    lines = report["lines"]
    rows = [
        (
            "method",
            "best s",
            "median s",
            "CPU s",
            "lines/s",
            "read s",
            "RSS inputs MB",
            "peak RSS MB",
            "× DuckDB",
            "mismatches",
        )
    ]
    for method, result in report["methods"].items():
        ratio = result.get("vs_duckdb")
        check = result.get("check", {})
        rows.append(
            (
                LABELS[method],
                f"{result['seconds_best']:.2f}",
                f"{result['seconds_median']:.2f}",
                f"{result['cpu_s_best']:.2f}",
                f"{lines / result['seconds_best'] / 1e6:.2f}M",
                f"{result['read_s']:.2f}",
                f"{result['rss_inputs_mb']:,.0f}",
                f"{result['peak_rss_mb']:,.0f}",
                "" if ratio is None else f"{ratio:.2f}",
                "(reference)"
                if method == "engine"
                else str(check.get("mismatches", "")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    loads = [x for r in report["methods"].values() for x in r["load_avg_1m"]]
    text.append(
        f"{lines:,} lines, {report['catalog_rows']['total']:,} catalog rows; "
        f"load average before runs {min(loads):.1f}–{max(loads):.1f} "
        f"on {report['machine']['cpus']} CPUs"
    )
    steps = report["methods"].get("stages", {}).get("steps_best_s")
    if steps:
        text.append("\nengine steps (best of runs, s):")
        text.extend(f"  {s:7.3f}  {k}" for k, s in steps.items())
    steps = report["methods"].get("asof", {}).get("steps_best_s")
    if steps:
        text.append("\nprevious engine's steps (best of runs, s):")
        text.extend(f"  {s:7.3f}  {k}" for k, s in steps.items())
    return "\n".join(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--lines", type=int, default=10_000_000)
    add("--seed", type=int, default=20250101)
    add(
        "--churn", type=float, default=0.0, help="share of catalog rows revised in 2025"
    )
    add("--repeat", type=int, default=3, help="rounds: one timed run per method each")
    add(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of: {','.join(METHODS)}",
    )
    add("--stages", action="store_true", help="also time the engine step by step")
    add("--work", type=Path, default=None, help="keep inputs and outputs here")
    add("--json", type=Path, default=None)
    add("--child", choices=("prepare", *METHODS, "stages"), help=argparse.SUPPRESS)
    add("--write", action="store_true", help=argparse.SUPPRESS)
    return parser


def _run_child(args: argparse.Namespace) -> dict[str, Any]:
    """What a child process does (``--child``): its result, printed as JSON."""
    if args.child == "prepare":
        return prepare(args.work, args.lines, args.seed, args.churn)
    if args.child in ("duckdb", "duckdb-price"):
        sql = DUCKDB_SQL if args.child == "duckdb" else DUCKDB_PRICE_SQL
        return run_duckdb(args.work, args.write, sql, args.child)
    return run_polars(args.child, args.work, args.write)


def _measure(args: argparse.Namespace, methods: list[str], work: Path) -> Any:
    """Prepare the inputs, run the methods over interleaved rounds, compare them."""
    common = ["--work", str(work)]
    t0 = time.perf_counter()
    sizes = _child(
        [
            *("--child", "prepare", "--lines", str(args.lines)),
            *("--seed", str(args.seed), "--churn", str(args.churn)),
            *common,
        ]
    )
    sizes.pop("load_avg_1m")
    _log(f"prepared {sizes['lines']:,} lines in {time.perf_counter() - t0:.1f} s")
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for i in range(args.repeat):  # rounds interleave the methods: load hits all alike
        for method in methods:
            flags = ["--write"] if i + 1 == args.repeat else []
            runs[method].append(_child(["--child", method, *common, *flags]))
            _log(f"round {i + 1}: {method} {runs[method][-1]['seconds']:.2f} s")
    results = {m: _merge(r) for m, r in runs.items()}
    for method in methods[1:]:
        results[method]["check"] = compare(work, method)
    sizes["priced_by"] = priced_by(work)
    return sizes, results


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    """Prepare the lines once, run each method in its own process, compare, report."""
    parser = _parser()
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run_child(args)))
        return
    methods = ["engine", *(m for m in args.methods.split(",") if m != "engine")]
    if args.stages:
        methods.append("stages")
    unknown = set(methods) - {*METHODS, "stages"}
    if unknown:
        parser.error(f"unknown methods: {', '.join(sorted(unknown))}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-pricing-"))
    try:
        sizes, results = _measure(args, methods, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    base = results.get("duckdb")
    for result in results.values():
        result["lines_per_s"] = sizes["lines"] / result["seconds_best"]
        if base:
            result["vs_duckdb"] = result["seconds_best"] / base["seconds_best"]
    report: dict[str, Any] = {
        **sizes,
        "repeat": args.repeat,
        "seed": args.seed,
        "timing": "pricing only (inputs already in memory); best of --repeat runs, "
        "each in its own process, methods interleaved",
        "methods": results,
        "engine_over_duckdb": results["engine"].get("vs_duckdb"),
        "mismatches": {
            m: r["check"]["mismatches"] for m, r in results.items() if "check" in r
        },
        "machine": _machine(),
    }
    _log(_table(report))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    bad = {m: n for m, n in report["mismatches"].items() if n}
    if bad:
        sys.exit(f"methods disagree with the engine on catalog prices: {bad}")


if __name__ == "__main__":
    main()
