"""Load, type-check and compile rule packs; evaluate them over line and claim frames.

Every rule of a pack version is compiled once against the schema of the frame it reads
(the claim frame for ``level: claim``, the XML2/XML3/… line frame for ``level: line``),
with its ``params`` as typed literal columns. A claim is evaluated by the released
version whose window covers its admission date (``claims.dates``), so a January and a
July claim in one batch each get their own; a claim no version covers gets
``NO_RULE_PACK``. Evaluation is one lazy select per (table, version): no per-row Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from claims.schema import CLAIM_KEYS
from rules.packs import (
    PACKS_ROOT,
    PackError,
    PackSpec,
    Param,
    RuleSpec,
    data_hash,
    meta_hash,
    pack_dirs,
    read_lock,
    read_pack,
)

NO_RULE_PACK = "NO_RULE_PACK"
PASSED = "passed"
"""Outcome of a rule that was evaluated and did not fire (kept only on request)."""
HIT_SCHEMA: dict[str, pl.DataType] = {
    "file_id": pl.String(),
    "hoso_idx": pl.UInt32(),
    "table": pl.String(),
    "line_no": pl.UInt32(),
    "rule_id": pl.String(),
    "pack": pl.String(),
    "action": pl.String(),
    "reason_code": pl.String(),
    "outcome": pl.String(),
    "adjust_to": pl.Decimal(38, 3),
}
"""One row per rule that fired (``outcome`` ``fired``) or could not be evaluated
(``not_evaluable``) on a line or claim; ``line_no`` is null for claim rules."""
Schemas = Mapping[str, Mapping[str, pl.DataType]]
"""Frame schema per table: ``XML1`` is the claim frame, the others line frames."""


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its compiled expression and, for cap/adjust, the accepted value."""

    spec: RuleSpec
    expr: pl.Expr
    adjust: pl.Expr | None
    columns: tuple[str, ...] = ()
    """The columns ``expr`` reads (its params included), from rule-engine's AST."""


@dataclass(frozen=True)
class Pack:
    """One loaded, compiled pack version."""

    spec: PackSpec
    data_hash: str
    meta_hash: str
    path: Path
    rules: tuple[CompiledRule, ...]
    params: Mapping[str, Param]

    @property
    def label(self) -> str:
        """``id@version#hash``: how decisions cite the pack."""
        return f"{self.spec.id}@{self.spec.version}#{self.data_hash[:12]}"


def param_literal(value: Param) -> pl.Expr:
    """A rule parameter as a typed literal (decimals stay decimals)."""
    if isinstance(value, bool):
        return pl.lit(value, pl.Boolean())
    if isinstance(value, int):
        return pl.lit(value, pl.Int64())
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        scale = max(0, -exponent) if isinstance(exponent, int) else 0
        return pl.lit(value, pl.Decimal(38, scale))
    if isinstance(value, date):
        return pl.lit(value, pl.Date())
    return pl.lit(value, pl.String())


def pack_params(spec: PackSpec, path: Path) -> dict[str, Param]:
    """Every parameter of a pack version: one value per name across its rules.

    Params are literal columns beside the frame during evaluation, so a name means one
    value in a version; two rules wanting different values use different names.
    """
    seen: dict[str, tuple[Param, str]] = {}
    for rule in spec.rules:
        for name, value in rule.params.items():
            if name in seen and seen[name][0] != value:
                other = seen[name][1]
                msg = (
                    f"param {name!r} is {value!r} here but {seen[name][0]!r} in rule {other}; "
                    "give one of them another name"
                )
                raise PackError(
                    msg, path=path, pack=spec.id, version=spec.version, rule_id=rule.id
                )
            seen[name] = (value, rule.id)
    return {name: value for name, (value, _) in seen.items()}


def param_columns(pack: Pack) -> list[pl.Expr]:
    """The pack version's params as literal columns to add before evaluating."""
    return [param_literal(v).alias(k) for k, v in pack.params.items()]


def compile_rule(
    spec: PackSpec,
    rule: RuleSpec,
    schemas: Schemas,
    path: Path,
    params: Mapping[str, Param],
) -> CompiledRule:
    """Type-check and compile one rule against its frame's schema plus the pack's params."""
    from rules.compiler import compile_reading, compile_value
    from rules.errors import RuleError

    def located(message: str) -> PackError:
        return PackError(
            message, path=path, pack=spec.id, version=spec.version, rule_id=rule.id
        )

    schema = schemas.get(rule.table)
    if schema is None:
        msg = f"no frame for table {rule.table}; rules read {', '.join(schemas)}"
        raise located(msg)
    clash = sorted(set(params) & set(schema))
    if clash:
        msg = f"params {', '.join(clash)} shadow columns of the {rule.table} frame"
        raise located(msg)
    literals = pl.select(*(param_literal(v).alias(k) for k, v in params.items()))
    full = {**schema, **dict(literals.schema)}
    try:
        expr, columns = compile_reading(rule.expr, full)
        adjust = compile_value(rule.adjust_to, full) if rule.adjust_to else None
    except RuleError as exc:
        raise exc.at(pack=spec.id, version=spec.version, rule_id=rule.id) from None
    return CompiledRule(rule, expr, adjust, columns)


