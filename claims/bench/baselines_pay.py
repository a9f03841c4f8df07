"""The payment baselines: the pay line arithmetic and the settlement groups as DuckDB SQL.

Ported from ``benchmarks/payment_baselines.py``: the SQL reads the engine's law inputs
per line (quantity, prices, ratios, MUC_HUONG, scope: the rules' results are inputs,
the SQL does the arithmetic) and, for the settlement, the decisions, decision lines and
validation's reasons of the batch's main period. Both are compared with the engine
(``law_bv … law_bntt`` on every line without a package cut or other sources; every
column of every settlement group), and their wrong variants must differ.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import polars as pl

from claims.bench.baselines_price import differing, differing_sql
from claims.bench.baselines_rules import Timed
from claims.bench.baselines_sql import (
    FLAGS,
    PAY_SQL_COLUMNS,
    SETTLE_SQL_COLUMNS,
    pay_sql,
    settle_sql,
)
from claims.money import MONEY
from claims.pay import claim_facts
from claims.pay.shares import PROGRAMME_SOURCES
from claims.pipeline.context import RunContext
from claims.pipeline.stages import Frames
from claims.schema import LINE_KEYS
from claims.settle import settle

AMOUNTS = ["law_bv", "law_bh", "law_bhtt", "law_bncct", "law_bntt"]
GROUP_KEYS = ["ma_cskcb", "treatment", "cost_group"]
GROUP_SUMS = [
    "claimed_bh",
    "accepted_bh",
    "claimed_bhtt",
    "accepted_bhtt",
    "rejected_amount",
    "pending_amount",
]


def _table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register("_in", frame)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _in")
    con.unregister("_in")


def pay_baseline(ctx: RunContext, done: Frames, sample: int) -> Timed:
    """:func:`pay_sql` over every payment line, timed; the half-even and the
    round-once variants on the first ``sample`` compared lines (at least 10,000)."""
    payment = done.need("payment", done.payment)
    catalogs = ctx.reference.catalogs
    facts = claim_facts(
        done.batch(ctx),
        catalogs["benefits"].resolve(),
        catalogs["base_salary"].resolve(),
        catalogs["policy"].resolve(),
    )
    lines = payment.lines
    flags = facts.select(FLAGS)
    funded = programme_lines(done, facts)
    con = duckdb.connect()
    _table(con, "pay_lines", lines.select(PAY_SQL_COLUMNS))
    _table(con, "pay_flags", flags)
    _table(con, "pay_programme", funded)
    started = time.perf_counter()
    con.execute(f"CREATE TABLE result AS {pay_sql(programme=True)}")
    seconds = time.perf_counter() - started
    plain = (pl.col("package_cut") == 0) & (pl.col("claimed_nguonkhac") <= 0)
    compared = lines.filter(plain)
    keys = list(LINE_KEYS)
    mismatches = differing_sql(con, compared, "result", keys, AMOUNTS, every=False)
    con.close()
    head = compared.head(max(sample, 10_000))
    con = duckdb.connect()
    _table(con, "pay_lines", head.select(PAY_SQL_COLUMNS))
    _table(con, "pay_flags", flags)
    _table(con, "pay_programme", funded)
    wrong = {
        "half-even rounding": pay_sql("round_even", programme=True),
        "no intermediate rounding": pay_sql(steps=False, programme=True),
    }
    found = {
        name: differing(head, con.sql(sql).pl(), keys, AMOUNTS, every=False)
        for name, sql in wrong.items()
    }
    con.close()
    detail: dict[str, object] = {
        "compared_lines": compared.height,
        "excluded_package_cut_or_other_sources": lines.height - compared.height,
        "programme_lines": funded.height,
        "variant_lines": head.height,
        "wrong_variants": found,
    }
    return Timed(seconds, lines.height, mismatches, next(iter(found.values())), detail)


def programme_lines(done: Frames, facts: pl.DataFrame) -> pl.DataFrame:
    """The drug lines a programme funds: NGUON_CTRA 2–4 on a claim whose
    ``programme_line`` policy answer (``claim_facts``' ``_programme``) is
    ``fund_to_programme`` (``claims.pay.shares``)."""
    funding = facts.filter(pl.col("_programme") == "fund_to_programme").select(
        "file_id", "hoso_idx"
    )
    return (
        done.tables["XML2"]
        .filter(pl.col("nguon_ctra").is_in(PROGRAMME_SOURCES))
        .join(funding, on=["file_id", "hoso_idx"], how="semi")
        .select("file_id", "hoso_idx", pl.lit("XML2").alias("table"), "line_no")
    )


def settlement_inputs(done: Frames) -> dict[str, Any]:
    """The decisions of the batch's main period in the store's order, their lines and
    reasons, and advances for every third facility (half its claimed T_BHTT), as
    ``benchmarks/payment_engine.py`` settles them."""
    decided = done.need("decisions", done.decisions)
    decisions = decided.claims
    period = str(decisions["period"].drop_nulls().mode().sort()[0])
    decisions = decisions.filter(pl.col("period") == period).sort(
        "ma_cskcb", "ma_lk", "file_id", "hoso_idx"
    )
    keys = decisions.select("file_id", "hoso_idx")
    on = ["file_id", "hoso_idx"]
    lines = decided.lines.join(keys, on=on, how="semi").sort(
        "file_id", "hoso_idx", "table", "line_no"
    )
    reasons = decided.reasons.join(keys, on=on, how="semi")
    advances = (
        decisions.group_by("ma_cskcb")
        .agg(pl.col("claimed_t_bhtt").sum())
        .sort("ma_cskcb")
        .gather_every(3)
        .select(
            "ma_cskcb",
            (pl.col("claimed_t_bhtt") / 2).round(0).cast(MONEY).alias("amount"),
        )
    )
    return {
        "decisions": decisions,
        "lines": lines,
        "reasons": reasons,
        "advances": advances,
        "period": period,
    }


def settle_baseline(done: Frames) -> Timed:
    """``claims.settle.settle`` of the batch's main period (timed, the engine) and
    :func:`settle_sql` (timed), compared on every group; the wrong variants (pending
    claims left out or rejected, no ``unallocated`` group) must differ."""
    given = settlement_inputs(done)
    started = time.perf_counter()
    settlement = settle(
        given["decisions"],
        given["lines"],
        given["reasons"],
        given["advances"],
        period=given["period"],
    )
    engine_s = time.perf_counter() - started
    groups = settlement.frames["groups"]
    con = duckdb.connect()
    sources = {
        "decisions": "decisions",
        "decision_lines": "lines",
        "reasons": "reasons",
    }
    for table, name in sources.items():
        _table(con, table, given[name].select(SETTLE_SQL_COLUMNS[table]))
    started = time.perf_counter()
    con.execute(f"CREATE TABLE result AS {settle_sql()}")
    seconds = time.perf_counter() - started
    got = con.sql("SELECT * FROM result").pl()
    mismatches = differing(groups, got, GROUP_KEYS, GROUP_SUMS, every=True)
    wrong = {
        "pending claims left out": settle_sql(pending="left out"),
        "pending claims rejected": settle_sql(pending="rejected"),
        "no unallocated group": settle_sql(unallocated=False),
    }
    found = {
        name: differing(groups, con.sql(sql).pl(), GROUP_KEYS, GROUP_SUMS, every=True)
        for name, sql in wrong.items()
    }
    con.close()
    detail: dict[str, object] = {
        "period": given["period"],
        "claims": given["decisions"].height,
        "groups": groups.height,
        "wrong_variants": found,
    }
    rows = given["lines"].height
    return Timed(
        seconds, rows, mismatches, next(iter(found.values())), detail, engine_s
    )
