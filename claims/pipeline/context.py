"""What a run decides with: the reference data (:class:`Reference`) and the run's context
(:class:`RunContext`: its id, date, settings, reference and history provider).

The reference loads before any row is read, so a bad catalog or pack stops the work
first. The context is frozen: every stage reads it, none changes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from catalogs.resolve import Catalog, load_catalogs
from claims.assess import load_packs
from claims.config import Settings
from claims.errors import ConfigError
from claims.schema import Batch, Registries
from claims.validate.codes import code_list_frame
from rules.evaluate import Pack, select_packs

History = Callable[[Batch], pl.DataFrame | None]
"""``history(batch)``: the stored claims the cross-claim windows of the batch can see
(``claims.schema.HISTORY_SCHEMA``), or None for a run that sees only its batch."""


def no_history(_batch: Batch) -> None:
    """The history of a run that sees only its own batch (self-check, audit)."""
    return None


@dataclass(frozen=True)
class Reference:
    """Catalogs and rule pack versions a run decides with."""

    catalogs: dict[str, Catalog]
    packs: list[Pack]
    pinned: bool = False

    @classmethod
    def load(
        cls, catalog_dir: Path | None, pack_id: str, pack: str | None = None
    ) -> Reference:
        """Load the catalogs and packs.

        Args:
            catalog_dir: a catalog overlay root (None: the built-in catalogs).
            pack_id: the pack whose released versions apply by admission date.
            pack: ``ID@VERSION`` to pin one version for every claim (None: by date).
        """
        catalogs = load_catalogs(catalog_dir)
        if pack is None:
            return cls(catalogs, select_packs(load_packs(), pack_id))
        name, sep, version = pack.partition("@")
        if not sep or not name or not version:
            msg = f"--pack {pack!r} is not ID@VERSION (for example vn-bhyt@2025.01.0)"
            raise ConfigError(msg)
        return cls(catalogs, select_packs(load_packs(), name, version), pinned=True)

    @property
    def codes(self) -> pl.DataFrame:
        """The code lists of the newest ``code_lists`` version."""
        return code_list_frame(self.catalogs["code_lists"].versions[-1])

    @property
    def facilities(self) -> pl.DataFrame:
        """The resolved ``facilities`` catalog."""
        return self.catalogs["facilities"].resolve()

    @functools.cached_property
    def registries(self) -> Registries:
        """Practitioners, departments, equipment and code pairs, resolved (once)."""
        return Registries(
            *(
                self.catalogs[c].resolve()
                for c in ("practitioners", "departments", "equipment", "code_pairs")
            )
        )

    @property
    def icd_codes(self) -> pl.Series:
        """The known ICD-10 codes."""
        return self.catalogs["icd10"].resolve()["code"]

    @property
    def catalog_labels(self) -> dict[str, str]:
        """Catalog id → its versions' ``version#hash`` labels, comma-joined."""
        return {
            cid: ",".join(c.labels.values()) for cid, c in sorted(self.catalogs.items())
        }

    @property
    def pack_labels(self) -> str:
        """The pack versions' ``id@version#hash`` labels, comma-joined."""
        return ",".join(p.label for p in self.packs)

    @property
    def labels(self) -> dict[str, str]:
        """The catalog labels with the pack labels under ``packs`` (what ids cite)."""
        return {**self.catalog_labels, "packs": self.pack_labels}


@dataclass(frozen=True)
class RunContext:
    """One run's context: every stage reads it; none changes it.

    Attributes:
        run_id: the run's content id (``claims.ids.content_id``).
        run_date: the run's date, ``YYYY-MM-DD``.
        reference: the catalogs and packs it decides with.
        settings: where data lives and the engine's limits.
        history: the stored claims cross-claim windows see (:data:`History`).
        keep_every_rule: the assess stage also keeps the rules that passed (explain).
    """

    run_id: str
    run_date: str
    reference: Reference
    settings: Settings
    history: History = no_history
    keep_every_rule: bool = False
