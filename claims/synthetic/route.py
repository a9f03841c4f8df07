"""Route (MA_DOITUONG_KCB) of each synthetic claim, from the card and the facility.

Derived after the person is final (an injected fault may have swapped it), so the code
always matches the data: registered here → 1.1; a commune/district facility of the
person's province → 1.2 (from 2025, 3.3 at basic-level ex-district facilities); from
another province → 1.4; at provincial and central hospitals a referral (1.3), a
re-visit appointment (1.5), an emergency (2) or, for inpatients, self-referral (3.1 at
ex-central, 3.2 at ex-provincial hospitals). Every code used exists in both the old list
(to 2024-12-31) and the new one (from 2025-01-01) of the ``code_lists`` catalog.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from claims.synthetic.people import day_number

NEW_LIST_FROM = day_number(date(2025, 1, 1))
OFF_ROUTE_RATE = {"3.1": 40}
"""Route rate (%) of codes that are not paid at 100 % (§2.4: ex-central inpatient 40 %)."""


def _destination(
    rng: np.random.Generator, claims: pl.DataFrame, higher: pl.DataFrame
) -> pl.Series:
    """A provincial or central facility in the claim's province, never the claim's own."""
    codes = higher["ma_tinh"].to_numpy()
    province = claims["ma_tinh"].to_numpy()
    start = np.searchsorted(codes, province, side="left")
    count = np.searchsorted(codes, province, side="right") - start
    index = start + (rng.random(len(province)) * np.maximum(count, 1)).astype(np.int64)
    index = np.where(count > 0, index, rng.integers(0, len(codes), len(province)))
    own = (
        higher["ma_cskcb"].to_numpy()[index % len(codes)]
        == claims["ma_cskcb"].to_numpy()
    )
    return higher["ma_cskcb"].gather((index + own) % len(codes))


def _codes(claims: pl.DataFrame, rng: np.random.Generator) -> np.ndarray:
    n = claims.height
    tier = claims["tier_idx"].to_numpy()
    home = (claims["ma_dkbd"] == claims["ma_cskcb"]).to_numpy()
    local = (claims["province"] == claims["ma_tinh"]).to_numpy()
    inpatient = claims["inpatient"].to_numpy()
    basic = (claims["level_2025"] != "primary").to_numpy() & (tier == 1)
    new = claims["vao"].to_numpy() // 1440 >= NEW_LIST_FROM
    r = rng.random(n)
    low = np.select(
        [inpatient & (r < 0.3), ~local, basic & new], ["2", "1.4", "3.3"], default="1.2"
    )
    off = np.where(tier == 3, "3.1", "3.2")
    high = np.select(
        [r < 0.2, ~inpatient & (r < 0.35), inpatient & (r < 0.45)],
        ["2", "1.5", off],
        default="1.3",
    )
    return np.where(home, "1.1", np.where(tier <= 1, low, high))


def assign_routes(
    claims: pl.DataFrame, higher: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Add the route code and the referral fields it implies.

    Args:
        claims: the plan joined with each claim's person (``ma_dkbd``, ``province``).
        higher: provincial and central facilities sorted by ``ma_tinh``: where a
            transferred patient goes (MA_NOI_DEN).
        rng: the run's random generator.

    Returns:
        ``claims`` with ``doituong``, ``route_rate``, ``ma_noi_di``,
        ``giay_chuyen_tuyen`` and ``ma_noi_den``.
    """
    n = claims.height
    code = _codes(claims, rng)
    year = (pl.Series(claims["ra"] // 1440).cast(pl.Date).dt.year()).cast(pl.String)
    number = pl.Series(rng.integers(1, 10_000, n)).cast(pl.String)
    paper = (
        pl.when(pl.Series(code) == "1.3")
        .then(pl.concat_str(pl.lit(number), pl.lit("/"), pl.lit(year), pl.lit("/GCT")))
        .when(pl.Series(code) == "1.5")
        .then(pl.concat_str(pl.lit(number), pl.lit("/"), pl.lit(year), pl.lit("/GH")))
    )
    out = np.isin(claims["loai_rv"].to_numpy(), ["2", "5"])
    destination = _destination(rng, claims, higher)
    none = pl.Series([None] * n, dtype=pl.String)
    return claims.with_columns(
        pl.Series("doituong", code),
        pl.Series("route_rate", code).replace_strict(
            OFF_ROUTE_RATE, default=100, return_dtype=pl.Int64
        ),
        claims["ma_dkbd"].zip_with(pl.Series(code == "1.3"), none).alias("ma_noi_di"),
        paper.alias("giay_chuyen_tuyen"),
        destination.zip_with(pl.Series(out), none).alias("ma_noi_den"),
    )
