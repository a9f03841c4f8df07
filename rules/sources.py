"""What a pack version is made of on disk: its own ``pack.yaml``, the version it corrects,
and the shared check fragments it includes.

A **correction** (``corrects: 2026.07.0`` in ``2026.07.1/pack.yaml``) covers the same window
as the version it corrects and starts from that version's reason codes, rules and cases;
``remove`` drops rules by id; ``include`` adds the **fragments** named, files
``<pack_id>/checks/<name>.yaml`` beside the versions, each shaped like a pack body
(``reason_codes``, ``rules``, ``cases``). A pack that includes fragments is locked like any
other: its ``data_hash`` covers the resolved rules, so editing a fragment that a released
version includes fails the lock, exactly as editing the version would.

Selection (``rules.evaluate.select_packs``) leaves out a released version that a released
correction supersedes, so the correction applies by date; the corrected version stays
replayable by pinning it (``--pack vn-bhyt@2026.07.0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from claims.errors import ClaimsError

_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (several times faster), else
the pure-Python one: the same documents either way."""

FRAGMENTS = "checks"
"""The folder of a pack id's shared check fragments (``<pack_id>/checks/<name>.yaml``)."""
VERSION = re.compile(r"^\d{4}\.\d{2}\.\d+$")
_FRAGMENT_KEYS = frozenset({"reason_codes", "rules", "cases", "description"})
_MAX_DEPTH = 20


class SourceError(ClaimsError):
    """A pack's sources that do not fit together (the caller adds the path)."""

    def __init__(self, message: str, path: Path):
        self.path = path
        super().__init__(message)


@dataclass
class Resolved:
    """A pack version's body after corrections and fragments, and its cases' raw rows."""

    raw: dict[str, Any]
    cases: list[dict[str, Any]] = field(default_factory=list)
    has_own_cases: bool = False


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML)
    except FileNotFoundError as exc:
        msg = f"{path.name} is missing"
        raise SourceError(msg, path) from exc
    except yaml.YAMLError as exc:
        msg = f"not valid YAML: {exc}"
        raise SourceError(msg, path) from exc


def _cases_of(directory: Path) -> tuple[list[dict[str, Any]], bool]:
    path = directory / "cases.yaml"
    if not path.is_file():
        return [], False
    loaded = _load_yaml(path) or {}
    return list(loaded.get("cases") or []), True


def _merge_codes(
    into: dict[str, Any], codes: dict[str, Any], path: Path
) -> dict[str, Any]:
    out = dict(into)
    for code, spec in (codes or {}).items():
        if code in out and out[code] != spec:
            msg = (
                f"reason code {code} is declared twice with different texts or BHXH "
                "codes; declare it once (a fragment may reuse a code without declaring it)"
            )
            raise SourceError(msg, path)
        out[code] = spec
    return out


def read_fragment(pack_dir: Path, name: str) -> dict[str, Any]:
    """One fragment ``<pack_id>/checks/<name>.yaml`` as a raw mapping."""
    path = pack_dir / FRAGMENTS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (pack_dir / FRAGMENTS).glob("*.yaml"))
        msg = (
            f"include names fragment {name!r}, but {path} does not exist "
            f"(fragments: {', '.join(known) or 'none'})"
        )
        raise SourceError(msg, path)
    loaded = _load_yaml(path) or {}
    if not isinstance(loaded, dict) or set(loaded) - _FRAGMENT_KEYS:
        extra = sorted(set(loaded) - _FRAGMENT_KEYS) if isinstance(loaded, dict) else []
        msg = (
            f"a fragment holds only {', '.join(sorted(_FRAGMENT_KEYS))}; "
            f"found {', '.join(extra) or type(loaded).__name__}"
        )
        raise SourceError(msg, path)
    return loaded


def resolve(directory: Path, depth: int = 0) -> Resolved:
    """The body of ``<pack_id>/<version>/pack.yaml`` with its correction and fragments applied.

    Raises:
        SourceError: a missing or unreadable file, a correction of a version that does not
            exist or whose window differs, a ``remove`` naming no rule, a fragment that
            does not exist, or a reason code declared twice differently.
    """
    path = directory / "pack.yaml"
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        msg = "pack.yaml must be a mapping"
        raise SourceError(msg, path)
    own_cases, has_own = _cases_of(directory)
    corrects = raw.get("corrects")
    if corrects is None:
        body = dict(raw)
        cases = own_cases
    else:
        if depth > _MAX_DEPTH or not VERSION.match(str(corrects)):
            msg = f"corrects {corrects!r} is not a version"
            raise SourceError(msg, path)
        base_dir = directory.parent / str(corrects)
        if not (base_dir / "pack.yaml").is_file():
            msg = f"corrects {corrects}, which is not a version of {directory.parent.name}"
            raise SourceError(msg, path)
        base = resolve(base_dir, depth + 1)
        body = _corrected(base.raw, raw, path)
        removed = set(raw.get("remove") or ())
        cases = [c for c in base.cases if c.get("rule") not in removed] + own_cases
    for name in raw.get("include") or ():
        fragment = read_fragment(directory.parent, str(name))
        where = directory.parent / FRAGMENTS / f"{name}.yaml"
        body["reason_codes"] = _merge_codes(
            body.get("reason_codes") or {}, fragment.get("reason_codes") or {}, where
        )
        body["rules"] = list(body.get("rules") or []) + list(
            fragment.get("rules") or []
        )
        cases = cases + list(fragment.get("cases") or [])
    return Resolved(body, cases, has_own)


def _corrected(base: dict[str, Any], raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """``raw`` (a correction) applied to ``base`` (the corrected version's body)."""
    for key in ("effective_from", "effective_to"):
        if key in raw and raw[key] != base.get(key):
            msg = (
                f"a correction covers the window of the version it corrects: {key} is "
                f"{raw[key]} here but {base.get(key)} in {raw['corrects']}"
            )
            raise SourceError(msg, path)
    rules = list(base.get("rules") or [])
    removed = list(raw.get("remove") or ())
    unknown = sorted(set(removed) - {r.get("id") for r in rules})
    if unknown:
        msg = (
            f"remove names rules {raw['corrects']} does not have: {', '.join(unknown)}"
        )
        raise SourceError(msg, path)
    body = {
        **{k: v for k, v in base.items() if k not in ("include", "remove", "corrects")},
        **{k: v for k, v in raw.items() if k not in ("reason_codes", "rules")},
    }
    body["reason_codes"] = _merge_codes(
        base.get("reason_codes") or {}, raw.get("reason_codes") or {}, path
    )
    body["rules"] = [r for r in rules if r.get("id") not in set(removed)] + list(
        raw.get("rules") or []
    )
    return body
