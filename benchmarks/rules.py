"""Rule evaluation benchmark: the compiled vn-bhyt line rules next to rule-engine and DuckDB.

Run: ``python benchmarks/rules.py --lines 10000000 --json bench-rules.json``
(``--repeat``, default 3: the engine and DuckDB run that many times, interleaved, and
the best time of each is reported).
Generates (seeded, vectorized) a frame of XML3 service/supply lines with the line frame's
schema — nulls, Vietnamese machine codes, catalog columns — and evaluates the 18 XML3
line rules of ``vn-bhyt@2025.01.0`` three ways in the same run:

* the engine: the compiled pack (``rules.evaluate.evaluate_table``), hits included;
* rule-engine's ``Rule.matches`` row by row on a sample, extrapolated;
* the same rules hand-written as DuckDB SQL (a null where rule-engine would raise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from claims.assess import load_packs  # noqa: E402
from claims.bench.baselines_sql import RULE_SQL  # noqa: E402
from claims.schema import rule_frame_schemas  # noqa: E402
from rules.evaluate import Pack, evaluate_table, param_columns  # noqa: E402

VERSION = "2025.01.0"

SQL_RULES = RULE_SQL
"""The 18 rules as DuckDB SQL (``claims.bench.baselines_sql``, shared with ``giamdinh
bench national-day``)."""


def make_lines(n: int, seed: int) -> pl.DataFrame:
    """``n`` XML3 lines in the line frame's schema; unset columns are null."""
    rng = np.random.default_rng(seed)
    schema = rule_frame_schemas()["XML3"]
    start = np.datetime64("2025-03-01T00:00", "m")
    order = start + rng.integers(0, 300 * 24 * 60, n).astype("timedelta64[m]")
    run = order + rng.integers(0, 120, n).astype("timedelta64[m]")
    result = run + rng.integers(3, 60, n).astype("timedelta64[m]")

    def pick(values: list[object], rare: float = 0.0) -> pl.Series:
        """The first value, or one of the others on a ``rare`` share of rows."""
        odd = rng.random(n) < rare
        index = np.where(odd, rng.integers(1, max(len(values), 2), n), 0)
        index = np.minimum(index, len(values) - 1)
        return pl.Series(values).gather(pl.Series(index))

    def money(low: int, high: int, scale: int) -> pl.Series:
        cents = rng.integers(low, high, n)
        return pl.Series(cents, dtype=pl.Int64).cast(pl.Decimal(38, 0)) / 10**scale

    nulls = rng.random(n) < 0.03
    values = {
        "ma_nhom": pl.Series(["1", "2", "3", "8", "10", "13", "15", "18"]).gather(
            pl.Series(rng.integers(0, 8, n))
        ),
        "pham_vi": pick(["1", "2", "3"], 0.01),
        "t_bhtt": money(0, 10**8, 2),
        "in_catalog": rng.random(n) > 0.01,
        "don_gia_bh": money(1000, 1001, 3),
        "catalog_price": money(1000, 1002, 3),
        "tyle_tt_bh": pick([100, 50], 0.01),
        "catalog_ratio": pick([100, 70], 0.01),
        "ma_vat_tu": pick([None, "N06.01.010"], 0.2),
        "nguoi_thuc_hien": pick(["000123/HN-CCHN", None], 0.01),
        "ma_may": pick(["XN.1.01001.1", "ĐT.1.01019.3", None, "XN.4.01001.1"], 0.03),
        "pp_vo_cam": pick(["1", None], 0.01),
        "so_luong": money(1000, 1001, 3),
        "ngay_yl": pl.Series(order.astype("datetime64[us]")),
        "ngay_th_yl": pl.Series(
            np.where(nulls, np.datetime64("NaT"), run).astype("datetime64[us]")
        ),
        "ngay_kq": pl.Series(result.astype("datetime64[us]")),
        "claim_ngay_ra": pl.Series((order + 600).astype("datetime64[us]")),
        "claim_ma_the_bhyt": pick(
            ["DN4010123456789", "QN5010123456789", "HT3010123456789"]
        ),
        "ma_dich_vu": pick(["02.1896.1001", "22.0120.1370", "02.0123.0000", None]),
        "units_same_day": money(500, 1100, 3),
        "claim_ma_loai_kcb": pick(["03", "01", "02"], 0.02),
        "catalog_max_per_day": pick([None, 2], 0.05),
    }
    frame = pl.DataFrame(
        {
            k: pl.Series(v) if not isinstance(v, pl.Series) else v
            for k, v in values.items()
        }
    )
    keys = pl.DataFrame(
        {
            "file_id": pl.Series(rng.integers(0, 300, n)).cast(pl.String),
            "hoso_idx": pl.Series(rng.integers(0, 5000, n), dtype=pl.UInt32),
            "line_no": pl.int_range(n, eager=True).cast(pl.UInt32),
        }
    )
    frame = keys.hstack(frame)
    missing = [
        pl.lit(None, dtype).alias(c)
        for c, dtype in schema.items()
        if c not in frame.columns
    ]
    return frame.with_columns(missing).select(list(schema)).cast(pl.Schema(schema))


