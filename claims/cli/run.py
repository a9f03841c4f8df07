"""``giamdinh generate | ingest | run | demo | check``: make a day, run the daily
pipeline on an inbox, self-check files."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from claims.cli.common import (
    CatalogDir,
    DataDir,
    Wait,
    err,
    fail,
    notice,
    out,
    settings_for,
    waiting,
)
from claims.cli.listing import print_table
from claims.cli.scale import (
    EngineChoice,
    EngineOption,
    MemoryBudget,
    Scale,
    SchedulerOption,
)
from claims.config import Settings
from claims.errors import ClaimsError

GenerateDays = Annotated[
    int,
    typer.Option(
        help="Consecutive days ending at --date (a calendar month: --date "
        "2026-10-31 --days 31; month-end days get more claims)."
    ),
]
AnomalyRate = Annotated[
    float,
    typer.Option(
        help="Share of claims with an injected anomaly: valid alone, far off in "
        "aggregate (frequent visits, split episode, exam during a stay, long stay, "
        "padded services, drug-heavy, inflated cost; claims.synthetic.anomalies). "
        "Disjoint from the "
        "faulted claims, so --error-rate + --anomaly-rate ≤ 1; written to the truth "
        "file with category 'anomaly'. 0 (default) leaves the output as without "
        "anomalies."
    ),
]


def generate(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write submissions into.")
    ],
    claims: Annotated[int, typer.Option(help="Number of claims.")] = 20_000,
    facilities: Annotated[
        int, typer.Option(help="Number of facilities sending.")
    ] = 200,
    day: Annotated[
        str, typer.Option("--date", help="Day of the claims, YYYY-MM-DD.")
    ] = "2026-10-15",
    days: GenerateDays = 1,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 0,
    error_rate: Annotated[
        float, typer.Option(help="Share of claims with an injected fault.")
    ] = 0.02,
    fmt: Annotated[
        str, typer.Option("--format", help="xml (submissions) or parquet (bulk).")
    ] = "xml",
    truth: Annotated[
        Path | None,
        typer.Option(help="Ground-truth file (default <out>.truth.parquet)."),
    ] = None,
    catalog_dir: CatalogDir = None,
    anomaly_rate: AnomalyRate = 0.0,
    sign: Annotated[
        bool,
        typer.Option(
            "--sign/--no-sign",
            help="Sign each XML file (CHUKYDONVI) with the fixed TEST key whose "
            "certificate the built-in certificates catalog registers for every "
            "synthetic facility; deterministic.",
        ),
    ] = True,
) -> None:
    """Generate a realistic, seeded day (or --days, e.g. a month) of submissions with
    labelled injected errors and anomalies."""
    from claims.synthetic.generate import generate as run_generate
    from claims.synthetic.run import check_rates

    if fmt not in ("xml", "parquet"):
        raise fail(ValueError(f"--format must be xml or parquet, not {fmt!r}"))
    try:
        check_rates(error_rate, anomaly_rate, ("--error-rate", "--anomaly-rate"))
    except ValueError as exc:
        raise fail(exc) from exc
    try:
        the_day = date.fromisoformat(day)
    except ValueError as exc:
        raise fail(ValueError(f"--date {day!r} is not YYYY-MM-DD")) from exc
    chosen: Literal["xml", "parquet"] = "xml" if fmt == "xml" else "parquet"
    with err.status(f"generating {claims:,} claims…"):
        summary = run_generate(
            out_dir,
            claims=claims,
            facilities=facilities,
            day=the_day,
            days=days,
            seed=seed,
            error_rate=error_rate,
            fmt=chosen,
            truth=truth,
            catalog_dir=catalog_dir,
            anomaly_rate=anomaly_rate,
            sign=sign,
        )
    table = Table(title="generated")
    for column in ("files", "claims", "faults", "anomalies", "truth"):
        table.add_column(column)
    table.add_row(
        str(len(summary.files)),
        f"{summary.claims:,}",
        f"{summary.faults:,}",
        f"{summary.anomalies:,}",
        str(summary.truth),
    )
    print_table(err, table)
    err.print("lines: " + ", ".join(f"{t} {n:,}" for t, n in summary.lines.items()))


def _run(
    inbox: Path,
    settings: Settings,
    run_date: str | None,
    *,
    strict: bool,
    command: str = "run",
    scale: Scale | None = None,
) -> int:
    """Run the pipeline with progress; a ClaimsError becomes a clear message and exit 1."""
    scale = scale or Scale()
    scale.check()
    try:
        return _run_inbox(
            inbox,
            scale.settings(settings),
            run_date,
            strict=strict,
            command=command,
            scale=scale,
        )
    except ClaimsError as exc:
        raise fail(exc) from exc


def _run_inbox(
    inbox: Path,
    settings: Settings,
    run_date: str | None,
    *,
    strict: bool,
    command: str = "run",
    scale: Scale,
) -> int:
    from claims.pipeline.daily import run_inbox

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("reading submissions", total=None)

        def progress(_stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_inbox(
            inbox,
            settings=settings,
            run_date=run_date,
            progress=progress,
            on_wait=waiting(settings),
            command=command,
            engine="dask" if scale.engine is EngineChoice.dask else "local",
            scheduler=scale.scheduler,
        )
    for text in result.notices:
        notice(text)
    if not result.files.height:  # an empty inbox: the notice said so
        return 0
    _print_files(result.files)
    _print_counts(result.counts)
    _print_claims(result.claims, result.reasons)
    _print_assessment(result.assessments, result.hits)
    _print_decisions(result.decisions)
    if result.run_id is None:
        err.print("nothing new: every file was already stored")
    else:
        err.print(
            f"run [bold]{result.run_id}[/] ({result.run_date}) → {result.run_dir}"
        )
    failed = result.files.filter(pl.col("status") == "failed").height
    return 1 if strict and failed else 0


def _print_files(files: pl.DataFrame, *, limit: int = 15) -> None:
    """Files by status, then the files with refusals or rejected claims (the first few)."""
    by_status = files.group_by("status").agg(
        pl.len().alias("files"), pl.col("claims").sum(), pl.col("rejected").sum()
    )
    table = Table(title="submissions")
    for column in ("status", "files", "claims", "rejected claims"):
        table.add_column(column, justify="right")
    for row in by_status.sort("status").iter_rows():
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    print_table(err, table)
    notable = files.filter((pl.col("status") == "failed") | (pl.col("rejected") > 0))
    if notable.height == 0:
        return
    detail = Table(title="files needing attention")
    for column in notable.columns:
        detail.add_column(column)
    for row in notable.head(limit).iter_rows():
        detail.add_row(*[str(v) for v in row])
    print_table(err, detail)
    if notable.height > limit:
        err.print(
            f"… and {notable.height - limit:,} more (see the receipts of the run)"
        )


def _print_tally(title: str, claims: pl.DataFrame, column: str) -> None:
    """Claims per value of ``column``, as a table on stdout."""
    table = Table(title=title)
    table.add_column(column)
    table.add_column("claims", justify="right")
    for value, n in claims.group_by(column).len().sort(column).iter_rows():
        table.add_row(str(value), f"{n:,}")
    print_table(out, table)


def _print_claims(claims: pl.DataFrame, reasons: pl.DataFrame) -> None:
    if claims.height == 0:
        return
    _print_tally("claims", claims, "status")
    if reasons.height:
        top = Table(title="quarantine reasons (top 12)")
        for column in ("table", "reason code", "entries"):
            top.add_column(column)
        for row in reasons.head(12).iter_rows():
            top.add_row(str(row[0]), str(row[1]), f"{row[2]:,}")
        print_table(out, top)


def _print_assessment(assessments: pl.DataFrame, hits: pl.DataFrame) -> None:
    """Claim outcomes of the rule pack, and the rules that fired most."""
    if assessments.height == 0:
        return
    _print_tally("assessment (rule pack)", assessments, "outcome")
    if hits.height == 0:
        return
    top = Table(title="rules fired (top 12)")
    for column in ("rule", "action", "outcome", "hits"):
        top.add_column(column)
    counted = (
        hits.group_by("rule_id", "action", "outcome", "reason_code")
        .len("hits")
        .sort("hits", descending=True)
    )
    for rule, action, outcome, reason, n in counted.head(12).iter_rows():
        top.add_row(rule or reason, action, outcome, f"{n:,}")
    print_table(out, top)


def _print_decisions(decisions: pl.DataFrame) -> None:
    """Claims and fund amounts (T_BHTT) per decision outcome."""
    if decisions.height == 0:
        return
    money = ("claimed_t_bhtt", "accepted_t_bhtt", "rejected_amount")
    table = Table(title="decisions (payment)")
    for column in ("outcome", "claims", *money):
        table.add_column(column, justify="right")
    tally = (
        decisions.group_by("outcome")
        .agg(pl.len(), *[pl.col(c).sum() for c in money])
        .sort("outcome")
    )
    for row in tally.iter_rows():
        table.add_row(str(row[0]), f"{row[1]:,}", *[f"{v:,.2f}" for v in row[2:]])
    print_table(out, table)


def _print_counts(counts: pl.DataFrame) -> None:
    if counts.height == 0:
        return
    table = Table(title="rows per table (rows_in = stored + quarantined)")
    for column in counts.columns:
        table.add_column(column, justify="right")
    for row in counts.iter_rows():
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    print_table(out, table)


def ingest(
    inbox: Annotated[
        Path, typer.Argument(help="Folder of submissions (.xml files, bulk folders).")
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any file was refused.")
    ] = False,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    wait: Wait = None,
    memory_budget: MemoryBudget = None,
    engine: EngineOption = EngineChoice.local,
    scheduler: SchedulerOption = None,
) -> None:
    """Store every submission of INBOX; refused files go to the failed area with a sidecar."""
    settings = settings_for(data_dir, catalog_dir, wait=wait)
    scale = Scale(memory_budget, engine, scheduler)
    code = _run(inbox, settings, None, strict=strict, command="ingest", scale=scale)
    raise typer.Exit(code)


def run(
    day: Annotated[str, typer.Option("--date", help="Run date, YYYY-MM-DD.")],
    inbox: Annotated[
        Path, typer.Option("--inbox", help="Folder of the day's submissions.")
    ],
    settle: Annotated[
        str | None,
        typer.Option(
            "--settle",
            help="After the run, settle this period (YYYY-MM or YYYY-Qn) and post it.",
        ),
    ] = None,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    wait: Wait = None,
    memory_budget: MemoryBudget = None,
    engine: EngineOption = EngineChoice.local,
    scheduler: SchedulerOption = None,
) -> None:
    """Run the daily pipeline on INBOX for one date (and optionally settle a period).

    Only one command writes a data folder at a time: a second one waits for the first
    (up to --wait seconds), then stops with a message naming it. A day larger than
    --memory-budget runs in partitions; a run that died resumes from its last
    finished partition when run again.
    """
    try:
        date.fromisoformat(day)
    except ValueError as exc:
        raise fail(ValueError(f"--date {day!r} is not YYYY-MM-DD")) from exc
    settings = settings_for(data_dir, catalog_dir, wait=wait)
    scale = Scale(memory_budget, engine, scheduler)
    code = _run(inbox, settings, day, strict=False, scale=scale)
    if settle is not None:
        _settle(settings, settle)
    raise typer.Exit(code)


def demo(
    claims: Annotated[
        int, typer.Option(help="Number of claims in the demo day.")
    ] = 20_000,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
) -> None:
    """Generate a demo day, run it through the pipeline into a DuckDB store, print a summary.

    The store is the one every command reads by default (``./giamdinh-data``, or
    --data-dir / GIAMDINH_DATA_DIR), so the commands it suggests next find it; a folder
    holding data the demo did not make is refused, never overwritten.
    """
    settings = settings_for(data_dir, catalog_dir)
    day = "2026-10-15"
    from claims.pipeline import Reference

    # a bad --catalog-dir stops the demo before it deletes its previous folder
    Reference.load(settings.catalog_dir, settings.pack_id)
    _reset_demo(settings.data_dir)
    inbox = settings.data_dir / "inbox"
    err.print(f"demo: {claims:,} claims on {day} into {settings.data_dir}")
    generate(
        out_dir=inbox,
        claims=claims,
        facilities=200,
        day=day,
        days=1,
        seed=0,
        error_rate=0.02,
        fmt="xml",
        truth=settings.data_dir / "truth.parquet",
        catalog_dir=catalog_dir,
    )
    _run(inbox, settings, day, strict=False)
    _settle(settings, day[:7])
    err.print(f"store: {settings.store_path}")
    _next_steps(settings, data_dir)


def _next_steps(settings: Settings, data_dir: Path | None) -> None:
    """Name a claim of the demo the payment cut (else any) and the commands that show
    it and why, with the --data-dir they need (none for the default folder)."""
    from claims.store import open_store
    from claims.store.versions import example_claim

    with open_store(settings.store_path, read_only=True) as con:
        found = example_claim(con)
    if found is None:
        return
    facility, claim, outcome = found
    where = f" --data-dir {data_dir}" if data_dir is not None else ""
    err.print(f"next: a {outcome} claim of the demo, and why:")
    for command in ("claims show", "rules explain"):
        line = f"  giamdinh {command} --facility {facility} --claim {claim}{where}"
        err.print(line, soft_wrap=True)  # one line, to copy whole


def _settle(settings: Settings, period: str) -> None:
    """Settle ``period`` after a run and print the totals per facility."""
    from claims.cli.settle import print_settlement, run_settlement

    try:
        settlement, posted, folder = run_settlement(settings, period, None)
    except ClaimsError as exc:
        raise fail(exc) from exc
    print_settlement(settlement, posted, folder)


def check(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Claim files (GIAMDINHHS .xml), folders of them, or bulk folders."
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl: one JSON object per claim on stdout, in input order "
            "(contract 2, see the README); table: the same for people.",
        ),
    ] = "table",
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 1 when any claim is rejected."),
    ] = False,
    pack: Annotated[
        str | None,
        typer.Option(
            "--pack",
            help="Pin one rule pack version, ID@VERSION (default: the released "
            "version covering each claim's admission date).",
        ),
    ] = None,
    catalog_dir: CatalogDir = None,
) -> None:
    """Self-check claim files without storing them: outcome, amounts and reasons per claim.

    A folder is read as its .xml files, unless it holds xml1.parquet or xml1.csv (a bulk
    load). Cross-claim checks see only the given files. Exit 0 when every file's wrapper
    was read (whatever the claims' outcomes), 2 when a file could not be read or does
    not exist (its error object says why); with --strict, 1 when every file was read
    but a claim is rejected.
    """
    from claims.pipeline.context import Reference
    from claims.pipeline.selfcheck import check_files, expand_paths

    if fmt not in ("jsonl", "table"):
        raise fail(ValueError(f"--format {fmt!r}: use jsonl or table"))
    files = expand_paths(files)
    try:
        settings = settings_for(None, catalog_dir)
        reference = Reference.load(settings.catalog_dir, settings.pack_id, pack)
        with Progress(
            TextColumn("checking"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("checking", total=len(files))
            rows, all_read = check_files(
                files,
                reference,
                lambda n, _total: bar.update(task, completed=n),
                settings=settings,
            )
    except ClaimsError as exc:
        raise fail(exc) from exc
    if fmt == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        _print_checked(rows)
    rejected = any(row.get("outcome") == "rejected" for row in rows)
    raise typer.Exit(2 if not all_read else 1 if strict and rejected else 0)


def _print_checked(rows: list[dict[str, object]]) -> None:
    """The self-check result as tables: one row per claim, then the reasons."""
    table = Table(title="self-check")
    for column in (
        "file",
        "ma_lk",
        "outcome",
        "claimed T_BHTT",
        "accepted T_BHTT",
        "rejected",
    ):
        table.add_column(column, no_wrap=True)
    reasons = Table(title="reasons")
    for column in ("ma_lk", "code", "level", "table", "stt", "item"):
        reasons.add_column(column, no_wrap=True)
    reasons.add_column("message", min_width=30)
    for row in rows:
        error = row.get("error")
        if isinstance(error, dict):
            table.add_row(
                str(row["file"]),
                "",
                "[red]error[/]",
                "",
                "",
                f"{error['code']}: {error['message']}",
            )
            continue
        # a claim refused at validation may have no readable MA_LK, XML1 or totals
        claimed, accepted = row["claimed"] or {}, row["accepted"]
        assert isinstance(claimed, dict)
        assert isinstance(accepted, dict)
        name = str(row["ma_lk"] or f"#{row['stt']}")
        table.add_row(
            str(row["file"]),
            name,
            str(row["outcome"]),
            str(claimed.get("t_bhtt") or ""),
            str(accepted["t_bhtt"] or ""),
            str(row["rejected_amount"] or ""),
        )
        for reason in row["reasons"]:  # type: ignore[attr-defined]
            reasons.add_row(
                name,
                reason["code"],
                reason["level"],
                str(reason["table"] or ""),
                str(reason["stt"] or ""),
                str(reason["item_code"] or ""),
                reason["message"],
            )
    print_table(out, table)
    if reasons.row_count:
        print_table(out, reasons)


def _reset_demo(folder: Path) -> None:
    """Start the demo afresh, but only in a folder the demo made (it holds a marker)."""
    marker = folder / ".giamdinh-demo"
    if folder.exists() and any(folder.iterdir()) and not marker.exists():
        msg = f"{folder} holds other data; pass an empty --data-dir for the demo"
        raise fail(ValueError(msg))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    marker.write_text("made by giamdinh demo; deleted and rebuilt on each demo run\n")
