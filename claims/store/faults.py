"""Fault points for the fault tests, set through the environment; unset in normal runs,
where each point costs one lookup.

- ``GIAMDINH_CRASH_AT=<point>`` kills the process at a crash point: it exits at once
  with status 137 (as after ``kill -9``): no cleanup, no ``finally`` blocks, no flushing.
- ``GIAMDINH_FAIL_AT=<point>`` makes a write point fail as a full disk does
  (``OSError`` ENOSPC), to show that every write failure ends in one clear message and
  leaves the store and the inbox as they were.
"""

from __future__ import annotations

import errno
import os

POINTS = ("after-run-dir", "in-transaction", "after-commit", "placing")
"""Crash points."""
WRITE_POINTS = ("run-dir", "commit", "sidecar", "move")
"""Write points that can be made to fail."""


def crash_point(name: str) -> None:
    """Die here if the environment asks for a crash at ``name``."""
    if os.environ.get("GIAMDINH_CRASH_AT") == name:
        os._exit(137)


def fail_point(name: str, path: str | None = None) -> None:
    """Fail here with ENOSPC if the environment asks for a write failure at ``name``."""
    if os.environ.get("GIAMDINH_FAIL_AT") == name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path or name)