def run_engine(frame: pl.DataFrame, pack: Pack) -> tuple[float, int]:
    framed = frame.with_columns(pl.lit(pack.label).alias("_pack"))
    t0 = time.perf_counter()
    hits = evaluate_table(framed, "XML3", [pack], level="line")
    return time.perf_counter() - t0, hits.height


def _context(schema: pl.Schema) -> object:
    """rule-engine's context for the frame, typed as the issue says (decimals are FLOAT)."""
    import rule_engine
    from rule_engine.types import DataType

    types = {}
    for name, dtype in schema.items():
        if dtype.is_integer() or isinstance(dtype, pl.Decimal):
            types[name] = DataType.FLOAT
        elif dtype == pl.String():
            types[name] = DataType.STRING
        elif dtype == pl.Boolean():
            types[name] = DataType.BOOLEAN
        elif dtype == pl.Date() or isinstance(dtype, pl.Datetime):
            types[name] = DataType.DATETIME
    return rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(types), default_timezone="UTC"
    )


def run_rule_engine(frame: pl.DataFrame, pack: Pack, sample: int) -> tuple[float, int]:
    import rule_engine

    rows = frame.head(sample).with_columns(param_columns(pack)).to_dicts()
    context = _context(frame.head(1).with_columns(param_columns(pack)).schema)
    rules = [
        rule_engine.Rule(r.spec.expr, context=context)
        for r in pack.rules
        if r.spec.table == "XML3"
    ]
    fired = 0
    t0 = time.perf_counter()
    for row in rows:
        for rule in rules:
            try:
                fired += bool(rule.matches(row))
            except (
                Exception
            ):  # rule-engine raised: "not evaluable", as the engine counts it
                fired += 1
    return time.perf_counter() - t0, fired


def run_duckdb(frame: pl.DataFrame) -> float:  # noqa: ARG001 - DuckDB scans `frame` by name
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE lines AS SELECT * FROM frame")
    columns = ", ".join(f'({expr}) AS "{rid}"' for rid, expr in SQL_RULES.items())
    t0 = time.perf_counter()
    con.execute(
        f"CREATE TABLE out AS SELECT file_id, hoso_idx, line_no, {columns} FROM lines"
    )
    return time.perf_counter() - t0


def main() -> None:
    """Generate lines, then time the three ways on them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the engine and DuckDB, interleaved; the best is reported",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    pack = next(p for p in load_packs() if p.spec.version == VERSION)
    frame = make_lines(args.lines, args.seed)
    rules = sum(1 for r in pack.rules if r.spec.table == "XML3")
    engine_all, duckdb_all = [], []
    for _ in range(args.repeat):  # interleaved: other load hits both alike
        engine_all.append(run_engine(frame, pack))
        duckdb_all.append(run_duckdb(frame))
    engine_s, hits = min(engine_all)
    duckdb_s = min(duckdb_all)
    report: dict[str, object] = {
        "lines": args.lines,
        "rules": rules,
        "repeat": args.repeat,
        "engine_seconds_all": [round(s, 3) for s, _ in engine_all],
        "duckdb_seconds_all": [round(s, 3) for s in duckdb_all],
        "load_avg_1m": os.getloadavg()[0],
        "engine_seconds": engine_s,
        "engine_rows_per_s": args.lines / engine_s,
        "engine_hits": hits,
        "duckdb_seconds": duckdb_s,
        "duckdb_rows_per_s": args.lines / duckdb_s,
        "engine_over_duckdb_speed": duckdb_s / engine_s,
        "cpus": os.cpu_count(),
        "polars": pl.__version__,
    }
    per_row_s, _ = run_rule_engine(frame, pack, args.sample)
    report["rule_engine_rows_per_s"] = args.sample / per_row_s
    report["engine_over_rule_engine"] = (args.lines / engine_s) / (
        args.sample / per_row_s
    )
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
