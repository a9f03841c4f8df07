"""The one pipeline: :data:`STAGES` (validate → price → features → assess → pay → decide)
and :func:`run_stages`, which every caller runs.

The daily run, the self-check, the post-audit, ``rules explain``, ``rules shadow`` and
the benchmarks differ only in where they read and write: each builds :class:`Frames`
(submissions, or stored typed tables) and runs the stages it needs. A stage is a
function of the context and the frames so far that returns the frames with its output
added; it does no I/O of its own (the history is read through ``ctx.history``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

import polars as pl

from claims.assess import Assessment, assess
from claims.decide import Decisions, decide
from claims.errors import ClaimsError
from claims.features import Features, features
from claims.features_episode import catalog_codes
from claims.features_registry import catalog_attributes
from claims.intake import Submission
from claims.pay import Payment, pay
from claims.pipeline.context import RunContext
from claims.pipeline.identify import with_identities
from claims.price import PriceCatalogs, price_lines
from claims.schema import DOCUMENTS, TABLES, Batch
from claims.validate import validate

_T = TypeVar("_T")


class StageOrderError(ClaimsError):
    """A stage ran before the stage whose output it reads: a bug in a caller."""


@dataclass(frozen=True)
class Frames:
    """What the stages hand to each other; a stage fills its own field.

    A run from submissions starts with ``submissions``; a run over stored claims starts
    with ``tables`` (and ``claims``: per claim, the lines validation quarantined).
    """

    submissions: tuple[Submission, ...] = ()
    tables: Mapping[str, pl.DataFrame] = field(default_factory=dict)
    """Typed XML1–XML5 and the XML6–XML15 documents there are
    (``claims.schema.table_schema``)."""
    claims: pl.DataFrame | None = None
    """Per claim: validation's status, reasons and ``lines_quarantined``."""
    quarantine: pl.DataFrame | None = None
    """Validation's quarantine entries (None: a batch read back from the store)."""
    counts: pl.DataFrame | None = None
    """Rows in, stored and quarantined per table."""
    prices: pl.DataFrame | None = None
    features: Features | None = None
    assessment: Assessment | None = None
    payment: Payment | None = None
    decisions: Decisions | None = None

    def need(self, name: str, value: _T | None) -> _T:
        """``value``, or a clear error naming the stage that should have made it."""
        if value is None:
            msg = (
                f"the {name!r} frames are missing: run the stage that makes them first"
            )
            raise StageOrderError(msg)
        return value

    def batch(self, ctx: RunContext) -> Batch:
        """The typed tables, their prices and the reference rows, as features read them."""
        if not self.tables:
            self.need("tables", None)
        quarantined = (
            None
            if self.claims is None
            else self.claims.select("file_id", "hoso_idx", "lines_quarantined")
        )
        xml1, xml2, xml3, xml4, xml5 = (self.tables[t] for t in TABLES)
        return Batch(
            xml1,
            xml2,
            xml3,
            xml4,
            xml5,
            prices=self.need("prices", self.prices),
            facilities=ctx.reference.facilities,
            icd_codes=ctx.reference.icd_codes,
            quarantined=quarantined,
            registries=ctx.reference.registries,
            docs={t: self.tables[t] for t in DOCUMENTS if t in self.tables},
            catalog_codes=catalog_codes(ctx.reference.catalogs),
            catalog_attributes=catalog_attributes(ctx.reference.catalogs),
        )


def validate_stage(ctx: RunContext, frames: Frames) -> Frames:
    """Type and check every row of the submissions; quarantine what is bad."""
    ref = ctx.reference
    checked = validate(frames.submissions, ref.codes, ref.facilities)
    return dataclasses.replace(
        frames,
        tables=checked.tables,
        claims=checked.claims,
        quarantine=checked.quarantine,
        counts=checked.counts,
    )


