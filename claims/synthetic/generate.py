"""Seeded generator of realistic daily QĐ 130 submissions with labelled injected faults.

``generate_day`` returns the raw text tables XML1–XML5 of ``claims`` claims spread over
``facilities`` facilities drawn from the ``facilities`` catalog, plus the ground truth of
the faults injected into ``round(claims × error_rate)`` of them; ``write_xml`` and
``write_parquet`` write them as an ingest would receive them; ``generate`` does both in
bounded memory for national-scale days, building one chunk of the run at a time
(``build_chunk``: the XML1–XML5 text tables and truth rows of the chunk's claims).

Same arguments, same bytes: every random choice comes from ``numpy`` generators seeded
by ``seed``, and every output is sorted. Realism, fault kinds and their expected reason
codes are described in the modules this one composes: :mod:`claims.synthetic.plan`,
:mod:`claims.synthetic.people`, :mod:`claims.synthetic.lines`,
:mod:`claims.synthetic.run`, :mod:`claims.synthetic.faults`.

Example:
    >>> day = generate_day(claims=2_000, facilities=40, seed=7)
    >>> paths = write_xml(day, Path("inbox"))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from claims.synthetic.anomalies import (
    anomaly_truth,
    drop_period_limited,
    inflate_doses,
)
from claims.synthetic.documents import document_tables
from claims.synthetic.faults import (
    TRUTH_COLUMNS,
    break_structure,
    busy_exam_truth,
    claim_truth,
    copy_duplicates,
    finish_truth,
    inflate,
    label_kinds,
    miscount,
)
from claims.synthetic.faults_documents import DOCUMENT_KINDS, break_documents
from claims.synthetic.faults_episode import EPISODE_KINDS, break_episode
from claims.synthetic.faults_registry import (
    REGISTRY_KINDS,
    break_registry,
    recode_lines,
)
from claims.synthetic.lines import (
    drug_lines,
    note_rows,
    number_lines,
    result_rows,
    service_lines,
)
from claims.synthetic.money import (
    add_line_amounts,
    add_shares,
    claim_benefit,
    claim_totals,
    drug_benefit,
    full_ratio_for_level_one,
    law_service_ratios,
)
from claims.synthetic.registry import bed_codes, department_rows
from claims.synthetic.run import Run, plan_run
from claims.synthetic.tables import performer_serials, xml1, xml2, xml3, xml4, xml5
from claims.synthetic.write import (
    TABLES,
    ParquetSink,
    claim_day,
    claim_key,
    table_columns,
    write_xml_tables,
)

TRUTH_SCHEMA = dict.fromkeys(TRUTH_COLUMNS, pl.String)
DEFAULT_DAY = date(2026, 10, 15)


@dataclass(frozen=True)
class SyntheticDay:
    """Raw tables of a generated run, the truth of its faults, and its facilities."""

    tables: dict[str, pl.DataFrame]
    truth: pl.DataFrame
    facilities: pl.DataFrame


@dataclass(frozen=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    files: list[Path]
    truth: Path
    claims: int
    lines: dict[str, int]
    faults: int
    anomalies: int = 0


def generate_day(
    *,
    claims: int = 20_000,
    facilities: int = 200,
    day: date = DEFAULT_DAY,
    days: int = 1,
    seed: int = 0,
    error_rate: float = 0.02,
    catalog_dir: Path | None = None,
    anomaly_rate: float = 0.0,
) -> SyntheticDay:
    """Generate ``claims`` claims discharged over ``days`` days ending on ``day``.

    Args:
        claims: number of claims (XML1 rows), split across days with a month-end rush.
        facilities: number of facilities drawn from the catalog (every tier).
        day: the last submission day.
        days: number of consecutive days.
        seed: seeds every random choice.
        error_rate: share of claims that get exactly one injected fault.
        catalog_dir: catalog overlay root (``facilities`` and ``code_lists``).
        anomaly_rate: share of claims that get exactly one anomaly (plausible alone,
            far off in aggregate; :mod:`claims.synthetic.anomalies`), disjoint from
            the faulted ones. 0 makes the same bytes as a generator without anomalies.

    Returns:
        The tables (``pl.String`` columns in spec order, ``ma_cskcb`` first on line
        tables), the truth (one row per fault or anomaly, sorted by ``ma_cskcb, ma_lk, table,
        stt``) and the drawn facilities.

    Raises:
        ValueError: for counts below 1, a rate outside [0, 1], or too few open facilities.
    """
    run = plan_run(
        claims=claims, facilities=facilities, day=day, days=days, seed=seed,
        error_rate=error_rate, catalog_dir=catalog_dir, anomaly_rate=anomaly_rate,
    )  # fmt: skip
    parts = [build_chunk(run, i) for i in range(len(run.chunks))]
    tables = {t: pl.concat([p[0][t] for p in parts]) for t in TABLES}
    truth = _sorted_truth([p[1] for p in parts])
    return SyntheticDay(tables, truth, run.facilities)


def _sorted_truth(parts: list[pl.DataFrame]) -> pl.DataFrame:
    frame = pl.concat(
        [pl.DataFrame(schema=TRUTH_SCHEMA), *parts], how="vertical_relaxed"
    )
    return frame.sort("ma_cskcb", "ma_lk", "table", "stt", nulls_last=False)


def write_xml(day: SyntheticDay, out: Path, *, sign: bool = False) -> list[Path]:
    """Write one GIAMDINHHS file per facility per day: ``out/<MA_CSKCB>_<yyyymmdd>.xml``.

    ``sign``: signed with the fixed test key (:mod:`claims.synthetic.sign`).

    Returns:
        The files written, sorted.
    """
    return write_xml_tables(day.tables, out, sign=sign)


def write_parquet(day: SyntheticDay, out: Path) -> list[Path]:
    """Write ``out/bulk_<yyyymmdd>/xml1.parquet`` … ``xml5.parquet`` (string columns).

    Returns:
        The files written, sorted.
    """
    sink = ParquetSink(out)
    sink.add(day.tables)
    return sink.close(_days(day.tables), table_columns())


def _days(tables: dict[str, pl.DataFrame]) -> list[str]:
    return sorted(
        tables["XML1"].select(claim_day(claim_key("XML1"))).to_series().unique()
    )


def generate(
    out: Path,
    *,
    claims: int = 20_000,
    facilities: int = 200,
    day: date = DEFAULT_DAY,
    days: int = 1,
    seed: int = 0,
    error_rate: float = 0.02,
    fmt: Literal["xml", "parquet"] = "xml",
    truth: Path | None = None,
    catalog_dir: Path | None = None,
    anomaly_rate: float = 0.0,
    sign: bool = False,
) -> GenerateSummary:
    """Generate and write submissions chunk by chunk, and the truth beside them.

    Same arguments as :func:`generate_day`, plus:

    Args:
        out: folder for the submissions (created).
        fmt: ``xml`` (one wrapper per facility per day) or ``parquet`` (bulk tables).
        sign: XML files carry the fixed test key's signature (CHUKYDONVI,
            :mod:`claims.synthetic.sign`); off by default here so the bytes of a seed
            stay those of earlier versions; ``giamdinh generate`` signs by default.
        truth: where the truth Parquet goes; by default ``<out>.truth.parquet``, beside
            the folder so that an ingest of ``out`` never reads it.

    Raises:
        ValueError: for an unknown ``fmt`` or a ``truth`` path inside ``out``.
    """
    truth_path = truth if truth is not None else Path(str(out) + ".truth.parquet")
    if fmt not in ("xml", "parquet"):
        msg = f"fmt must be 'xml' or 'parquet', not {fmt!r}"
        raise ValueError(msg)
    if truth_path.resolve().is_relative_to(out.resolve()):
        msg = f"the truth file {truth_path} must not be inside the output folder {out}"
        raise ValueError(msg)
    run = plan_run(
        claims=claims, facilities=facilities, day=day, days=days, seed=seed,
        error_rate=error_rate, catalog_dir=catalog_dir, anomaly_rate=anomaly_rate,
    )  # fmt: skip
    files, truths, lines = _write_chunks(run, out, fmt, sign=sign)
    frame = _sorted_truth(truths)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(truth_path)
    counts = dict(sorted(lines.items()))
    anomalies = int((frame["category"] == "anomaly").sum())
    faults = frame.height - anomalies
    return GenerateSummary(files, truth_path, claims, counts, faults, anomalies)


def _write_chunks(
    run: Run, out: Path, fmt: str, *, sign: bool = False
) -> tuple[list[Path], list[pl.DataFrame], Counter[str]]:
    """Build and write one chunk of facilities at a time (bounded memory)."""
    out.mkdir(parents=True, exist_ok=True)
    sink, files, truths, lines = ParquetSink(out), [], [], Counter[str]()
    for index in range(len(run.chunks)):
        tables, chunk_truth = build_chunk(run, index)
        lines.update({t: f.height for t, f in tables.items()})
        truths.append(chunk_truth)
        if fmt == "xml":
            files += write_xml_tables(tables, out, sign=sign)
        else:
            sink.add(tables)
    if fmt == "parquet":
        days_text = [d.strftime("%Y%m%d") for d in run.days]
        files = sink.close(days_text, table_columns())
    return sorted(files), truths, lines


# ---- one chunk of a run


def _chunk_claims(run: Run, index: int) -> pl.DataFrame:
    """The chunk's claims with ``ci`` (row), ``partner_ci`` and a bed code per stay.

    Beds are the facility's registered beds of the stay's department, never two stays
    in one bed at once (§4.3 H7, H9; :func:`claims.synthetic.registry.bed_codes`).
    """
    lo, hi = run.chunks[index]
    claims = run.claims.slice(lo, hi - lo)
    stays = claims.select(
        "ma_cskcb",
        "dept",
        pl.when(pl.col("n_bed") > 0).then(pl.col("vao")).alias("vao"),
        "ra",
    )
    beds = bed_codes(stays, department_rows(run.facilities))
    return claims.with_columns(
        pl.int_range(pl.len()).alias("ci"),
        pl.when(pl.col("partner") >= 0)
        .then(pl.col("partner") - lo)
        .otherwise(-1)
        .alias("partner_ci"),
        beds.alias("bed"),
    )


def _priced_lines(
    claims: pl.DataFrame, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Drug and service lines with every amount, the claim totals and content truth."""
    drugs = number_lines(inflate_doses(claims, drug_lines(claims, rng)))
    services = number_lines(drop_period_limited(claims, service_lines(claims, rng)))
    services = law_service_ratios(services)
    drugs = full_ratio_for_level_one(claims, drugs)
    services = full_ratio_for_level_one(claims, services)
    drugs, services, inflated = inflate(claims, drugs, services, rng)
    drugs, services, recoded = recode_lines(claims, drugs, services, rng)
    drugs = add_line_amounts(drugs, drugs=True)
    services = add_line_amounts(services, drugs=False)
    drugs, services, miscounted = miscount(claims, drugs, services, rng)
    benefit = claim_benefit(claims, drugs, services)
    drugs = add_shares(drugs, drug_benefit(claims, drugs, services, benefit))
    services = add_shares(services, benefit)
    totals = claim_totals(claims, drugs, services)
    return drugs, services, totals, pl.concat([inflated, miscounted, recoded])


