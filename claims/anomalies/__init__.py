"""Anomaly scores: claims far from their peers, explained (reference §4.3 J7, J8).

Pure frames in, frames out, like the other stages: a profile per claim (``profile``),
peer groups with a fallback for small ones (``peers``), robust z-scores (median/MAD,
``robust``), a calibrated 0–1 risk per claim and per facility (``score``), the words an
assessor reads (``explain``), and the evaluation of scores against a truth file
(``evaluate``), and a facility's pictures (``pictures``).
"""

from __future__ import annotations

from claims.anomalies.evaluate import (
    TRUTH_COLUMNS,
    Evaluation,
    Measures,
    anomalies_of,
    evaluate,
    reviewed,
)
from claims.anomalies.explain import explanations
from claims.anomalies.peers import MIN_GROUP, PEER_LEVELS, assign_peers
from claims.anomalies.pictures import (
    CAPTIONS,
    FEATURE_WORDS,
    PICTURES,
    FacilityFrames,
    draw_pictures,
    index_html,
)
from claims.anomalies.profile import (
    BROAD,
    FEATURES,
    READS,
    Feature,
    Profile,
    claim_profiles,
)
from claims.anomalies.robust import SCALE_FLOOR, robust_z
from claims.anomalies.score import Scoring, facility_risk, score_claims

__all__ = [
    "BROAD",
    "CAPTIONS",
    "FEATURES",
    "FEATURE_WORDS",
    "MIN_GROUP",
    "PEER_LEVELS",
    "PICTURES",
    "READS",
    "SCALE_FLOOR",
    "TRUTH_COLUMNS",
    "Evaluation",
    "FacilityFrames",
    "Feature",
    "Measures",
    "Profile",
    "Scoring",
    "anomalies_of",
    "assign_peers",
    "claim_profiles",
    "draw_pictures",
    "evaluate",
    "explanations",
    "facility_risk",
    "index_html",
    "reviewed",
    "robust_z",
    "score_claims",
]
