"""``evaluate_table`` (one select per version, hits gathered by position) equals a
per-rule reference: one filter of the version's rows and one filter per rule.

The frames are the cases of two pack versions (rows that fire and rows that pass every
rule, ``adjust_to`` included), repeated in a seeded random order, each row labelled
with one of the versions or with none.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest

from claims.assess import load_packs
from claims.schema import CLAIM_KEYS, rule_frame_schemas
from rules.cases import case_frame, read_cases
from rules.evaluate import HIT_SCHEMA, PASSED, Pack, evaluate_table, param_columns

PACKS = [p for p in load_packs() if p.spec.version in ("2025.01.0", "2026.07.0")]
SCHEMAS = rule_frame_schemas()


def reference(
    frame: pl.DataFrame, table: str, packs: Sequence[Pack], level: str, keep: bool
) -> pl.DataFrame:
    """Per version, per rule: filter the version's rows, evaluate, filter the hits."""
    keys = [*CLAIM_KEYS, "line_no"] if level == "line" else list(CLAIM_KEYS)
    parts = [pl.DataFrame(schema=HIT_SCHEMA)]
    for pack in packs:
        rows = frame.filter(pl.col("_pack") == pack.label).with_columns(
            param_columns(pack)
        )
        for r in (
            r for r in pack.rules if (r.spec.table, r.spec.level) == (table, level)
        ):
            adjust = r.adjust if r.adjust is not None else pl.lit(None)
            out = rows.select(
                *keys,
                r.expr.alias("_v"),
                adjust.cast(pl.Decimal(38, 3)).alias("adjust_to"),
            )
            if not keep:
                out = out.filter(pl.col("_v").is_null() | pl.col("_v"))
            parts.append(
                out.select(
                    *keys,
                    *(
                        []
                        if level == "line"
                        else [pl.lit(None, pl.UInt32).alias("line_no")]
                    ),
                    pl.lit(table).alias("table"),
                    pl.lit(r.spec.id).alias("rule_id"),
                    pl.lit(pack.label).alias("pack"),
                    pl.lit(r.spec.action).alias("action"),
                    pl.lit(r.spec.reason_code).alias("reason_code"),
                    pl.when(pl.col("_v").is_null())
                    .then(pl.lit("not_evaluable"))
                    .when(pl.col("_v"))
                    .then(pl.lit("fired"))
                    .otherwise(pl.lit(PASSED))
                    .alias("outcome"),
                    "adjust_to",
                ).select(list(HIT_SCHEMA))
            )
    return pl.concat(parts, how="vertical_relaxed").cast(pl.Schema(HIT_SCHEMA))


def case_rows(table: str, seed: int) -> pl.DataFrame:
    """Every case row of the versions on ``table``, repeated and shuffled, labelled."""
    schema = dict(SCHEMAS[table])
    cases = [
        case_frame(c, schema)
        for p in PACKS
        for c in read_cases(p.path.parent)
        if any(r.spec.id == c.rule and r.spec.table == table for r in p.rules)
    ]
    rng = np.random.default_rng(seed)
    base = pl.concat(cases)
    order = rng.integers(0, base.height, base.height * 3)
    labels = [*(p.label for p in PACKS), None]
    frame = base[pl.Series(order)].with_columns(
        pl.Series(
            "_pack", [labels[i] for i in rng.integers(0, 3, order.size)], pl.String
        ),
        pl.Series("file_id", rng.integers(0, 3, order.size)).cast(pl.String),
        pl.int_range(order.size, dtype=pl.UInt32).alias("hoso_idx"),
    )
    if "line_no" in frame.columns:
        frame = frame.with_columns(
            pl.int_range(order.size, dtype=pl.UInt32).alias("line_no")
        )
    return frame


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize(("table", "level"), [("XML1", "claim"), ("XML3", "line")])
def test_evaluate_table_equals_the_per_rule_reference(
    table: str, level: str, keep: bool
) -> None:
    frame = case_rows(table, seed=len(table) + keep)
    got = evaluate_table(frame, table, PACKS, level=level, keep_passed=keep)
    want = reference(frame, table, PACKS, level, keep)
    assert got.equals(want)
    assert got.get_column("pack").n_unique() == 2  # both versions evaluated rows
    outcomes = set(got.get_column("outcome"))
    assert "fired" in outcomes
    assert (PASSED in outcomes) == keep
    if table == "XML3":
        assert got.get_column("adjust_to").drop_nulls().len() > 0


def test_a_version_labelling_every_row_and_one_labelling_none() -> None:
    frame = case_rows("XML3", seed=3).with_columns(
        pl.lit(PACKS[0].label).alias("_pack")
    )
    got = evaluate_table(frame, "XML3", PACKS, level="line")
    assert got.equals(reference(frame, "XML3", PACKS, "line", keep=False))
    assert set(got.get_column("pack")) == {PACKS[0].label}
