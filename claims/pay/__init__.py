"""The payment stage: what the law allows for every line and claim (§1.13, §2)."""

from claims.pay.core import Payment, pay

__all__ = ["Payment", "pay"]
