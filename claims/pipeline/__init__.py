"""The one pipeline and the runs built on it.

``context`` (what a run decides with), ``stages`` (the stages and ``run_stages``),
``daily`` and ``inbox`` (the daily run), ``selfcheck`` (``giamdinh check``), ``audit``
(post-audit), ``explain`` (``rules explain`` and ``rules shadow``), ``anomalies``
(a period's anomaly scores), ``settlement`` (settle a period, post it and an audit to
the ledger, read settlements back), ``advances`` (record, list, reverse),
``identity`` (API users, roles and keys) and ``claim_view`` (one stored claim as JSON,
``claim_detail``). Interfaces
(the CLI, the API) call these; nothing below imports them.
"""

from claims.pipeline.advances import add_advance, cancel_advance, list_advances
from claims.pipeline.anomalies import ScoredPeriod, score_period, score_tables
from claims.pipeline.audit import run_audit
from claims.pipeline.claim_view import claim_detail
from claims.pipeline.context import Reference, RunContext, no_history
from claims.pipeline.daily import RunResult, run_inbox, store_history
from claims.pipeline.explain import Explained, Shadowed, explain_claim, shadow
from claims.pipeline.identity import (
    ROLES,
    IdentityError,
    add_user,
    authenticate,
    key_hash,
    list_users,
    new_key,
    revoke_user,
)
from claims.pipeline.selfcheck import check_files
from claims.pipeline.settlement import (
    ledger_diff,
    list_settlements,
    settle_period,
    settlement_files,
    settlement_status,
    start_audit,
    start_settlement,
)
from claims.pipeline.stages import (
    STAGES,
    STORED_STAGES,
    Frames,
    StageOrderError,
    Step,
    run_stages,
    stages_named,
)

__all__ = [
    "ROLES",
    "STAGES",
    "STORED_STAGES",
    "Explained",
    "Frames",
    "IdentityError",
    "Reference",
    "RunContext",
    "RunResult",
    "ScoredPeriod",
    "Shadowed",
    "StageOrderError",
    "Step",
    "add_advance",
    "add_user",
    "authenticate",
    "cancel_advance",
    "check_files",
    "claim_detail",
    "explain_claim",
    "key_hash",
    "ledger_diff",
    "list_advances",
    "list_settlements",
    "list_users",
    "new_key",
    "no_history",
    "revoke_user",
    "run_audit",
    "run_inbox",
    "run_stages",
    "score_period",
    "score_tables",
    "settle_period",
    "settlement_files",
    "settlement_status",
    "shadow",
    "stages_named",
    "start_audit",
    "start_settlement",
    "store_history",
]
