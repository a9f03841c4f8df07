"""Build the XML1–XML5 text tables and truth rows of one chunk of a synthetic run."""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic import detail as detail
from claims.synthetic import tables as tab
from claims.synthetic.breakage import break_structure
from claims.synthetic.inject import (
    busy_exam_truth,
    claim_truth,
    copy_duplicates,
    inflate,
    miscount,
)
from claims.synthetic.lines import drug_lines, number_lines
from claims.synthetic.money_lines import (
    add_line_amounts,
    add_shares,
    claim_benefit,
    claim_totals,
    full_ratio_for_level_one,
    law_service_ratios,
)
from claims.synthetic.results import note_rows, result_rows
from claims.synthetic.run import Run, finish_truth
from claims.synthetic.services import service_lines
from claims.synthetic.summary import xml1

BED_LETTERS = ("H", "T", "C", "K")


def _chunk_claims(run: Run, index: int) -> pl.DataFrame:
    """The chunk's claims with ``ci`` (row), ``partner_ci`` and a bed code per stay.

    Bed codes are unique per facility and department over the run, so two stays never
    share a bed (§4.3 H9); 999 numbers per letter H, T, C, K.
    """
    lo, hi = run.chunks[index]
    claims = run.claims.slice(lo, hi - lo)
    rank = pl.int_range(pl.len()).over("fac", "dept", pl.col("n_bed") > 0)
    letter = ((rank // 999) % len(BED_LETTERS)).replace_strict(
        dict(enumerate(BED_LETTERS)), return_dtype=pl.String
    )
    bed = pl.concat_str(letter, (rank % 999 + 1).cast(pl.String).str.zfill(3))
    return claims.with_columns(
        pl.int_range(pl.len()).alias("ci"),
        pl.when(pl.col("partner") >= 0)
        .then(pl.col("partner") - lo)
        .otherwise(-1)
        .alias("partner_ci"),
        pl.when(pl.col("n_bed") > 0).then(bed).alias("bed"),
    )


def _priced_lines(
    claims: pl.DataFrame, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Drug and service lines with every amount, the claim totals and content truth."""
    drugs = number_lines(drug_lines(claims, rng))
    services = number_lines(service_lines(claims, rng))
    services = law_service_ratios(services)
    drugs = full_ratio_for_level_one(claims, drugs)
    services = full_ratio_for_level_one(claims, services)
    drugs, services, inflated = inflate(claims, drugs, services, rng)
    drugs = add_line_amounts(drugs, drugs=True)
    services = add_line_amounts(services, drugs=False)
    drugs, services, miscounted = miscount(claims, drugs, services, rng)
    benefit = claim_benefit(claims, drugs, services)
    drugs, services = add_shares(drugs, benefit), add_shares(services, benefit)
    totals = claim_totals(claims, drugs, services)
    return drugs, services, totals, pl.concat([inflated, miscounted])


def build_chunk(run: Run, index: int) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Tables (spec columns, ``ma_cskcb`` first on line tables) and truth of a chunk."""
    rng = np.random.default_rng(run.seeds[index])
    claims = _chunk_claims(run, index)
    drugs, services, totals, content = _priced_lines(claims, rng)
    services = detail.performer_serials(claims, services, rng)
    results = result_rows(services, rng)
    notes = note_rows(claims, rng)
    tables = {
        "XML1": xml1(claims, totals, rng).with_columns(claims["ci"]),
        "XML2": detail.xml2(claims, drugs).with_columns(drugs["ci"]),
        "XML3": detail.xml3(claims, services).with_columns(services["ci"]),
        "XML4": tab.xml4(claims, results).with_columns(results["ci"]),
        "XML5": tab.xml5(claims, notes).with_columns(notes["ci"]),
    }
    tables = copy_duplicates(claims, tables)
    tables, structural = break_structure(claims, tables, rng)
    pairs = [
        claim_truth(
            np.flatnonzero((claims["fault"] == k).fill_null(False).to_numpy()), k
        )
        for k in ("duplicate_claim", "overlapping_stay")
    ]
    truth = pl.concat([content, busy_exam_truth(claims, services), structural, *pairs])
    return {k: v.drop("ci") for k, v in tables.items()}, finish_truth(claims, truth)
