"""Every message template of every reason code renders with the values the engine has
for it, and leaves no ``{…}``: the engine's codes (``claims/messages.py``, validation's
and payment's) with the field they name, every pack version's ``reason_codes`` and every
check fragment's (``rules/packs/vn-bhyt/checks/*.yaml``) with the columns the rules that
emit the code read (rule-engine's AST) and their params."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from claims.assess import load_packs
from claims.decide.named import filled, validation_entries
from claims.messages import MESSAGES, placeholders, render_text
from claims.schema import REASON_VALUES, rule_frame_schemas
from rules import expression_columns
from rules.evaluate import Pack, param_literal
from rules.packs import PACKS_ROOT

LEFTOVER = re.compile(r"\{[^{}]*\}")
"""Anything still between braces after rendering."""
ENGINE_VALUES = {"field": "NGAY_VAO"}
"""What the engine fills in its own templates (validation names the element)."""
FRAGMENTS = sorted((PACKS_ROOT / "vn-bhyt" / "checks").glob("*.yaml"))
Template = tuple[str, str, frozenset[str]]
"""Where a template comes from, its text, and the names it may use."""


def _rendered(template: str, names: frozenset[str]) -> str:
    """``template`` with a sample value for each name the engine has for it."""
    return render_text(template, {n: f"<{n}>" for n in names})


def _check(where: str, template: str, names: frozenset[str]) -> None:
    try:
        text = _rendered(template, names)
    except KeyError as exc:
        msg = f"{where}: {template!r} names {exc}, which its rules do not read"
        raise AssertionError(msg) from None
    assert not LEFTOVER.search(text), f"{where}: {text!r} keeps a placeholder"
    assert text.strip(), where


@pytest.fixture(scope="module")
def packs() -> list[Pack]:
    return load_packs()


def _columns(pack: Pack, rule_id: str) -> frozenset[str]:
    """What a rule of ``pack`` reads: its expression's columns and the pack's params."""
    rule = next(r for r in pack.rules if r.spec.id == rule_id)
    params = pl.select(param_literal(v).alias(k) for k, v in pack.params.items())
    schema = {**rule_frame_schemas()[rule.spec.table], **dict(params.schema)}
    return frozenset(expression_columns(rule.spec.expr, schema))


def _pack_templates(packs: list[Pack]) -> Iterator[Template]:
    """Each pack version's code texts (vi, en) and rule descriptions, with the names
    its emitting rules read."""
    for pack in packs:
        for code, declared in pack.spec.reason_codes.items():
            names = frozenset(
                name
                for rule in pack.rules
                if rule.spec.reason_code == code
                for name in _columns(pack, rule.spec.id)
            )
            for lang in ("vi", "en"):
                text = getattr(declared.message, lang)
                yield f"{pack.label} {code} ({lang})", text, names
        for rule in pack.rules:
            names = _columns(pack, rule.spec.id)
            yield f"{pack.label} {rule.spec.id}", rule.spec.description.vi, names


def _fragment_templates(packs: list[Pack]) -> Iterator[Template]:
    """Each fragment's code texts, with the names its rules read as a compiled pack
    version that includes the fragment sees them (else the identifiers of the text)."""
    compiled = {r.spec.id: (p, r) for p in packs for r in p.rules}
    for path in FRAGMENTS:
        body: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        rules = body.get("rules") or []
        for code, declared in (body.get("reason_codes") or {}).items():
            names: set[str] = set()
            for rule in rules:
                if rule.get("reason_code") != code:
                    continue
                found = compiled.get(rule["id"])
                if found is not None:
                    names |= _columns(found[0], rule["id"])
                else:
                    names |= set(re.findall(r"[a-z_][a-z0-9_]*", rule["expr"]))
                    names |= set(rule.get("params") or {})
            for lang, text in (declared.get("message") or {}).items():
                yield f"{path.name} {code} ({lang})", text, frozenset(names)


def test_every_engine_template_renders() -> None:
    assert len(MESSAGES) > 50
    for code, template in MESSAGES.items():
        _check(code.value, template, frozenset(ENGINE_VALUES))


def test_validation_entries_leave_no_placeholder() -> None:
    """Validation's entries as reasons: even a template left unrendered upstream is
    rendered with the field it names."""
    codes = list(MESSAGES)
    entries = pl.DataFrame(
        {
            "file_id": ["f"] * len(codes),
            "hoso_idx": [0] * len(codes),
            "table": ["XML2"] * len(codes),
            "line_no": [1] * len(codes),
            "field": ["ngay_yl"] * len(codes),
            "reason_code": [c.value for c in codes],
            "message": list(MESSAGES.values()),
            "raw_value": ["20261399"] * len(codes),
        },
        schema_overrides={"hoso_idx": pl.UInt32, "line_no": pl.UInt32},
    )
    messages = validation_entries(entries)["message"].to_list()
    assert all(not LEFTOVER.search(m) for m in messages), messages
    assert all("20261399" in m for m in messages)
    with_field = [
        m for c, m in zip(codes, messages, strict=True) if "{field}" in MESSAGES[c]
    ]
    assert with_field
    assert all("NGAY_YL" in m for m in with_field)


def test_every_pack_version_template_renders(packs: list[Pack]) -> None:
    seen = 0
    for where, template, names in _pack_templates(packs):
        _check(where, template, names)
        seen += 1
    assert len(packs) >= 6
    assert seen > 300


def test_every_fragment_template_renders(packs: list[Pack]) -> None:
    seen = list(_fragment_templates(packs))
    for where, template, names in seen:
        _check(where, template, names)
    assert len(seen) >= 2 * len(FRAGMENTS)


def test_a_placeholder_its_rules_do_not_read_fails() -> None:
    """The test above can fail: a template naming a column the rule does not read."""
    with pytest.raises(AssertionError, match="do not read"):
        _check("sample", "Đơn giá {don_gia} > {catalog_price}", frozenset({"don_gia"}))
    with pytest.raises(AssertionError, match="keeps a placeholder"):
        _check("sample", "Thiếu {MA KHOA}", frozenset())


def test_the_engine_fills_a_template_as_the_test_renders_it() -> None:
    """The decide stage's vectorized filling and :func:`render_text` agree."""
    template = "Đơn giá {don_gia} cao hơn {catalog_price} ({don_gia})"
    frame = pl.DataFrame(
        {
            "template": [template, "Không có chỗ trống"],
            "values": [
                [
                    {"name": "don_gia", "value": "1404.000"},
                    {"name": "catalog_price", "value": None},
                ],
                [],
            ],
        },
        schema={"template": pl.String(), "values": REASON_VALUES},
    )
    out = frame.select(
        filled(pl.col("template"), [template], pl.col("values")).alias("template")
    )
    assert out["template"].to_list() == [
        render_text(template, {"don_gia": "1404.000", "catalog_price": None}),
        "Không có chỗ trống",
    ]
    assert placeholders(template) == ("don_gia", "catalog_price")


def test_fragments_are_found() -> None:
    assert all(isinstance(p, Path) for p in FRAGMENTS)
    assert FRAGMENTS, "rules/packs/vn-bhyt/checks/ holds the issue's check fragments"
