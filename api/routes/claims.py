"""One stored claim (``/claims/{ma_cskcb}/{ma_lk}``), as JSON and as FHIR, and a
clinic's contest of its review."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from api.deps import Anyone, Clinic, StateDep, not_found, visible
from api.fhir import claim_response_json
from api.models import ContestIn
from api.worker import now
from claims.pipeline.claim_view import claim_detail
from claims.pipeline.review import contest
from claims.store.runs import open_store
from claims.store.users import User

router = APIRouter(tags=["claims"])
FHIR_JSON = "application/fhir+json"
Facility = Annotated[str, Path(max_length=20, pattern=r"^[0-9A-Za-z._-]+$")]
MaLk = Annotated[str, Path(max_length=100)]
_UNMASKED = frozenset({"clinic", "assessor", "admin"})


def detail_for(
    state: StateDep, user: User, ma_cskcb: str, ma_lk: str
) -> dict[str, Any]:
    """The claim as ``user`` may see it (404 when absent or another clinic's)."""
    if not visible(user, ma_cskcb):
        raise not_found()
    with open_store(state.settings.store_path) as con:
        found = claim_detail(
            con,
            state.settings,
            facility=ma_cskcb,
            ma_lk=ma_lk,
            unmasked=user.role in _UNMASKED,
        )
    if found is None:
        raise not_found()
    return found


@router.get("/claims/{ma_cskcb}/{ma_lk}")
def get_claim(
    ma_cskcb: Facility, ma_lk: MaLk, state: StateDep, user: Anyone
) -> dict[str, Any]:
    """The claim's current version, all versions, the decision in force, its reasons,
    lines, rule hits, anomaly explanation and reviews. Patient identity is masked for
    finance."""
    return detail_for(state, user, ma_cskcb, ma_lk)


@router.get(
    "/claims/{ma_cskcb}/{ma_lk}/fhir",
    response_class=Response,
    responses={200: {"content": {FHIR_JSON: {}}}},
)
def get_claim_fhir(
    ma_cskcb: Facility, ma_lk: MaLk, state: StateDep, user: Anyone
) -> Response:
    """The decision in force as a FHIR R4B ``ClaimResponse`` (money exact, as the
    FHIR models write it)."""
    text = claim_response_json(detail_for(state, user, ma_cskcb, ma_lk))
    return Response(text, media_type=FHIR_JSON)


@router.post("/claims/{ma_cskcb}/{ma_lk}/contest")
def contest_claim(
    ma_cskcb: Facility, ma_lk: MaLk, body: ContestIn, state: StateDep, user: Clinic
) -> dict[str, Any]:
    """The clinic contests the review in force: the claim reopens for another
    assessor."""
    detail_for(state, user, ma_cskcb, ma_lk)
    review_id = state.worker.call(
        _contest, state, ma_cskcb, ma_lk, body.reason, user.user_id, command="contest"
    )
    return {"contested": review_id, "status": "reopened"}


def _contest(state: StateDep, facility: str, claim: str, reason: str, by: str) -> str:
    with open_store(state.settings.store_path) as con:
        return contest(con, facility, claim, reason=reason, by=by, at=now())
