"""The decide stage: rule outcomes and the law's amounts become accepted amounts per line
and an outcome per claim, with every reason.

Per line, a line refused on its own (a fired line ``reject`` rule, not in the catalog)
or with its claim (a fired claim ``reject`` rule, a card that does not cover the stay or
names an unknown object, a withdrawal: MA_DOITUONG_KCB of class ``withdrawal``) is
accepted at 0. Otherwise the accepted fund share is the law's T_BHTT, never more than
the clinic claimed for the line; the other accepted amounts are the law's. A claim's
accepted T_BHTT is the sum of its lines, capped at the claimed XML1 T_BHTT (the cut is
spread over the lines, :func:`claims.pay.allocate`). ``rejected_amount`` = claimed −
accepted ≥ 0.

Outcome, strongest first: ``rejected`` (the claim is refused, or nothing of a non-zero
claim is accepted), ``pending_review`` (a review rule fired: amounts are provisional),
``partially_accepted`` (more than the ±1 đồng tolerance was cut, or a line rule cut
something) and ``accepted``. Where the law allows more than was claimed the claim gets
``UNDERCLAIMED`` and the claimed amount is paid.

Reasons are the fired rules (with their pack's Vietnamese description) and the payment
stage's own codes, each naming the inputs and the law's figure.

Modules: ``amounts`` (per line), ``outcome`` (per claim), ``reasons`` and ``stage``
(:func:`decide`, :class:`Decisions`).
"""

from claims.decide.amounts import DECISION_LINE_SCHEMA, cost_group
from claims.decide.outcome import DECISION_SCHEMA
from claims.decide.reasons import REASON_SCHEMA
from claims.decide.stage import Decisions, decide

__all__ = [
    "DECISION_LINE_SCHEMA",
    "DECISION_SCHEMA",
    "REASON_SCHEMA",
    "Decisions",
    "cost_group",
    "decide",
]
