"""Anomaly scores of a period: the stored claims read, profiled, scored, explained and
written back (``giamdinh anomalies run``); and the same for a batch's own tables, for
the daily run to call.

A period is the settlement month the claims declare (NAM_QT/THANG_QT), as ``settle``
reads it; the scores are those of the current, not withdrawn version of each claim.
The month before, when the store holds it, gives each facility's cost trend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import NamedTuple

import polars as pl
from duckdb import DuckDBPyConnection

from claims.anomalies import (
    READS,
    Profile,
    Scoring,
    claim_profiles,
    explanations,
    facility_risk,
    score_claims,
)
from claims.config import Settings
from claims.errors import ConfigError
from claims.ids import content_id, engine_version, frame_digest
from claims.pipeline.context import Reference
from claims.settle import PAYABLE
from claims.store import Holder, open_store, writer_lock
from claims.store.anomalies import median_costs, period_tables, write_scores

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ScoredPeriod(NamedTuple):
    """A period's scores as written: per claim and per facility, and the scoring id."""

    scores: pl.DataFrame
    facilities: pl.DataFrame
    scoring_id: str


def month_of(period: str) -> tuple[int, int]:
    """(year, month) of ``YYYY-MM``.

    Raises:
        ConfigError: ``period`` is not a month.
    """
    match = PERIOD.match(period)
    if match is None:
        msg = f"--period {period!r} is not a month YYYY-MM (for example 2026-10)"
        raise ConfigError(msg)
    return int(match.group(1)), int(match.group(2))


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def parameters(settings: Settings) -> tuple[Scoring, Profile]:
    """The scoring's parameters from the settings."""
    return (
        Scoring(
            settings.anomaly_min_group,
            settings.anomaly_scale_floor,
            settings.anomaly_tail_share,
        ),
        Profile(settings.anomaly_readmit_days),
    )


def score_tables(
    tables: dict[str, pl.DataFrame], reference: Reference, settings: Settings
) -> pl.DataFrame:
    """Scores and explanations of the claims of ``tables`` (XML1, XML2, XML3 as
    validation types them), calibrated among themselves: what the daily run can call
    on its own batch."""
    scoring, profile = parameters(settings)
    profiles = claim_profiles(
        tables["XML1"], tables["XML2"], tables["XML3"], reference.facilities, profile
    )
    return explanations(score_claims(profiles, scoring), profile.readmit_days)


def score_period(
    settings: Settings,
    period: str,
    reference: Reference | None = None,
    on_wait: Callable[[Holder | None], None] | None = None,
) -> ScoredPeriod:
    """Score the stored claims of ``period`` and replace its stored scores, under the
    store's writer lock.

    Raises:
        ConfigError: ``period`` is not a month, there is no store, or no current claim
            declares the period.
    """
    month_of(period)  # refuses a period that is not YYYY-MM
    if not settings.store_path.is_file():
        msg = (
            f"no store at {settings.store_path}: check --data-dir (or "
            "GIAMDINH_DATA_DIR); `giamdinh run` creates the store"
        )
        raise ConfigError(msg)
    reference = reference or Reference.load(settings.catalog_dir, settings.pack_id)
    with (
        writer_lock(
            settings.data_dir,
            f"anomalies run --period {period}",
            wait=settings.lock_wait,
            on_wait=on_wait,
        ),
        open_store(settings.store_path) as con,
    ):
        result = score_stored(con, settings, reference, period)
    if result is None:
        msg = (
            f"no stored claim declares NAM_QT/THANG_QT {period}; check the period "
            "and that its days were run"
        )
        raise ConfigError(msg)
    return result


def score_stored(
    con: DuckDBPyConnection, settings: Settings, reference: Reference, period: str
) -> ScoredPeriod | None:
    """Score the stored current claims of ``period`` and replace its stored scores on
    ``con`` (the caller holds the writer lock); None when no claim declares it."""
    year, month = month_of(period)
    tables = period_tables(con, year, month, READS)
    if tables["XML1"].height == 0:
        return None
    earlier = median_costs(con, *_previous(year, month))
    result = _scored(tables, reference, settings, period, earlier)
    write_scores(con, period, result.scores, result.facilities)
    return result


def _scored(
    tables: dict[str, pl.DataFrame],
    reference: Reference,
    settings: Settings,
    period: str,
    earlier: pl.DataFrame,
) -> ScoredPeriod:
    scored = score_tables(tables, reference, settings)
    scoring, profile = parameters(settings)
    keys = scored.select("ma_cskcb", "ma_lk", "file_id", "hoso_idx").sort(
        "ma_cskcb", "ma_lk", "file_id", "hoso_idx"
    )
    scoring_id = content_id(
        "scoring",
        catalogs=reference.labels,
        claims=frame_digest(keys),
        engine=engine_version(),
        parameters={**asdict(scoring), **asdict(profile)},
        period=period,
    )
    labels = {
        "period": pl.lit(period),
        "scoring_id": pl.lit(scoring_id),
        "pack": pl.lit(reference.pack_labels),
        "catalogs": pl.lit(
            json.dumps(dict(sorted(reference.catalog_labels.items())), sort_keys=True)
        ),
    }
    scores = scored.with_columns(pl.col("top_features").list.join(";"), **labels).sort(
        "ma_cskcb", "ma_lk", "file_id", "hoso_idx"
    )
    facilities = facility_risk(scored, earlier if earlier.height else None)
    return ScoredPeriod(
        scores,
        facilities.with_columns(period=pl.lit(period), scoring_id=pl.lit(scoring_id)),
        scoring_id,
    )


def score_run(
    settings: Settings, reference: Reference, decisions: pl.DataFrame
) -> list[str]:
    """After a daily run's commit (the caller holds the writer lock): re-score the
    months its ``decisions`` declare and say how many of its claims their risk holds
    for review (``Settings.review_risk_threshold``; settlement leaves them pending)."""
    periods = sorted(p for p in decisions["period"].unique().to_list() if p)
    if not periods:
        return []
    with open_store(settings.store_path) as con:
        scored = [score_stored(con, settings, reference, p) for p in periods]
    found = [s.scores.select("file_id", "hoso_idx", "risk") for s in scored if s]
    if not found:  # every claim of the months withdrawn
        return []
    risks = pl.concat(found)
    held = decisions.filter(pl.col("outcome").is_in(PAYABLE)).join(
        risks.filter(pl.col("risk") >= settings.review_risk_threshold).with_columns(
            pl.col("hoso_idx").cast(decisions.schema["hoso_idx"])
        ),
        on=["file_id", "hoso_idx"],
    )
    if held.height == 0:
        return []
    return [
        f"{held.height:,} claims of this run accepted by the rules are held for review "
        f"by their anomaly risk (≥ {settings.review_risk_threshold}): settlement "
        "leaves them pending until an assessor decides (`giamdinh review queue`)"
    ]
