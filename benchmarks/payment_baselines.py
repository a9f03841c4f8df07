"""The baselines of the payment benchmark, and the check that they agree with the engine.

Plain DuckDB SQL (its text in ``claims.bench.baselines_sql``, which ``giamdinh bench
national-day`` runs too), each run in its own process on the engine stages' outputs (see
``benchmarks/payment.py``):

* ``sql-pay``: the line arithmetic of the payment stage, given the engine's law quantity,
  prices, ratios, MUC_HUONG and scope per line (the rules' results are inputs; the SQL
  does the arithmetic): THANH_TIEN_BV = round(round(qty × price_bv) × ratio_dv/100),
  THANH_TIEN_BH = round(round(round(qty × price) × ratio_dv/100) × ratio_bh/100), each
  rounded half-up to 2 decimals as DECIMAL(38,2); out-of-scope lines have no BH part;
  fund = round(BH × MUC_HUONG/100) (0 on a drug line a programme funds), co-pay = BH − fund,
  self-pay = BV − BH − budget;
* ``sql-settle``: the settlement groups (per facility × treatment × cost group: claimed
  and accepted BH and T_BHTT, rejected, pending) from the decisions (their outcome and
  XML1 totals), the decision lines and validation's reasons on XML2/XML3 lines (which
  claims have quarantined lines): every amount a claim asks is in one group, the rest
  of its XML1 totals that no stored line carries in ``unallocated``; claims pending
  review count in requested and in pending.

:func:`check` compares the baselines with the engine: ``law_bv, law_bh, law_bhtt,
law_bncct, law_bntt`` on every line without a package cut or other sources, and every
column of every settlement group, exactly; both must have 0 mismatches. To show that the
check can fail, deliberately wrong variants (half-even rounding, no intermediate
rounding; pending claims left out, pending claims rejected, no ``unallocated`` group)
run on a sample and must mismatch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import peak_rss_mb
from benchmarks.payment_engine import read
from claims.bench.baselines_sql import (
    FLAGS,
    PAY_SQL_COLUMNS,
    SETTLE_SQL_COLUMNS,
    pay_sql,
    settle_sql,
)

BASELINES = {"sql-pay": "pay", "sql-settle": "settle"}
"""Baseline → the engine stage it is compared with."""
LINE_KEYS = ["file_id", "hoso_idx", "table", "line_no"]
PROGRAMME = tuple(LINE_KEYS)
"""The drug lines a programme funds (``claims.bench.baselines_pay.programme_lines``)."""
AMOUNTS = ("law_bv", "law_bh", "law_bhtt", "law_bncct", "law_bntt")
GROUP_KEYS = ["ma_cskcb", "treatment", "cost_group"]
GROUP_SUMS = (
    "claimed_bh",
    "accepted_bh",
    "claimed_bhtt",
    "accepted_bhtt",
    "rejected_amount",
    "pending_amount",
)
SETTLE_INPUTS = {
    "decisions": "settle_decisions",
    "decision_lines": "settle_lines",
    "reasons": "settle_reasons",
}
"""The settlement SQL's tables and the Parquet the decide stage wrote them to (the
settle stage's inputs, ``benchmarks/payment_engine.py``)."""


def _load(con: Any, table: str, path: Path, columns: tuple[str, ...]) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    con.execute(f"CREATE TABLE {table} AS SELECT {names} FROM read_parquet('{path}')")


def _load_settle(con: Any, work: Path) -> None:
    """The settlement SQL's tables, from the settle stage's inputs."""
    for table, name in SETTLE_INPUTS.items():
        _load(con, table, work / f"{name}.parquet", SETTLE_SQL_COLUMNS[table])


# ---------------------------------------------------------------- runs


def run_baseline(method: str, work: Path, write: bool) -> dict[str, Any]:
    """Time one DuckDB baseline run (into a DuckDB table), inputs loaded apart."""
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    if method == "sql-pay":
        _load(con, "pay_lines", work / "pay_lines.parquet", PAY_SQL_COLUMNS)
        _load(con, "pay_flags", work / "pay_flags.parquet", FLAGS)
        _load(con, "pay_programme", work / "pay_programme.parquet", PROGRAMME)
        sql, out = pay_sql(programme=True), "sql_pay"
    else:
        _load_settle(con, work)
        sql, out = settle_sql(), "sql_settle"
    read_s = time.perf_counter() - t0
    inputs = peak_rss_mb()
    t0, cpu0 = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE result AS {sql}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = peak_rss_mb()
    result_rows = con.execute("SELECT count(*) FROM result").fetchall()[0][0]
    lines = "pay_lines" if method == "sql-pay" else "decision_lines"
    rows = con.execute(f"SELECT count(*) FROM {lines}").fetchall()[0][0]
    if write:
        con.execute(f"COPY result TO '{work / out}.parquet' (FORMAT parquet)")
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "read_s": read_s,
        "reference_s": 0.0,
        "rss_inputs_mb": inputs,
        "peak_rss_mb": peak,
        "rows": rows,
        "result_rows": result_rows,
        "threads": threads,
    }


# ---------------------------------------------------------------- check


