"""Crash points for the crash-safety tests: ``GIAMDINH_CRASH_AT=<point>`` kills the process.

The process exits at once with status 137 (as after ``kill -9``): no cleanup, no
``finally`` blocks, no flushing. Unset in normal runs, where each point costs one lookup.
"""

from __future__ import annotations

import os

POINTS = ("after-run-dir", "in-transaction", "after-commit")


def crash_point(name: str) -> None:
    """Die here if the environment asks for a crash at ``name``."""
    if os.environ.get("GIAMDINH_CRASH_AT") == name:
        os._exit(137)
