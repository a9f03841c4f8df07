"""The options that spread a run or an audit: ``--memory-budget``, ``--engine`` and
``--scheduler`` (``claims.pipeline.partitions``, ``claims.pipeline.scaleout``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

import typer

from claims.cli.sizes import size_option
from claims.config import Settings

MemoryBudget = Annotated[
    int | None,
    typer.Option(
        "--memory-budget",
        parser=size_option,
        metavar="SIZE",
        help="Memory the run may hold, e.g. 8GiB (env GIAMDINH_MEMORY_BUDGET; default "
        "half the machine's). A larger day runs in partitions of whole files, each "
        "seeing the others' claims: the results are the same.",
        show_default=False,
    ),
]


class EngineChoice(enum.StrEnum):
    """Where a run's partitions run."""

    local = "local"
    dask = "dask"


EngineOption = Annotated[
    EngineChoice,
    typer.Option(
        "--engine",
        help="local: this process. dask: the day's partitions as tasks of a Dask "
        "cluster (--scheduler, or a local cluster of one worker per core); same "
        "results.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a running Dask scheduler (tcp://host:8786) for --engine dask; "
        "the workers must see the data folder and the inbox at the same paths.",
    ),
]


@dataclass(frozen=True)
class Scale:
    """How a run is spread: its memory budget, engine and scheduler."""

    memory_budget: int | None = None
    engine: EngineChoice = EngineChoice.local
    scheduler: str | None = None

    @property
    def engine_name(self) -> str:
        return "dask" if self.engine is EngineChoice.dask else "local"

    def check(self) -> None:
        """Refuse ``--scheduler`` without ``--engine dask``."""
        if self.scheduler is not None and self.engine is not EngineChoice.dask:
            msg = "--scheduler needs --engine dask"
            raise typer.BadParameter(msg)

    def settings(self, settings: Settings) -> Settings:
        """``settings`` with the memory budget, when one was given."""
        if self.memory_budget is None:
            return settings
        return settings.model_copy(update={"memory_budget": self.memory_budget})
