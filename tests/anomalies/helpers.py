"""Literal claim profiles for the anomaly tests: seeded, in the shape
``claims.anomalies.claim_profiles`` returns."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl

from claims.money import MONEY


def profiles(n: int = 300, seed: int = 7, facilities: int = 6) -> pl.DataFrame:
    """``n`` outpatient-like claims of one level, department and province, spread over
    ``facilities`` facilities, with log-normal costs."""
    rng = np.random.default_rng(seed)
    cost = np.round(np.exp(rng.normal(12.5, 0.3, n)), 2)
    fac = [f"01{(i % facilities) + 1:03d}" for i in range(n)]
    drug = rng.uniform(0.3, 0.5, n)
    return pl.DataFrame(
        {
            "file_id": [f"f{i // 50}" for i in range(n)],
            "hoso_idx": [i % 50 for i in range(n)],
            "ma_cskcb": fac,
            "ma_lk": [f"LK{i:05d}" for i in range(n)],
            "t_bhtt": [Decimal(str(round(c * 0.8, 2))) for c in cost],
            "level": ["basic"] * n,
            "department": ["K01"] * n,
            "province": ["01"] * n,
            "claim_type": ["01"] * n,
            "icd3": ["J00"] * n,
            "dx_code": ["13.0001.0001"] * n,
            "cost": [Decimal(str(c)) for c in cost],
            "los": [0] * n,
            "lines": rng.integers(5, 12, n).tolist(),
            "drug_share": drug.tolist(),
            "supply_share": rng.uniform(0.0, 0.05, n).tolist(),
            "concentration": rng.uniform(0.3, 0.5, n).tolist(),
            "quantity_excess": rng.uniform(0.9, 1.1, n).tolist(),
            "dx_rarity": rng.uniform(0.1, 0.5, n).tolist(),
            "drug_lines": rng.integers(3, 9, n).tolist(),
            "test_lines": rng.integers(0, 3, n).tolist(),
            "dose_excess": rng.uniform(0.8, 1.25, n).tolist(),
            "care_per_day": [None] * n,
            "visits": [1] * n,
            "readmits": [0] * n,
            "overlaps": [0] * n,
        },
        schema_overrides={
            "t_bhtt": MONEY,
            "cost": MONEY,
            "hoso_idx": pl.UInt32,
            "care_per_day": pl.Float64,
        },
    )
