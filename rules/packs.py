"""Rule packs on disk: ``rules/packs/<pack_id>/<version>/pack.yaml`` + ``cases.yaml``.

A pack version declares its window (``effective_from``/``effective_to``, chosen by the
claim's admission date), its status (``draft`` or ``released``), the reason codes it may
emit and its rules. A released version never changes: its ``data_hash`` (every field that
can change a decision: expressions, actions, params, reason codes, windows; not the
descriptions, which go to ``meta_hash``) is recorded in ``rules/packs/LOCK.yaml`` and a
test fails when they differ.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from claims.errors import ClaimsError, ConfigError
from rules.sources import FRAGMENTS, SourceError, resolve

_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (several times faster), else
the pure-Python one: the same documents either way."""

PACKS_ROOT = Path(__file__).parent / "packs"
LOCK_PATH = PACKS_ROOT / "LOCK.yaml"
_VERSION = re.compile(r"^\d{4}\.\d{2}\.\d+$")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")

Action = Literal["reject", "cap", "adjust", "review", "info"]
Level = Literal["line", "claim"]
Table = Literal[
    "XML1",
    "XML2",
    "XML3",
    "XML4",
    "XML5",
    "XML6",
    "XML7",
    "XML8",
    "XML9",
    "XML10",
    "XML11",
    "XML12",
    "XML13",
    "XML14",
    "XML15",
]
Param = bool | int | Decimal | str | date


class PackError(ClaimsError):
    """A pack that does not load: the file, the rule and what is wrong."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        pack: str | None = None,
        version: str | None = None,
        rule_id: str | None = None,
    ):
        self.path, self.pack, self.version, self.rule_id = path, pack, version, rule_id
        where = ", ".join(
            part
            for part in (
                str(path) if path else "",
                f"{pack}@{version}" if pack else "",
                f"rule {rule_id}" if rule_id else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class PackRootError(PackError, ConfigError):
    """A packs folder (``--packs``) that does not exist, is not a folder or is empty."""


class Description(BaseModel):
    """What a rule or reason means, in Vietnamese and English."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vi: str
    en: str


class ReasonSpec(BaseModel):
    """A reason code a pack may emit, mapped to the BHXH code where one exists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bhxh_code: str | None = None
    message: Description


class RuleSpec(BaseModel):
    """One rule: a rule-engine expression over one table's frame, and what a hit does."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    expr: str
    level: Level
    table: Table
    action: Action
    adjust_to: str | None = None
    reason_code: str
    params: dict[str, Param] = Field(default_factory=dict)
    description: Description

    @model_validator(mode="after")
    def _adjust_needs_target(self) -> RuleSpec:
        if self.action in ("cap", "adjust") and not self.adjust_to:
            msg = f"action {self.action!r} needs adjust_to (the accepted value)"
            raise ValueError(msg)
        if self.action not in ("cap", "adjust") and self.adjust_to:
            msg = f"adjust_to is only for cap and adjust, not {self.action!r}"
            raise ValueError(msg)
        if self.level == "claim" and self.table != "XML1":
            msg = "a claim-level rule reads the claim frame: table must be XML1"
            raise ValueError(msg)
        return self


class PackSpec(BaseModel):
    """One version of a pack, as written in ``pack.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: str
    effective_from: date
    effective_to: date | None = None
    status: Literal["draft", "released"]
    reason_codes: dict[str, ReasonSpec]
    rules: list[RuleSpec]
    corrects: str | None = None
    """The version this one corrects (same window; see :mod:`rules.sources`)."""
    remove: list[str] = Field(default_factory=list)
    """Rule ids of the corrected version left out of this one."""
    include: list[str] = Field(default_factory=list)
    """Check fragments (``<pack_id>/checks/<name>.yaml``) whose rules this version adds."""

    @model_validator(mode="after")
    def _consistent(self) -> PackSpec:
        if not _VERSION.match(self.version):
            msg = f"version {self.version!r} must look like 2024.07.0"
            raise ValueError(msg)
        if self.effective_to is not None and self.effective_to < self.effective_from:
            msg = "effective_to is before effective_from"
            raise ValueError(msg)
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                msg = f"rule id {rule.id!r} is used twice"
                raise ValueError(msg)
            seen.add(rule.id)
            if rule.reason_code not in self.reason_codes:
                declared = ", ".join(sorted(self.reason_codes))
                msg = (
                    f"rule {rule.id}: reason_code {rule.reason_code!r} is not declared "
                    f"in reason_codes ({declared})"
                )
                raise ValueError(msg)
        for code in self.reason_codes:
            if not _CODE.match(code):
                msg = f"reason code {code!r} must be SCREAMING_SNAKE_CASE"
                raise ValueError(msg)
        return self

    def covers(self, day: date) -> bool:
        """Whether an admission on ``day`` falls in this version's window."""
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, Decimal | date):
        return str(value)
    return value


def data_hash(spec: PackSpec) -> str:
    """sha256 of everything that can change a decision (descriptions left out)."""
    body = spec.model_dump(mode="python")
    for key in ("corrects", "remove", "include"):
        if not body[key]:
            body.pop(key)  # absent in versions written before corrections existed
    for rule in body["rules"]:
        rule.pop("description")
    for reason in body["reason_codes"].values():
        reason.pop("message")
    text = json.dumps(_canonical(body), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def meta_hash(spec: PackSpec) -> str:
    """sha256 of the descriptions and messages alone."""
    body = {
        "rules": {r.id: r.description.model_dump() for r in spec.rules},
        "reasons": {c: r.message.model_dump() for c, r in spec.reason_codes.items()},
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def read_pack(directory: Path) -> PackSpec:
    """Read and check one ``<pack_id>/<version>/pack.yaml``, its correction and fragments
    applied (:func:`rules.sources.resolve`)."""
    path = directory / "pack.yaml"
    try:
        spec = PackSpec.model_validate(resolve(directory).raw)
    except SourceError as exc:
        raise PackError(str(exc), path=exc.path) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = f"{loc}: {first['msg']}"
        raise PackError(msg, path=path) from exc
    if spec.id != directory.parent.name or spec.version != directory.name:
        msg = (
            f"pack.yaml says {spec.id}@{spec.version} but lives in "
            f"{directory.parent.name}/{directory.name}"
        )
        raise PackError(msg, path=path)
    return spec


def read_lock(path: Path = LOCK_PATH) -> dict[str, dict[str, str]]:
    """``pack id → version → data_hash`` of the released versions."""
    if not path.is_file():
        return {}
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML) or {}
    return {str(k): {str(v): str(h) for v, h in vs.items()} for k, vs in loaded.items()}


def pack_dirs(root: Path = PACKS_ROOT) -> list[Path]:
    """Every ``<pack_id>/<version>`` folder under ``root``, sorted.

    Raises:
        PackRootError: ``root`` does not exist, is not a folder or holds no version.
    """
    fix = (
        f"give a folder laid out as <pack_id>/<version>/pack.yaml (+ LOCK.yaml), "
        f"or leave --packs unset for the built-in packs ({PACKS_ROOT})"
    )
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        msg = f"the packs folder (--packs) {what}; {fix}"
        raise PackRootError(msg, path=root)
    found = sorted(
        d
        for p in root.iterdir()
        if p.is_dir()
        for d in p.iterdir()
        if d.is_dir() and d.name != FRAGMENTS
    )
    if not found:
        msg = f"the packs folder (--packs) holds no pack version; {fix}"
        raise PackRootError(msg, path=root)
    return found
