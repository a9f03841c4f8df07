"""Wire models of request bodies (responses are the engine's JSON objects)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from claims.review.decisions import LineDecision


class LineIn(BaseModel):
    """One line's decision: ``reduce`` takes ``amount`` (đồng), ``qty`` ``quantity``."""

    table: Literal["XML2", "XML3"]
    stt: int = Field(ge=1)
    action: Literal["accept", "reject", "reduce", "qty"]
    amount: Decimal | None = Field(default=None, ge=0, decimal_places=2)
    quantity: Decimal | None = Field(default=None, ge=0)

    def decision(self) -> LineDecision:
        return LineDecision(
            self.table, self.stt, self.action, self.amount, self.quantity
        )


class DecisionIn(BaseModel):
    """An assessor's decision on a claim: per-line actions (lines not named are
    accepted as the engine decided) and a justification, which is mandatory."""

    lines: list[LineIn] = Field(default_factory=list, max_length=10_000)
    justification: str = Field(min_length=3, max_length=4000)
    reason_code: str | None = Field(default=None, max_length=20)


class ApprovalIn(BaseModel):
    """A second assessor's approval; ``refuse`` (a reason) refuses instead."""

    refuse: str | None = Field(default=None, max_length=4000)


class ContestIn(BaseModel):
    reason: str = Field(min_length=3, max_length=4000)


class SettlementIn(BaseModel):
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")
    kind: Literal["month", "quarter"] = "month"
    facility: str | None = Field(default=None, max_length=20)


class AuditIn(BaseModel):
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")
    pack: str = Field(pattern=r"^[a-z0-9-]+@[0-9.]+$", examples=["vn-bhyt@2026.01.2"])
    facility: str | None = Field(default=None, max_length=20)
    post: bool = False


class AdvanceIn(BaseModel):
    facility: str = Field(max_length=20)
    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")
    amount: str = Field(pattern=r"^\d{1,15}(\.\d{1,2})?$", examples=["150000000"])


class DryRunIn(BaseModel):
    """A draft pack version (``ID@VERSION``) decided beside the active ones on the
    stored claims admitted since ``since``."""

    draft: str = Field(pattern=r"^[a-z0-9-]+@[0-9.]+$", examples=["vn-bhyt@2026.12.0"])
    since: date
