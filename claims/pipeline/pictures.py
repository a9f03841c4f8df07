"""The pictures of one facility's anomaly scores of a period (``giamdinh anomalies
report``): what they need read from the store in one short read-only connection, drawn
by ``claims.anomalies.pictures``, written atomically (each file to a temporary name,
then renamed) into ``<data-dir>/reports/anomalies/<period>/<MA_CSKCB>/`` or a folder
given, with an ``index.html`` that lists them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from claims.anomalies import FacilityFrames, draw_pictures, index_html
from claims.config import Settings
from claims.errors import ConfigError
from claims.pipeline.anomalies import month_of
from claims.store.anomalies import facility_scores_of, scored_periods, scores_of
from claims.store.pictures import monthly_medians, peer_costs, rule_hits_of
from claims.store.runs import open_store

TREND_MONTHS = 12
"""Months on the trend picture, the period's included (fewer when the store holds
fewer)."""


def report_folder(settings: Settings, period: str, facility: str) -> Path:
    """Where the pictures of ``facility`` and ``period`` go by default."""
    return settings.data_dir / "reports" / "anomalies" / period / facility


def facility_frames(
    settings: Settings, period: str, facility: str, months: int = TREND_MONTHS
) -> FacilityFrames:
    """What the pictures of ``facility`` and ``period`` read, from the store.

    Raises:
        ConfigError: ``period`` is not a month or was never scored, or ``facility``
            has no scored claim in it.
    """
    year, month = month_of(period)
    with open_store(settings.store_path, read_only=True) as con:
        if period not in scored_periods(con):
            msg = (
                f"the store holds no anomaly scores of {period}; run "
                f"`giamdinh anomalies run --period {period}` first"
            )
            raise ConfigError(msg)
        scores = scores_of(con, period, facility)
        if scores.height == 0:
            scored = facility_scores_of(con, period)["ma_cskcb"].sort().to_list()
            msg = (
                f"facility {facility!r} has no scored claim in {period}; check MA_CSKCB "
                f"(the period's {len(scored)} facilities: {_some(scored)})"
            )
            raise ConfigError(msg)
        facilities = facility_scores_of(con, period)
        own = facilities.filter(pl.col("ma_cskcb") == facility)
        level = own["level"].to_list()
        peers = facilities.filter(pl.col("level").is_in(level))["ma_cskcb"].to_list()
        first = divmod(year * 12 + month - 1 - (months - 1), 12)
        frames = FacilityFrames(
            facility=facility,
            period=period,
            costs=peer_costs(con, period, facility),
            months=monthly_medians(
                con, facility, peers, (first[0], first[1] + 1), (year, month)
            ),
            hits=rule_hits_of(con, year, month, facility),
            scores=scores,
            level=level[0] if level and level[0] else "",
            risk=own["risk"][0] if own.height else None,
        )
    return frames


def _some(codes: list[str], shown: int = 10) -> str:
    listed = ", ".join(codes[:shown])
    return listed + (f", … {len(codes) - shown} more" if len(codes) > shown else "")


def write_report(
    settings: Settings,
    period: str,
    facility: str,
    out: Path | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """Draw and write the pictures of ``facility`` and ``period`` and their
    ``index.html``; the paths written, the index last.

    Raises:
        ConfigError: as :func:`facility_frames`.
    """
    frames = facility_frames(settings, period, facility)
    files = draw_pictures(frames, formats)
    files["index.html"] = index_html(facility, period, sorted(files))
    folder = out if out is not None else report_folder(settings, period, facility)
    folder.mkdir(parents=True, exist_ok=True)
    return [_write_atomically(folder / name, files[name]) for name in files]


def _write_atomically(path: Path, data: bytes) -> Path:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    return path