def _differing(
    ours: pl.DataFrame,
    theirs: pl.DataFrame,
    keys: list[str],
    columns: tuple[str, ...],
    *,
    every: bool,
) -> dict[str, Any]:
    """Rows whose ``columns`` differ between ``ours`` and ``theirs`` (joined on ``keys``).

    ``every``: both must hold the same keys (a row on one side only differs); otherwise
    only the rows of ``ours`` are compared (one missing from ``theirs`` differs).
    """
    theirs = theirs.select(*keys, *columns).cast(
        {c: ours.schema[c] for c in (*keys, *columns)}
    )
    joined = ours.select(*keys, *columns).join(
        theirs,
        on=keys,
        how="full" if every else "left",
        suffix="_sql",
        nulls_equal=True,
        coalesce=True,
    )
    differs = {c: ~pl.col(c).eq_missing(pl.col(f"{c}_sql")) for c in columns}
    counts = joined.select(
        pl.any_horizontal(list(differs.values())).sum().alias("_any"),
        *[d.sum().alias(c) for c, d in differs.items()],
    ).row(0, named=True)
    return {
        "compared": ours.height,
        "baseline_rows": theirs.height,
        "mismatches": counts.pop("_any"),
        "columns_differing": {c: n for c, n in counts.items() if n},
    }


def check(work: Path, sample: int) -> dict[str, Any]:
    """Compare the baselines' outputs with the engine's; with ``sample`` lines, run the
    wrong variants on the first ``sample`` lines and ``sample / 2,000`` facilities."""
    columns = [*LINE_KEYS, *AMOUNTS, "package_cut", "claimed_nguonkhac", "law_budget"]
    lines = read(work, "pay_lines", columns)
    plain = (pl.col("package_cut") == 0) & (pl.col("claimed_nguonkhac") <= 0)
    compared = lines.filter(plain)
    pay_check = _differing(
        compared, read(work, "sql_pay"), LINE_KEYS, AMOUNTS, every=False
    )
    pay_check |= {
        "lines": lines.height,
        "excluded_package_cut": int((lines["package_cut"] != 0).sum()),
        "excluded_other_sources": int((lines["claimed_nguonkhac"] > 0).sum()),
        "lines_with_budget": int((lines["law_budget"] != 0).sum()),
    }
    groups = read(work, "settlement_groups")
    settle_check = _differing(
        groups, read(work, "sql_settle"), GROUP_KEYS, GROUP_SUMS, every=True
    )
    result = {"pay": pay_check, "settle": settle_check}
    if not sample:
        return result
    head = compared.head(sample)
    few = read(work, "settle_decisions")["ma_cskcb"].unique().sort()
    few = few.head(max(1, sample // 2_000))
    variants = _pay_variants(work, head) | _settle_variants(work, groups, few)
    return result | {
        "sample": {"pay_lines": head.height, "settle_facilities": few.len()},
        "variants": variants,
    }


def _pay_variants(work: Path, head: pl.DataFrame) -> dict[str, int]:
    """Mismatches of the pay SQL and its wrong variants on the lines of ``head``."""
    import duckdb

    con = duckdb.connect()
    con.register("_sample", head.select(LINE_KEYS).to_arrow())
    names = ", ".join(f'l."{c}"' for c in PAY_SQL_COLUMNS)
    con.execute(
        f"CREATE TABLE pay_lines AS SELECT {names} FROM read_parquet("
        f"'{work / 'pay_lines.parquet'}') l JOIN _sample USING "
        '(file_id, hoso_idx, "table", line_no)'
    )
    _load(con, "pay_flags", work / "pay_flags.parquet", FLAGS)
    _load(con, "pay_programme", work / "pay_programme.parquet", PROGRAMME)
    variants: dict[str, int] = {}
    for name, sql in (
        ("pay, as the baseline", pay_sql(programme=True)),
        ("pay, half-even rounding", pay_sql("round_even", programme=True)),
        ("pay, no intermediate rounding", pay_sql(steps=False, programme=True)),
    ):
        got = con.sql(sql).pl()
        variants[name] = _differing(head, got, LINE_KEYS, AMOUNTS, every=False)[
            "mismatches"
        ]
    return variants


def _settle_variants(
    work: Path, groups: pl.DataFrame, few: pl.Series
) -> dict[str, int]:
    """Mismatches of the settlement SQL and its wrong variants over the facilities
    ``few``."""
    import duckdb

    con = duckdb.connect()
    con.register("_few", pl.DataFrame({"ma_cskcb": few}).to_arrow())
    _load_settle(con, work)
    con.execute("DELETE FROM decisions WHERE ma_cskcb NOT IN (SELECT * FROM _few)")
    ours = groups.filter(pl.col("ma_cskcb").is_in(few.implode()))
    variants: dict[str, int] = {}
    for name, sql in (
        ("settle, as the baseline", settle_sql()),
        ("settle, pending claims left out", settle_sql(pending="left out")),
        ("settle, pending claims rejected", settle_sql(pending="rejected")),
        ("settle, no unallocated group", settle_sql(unallocated=False)),
    ):
        got = con.sql(sql).pl()
        variants[name] = _differing(ours, got, GROUP_KEYS, GROUP_SUMS, every=True)[
            "mismatches"
        ]
    return variants


def sum_checks(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The checks of the parts as one: counts added up, the first part's variants."""
    out = dict(parts[0])
    for key in BASELINES.values():
        total: dict[str, Any] = {}
        for part in parts:
            for name, value in part[key].items():
                if isinstance(value, dict):
                    into = total.setdefault(name, {})
                    for column, n in value.items():
                        into[column] = into.get(column, 0) + n
                else:
                    total[name] = total.get(name, 0) + value
        out[key] = total
    return out
