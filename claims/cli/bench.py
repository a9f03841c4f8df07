"""``giamdinh bench …``: benchmarks shipped with the engine (``claims.bench``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from claims.cli.common import err, out
from claims.cli.sizes import size_option

app = typer.Typer(
    help="Measure the engine on generated data: seconds, rows/s and peak RSS per "
    "stage, with baselines in the same run.",
    no_args_is_help=True,
)

Claims = Annotated[
    int,
    typer.Option(
        min=1,
        help="Claims of the day (N). A national working day is about 700,000; the day "
        "has every facility of the built-in catalog open on it (up to 13,000).",
    ),
]
Seed = Annotated[int, typer.Option(help="The generator's seed: same seed, same day.")]
MemoryBudget = Annotated[
    int | None,
    typer.Option(
        "--memory-budget",
        parser=size_option,
        metavar="SIZE",
        help="Memory the daily run may use, e.g. 8GiB, 512MiB, 2GB or plain bytes "
        "(KiB/MiB/GiB and K/M/G are powers of 1024, KB/MB/GB of 1000). Default: the "
        "engine's own (from the machine).",
    ),
]
OutFile = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Write every figure as JSON here (the machine, versions and git commit "
        "included).",
    ),
]
Cache = Annotated[
    Path | None,
    typer.Option(
        help="Folder where generated days are kept and reused, one per N, seed, "
        "facilities and generator version. Default: giamdinh-bench-national under "
        "the system's temp folder.",
    ),
]
WorkersCompare = Annotated[
    bool | None,
    typer.Option(
        "--workers-compare/--no-workers-compare",
        help="Also run the day on Dask with 1 and 2 local workers (when the engine "
        "and dask.distributed are there). Default: on up to 200,000 claims.",
    ),
]
Sample = Annotated[
    int,
    typer.Option(
        min=1,
        help="Claims of the sample batch the baselines (lxml, DuckDB, rule-engine) "
        "are compared on.",
    ),
]
Facilities = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Facilities sending (one XML wrapper each). Default: every facility of "
        "the built-in catalog open on the day (12,521; a national day has about "
        "13,000). Fewer make a smaller, faster day for trying the command out.",
    ),
]
FolderClaims = Annotated[
    int,
    typer.Option(
        min=1,
        help="Claims per bulk folder of the day (whole facilities). The daily run's "
        "partitions are groups of whole folders, so this is the finest partition.",
    ),
]


@app.command("national-day")
def national_day(
    claims: Claims,
    seed: Seed = 7,
    memory_budget: MemoryBudget = None,
    out_file: OutFile = None,
    cache: Cache = None,
    workers_compare: WorkersCompare = None,
    sample: Sample = 20_000,
    facilities: Facilities = None,
    folder_claims: FolderClaims = 25_000,
) -> None:
    """Generate (once) and run a peak day of N claims: XML ingest (on an XML slice of
    min(N, 100,000) claims, per line), validate, price, features, assess, pay, decide,
    write and settle, each with seconds, rows/s and peak RSS; the day's wall time and
    peak RSS; ratios to the baselines. The table goes to stdout, progress to stderr."""
    from claims.bench.national import national_day as run_benchmark
    from claims.bench.report import Steps, report

    with Steps(err) as steps:
        result = run_benchmark(
            claims,
            seed=seed,
            memory_budget=memory_budget,
            cache=cache,
            workers_compare=workers_compare,
            sample=sample,
            facilities=facilities,
            folder_claims=folder_claims,
            progress=steps,
        )
    out.print(report(result))
    if out_file is not None:
        text = json.dumps(result, indent=2, default=str)
        out_file.write_text(text + "\n", encoding="utf-8")
        err.print(f"figures written to {out_file}")
