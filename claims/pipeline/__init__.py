"""The one pipeline and the runs built on it.

``context`` (what a run decides with), ``stages`` (the stages and ``run_stages``),
``daily`` and ``inbox`` (the daily run), ``selfcheck`` (``giamdinh check``), ``audit``
(post-audit), ``explain`` (``rules explain`` and ``rules shadow``), ``anomalies``
(a period's anomaly scores) and ``identity`` (API users, roles and keys). Interfaces
(the CLI, the API) call these; nothing below imports them.
"""

from claims.pipeline.anomalies import ScoredPeriod, score_period, score_tables
from claims.pipeline.audit import run_audit
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
    "add_user",
    "authenticate",
    "check_files",
    "explain_claim",
    "key_hash",
    "list_users",
    "new_key",
    "no_history",
    "revoke_user",
    "run_audit",
    "run_inbox",
    "run_stages",
    "score_period",
    "score_tables",
    "shadow",
    "stages_named",
    "store_history",
]
