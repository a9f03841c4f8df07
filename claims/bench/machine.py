"""The machine a benchmark ran on, and this process's memory while it ran.

``RssSampler`` reads the process's resident set (``VmRSS`` of ``/proc/self/status``)
every 50 ms in a thread and keeps the highest value per window: the kernel's own
high-water mark (``VmHWM``) cannot be reset, so it cannot tell one stage's peak from an
earlier one's. ``machine`` and ``git_commit`` describe where the figures came from.
"""

from __future__ import annotations

import os
import platform
import subprocess
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType

PACKAGES = ("polars", "duckdb", "numba", "pyarrow", "rule-engine", "giamdinh")
"""Versions the figures depend on."""
_STATUS = Path("/proc/self/status")


def status_bytes(field: str) -> int:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in bytes; 0 where
    the system has no such file."""
    try:
        with _STATUS.open() as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """The highest resident set of this process per window, sampled every ``every``
    seconds in a daemon thread.

    Example:
        >>> with RssSampler() as rss:
        ...     work()
        ...     first = rss.mark()  # the peak since the sampler started
        ...     more_work()
        ...     second = rss.mark()  # the peak since the first mark
        >>> rss.peak  # the peak over the whole time
    """

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.peak = 0
        self._window = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def _sample(self) -> None:
        now = status_bytes("VmRSS")
        with self._lock:
            self._window = max(self._window, now)
            self.peak = max(self.peak, now)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def mark(self) -> int:
        """The peak since the last mark (or the start), and start a new window."""
        self._sample()
        with self._lock:
            peak, self._window = self._window, 0
        return peak

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, object]:
    """Cores, memory, CPU model, OS, the load average now and the versions of Python
    and of :data:`PACKAGES`."""
    return {
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "cpu_model": _cpu_model(),
        "system": platform.platform(),
        "load_average": list(os.getloadavg()),
        "versions": {"python": platform.python_version()}
        | {p: _version(p) for p in PACKAGES},
    }


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the tree this package runs from; None outside a git
    checkout (an installed package) or without git."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None