def compile_pack(spec: PackSpec, path: Path, schemas: Schemas) -> Pack:
    """Compile every rule of a pack version; the first rule that fails raises."""
    params = pack_params(spec, path)
    rules = tuple(compile_rule(spec, r, schemas, path, params) for r in spec.rules)
    return Pack(spec, data_hash(spec), meta_hash(spec), path, rules, params)


def load_packs(
    root: Path = PACKS_ROOT,
    *,
    schemas: Schemas,
    lock: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Pack]:
    """Every pack version under ``root``, compiled; released ones checked against LOCK.

    Raises:
        PackError: a pack that does not load, compile or match its lock entry, or two
            released versions of one pack whose windows overlap.
    """
    lock = lock if lock is not None else read_lock(root / "LOCK.yaml")
    packs = []
    for directory in pack_dirs(root):
        spec = read_pack(directory)
        pack = compile_pack(spec, directory / "pack.yaml", schemas)
        locked = lock.get(spec.id, {}).get(spec.version)
        if spec.status == "released" and locked is None:
            msg = (
                f"released version is not in LOCK.yaml; add '{spec.version}: "
                f"{pack.data_hash}' under '{spec.id}' once it is final"
            )
            raise PackError(msg, path=pack.path, pack=spec.id, version=spec.version)
        if spec.status == "released" and locked != pack.data_hash:
            msg = (
                f"released version changed: data_hash {pack.data_hash} but LOCK.yaml has "
                f"{locked}; released versions are never edited, add a new version instead"
            )
            raise PackError(msg, path=pack.path, pack=spec.id, version=spec.version)
        packs.append(pack)
    _check_windows(packs)
    return packs


def superseded(packs: Sequence[Pack]) -> set[tuple[str, str]]:
    """``(pack id, version)`` of released versions a released correction replaces."""
    released = {
        (p.spec.id, p.spec.version) for p in packs if p.spec.status == "released"
    }
    return {
        (p.spec.id, p.spec.corrects)
        for p in packs
        if p.spec.status == "released"
        and p.spec.corrects is not None
        and (p.spec.id, p.spec.corrects) in released
    }


def _check_windows(packs: Sequence[Pack]) -> None:
    replaced = superseded(packs)
    released = sorted(
        (
            p
            for p in packs
            if p.spec.status == "released"
            and (p.spec.id, p.spec.version) not in replaced
        ),
        key=lambda p: (p.spec.id, p.spec.effective_from),
    )
    for a, b in itertools.pairwise(released):
        if a.spec.id == b.spec.id and (
            a.spec.effective_to is None or a.spec.effective_to >= b.spec.effective_from
        ):
            msg = (
                f"released windows overlap: {a.spec.version} ({a.spec.effective_from}…"
                f"{a.spec.effective_to or ''}) and {b.spec.version} from {b.spec.effective_from}"
            )
            raise PackError(msg, path=b.path, pack=b.spec.id, version=b.spec.version)


def select_packs(
    packs: Sequence[Pack], pack_id: str, pinned: str | None = None
) -> list[Pack]:
    """The versions that apply: the released ones of ``pack_id`` that no released correction
    supersedes, or only ``pinned`` (any version, a superseded or draft one too)."""
    chosen = [p for p in packs if p.spec.id == pack_id]
    if pinned is not None:
        chosen = [p for p in chosen if p.spec.version == pinned]
        if not chosen:
            known = ", ".join(p.spec.version for p in packs if p.spec.id == pack_id)
            msg = f"pack {pack_id} has no version {pinned}; it has: {known or 'none'}"
            raise PackError(msg, pack=pack_id, version=pinned)
        return chosen
    replaced = superseded(chosen)
    return [
        p
        for p in chosen
        if p.spec.status == "released" and (p.spec.id, p.spec.version) not in replaced
    ]


def version_of(packs: Sequence[Pack], day: pl.Expr, *, pinned: bool = False) -> pl.Expr:
    """The label of the version covering ``day`` (null: no version covers it).

    A pinned version applies to every claim whatever its date.
    """
    if pinned and packs:
        return pl.lit(packs[0].label)
    out = pl.lit(None, pl.String())
    for p in sorted(packs, key=lambda p: p.spec.effective_from, reverse=True):
        inside = day >= p.spec.effective_from
        if p.spec.effective_to is not None:
            inside = inside & (day <= p.spec.effective_to)
        out = pl.when(inside).then(pl.lit(p.label)).otherwise(out)
    return out