def price_stage(ctx: RunContext, frames: Frames) -> Frames:
    """Price the drug, service and supply lines as of their dates."""
    facility = frames.tables["XML1"].select("file_id", "hoso_idx", "ma_cskcb")
    xml2, xml3 = (
        frames.tables[t].join(facility, on=["file_id", "hoso_idx"], how="left")
        for t in ("XML2", "XML3")
    )
    catalogs = PriceCatalogs.of(ctx.reference.catalogs)
    return dataclasses.replace(frames, prices=price_lines(xml2, xml3, catalogs))


def features_stage(ctx: RunContext, frames: Frames) -> Frames:
    """The claim and line frames rules read, with the history's cross-claim windows."""
    batch = frames.batch(ctx)
    found = features(batch, ctx.history(batch))
    return dataclasses.replace(frames, features=found)


def assess_stage(ctx: RunContext, frames: Frames) -> Frames:
    """Every applicable rule of the pack versions, and an outcome per claim."""
    assessed = assess(
        frames.batch(ctx),
        frames.need("features", frames.features),
        ctx.reference.packs,
        pinned=ctx.reference.pinned,
        keep_every_rule=ctx.keep_every_rule,
    )
    return dataclasses.replace(frames, assessment=assessed)


def pay_stage(ctx: RunContext, frames: Frames) -> Frames:
    """The law's amounts per line and claim (eligibility included)."""
    catalogs = ctx.reference.catalogs
    payment = pay(
        frames.batch(ctx),
        catalogs["benefits"].resolve(),
        catalogs["base_salary"].resolve(),
        frames.need("assessment", frames.assessment).hits,
        policy=catalogs["policy"].resolve(),
    )
    return dataclasses.replace(frames, payment=payment)


def decide_stage(ctx: RunContext, frames: Frames) -> Frames:
    """Accepted amounts, outcome and reasons per claim and line."""
    assessed = frames.need("assessment", frames.assessment)
    quarantine = frames.quarantine
    if quarantine is not None and frames.submissions:  # name quarantined lines as sent
        # (a partitioned run named them when it read them, and passes no submissions)
        quarantine = with_identities(quarantine, frames.submissions)
    decided = decide(
        frames.tables["XML1"],
        assessed.claims,
        assessed.hits,
        frames.need("payment", frames.payment),
        run_id=ctx.run_id,
        catalogs=ctx.reference.catalog_labels,
        packs=ctx.reference.packs,
        quarantine=quarantine,
        values=assessed.values,
    )
    return dataclasses.replace(frames, decisions=decided)


Stage = Callable[[RunContext, Frames], Frames]


class Step(NamedTuple):
    """A named stage."""

    name: str
    run: Stage


STAGES: tuple[Step, ...] = (
    Step("validate", validate_stage),
    Step("price", price_stage),
    Step("features", features_stage),
    Step("assess", assess_stage),
    Step("pay", pay_stage),
    Step("decide", decide_stage),
)
"""The pipeline, in order."""
STORED_STAGES = STAGES[1:]
"""The stages for claims read back from the store (already validated)."""
OnStage = Callable[[str, float, Frames], None]
"""``on_stage(name, seconds, frames)``: called after each stage (benchmarks, progress)."""


def run_stages(
    ctx: RunContext,
    frames: Frames,
    *,
    stages: Sequence[Step] = STAGES,
    on_stage: OnStage | None = None,
) -> Frames:
    """Run ``stages`` in order on ``frames``.

    Example:
        >>> done = run_stages(ctx, Frames(submissions=(sub,)))
        >>> done.decisions.claims  # one row per stored claim
    """
    for step in stages:
        started = time.perf_counter()
        frames = step.run(ctx, frames)
        if on_stage is not None:
            on_stage(step.name, time.perf_counter() - started, frames)
    return frames


def stages_named(*names: str) -> tuple[Step, ...]:
    """The steps of :data:`STAGES` with these names, in pipeline order."""
    unknown = set(names) - {s.name for s in STAGES}
    if unknown:
        msg = f"no stage {sorted(unknown)}; the stages are {[s.name for s in STAGES]}"
        raise ValueError(msg)
    return tuple(s for s in STAGES if s.name in names)
