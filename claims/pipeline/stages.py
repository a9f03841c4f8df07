"""The stages after validation, shared by the daily run, the self-check and the audit:
price → assess → pay → decide, against one set of reference data.

:class:`Reference` is what a decision is made with: the catalogs (built-in or an
overlay) and the rule pack versions (the released ones of a pack, or one pinned
``ID@VERSION``). It loads before any row is read, so a bad catalog or pack stops the
work first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from catalogs.resolve import Catalog, load_catalogs
from claims.assess import Assessment, assess, load_packs
from claims.decide.core import Decisions, decide
from claims.errors import ConfigError
from claims.features import Batch
from claims.pay.core import pay
from claims.price import PriceCatalogs, price_lines
from claims.validate.codes import code_list_frame
from rules.evaluate import Pack, select_packs


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
        return self.catalogs["facilities"].resolve()

    @property
    def catalog_labels(self) -> dict[str, str]:
        """Catalog id → its versions' ``version#hash`` labels, comma-joined."""
        return {
            cid: ",".join(c.labels.values()) for cid, c in sorted(self.catalogs.items())
        }

    @property
    def pack_labels(self) -> str:
        return ",".join(p.label for p in self.packs)


def price(tables: dict[str, pl.DataFrame], reference: Reference) -> pl.DataFrame:
    """Price the stored drug, service and supply lines as of their dates."""
    facility = tables["XML1"].select("file_id", "hoso_idx", "ma_cskcb")
    lines = [
        tables[t].join(facility, on=["file_id", "hoso_idx"], how="left")
        for t in ("XML2", "XML3")
    ]
    return price_lines(lines[0], lines[1], PriceCatalogs.of(reference.catalogs))


def batch_of(
    tables: dict[str, pl.DataFrame],
    priced: pl.DataFrame,
    reference: Reference,
    quarantined: pl.DataFrame | None = None,
) -> Batch:
    """The typed tables, their prices and the reference catalogs as one batch."""
    return Batch(
        xml1=tables["XML1"],
        xml2=tables["XML2"],
        xml3=tables["XML3"],
        xml4=tables["XML4"],
        xml5=tables["XML5"],
        prices=priced,
        facilities=reference.facilities,
        icd_codes=reference.catalogs["icd10"].resolve()["code"],
        quarantined=quarantined,
    )


def assess_and_decide(
    batch: Batch,
    reference: Reference,
    *,
    run_id: str,
    history: pl.DataFrame | None = None,
    quarantine: pl.DataFrame | None = None,
) -> tuple[Assessment, Decisions]:
    """Assess a batch with the reference's packs, pay it and decide every claim
    (``quarantine``: validation's entries, kept as reasons of their claims)."""
    assessed = assess(batch, reference.packs, history=history, pinned=reference.pinned)
    payment = pay(
        batch,
        reference.catalogs["benefits"].resolve(),
        reference.catalogs["base_salary"].resolve(),
        assessed.hits,
    )
    decided = decide(
        batch.xml1,
        assessed.claims,
        assessed.hits,
        payment,
        run_id=run_id,
        catalogs=reference.catalog_labels,
        packs=reference.packs,
        quarantine=quarantine,
    )
    return assessed, decided
