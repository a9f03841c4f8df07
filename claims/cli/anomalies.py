"""``giamdinh anomalies …``: score a period's stored claims against their peers
(``run``), measure the scores against a truth file (``evaluate``), say why one claim
scores as it does (``explain``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from claims.cli.anomaly_report import report
from claims.cli.common import (
    CatalogDir,
    DataDir,
    Wait,
    err,
    out,
    print_frame,
    settings_for,
    waiting,
)
from claims.cli.listing import Format, FormatOption
from claims.errors import ConfigError

app = typer.Typer(
    help="Peer-group risk scores of stored claims (reference §4.3 J7, J8): score a "
    "period, evaluate against a truth file, explain a claim.",
    no_args_is_help=True,
)
Period = Annotated[
    str, typer.Option("--period", help="A settlement month YYYY-MM (NAM_QT/THANG_QT).")
]
TOP_SHOWN = 20
"""Claims ``anomalies run`` lists, riskiest first."""


@app.command("run")
def run_cmd(
    period: Period,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    wait: Wait = None,
) -> None:
    """Score the period's stored claims and replace its stored scores."""
    from claims.pipeline.anomalies import score_period

    settings = settings_for(data_dir, catalog_dir, wait=wait)
    result = score_period(settings, period, on_wait=waiting(settings))
    top = result.scores.sort(
        "risk", "statistic", "ma_cskcb", "ma_lk", descending=[True, True, False, False]
    ).head(TOP_SHOWN)
    print_frame(
        f"riskiest claims of {period}",
        top.select("ma_cskcb", "ma_lk", pl.col("risk").round(4), "explanation"),
        limit=TOP_SHOWN,
    )
    facilities = result.facilities.sort("risk", "ma_cskcb", descending=[True, False])
    print_frame(
        f"riskiest facilities of {period}",
        facilities.select(
            "ma_cskcb",
            "level",
            "claims",
            pl.col("mean_risk", "claims_z", "trend_z", "risk").round(3),
        ),
        limit=10,
    )
    out.print(
        f"scored {result.scores.height:,} claims of {result.facilities.height:,} "
        f"facilities for {period} (scoring {result.scoring_id})"
    )


Truth = Annotated[
    Path,
    typer.Option(
        "--truth",
        help="CSV or Parquet with columns ma_cskcb, ma_lk, kind (optionally category: "
        "only rows of category 'anomaly' count).",
    ),
]
Capacity = Annotated[
    float,
    typer.Option(
        "--capacity", help="Share of the period's claims reviewed, riskiest first."
    ),
]
OptionalPeriod = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="The scored month YYYY-MM (default: the only one the store holds).",
    ),
]


def read_truth(path: Path) -> pl.DataFrame:
    """A truth file: Parquet (by its magic bytes) or CSV, every column as text.

    Raises:
        ConfigError: the file is missing or is neither.
    """
    if not path.is_file():
        msg = f"no truth file at {path}; give the file `giamdinh generate` wrote (--truth)"
        raise ConfigError(msg)
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == b"PAR1":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        msg = (
            f"the truth file {path} is neither Parquet nor CSV that can be read: {exc}"
        )
        raise ConfigError(msg) from exc


def _period_of(scored: list[str], period: str | None) -> str:
    if period is not None:
        if period not in scored:
            msg = (
                f"the store holds no anomaly scores of {period}; run "
                f"`giamdinh anomalies run --period {period}` first"
            )
            raise ConfigError(msg)
        return period
    if len(scored) == 1:
        return scored[0]
    if not scored:
        msg = (
            "the store holds no anomaly scores; run "
            "`giamdinh anomalies run --period YYYY-MM` first"
        )
    else:
        msg = (
            f"the store holds scores of {len(scored)} periods ({', '.join(scored)}); "
            "name one with --period"
        )
    raise ConfigError(msg)


@app.command("evaluate")
def evaluate_cmd(
    truth: Truth,
    period: OptionalPeriod = None,
    capacity: Capacity = 0.01,
    fmt: FormatOption = Format.table,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
) -> None:
    """Precision, recall and money-weighted recall of reviewing the riskiest claims."""
    from claims.anomalies import evaluate
    from claims.store.anomalies import scored_periods, scores_of
    from claims.store.runs import open_store

    if not 0 < capacity <= 1:
        msg = f"--capacity {capacity} is not a share of the claims in (0, 1], e.g. 0.01"
        raise ConfigError(msg)
    settings = settings_for(data_dir, catalog_dir)
    rows = read_truth(truth)
    with open_store(settings.store_path, read_only=True) as con:
        chosen = _period_of(scored_periods(con), period)
        scores = scores_of(con, chosen)
    result = evaluate(rows, scores, capacity)
    if result["truth_unmatched"]:
        err.print(
            f"note: {result['truth_unmatched']} anomalous claim(s) of the truth file are "
            f"not among the {result['scored']:,} claims scored for {chosen}; left out"
        )
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"period": chosen, **result}, indent=1) + "\n")
        return
    table = pl.DataFrame(
        [
            {"kind": "overall", **result["overall"]},
            *({"kind": k, **m} for k, m in result["kinds"].items()),
        ]
    ).select(
        "kind",
        "claims",
        "found",
        pl.col("precision", "recall", "money_recall").round(3),
    )
    if fmt is Format.csv:
        sys.stdout.write(table.write_csv())
        return
    print_frame(
        f"{chosen}: top {capacity:g} reviewed ({result['reviewed']:,} of "
        f"{result['scored']:,} claims)",
        table,
        limit=table.height,
    )


@app.command("explain")
def explain_cmd(
    ma_cskcb: Annotated[str, typer.Argument(help="The facility (MA_CSKCB).")],
    ma_lk: Annotated[str, typer.Argument(help="The claim (MA_LK).")],
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
) -> None:
    """Why a stored claim scores as it does: its risk, peer group and top features."""
    from claims.store.anomalies import score_of
    from claims.store.runs import open_store

    settings = settings_for(data_dir, catalog_dir)
    with open_store(settings.store_path, read_only=True) as con:
        rows = score_of(con, ma_cskcb, ma_lk)
    if rows.height == 0:
        msg = (
            f"claim {ma_lk} of facility {ma_cskcb} has no anomaly score: check both "
            "codes (`giamdinh claims show`), and score its period with "
            "`giamdinh anomalies run --period YYYY-MM`"
        )
        raise ConfigError(msg)
    for row in rows.iter_rows(named=True):
        out.print(
            f"{row['period']}  {ma_cskcb}/{ma_lk}  risk {row['risk']:.4f}  "
            f"(peer group {row['peer_group']}, {row['peer_n']} claims)"
        )
        for part in str(row["explanation"]).split("; "):
            out.print(f"  - {part}")


app.command("report")(report)
