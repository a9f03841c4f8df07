"""Pieces the benchmarks share."""

from __future__ import annotations

import time


class Laps:
    """Seconds spent per named step (summed when a step repeats)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self._t
        self._t = now
