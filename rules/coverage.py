"""Where each check of reference §4.3 (A1 … J9) is implemented, and by what it is tested.

The ids, titles and the places that are not pack rules live in ``rules/coverage.yaml``:
validation reason codes, payment (and eligibility) reason codes, anomaly features, or
``not_checkable`` with the missing input, or ``open`` with what is not built yet. Pack
rules are found by their id prefix (``C6_…`` implements C6) in every pack version
(``<pack>/<version>/pack.yaml`` with its ``cases.yaml``) and in the fragments
(``<pack>/checks/*.yaml``, rules and cases in one file). A rule's test is its cases; a
code's or feature's test is the first file under ``tests/`` that names it.
``giamdinh rules coverage`` renders the rows (``docs/checks.md``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from claims.errors import ReasonCode
from claims.schema import rule_frame_schemas
from rules.packs import PACKS_ROOT, PackError

_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (several times faster), else
the pure-Python one: the same documents either way."""

COVERAGE_PATH = Path(__file__).parent / "coverage.yaml"
FRAGMENTS = "checks"
"""The folder of a pack holding fragment files (rules for every period)."""
_ID = re.compile(r"^[A-J][0-9]{1,2}$")
Kind = Literal["rule", "validation", "payment", "anomaly"]
ACTIONS: dict[str, str] = {
    "validation": "refuse (quarantine)",
    "payment": "pay the law's amount",
    "anomaly": "feature read by rules",
}
"""What a non-rule place does, in the action column."""


@dataclass(frozen=True)
class Place:
    """One implementation of a check: a pack rule, a reason code or a feature."""

    kind: Kind
    ref: str
    action: str
    test: str | None
    where: str = ""
    """For a rule: the versions or fragment holding it."""


@dataclass(frozen=True)
class Row:
    """One §4.3 check and where it is implemented."""

    id: str
    title: str
    places: tuple[Place, ...]
    not_checkable: str | None = None
    open: str | None = None

    @property
    def status(self) -> str:
        """``implemented``, ``not checkable`` or ``open`` (nothing built)."""
        if self.places:
            return "implemented"
        return "not checkable" if self.not_checkable else "open"


@dataclass
class _Rule:
    actions: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    """Cases that hit the rule, per source (version or fragment)."""
    misses: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Coverage:
    """Every row, and what does not check out (unknown codes, unmapped rules)."""

    rows: tuple[Row, ...]
    problems: tuple[str, ...]


def _yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML) or {}
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read: {exc}"
        raise PackError(msg, path=path) from exc
    if not isinstance(loaded, dict):
        msg = "not a mapping"
        raise PackError(msg, path=path)
    return loaded


def _add_cases(found: dict[str, _Rule], cases: Iterable[Any], label: str) -> None:
    for case in cases:
        if not isinstance(case, dict) or case.get("rule") not in found:
            continue
        rule = found[case["rule"]]
        for counts, expect in ((rule.hits, True), (rule.misses, False)):
            counts[label] = counts.get(label, 0) + (case.get("expect") is expect)


def pack_rules(root: Path = PACKS_ROOT) -> dict[str, _Rule]:
    """Every rule id under ``root`` (versions and fragments) with its actions, sources
    and how many cases hit and miss it."""
    found: dict[str, _Rule] = {}
    sources: list[tuple[Path, str, Path | None]] = []
    for pack in sorted(p for p in root.iterdir() if p.is_dir()):
        for version in sorted(v for v in pack.iterdir() if v.is_dir()):
            if version.name == FRAGMENTS:
                for frag in sorted(version.glob("*.yaml")):
                    sources.append((frag, f"{pack.name}/{FRAGMENTS}/{frag.name}", None))
            elif (version / "pack.yaml").is_file():
                label = f"{pack.name}@{version.name}"
                sources.append((version / "pack.yaml", label, version / "cases.yaml"))
    for path, label, cases_path in sources:
        body = _yaml(path)
        for spec in body.get("rules") or []:
            rule = found.setdefault(str(spec["id"]), _Rule())
            rule.actions.add(str(spec.get("action")))
            rule.sources.append(label)
        cases = body.get("cases") or []
        if cases_path is not None and cases_path.is_file():
            cases = _yaml(cases_path).get("cases") or []
        _add_cases(found, cases, label)
    return found


def _versions(sources: list[str]) -> str:
    """``vn-bhyt@2019.07.0…2026.07.0`` for a run of versions, fragments by name."""
    by_pack: dict[str, list[str]] = {}
    others = []
    for s in sources:
        if "@" in s:
            pack, _, version = s.partition("@")
            by_pack.setdefault(pack, []).append(version)
        else:
            others.append(s)
    shown = [
        f"{p}@{v[0]}" if len(v) == 1 else f"{p}@{min(v)}…{max(v)}"
        for p, v in sorted(by_pack.items())
    ]
    return ", ".join([*shown, *sorted(set(others))])


