"""Settings from the environment (prefix ``GIAMDINH_``) and command-line options."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where data lives and the limits the engine applies."""

    model_config = SettingsConfigDict(env_prefix="GIAMDINH_", frozen=True)

    data_dir: Path = Path("giamdinh-data")
    catalog_dir: Path | None = None
    max_file_bytes: int = 2 * 1024**3
    """A submission larger than this is refused whole (FILE_TOO_LARGE)."""
    signatures_required_from: date | None = None
    """From this date every GIAMDINHHS file must carry the sending facility's XML
    signature in CHUKYDONVI, verified against the ``certificates`` catalog
    (``claims.intake.signature``): unsigned → SIGNATURE_MISSING, tampered or signed with
    a certificate not registered for the facility → SIGNATURE_INVALID. The file's date
    is its NGAYLAP (a file without a readable NGAYLAP counts as after the date). Files
    dated before it, bulk table folders and ``giamdinh check`` are not checked; signed
    or not. None (the default): never required, signatures are not read (env
    ``GIAMDINH_SIGNATURES_REQUIRED_FROM``, YYYY-MM-DD; a 2026 contract cites
    mandatory signing from 2026-01-01 [U], reference §1.2)."""
    lock_wait: float = 300.0
    """Seconds a writer waits for another writer's lock on the store before it stops
    (``--wait``)."""
    pack_id: str = "vn-bhyt"
    """The rule pack whose released versions assess claims (by admission date)."""
    max_unpriced_share: float = Field(default=0.05, ge=0.0, le=1.0)
    """A run warns for each price catalog (drugs, services, supplies) that leaves more
    than this share of its lines unpriced (NOT_IN_CATALOG): a wrong ``--catalog-dir``
    or catalog version, rather than claims off the list (env
    ``GIAMDINH_MAX_UNPRICED_SHARE``, 0 to 1)."""
    anomaly_min_group: int = Field(default=30, ge=1)
    """The smallest peer group an anomaly score compares a claim with: a smaller group
    falls back to a coarser one (``claims.anomalies.peers``; env
    ``GIAMDINH_ANOMALY_MIN_GROUP``)."""
    anomaly_scale_floor: float = Field(default=0.25, ge=0.0)
    """The smallest within-group scale of a robust z-score, as a share of the feature's
    scale over the whole period (``claims.anomalies.robust``; env
    ``GIAMDINH_ANOMALY_SCALE_FLOOR``)."""
    anomaly_tail_share: float = Field(default=0.01, gt=0.0, le=1.0)
    """A feature adds to a claim's anomaly statistic when the claim is in the period's
    top this share of that feature (``claims.anomalies.score``; env
    ``GIAMDINH_ANOMALY_TAIL_SHARE``)."""
    anomaly_readmit_days: int = Field(default=7, ge=0)
    """Two claims of one patient at one facility this many days apart or fewer count as
    a readmission ("tách đợt", reference §4.3 J7 names "a short window" [U]; env
    ``GIAMDINH_ANOMALY_READMIT_DAYS``)."""
    anomaly_daily: bool = True
    """The daily run re-scores the months its claims declare, after its commit, so that
    the day's riskiest claims are held for review before any settlement pays them
    (``claims.pipeline.anomalies.score_stored``; env ``GIAMDINH_ANOMALY_DAILY``). A
    partitioned day does not (a month's scores do not fit its memory budget): score it
    with ``giamdinh anomalies run --period P``."""

    memory_budget: int | None = Field(default=None, gt=0)
    """Bytes a run may hold in memory (``--memory-budget``, env
    ``GIAMDINH_MEMORY_BUDGET``): a day larger than fits runs in partitions
    (``claims.pipeline.partitions``). None: half the machine's memory."""

    review_risk_threshold: float = Field(default=0.99, ge=0.0, le=1.0)
    """A claim whose anomaly risk score (``anomaly_scores.risk``, 0 to 1) is at least
    this is held for an assessor's review and enters the review queue (env
    ``GIAMDINH_REVIEW_RISK_THRESHOLD``). The risk is the share of the period's claims
    that score lower (``claims.anomalies``), so 0.99 holds about the riskiest 1 %."""
    review_due_days: int = Field(default=10, ge=1)
    """Days an assessor has to decide a claim of the review queue, counted from the date
    of the run that stored it (env ``GIAMDINH_REVIEW_DUE_DAYS``)."""
    review_four_eyes_amount: Decimal = Field(default=Decimal("5000000"), ge=0)
    """A review decision that cuts more than this (đồng of T_BHTT, against the engine's
    provisional accepted amount) waits for a second assessor's approval before it is
    paid (env ``GIAMDINH_REVIEW_FOUR_EYES_AMOUNT``)."""
    review_lock_minutes: float = Field(default=30.0, gt=0)
    """Minutes a claim taken by an assessor (``giamdinh review take``) stays locked to
    them; after that another assessor may take it (env
    ``GIAMDINH_REVIEW_LOCK_MINUTES``)."""
    review_priority_high: Decimal = Field(default=Decimal("10000000"), ge=0)
    """A queued claim whose money at risk (claimed T_BHTT × risk) is at least this many
    đồng has priority 1, ``cao`` (env ``GIAMDINH_REVIEW_PRIORITY_HIGH``)."""
    review_priority_medium: Decimal = Field(default=Decimal("1000000"), ge=0)
    """At least this many đồng (and below the high band): priority 2, ``trung bình``;
    below it: priority 3, ``thấp`` (env ``GIAMDINH_REVIEW_PRIORITY_MEDIUM``)."""

    api_max_upload_bytes: int = Field(default=200 * 1024**2, gt=0)
    """The largest body ``giamdinh serve`` accepts on a request (a submission or a
    self-check file); a larger one is answered 413 before it is stored (env
    ``GIAMDINH_API_MAX_UPLOAD_BYTES``, default 200 MB)."""
    api_rate_per_minute: int = Field(default=120, ge=1)
    """Requests one API key may make per minute (a sliding window kept in the server's
    memory); above it the server answers 429 with ``Retry-After`` (env
    ``GIAMDINH_API_RATE_PER_MINUTE``)."""
    api_session_minutes: float = Field(default=30.0, gt=0)
    """Minutes a web UI session lasts without a request; it can also be closed by
    logging out (env ``GIAMDINH_API_SESSION_MINUTES``)."""

    @property
    def store_path(self) -> Path:
        """The DuckDB file."""
        return self.data_dir / "giamdinh.duckdb"

    @property
    def runs_dir(self) -> Path:
        """Parquet outputs, ``runs/<date>/<run_id>/``."""
        return self.data_dir / "runs"

    @property
    def failed_dir(self) -> Path:
        """Files whose wrapper could not be read, each with an ``.error.json``."""
        return self.data_dir / "failed"

    @property
    def processed_dir(self) -> Path:
        """Files that were read (their claims stored or rejected)."""
        return self.data_dir / "processed"
