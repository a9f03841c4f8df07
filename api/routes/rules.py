"""Rules and catalogs: the pack versions (released and draft), one rule, the catalog
versions in force, and a dry run of a draft version on the stored claims
(``claims.pipeline.explain.shadow``: what would change, per facility and per rule)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import Staff, StateDep, not_found
from api.errors import Problem
from api.models import DryRunIn
from claims.assess import load_packs
from claims.pipeline.explain import shadow
from rules.evaluate import Pack

router = APIRouter(tags=["rules"])


@cache
def every_pack() -> tuple[Pack, ...]:
    """The packs on disk, released and draft (loaded once per server)."""
    return tuple(load_packs())


def _summary(pack: Pack) -> dict[str, Any]:
    spec = pack.spec
    return {
        "id": spec.id,
        "version": spec.version,
        "status": spec.status,
        "effective_from": spec.effective_from.isoformat(),
        "effective_to": spec.effective_to.isoformat() if spec.effective_to else None,
        "corrects": spec.corrects,
        "data_hash": pack.data_hash,
        "rules": len(spec.rules),
    }


@router.get("/rules")
def packs(state: StateDep, user: Staff) -> dict[str, Any]:
    """Every pack version, and the labels the engine cites in its decisions."""
    return {
        "packs": [_summary(p) for p in every_pack()],
        "in_force": state.reference.pack_labels,
        "catalogs": state.reference.catalog_labels,
    }


@router.get("/rules/{pack_id}/{version}/{rule_id}")
def rule(pack_id: str, version: str, rule_id: str, user: Staff) -> dict[str, Any]:
    """One rule of a pack version: its expression, level, action, reason, params."""
    for pack in every_pack():
        if pack.spec.id == pack_id and pack.spec.version == version:
            for spec in pack.spec.rules:
                if spec.id == rule_id:
                    return {"pack": _summary(pack), **spec.model_dump(mode="json")}
    raise not_found()


@router.post("/rules/dry-run")
async def dry_run(body: DryRunIn, state: StateDep, user: Staff) -> dict[str, Any]:
    """Decide the stored claims admitted since ``since`` with the active versions and
    with the draft; the claims whose outcome or payable T_BHTT would change."""
    pack_id, _, version = body.draft.partition("@")
    chosen = [
        p for p in every_pack() if p.spec.id == pack_id and p.spec.version == version
    ]
    if not chosen:
        known = ", ".join(f"{p.spec.id}@{p.spec.version}" for p in every_pack())
        raise Problem("NOT_FOUND", f"Không có bộ quy tắc {body.draft}; có: {known}.")
    found = await run_in_threadpool(
        shadow, state.settings, list(every_pack()), chosen[0], body.since
    )
    return {
        "claims": found.claims,
        "changed": _plain(found.changed.to_dicts()),
        "per_facility": _plain(found.per_facility.to_dicts()),
        "per_rule": _plain(found.per_rule.to_dicts()),
    }


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: v if v is None or isinstance(v, bool | int | str) else str(v)
         for k, v in row.items()}
        for row in rows
    ]  # fmt: skip
