"""Settings from the environment (prefix ``GIAMDINH_``) and command-line options."""

from __future__ import annotations

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

    memory_budget: int | None = Field(default=None, gt=0)
    """Bytes a run may hold in memory (``--memory-budget``, env
    ``GIAMDINH_MEMORY_BUDGET``): a day larger than fits runs in partitions
    (``claims.pipeline.partitions``). None: half the machine's memory."""

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
