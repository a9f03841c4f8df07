"""Sizes on the command line: ``8GiB``, ``512MiB``, ``2GB``, ``1.5G`` or plain bytes.

``parse_size`` is the one parser of a size option (``giamdinh bench national-day
--memory-budget``, ``giamdinh run --memory-budget``); ``size_option`` is its typer
``parser``, so a bad value is a usage error that names the option.
"""

from __future__ import annotations

import re

import typer

UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KB": 1000,
    "KIB": 1024,
    "M": 1024**2,
    "MB": 1000**2,
    "MIB": 1024**2,
    "G": 1024**3,
    "GB": 1000**3,
    "GIB": 1024**3,
    "T": 1024**4,
    "TB": 1000**4,
    "TIB": 1024**4,
}
"""Multipliers by unit (case-insensitive): ``KiB``/``MiB``/``GiB``/``TiB`` and the bare
``K``/``M``/``G``/``T`` are powers of 1024, ``KB``/``MB``/``GB``/``TB`` powers of 1000."""
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes of a size written as a number and an optional unit.

    Example:
        >>> parse_size("8GiB"), parse_size("2GB"), parse_size("512MiB"), parse_size("4096")
        (8589934592, 2000000000, 536870912, 4096)

    Raises:
        ValueError: not a number with a known unit, or a size below one byte.
    """
    found = _SIZE.fullmatch(text)
    unit = found.group(2).upper() if found else ""
    if found is None or unit not in UNITS:
        msg = (
            f"{text!r} is not a size: write a number and a unit, e.g. 8GiB, 512MiB, "
            "2GB, or plain bytes"
        )
        raise ValueError(msg)
    size = int(float(found.group(1)) * UNITS[unit])
    if size < 1:
        msg = f"{text!r} is less than one byte"
        raise ValueError(msg)
    return size


def size_option(text: str) -> int:
    """``parse_size`` as a typer ``parser`` (a bad value is a usage error)."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
