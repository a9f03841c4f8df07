"""``giamdinh review sample`` and ``giamdinh review extrapolate``: draw a stratified
random sample of a period's claims for review (recorded with its seed), and, once its
claims are reviewed, estimate the period's overpayment with a confidence interval.

The two functions are registered in the ``review`` group by ``claims/cli/app.py``.
"""

from __future__ import annotations

import json
import secrets
import sys
from typing import Annotated, Any

import polars as pl
import typer

from claims.cli.common import (
    DataDir,
    Wait,
    err,
    fail,
    notice,
    now,
    out,
    settings_for,
    writing,
)
from claims.cli.listing import Format, emit, rows_of
from claims.errors import ClaimsError, ConfigError
from claims.review import (
    ESTIMATOR,
    RISK_BANDS,
    Extrapolation,
    Sample,
    draw_sample,
    estimate_overpayment,
    parse_strata,
)
from claims.settle import months_of

DEFAULT_BANDS = ",".join(map(str, RISK_BANDS))
SampleFormat = Annotated[
    Format,
    typer.Option("--format", help="table (for people) or json (for tools)."),
]


def sample(
    period: Annotated[
        str, typer.Option("--period", help="The month sampled, YYYY-MM.")
    ],
    size: Annotated[
        int,
        typer.Option(
            "--size", help="How many claims to draw (n), at least 2 per stratum."
        ),
    ],
    strata: Annotated[
        str,
        typer.Option(
            "--strata",
            help="Stratify by any of facility, type (MA_LOAI_KCB), risk (bands of the "
            "anomaly score), comma-separated; empty: one stratum.",
        ),
    ] = "facility",
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="The random seed (default: drawn and recorded)."),
    ] = None,
    risk_bands: Annotated[
        str,
        typer.Option(
            "--risk-bands",
            help="The cuts of the risk bands, comma-separated, between 0 and 1.",
        ),
    ] = DEFAULT_BANDS,
    fmt: SampleFormat = Format.table,
    data_dir: DataDir = None,
    wait: Wait = None,
) -> None:
    """Draw a stratified random sample of the period's current claims (allocation
    proportional to the strata's sizes, at least 2 per stratum), record it with its
    seed, and print its id, the allocation and the claims."""
    from claims.store.runs import open_store
    from claims.store.samples import period_population, store_sample

    settings = settings_for(data_dir, None, wait=wait)
    try:
        months = months_of(period)
        dimensions = parse_strata(strata)
        cuts = _cuts(risk_bands)
        drawn_seed = seed if seed is not None else secrets.randbits(62)
        with (
            writing(settings, f"review sample --period {period}"),
            open_store(settings.store_path) as con,
        ):
            population = period_population(con, months)
            if "risk" in dimensions and population["risk"].null_count() == len(
                population
            ):
                notice(
                    f"period {period} has no anomaly scores: every claim is in one "
                    "risk band (r*); `giamdinh anomalies run --period "
                    f"{period}` scores it"
                )
            drawn = draw_sample(
                population,
                period=period,
                size=size,
                seed=drawn_seed,
                strata=dimensions,
                risk_bands=cuts,
            )
            store_sample(con, _sample_row(drawn, period), drawn.claims)
    except ClaimsError as exc:
        raise fail(exc) from exc
    _print_sample(drawn, period, fmt)


