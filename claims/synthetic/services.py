"""XML3 lines of synthetic claims: exams, tests, procedures, surgery, bed-days, supplies.

Each kind is built by one function from the plan's counts (``n_exam``, ``n_lab``…), and
the parts are stacked into one frame: ``ci, item_id, qty, tyle_dv, yl, th, kq`` (``kq``
-1 when the line has no result time), ``performer`` (0 the attending doctor, 1 another
practitioner, -1 none) and the few text fields only some kinds carry.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.items import xml3_items
from claims.synthetic.lines import (
    DRESSING,
    IMPLANTS,
    MINUTES,
    REPEATABLE_LABS,
    SUTURE,
    _claim,
    _in_tier,
    _pool,
    _priced,
    expand,
    line_times,
)

_TEXT = ("ma_giuong", "goi_vtyt", "link", "pp_vo_cam")


def _part(ci: np.ndarray, item: np.ndarray, **columns: object) -> pl.DataFrame:
    n = len(ci)
    base: dict[str, object] = {
        "ci": ci,
        "item_id": item,
        "qty": np.full(n, 1000),
        "tyle_dv": np.full(n, 100),
        "performer": np.full(n, 1),
    }
    base.update(columns)
    frame = pl.DataFrame(base)
    missing = [
        pl.lit(None, pl.String).alias(c) for c in _TEXT if c not in frame.columns
    ]
    return frame.with_columns(missing).select(
        "ci", "item_id", "qty", "tyle_dv", "yl", "th", "kq", "performer", *_TEXT
    )


def _exams(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The exam fee; a few outpatients see a second specialty the same day at 30 %."""
    ci, k = expand(claims["n_exam"].to_numpy())
    n = len(ci)
    exams = _pool("exam").sort("item_id")["item_id"].to_numpy()
    internal, surgical, paediatric = 0, 1, 2  # Khám Nội, Khám Ngoại, Khám Nhi
    child = _claim(claims, "age", ci) < 16
    other = np.where(rng.random(n) < 0.6, internal, rng.choice([1, 3, 4, 5, 6, 7], n))
    ward = np.select(  # admitted through the exam that matches the ward
        [_claim(claims, "dept", ci) == "K19", _claim(claims, "inpatient", ci)],
        [surgical, internal],
        default=other,
    )
    first = np.where(child, paediatric, ward)
    second = (first + 1 + rng.integers(0, len(exams) - 1, n)) % len(exams)
    vao, ra = _claim(claims, "vao", ci), _claim(claims, "ra", ci)
    yl, th, kq = line_times(vao, ra, rng)
    opening = vao + rng.integers(0, 11, n)
    is_first = k == 0
    yl = np.where(is_first, opening, yl)
    th = np.where(is_first, opening + rng.integers(1, 6, n), th)
    kq = np.where(is_first, th + rng.integers(5, 16, n), kq)
    return _part(
        ci,
        exams[np.where(is_first, first, second)],
        tyle_dv=np.where(is_first, 100, 30),
        yl=yl,
        th=th,
        kq=kq,
        performer=np.where(is_first, 0, 2),
    )