class _TestIndex:
    """The text of every test file, searched for a code or feature name."""

    def __init__(self, tests_root: Path | None):
        self.files: list[tuple[str, str]] = []
        if tests_root is not None and tests_root.is_dir():
            base = tests_root.parent
            for path in sorted(tests_root.rglob("*")):
                if path.suffix in (".py", ".yaml") and path.is_file():
                    text = path.read_text(encoding="utf-8", errors="replace")
                    self.files.append((str(path.relative_to(base)), text))

    def first(self, name: str) -> str | None:
        word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
        for path, text in self.files:
            if word.search(text):
                return path
        return None


def _rule_places(check: str, rules: Mapping[str, _Rule]) -> list[Place]:
    places = []
    for rule_id in sorted(r for r in rules if r.split("_", 1)[0] == check):
        rule = rules[rule_id]
        tested = [s for s in rule.hits if rule.hits[s] and rule.misses.get(s, 0)]
        test = None
        if tested:
            hits = min(rule.hits[s] for s in tested)
            misses = min(rule.misses[s] for s in tested)
            test = f"cases ({hits} hit, {misses} miss) in {_versions(tested)}"
        places.append(
            Place(
                "rule",
                rule_id,
                "/".join(sorted(rule.actions)),
                test,
                _versions(rule.sources),
            )
        )
    return places


def coverage(
    path: Path = COVERAGE_PATH,
    packs_root: Path = PACKS_ROOT,
    tests_root: Path | None = None,
) -> Coverage:
    """The rows of every §4.3 id, in the order of ``coverage.yaml``.

    Args:
        path: the list of checks (``rules/coverage.yaml``).
        packs_root: the packs folder whose versions and fragments hold rules.
        tests_root: the ``tests`` folder searched for codes and features (None: none).
    """
    checks = _yaml(path).get("checks") or {}
    rules = pack_rules(packs_root)
    index = _TestIndex(tests_root)
    codes = {c.value for c in ReasonCode}
    features = {c for schema in rule_frame_schemas().values() for c in schema}
    problems = []
    rows = []
    for check, spec in checks.items():
        if not _ID.match(str(check)):
            problems.append(f"{check}: not a §4.3 id (A1 … J9)")
        places = _rule_places(str(check), rules)
        for kind in ("validation", "payment", "anomaly"):
            known = features if kind == "anomaly" else codes
            for ref in spec.get(kind) or []:
                if ref not in known:
                    what = "feature column" if kind == "anomaly" else "reason code"
                    problems.append(f"{check}: {kind} names {ref}, no such {what}")
                places.append(Place(kind, ref, ACTIONS[kind], index.first(ref)))
        rows.append(
            Row(
                str(check),
                str(spec.get("title", "")),
                tuple(places),
                spec.get("not_checkable"),
                spec.get("open"),
            )
        )
    problems.extend(
        f"{r.id}: no implementation, and neither not_checkable nor open"
        for r in rows
        if not (r.places or r.not_checkable or r.open)
    )
    mapped = {r.id for r in rows}
    problems.extend(
        f"rule {r}: its prefix names no §4.3 id"
        for r in sorted(rules)
        if r.split("_", 1)[0] not in mapped
    )
    return Coverage(tuple(rows), tuple(problems))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(found: Coverage) -> str:
    """``docs/checks.md``: one table row per §4.3 id."""
    counts = {
        s: sum(r.status == s for r in found.rows)
        for s in ("implemented", "not checkable", "open")
    }
    lines = [
        "# Checks of reference §4.3 and where they are implemented",
        "",
        "Generated by `giamdinh rules coverage --out docs/checks.md` from",
        "`rules/coverage.yaml`, the pack versions and the fragments",
        "`rules/packs/*/checks/*.yaml`; do not edit by hand (a test compares them).",
        "",
        f"{len(found.rows)} checks: {counts['implemented']} implemented, "
        f"{counts['not checkable']} not checkable, {counts['open']} open.",
        "",
        "| id | check | implemented in | action | test |",
        "|---|---|---|---|---|",
    ]
    for row in found.rows:
        where, actions, tests = [], [], []
        for p in row.places:
            where.append(f"{p.kind} `{p.ref}`" + (f" ({p.where})" if p.where else ""))
            actions.append(p.action)
            tests.append(p.test or "**no test**")
        if row.not_checkable:
            where.append(f"not checkable: {row.not_checkable}")
        if row.open and not row.places:
            where.append(f"open: {row.open}")
        lines.append(
            f"| {row.id} | {_cell(row.title)} | {_cell('<br>'.join(where))} | "
            f"{_cell('<br>'.join(actions)) or '—'} | {_cell('<br>'.join(tests)) or '—'} |"
        )
    if found.problems:
        lines += ["", "## Problems", "", *(f"- {p}" for p in found.problems)]
    return "\n".join(lines) + "\n"


def as_records(found: Coverage) -> list[dict[str, Any]]:
    """The rows as JSON-ready records."""
    return [
        {
            "id": r.id,
            "check": r.title,
            "status": r.status,
            "places": [
                {
                    "kind": p.kind,
                    "ref": p.ref,
                    "action": p.action,
                    "test": p.test,
                    "where": p.where,
                }
                for p in r.places
            ],
            "not_checkable": r.not_checkable,
            "open": r.open,
        }
        for r in found.rows
    ]