def _cuts(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        msg = f"--risk-bands {text!r}: give numbers between 0 and 1, e.g. 0.5,0.9,0.99"
        raise ConfigError(msg) from None


def _sample_row(drawn: Sample, period: str) -> pl.DataFrame:
    allocation = json.dumps(rows_of(drawn.allocation), ensure_ascii=False)
    return pl.DataFrame(
        {
            "sample_id": [drawn.sample_id],
            "period": [period],
            "seed": [drawn.seed],
            "strata": [drawn.spec()],
            "size": [drawn.size],
            "allocation": [allocation],
            "created": [now()],
        }
    )


def _print_sample(drawn: Sample, period: str, fmt: Format) -> None:
    if fmt is Format.json:
        body = {
            "sample_id": drawn.sample_id,
            "period": period,
            "seed": drawn.seed,
            "size": drawn.size,
            "strata": json.loads(drawn.spec()),
            "allocation": rows_of(drawn.allocation),
            "claims": rows_of(drawn.claims),
        }
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
        return
    if fmt is Format.csv:
        emit(out, [("allocation", drawn.allocation), ("claims", drawn.claims)], fmt)
        return
    out.print(
        f"mẫu (sample) {drawn.sample_id}: {drawn.size} hồ sơ của kỳ {period}, "
        f"seed {drawn.seed}, strata {','.join(drawn.strata) or '-'}"
    )
    emit(out, [("phân bổ theo tầng (allocation per stratum)", drawn.allocation)], fmt)
    emit(out, [("hồ sơ được chọn (sampled claims)", drawn.claims)], fmt, limit=200)


def extrapolate(
    sample_id: Annotated[
        str,
        typer.Argument(help="The sample's id (printed by `giamdinh review sample`)."),
    ],
    confidence: Annotated[
        float,
        typer.Option("--confidence", help="The interval's confidence level."),
    ] = 0.95,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="Estimate from the reviewed claims only (assumes the missing reviews "
            "are missing at random).",
        ),
    ] = False,
    fmt: SampleFormat = Format.table,
    data_dir: DataDir = None,
) -> None:
    """Estimate the period's total overpayment (engine-accepted minus review-accepted
    T_BHTT) from a reviewed sample, with its confidence interval, per stratum and per
    facility; the estimator is named in the output."""
    from claims.store.runs import open_store
    from claims.store.samples import reviewed_amounts, sample_of

    settings = settings_for(data_dir, None)
    try:
        with open_store(settings.store_path, read_only=True) as con:
            row, claims = sample_of(con, sample_id)
            period = str(row["period"])
            found = reviewed_amounts(con, claims)
        strata = pl.DataFrame(json.loads(str(row["allocation"]))).select(
            "stratum",
            pl.col("population").cast(pl.Int64),
            pl.col("claimed").cast(pl.Decimal(38, 2)),
        )
        result = estimate_overpayment(
            found, strata, confidence=confidence, allow_partial=allow_partial
        )
    except ClaimsError as exc:
        raise fail(exc) from exc
    if result.missing:
        err.print(
            f"[yellow]warning:[/] {result.missing:,} sampled claims are not reviewed; "
            "the estimate uses the reviewed ones and its interval assumes the missing "
            "reviews are missing at random"
        )
    _print_estimate(sample_id, period, result, fmt)


def _print_estimate(
    sample_id: str, period: str, result: Extrapolation, fmt: Format
) -> None:
    if fmt is Format.json:
        body: dict[str, Any] = {
            "sample_id": sample_id,
            "period": period,
            "estimator": ESTIMATOR,
            "overpayment": "engine-accepted minus review-accepted T_BHTT, signed",
            "not_reviewed": result.missing,
            "totals": rows_of(result.totals),
            "strata": rows_of(result.strata),
            "facilities": rows_of(result.facilities),
        }
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
        return
    if fmt is Format.csv:
        emit(out, [("totals", result.totals), ("strata", result.strata)], fmt)
        return
    first = result.totals.row(0, named=True)
    out.print(
        f"ước tính bội chi (overpayment) kỳ {period}, mẫu {sample_id}: "
        f"{first['estimate']:,.2f} đ, khoảng tin cậy {first['confidence']:.0%} "
        f"[{first['lower']:,.2f}; {first['upper']:,.2f}]"
    )
    out.print(f"estimator: {ESTIMATOR}")
    listings = [
        ("ước tính (estimates)", result.totals.drop("method")),
        ("theo tầng (per stratum)", result.strata),
    ]
    if result.facilities.height:
        listings.append(("theo cơ sở (per facility)", result.facilities))
    emit(out, listings, fmt)