def _tests(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Labs, imaging and functional tests: ordered, done, then resulted within the stay."""
    parts = []
    for count, pool, repeat in (
        ("n_lab", _pool("lab"), _pool("lab", pl.col("extra").is_in(REPEATABLE_LABS))),
        ("n_img", _pool("imaging"), None),
        ("n_func", _pool("functional"), None),
    ):
        ci, k = expand(claims[count].to_numpy())
        tier = _claim(claims, "tier_idx", ci)
        start = rng.integers(0, 64, claims.height)[ci]
        item = _in_tier(pool, tier, start, k)
        if repeat is not None:  # inpatients repeat everyday tests on later days
            again = _in_tier(repeat, tier, start, k)
            item = np.where(_claim(claims, "inpatient", ci), again, item)
        yl, th, kq = line_times(
            _claim(claims, "vao", ci), _claim(claims, "ra", ci), rng
        )
        parts.append(_part(ci, item, yl=yl, th=th, kq=kq))
    return pl.concat(parts)


def _procedures(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Rehab sessions (one a day, type 02), dialysis (08), small procedures otherwise."""
    ci, k = expand(claims["n_proc"].to_numpy())
    n = len(ci)
    kind = _claim(claims, "loai", ci)
    tier = _claim(claims, "tier_idx", ci)
    rehab = _pool("procedure", pl.col("extra") == "REHAB")
    dialysis = _pool("procedure", pl.col("extra") == "DIALYSIS")["item_id"].to_numpy()
    general = _pool("procedure", pl.col("extra").is_null())
    ward = _pool(
        "procedure", pl.col("extra").is_null() & (pl.col("ma_dich_vu") != DRESSING)
    )
    start = rng.integers(0, 16, claims.height)[ci]
    item = np.select(
        [kind == "02", kind == "08", _claim(claims, "inpatient", ci)],
        [
            _in_tier(rehab, tier, start, np.zeros(n, dtype=np.int64)),
            np.full(n, dialysis[0]),
            _in_tier(ward, tier, start, k),
        ],
        default=_in_tier(general, tier, start, k),
    )
    vao, ra = _claim(claims, "vao", ci), _claim(claims, "ra", ci)
    yl, th, _ = line_times(vao, ra, rng)
    session = np.minimum(vao + k * MINUTES, ra - 30)  # one rehab session per day
    yl = np.where(kind == "02", session, yl)
    th = np.where(kind == "02", session + rng.integers(5, 21, n), th)
    return _part(ci, item, yl=yl, th=th, kq=np.full(n, -1))


def _surgery(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """One surgery, with its supplies in package G1 (suture, and an implant if needed)."""
    ci, _ = expand(claims["n_surg"].to_numpy())
    n = len(ci)
    yl = _claim(claims, "surg_time", ci)
    th = yl + rng.integers(10, 31, n)
    icd9 = pl.Series(_claim(claims, "icd9", ci), dtype=pl.String)
    surgery = _claim(claims, "surg_item", ci)
    general = icd9.is_in(["47.01", "51.23", "81.52"]).to_numpy()
    main = _part(
        ci,
        surgery,
        yl=yl,
        th=th,
        kq=th + rng.integers(60, 121, n),
        pp_vo_cam=pl.Series(np.where(general, "1", "2"), dtype=pl.String),
    )
    items = xml3_items()
    supply_id = dict(items.select("ma_vat_tu", "item_id").drop_nulls().iter_rows())
    codes = dict(items.select("item_id", "ma_dich_vu").drop_nulls().iter_rows())
    implant = (
        icd9.replace_strict(IMPLANTS, default=None)
        .replace_strict(supply_id, default=-1, return_dtype=pl.Int64)
        .to_numpy()
    )
    si = np.concatenate([np.arange(n), np.flatnonzero(implant >= 0)])
    sup_item = np.concatenate([np.full(n, supply_id[SUTURE]), implant[implant >= 0]])
    used = th[si] + 30
    link = pl.Series(surgery[si]).replace_strict(codes, return_dtype=pl.String)
    supplies = _part(
        ci[si],
        sup_item,
        qty=np.where(sup_item == supply_id[SUTURE], 2000, 1000),
        yl=used,
        th=used,
        kq=np.full(len(si), -1),
        performer=np.full(len(si), -1),
        goi_vtyt=pl.Series(["G1"] * len(si), dtype=pl.String),
        link=link,
    )
    return pl.concat([main, supplies])


def _beds(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """One bed-day line per day of the stay (15 ward, 14 day-ward, 16 observation)."""
    ci, k = expand(claims["n_bed"].to_numpy())
    n = len(ci)
    beds = _pool("bed").sort("item_id")
    code = beds["ma_dich_vu"].to_list()
    ids = dict(zip(code, beds["item_id"].to_list(), strict=True))
    dept = pl.Series(_claim(claims, "dept", ci), dtype=pl.String)
    by_dept = {"K18": ids["K18.1903"], "K19": ids["K19.1905"]}
    ward = dept.replace_strict(by_dept, default=ids["K03.1901"]).to_numpy()
    kind = _claim(claims, "loai", ci)
    item = np.select(
        [kind == "04", kind == "06"], [ids["K03.1920"], ids["K01.1930"]], ward
    )
    # one line per calendar day: day k of the stay at noon (plus a few minutes), never
    # before admission nor after discharge, so two bed-days never share a date (H4)
    vao, ra = _claim(claims, "vao", ci), _claim(claims, "ra", ci)
    noon = vao - vao % MINUTES + k * MINUTES + MINUTES // 2 + rng.integers(0, 11, n)
    yl = np.minimum(np.maximum(vao, noon), ra)
    return _part(
        ci,
        item,
        yl=yl,
        th=yl,
        kq=np.full(n, -1),
        performer=np.full(n, -1),
        ma_giuong=pl.Series(_claim(claims, "bed", ci), dtype=pl.String),
    )


def _supplies(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Everyday supplies: syringes, cannulas, infusion sets, gloves, cotton."""
    ci, k = expand(claims["n_sup"].to_numpy())
    n = len(ci)
    pool = _pool("supply", ~pl.col("surgical"))["item_id"].to_numpy()
    start = rng.integers(0, len(pool), claims.height)[ci]
    yl, _, _ = line_times(_claim(claims, "vao", ci), _claim(claims, "ra", ci), rng)
    return _part(
        ci,
        pool[(start + k) % len(pool)],
        qty=rng.integers(1, 6, n) * 1000,
        yl=yl,
        th=yl,
        kq=np.full(n, -1),
        performer=np.full(n, -1),
    )


def service_lines(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """All XML3 lines of ``claims``, priced, with ``price_bv``/``price_bh``.

    About 3 % of tests and procedures are billed above the fund's price (an on-request
    service): the difference is the patient's (T_BNTT).
    """
    frame = pl.concat(
        [
            _exams(claims, rng),
            _tests(claims, rng),
            _procedures(claims, rng),
            _surgery(claims, rng),
            _beds(claims, rng),
            _supplies(claims, rng),
        ]
    )
    frame = _priced(frame, claims, None)
    price = frame["price"].to_numpy()
    kind = frame["kind"].to_numpy()
    uplift = np.isin(kind, ["lab", "imaging", "functional", "procedure"]) & (
        rng.random(frame.height) < 0.03
    )
    percent = rng.integers(110, 151, frame.height)
    on_request = (price * percent + 50_000) // 100_000 * 1000  # whole đồng
    return frame.rename({"price": "price_bh"}).with_columns(
        pl.Series("price_bv", np.where(uplift, on_request, price))
    )
