"""Anomaly scores: claims far from their peers, explained (reference §4.3 J7, J8).

Pure frames in, frames out, like the other stages: peer groups, robust z-scores
(median/MAD), a 0–1 risk per claim and per facility, the words an assessor reads, and
the evaluation of scores against a truth file.
"""

from __future__ import annotations

__all__: list[str] = []