def build_chunk(run: Run, index: int) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Tables (spec columns, ``ma_cskcb`` first on line tables) and truth of a chunk."""
    rng = np.random.default_rng(run.seeds[index])
    claims = _chunk_claims(run, index)
    drugs, services, totals, content = _priced_lines(claims, rng)
    services = performer_serials(claims, services, rng)
    results = result_rows(services, rng)
    notes = note_rows(claims, rng)
    tables = {
        "XML1": xml1(claims, totals, rng).with_columns(claims["ci"]),
        "XML2": xml2(claims, drugs).with_columns(drugs["ci"]),
        "XML3": xml3(claims, services).with_columns(services["ci"]),
        "XML4": xml4(claims, results).with_columns(results["ci"]),
        "XML5": xml5(claims, notes).with_columns(notes["ci"]),
    }
    tables |= document_tables(tables["XML1"])
    tables = copy_duplicates(claims, tables)
    tables, structural = break_structure(claims, tables, rng)
    tables, episode = break_episode(claims, tables, rng)
    tables, registry = break_registry(claims, tables, rng)
    tables, documents = break_documents(claims, tables)
    pairs = [
        claim_truth(
            np.flatnonzero((claims["fault"] == k).fill_null(False).to_numpy()), k
        )
        for k in ("duplicate_claim", "overlapping_stay")
    ]
    truth = pl.concat(
        [
            content,
            busy_exam_truth(claims, services),
            structural,
            episode,
            registry,
            documents,
            *pairs,
        ]
    )
    kinds = EPISODE_KINDS | REGISTRY_KINDS | DOCUMENT_KINDS
    truth = label_kinds(finish_truth(claims, truth), kinds)
    truth = pl.concat([truth, anomaly_truth(claims)])
    return {k: v.drop("ci") for k, v in tables.items()}, truth