def evaluate_table(
    frame: pl.DataFrame,
    table: str,
    packs: Sequence[Pack],
    *,
    level: str,
    keep_passed: bool = False,
    positions: bool = False,
) -> pl.DataFrame:
    """Rules of ``table`` and ``level`` over ``frame`` (which has a ``_pack`` label column).

    Each version's rules run as one lazy select (one boolean column per rule) on the
    rows it labels; hits are gathered by row position per rule (``arg_true``), then
    their keys in one ``gather``: no per-rule copy of the frame.

    Returns:
        :data:`HIT_SCHEMA` rows: fired and not-evaluable rules only (with
        ``keep_passed``, also the rows where a rule passed, as :data:`PASSED`); by
        version, then rule, then row. With ``positions``, also ``_row``: the hit row's
        position in ``frame`` (UInt32).
    """
    keys = [*CLAIM_KEYS, "line_no"] if level == "line" else list(CLAIM_KEYS)
    schema = {**HIT_SCHEMA, "_row": pl.UInt32()} if positions else HIT_SCHEMA
    parts = [pl.DataFrame(schema=schema)]
    labels = frame.get_column("_pack")
    for pack in packs:
        rules = [
            r for r in pack.rules if r.spec.table == table and r.spec.level == level
        ]
        if not rules:
            continue
        mine = labels == pack.label
        rows = frame.lazy()
        position = None  # the version labels every row: no filter, no positions
        if not mine.all(ignore_nulls=False):
            position = mine.arg_true()
            rows = rows.filter(pl.col("_pack") == pack.label)
        if position is not None and position.len() == 0:
            continue
        result = (
            rows.with_columns(param_columns(pack))
            .select(
                *(r.expr.alias(f"rule__{r.spec.id}") for r in rules),
                *(
                    r.adjust.cast(pl.Decimal(38, 3)).alias(f"adjust__{r.spec.id}")
                    for r in rules
                    if r.adjust is not None
                ),
            )
            .collect()
        )
        found = _hits(result, rules, keep_passed=keep_passed)
        if position is not None:
            found = found.with_columns(
                pl.lit(position).gather(pl.col("_row")).alias("_row")
            )
        hits = _labelled(found, frame, keys, pack, rules, table)
        parts.append(hits.with_columns(found.get_column("_row")) if positions else hits)
    return pl.concat(parts, how="vertical_relaxed").cast(pl.Schema(schema))


def _hits(
    result: pl.DataFrame, rules: Sequence[CompiledRule], *, keep_passed: bool
) -> pl.DataFrame:
    """``_row`` (position in ``result``), ``_rule`` (index in ``rules``), ``_value``
    (the rule's outcome: true, false or null) and ``adjust_to``, rule by rule."""
    out = []
    every = pl.int_range(result.height, dtype=pl.UInt32, eager=True)
    for i, r in enumerate(rules):
        value = result.get_column(f"rule__{r.spec.id}")
        where = every if keep_passed else value.fill_null(True).arg_true()
        if where.len() == 0:
            continue
        adjust = (
            result.get_column(f"adjust__{r.spec.id}").gather(where)
            if r.adjust is not None
            else pl.repeat(None, where.len(), dtype=pl.Decimal(38, 3), eager=True)
        )
        out.append(
            pl.DataFrame(
                {
                    "_row": where.cast(pl.UInt32),
                    "_rule": pl.repeat(i, where.len(), dtype=pl.UInt32, eager=True),
                    "_value": value.gather(where),
                    "adjust_to": adjust,
                }
            )
        )
    schema = {
        "_row": pl.UInt32(),
        "_rule": pl.UInt32(),
        "_value": pl.Boolean(),
        "adjust_to": pl.Decimal(38, 3),
    }
    return pl.concat([pl.DataFrame(schema=schema), *out], how="vertical_relaxed")


def _labelled(
    found: pl.DataFrame,
    frame: pl.DataFrame,
    keys: list[str],
    pack: Pack,
    rules: Sequence[CompiledRule],
    table: str,
) -> pl.DataFrame:
    """The hits of one version as :data:`HIT_SCHEMA` rows: their keys gathered from
    ``frame`` at ``_row``, the rule's id, action and reason from ``_rule``."""

    def per_rule(values: list[str]) -> pl.Expr:
        return pl.lit(pl.Series(values, dtype=pl.String)).gather(pl.col("_rule"))

    value = pl.col("_value")
    line_no = [] if "line_no" in keys else [pl.lit(None, pl.UInt32).alias("line_no")]
    where = found.get_column("_row")
    return (
        frame.select(pl.col(keys).gather(where))
        .hstack(found)
        .select(
            *keys,
            *line_no,
            pl.lit(table).alias("table"),
            per_rule([r.spec.id for r in rules]).alias("rule_id"),
            pl.lit(pack.label).alias("pack"),
            per_rule([r.spec.action for r in rules]).alias("action"),
            per_rule([r.spec.reason_code for r in rules]).alias("reason_code"),
            pl.when(value.is_null())
            .then(pl.lit("not_evaluable"))
            .when(value)
            .then(pl.lit("fired"))
            .otherwise(pl.lit(PASSED))
            .alias("outcome"),
            "adjust_to",
        )
        .select(list(HIT_SCHEMA))
    )
