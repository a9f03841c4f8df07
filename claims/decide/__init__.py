"""The decide stage: accepted amounts, outcome and reasons per claim and line."""

from claims.decide.core import Decisions, decide

__all__ = ["Decisions", "decide"]
