"""Pieces the benchmarks share."""

from __future__ import annotations

import resource
import time
from pathlib import Path


class Laps:
    """Seconds spent per named step (summed when a step repeats): wall time in
    ``seconds``, this process's CPU time (every thread, user and system) in ``cpu``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t = time.perf_counter()
        self._cpu = time.process_time()

    def __call__(self, step: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - self._t
        self.cpu[step] = self.cpu.get(step, 0.0) + cpu - self._cpu
        self._t, self._cpu = now, cpu


def peak_rss_mb() -> float:
    """Peak RSS of this process so far: the kernel's high-water mark (VmHWM, MB)."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
