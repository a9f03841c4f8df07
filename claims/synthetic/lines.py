"""Detail lines of synthetic claims: drugs (XML2), services and supplies (XML3), results.

Lines are built per kind from the plan's counts with ``np.repeat`` (no loop per claim),
then numbered 1..n per claim in time order. Every time lies inside its stay: an order
(NGAY_YL) at least a margin before discharge, execution and result after it, the result
before discharge. Outpatient claims get distinct items; inpatients repeat everyday
items across days. Prices come from :func:`claims.synthetic.items.unit_price`.

XML3 lines (exams, tests, procedures, surgery, bed-days, supplies) are built by one
function per kind from the plan's counts (``n_exam``, ``n_lab``…), and the parts are
stacked into one frame: ``ci, item_id, qty, tyle_dv, yl, th, kq`` (``kq`` -1 when the
line has no result time), ``performer`` (0 the attending doctor, 1 another practitioner,
-1 none) and the few text fields only some kinds carry.

A lab test gives one XML4 result row per index (a blood count gives four), an imaging or
functional test one row with a description and a conclusion; each row carries its XML3
line's service code and result time. Inpatient stays get an XML5 progress note per day
(and one after a surgery), at times inside the stay.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.items import (
    LAB_INDICES,
    RESULT_TEXTS,
    drug_items,
    read_table,
    unit_price,
    xml3_items,
)

MINUTES = 1440
# items an inpatient may get again on later days (HbA1c and the like are not repeated)
REPEATABLE_LABS = ("CBC", "GLU", "CRE", "URE", "ALT", "AST", "ELEC", "CRP", "URINE")
DRESSING = "03.0076.0210"  # not payable for inpatients (§4.3 F13)
WOUND_SUTURE = "10.0924.0205"  # part of a surgery's price the same day (§4.3 F10)
IMPLANTS = {"53.03": "N07.01.050", "79.36": "N06.04.020"}
SUTURE = "N05.03.030"


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row ``ci`` repeated ``counts[ci]`` times, and each copy's position ``k``."""
    ci = np.repeat(np.arange(len(counts)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return ci, np.arange(len(ci)) - first


def line_times(
    vao: np.ndarray, ra: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order, execution and result minutes inside ``[vao, ra]``, result after execution."""
    span = ra - vao
    margin = np.minimum(180, span // 2)
    n = len(vao)
    yl = vao + (rng.random(n) * (span - margin)).astype(np.int64)
    th = yl + (rng.random(n) * (margin // 3)).astype(np.int64)
    kq = th + margin // 3 + (rng.random(n) * (margin // 3)).astype(np.int64)
    return yl, th, kq


def _claim(claims: pl.DataFrame, column: str, ci: np.ndarray) -> np.ndarray:
    values: np.ndarray = claims[column].to_numpy()[ci]
    return values


def _in_tier(
    pool: pl.DataFrame, tier: np.ndarray, start: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Item ids from ``pool`` (sorted by ``min_tier``) a facility of ``tier`` performs.

    ``start + k`` walks the allowed items, so positions ``k`` of one claim are distinct.
    """
    allowed = np.searchsorted(pool["min_tier"].to_numpy(), np.arange(4), side="right")
    size = np.maximum(allowed[tier], 1)
    items: np.ndarray = pool["item_id"].to_numpy()[(start + k) % size]
    return items


def _pool(kind: str, expr: pl.Expr | None = None) -> pl.DataFrame:
    items = xml3_items().filter(pl.col("kind") == kind)
    if expr is not None:
        items = items.filter(expr)
    return items.sort("min_tier", "item_id")


def drug_lines(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """XML2 lines: ``ci, item_id, dose, per_day, days, qty`` and times ``yl, th``.

    Outpatients get distinct tablets for 5–10 days (or the chronic visit's 28–30);
    inpatients get one day's supply per line, injections and infusions included.
    Quantity = dose × times a day × days, so LIEU_DUNG adds up (§4.3 E10).
    """
    items = drug_items()
    oral = items.filter(pl.col("oral"))["item_id"].to_numpy()
    ward = items.filter(~pl.col("blood"))["item_id"].to_numpy()
    blood = items.filter(pl.col("blood"))["item_id"].to_numpy()
    ci, k = expand(claims["n_drug"].to_numpy())
    n = len(ci)
    inpatient = _claim(claims, "inpatient", ci)
    start = rng.integers(0, len(oral), claims.height)[ci]
    item = np.where(
        inpatient, ward[rng.integers(0, len(ward), n)], oral[(start + k) % len(oral)]
    )
    is_oral = np.isin(item, oral)
    dose = np.where(is_oral, rng.choice([500, 1000, 1000, 1000, 2000], n), 1000)
    per_day = np.where(is_oral, rng.integers(1, 4, n), rng.integers(1, 3, n))
    chronic = _claim(claims, "drug_days", ci)
    days = np.where(
        inpatient, 1, np.where(chronic > 0, chronic, rng.choice([5, 7, 10], n))
    )
    bi, _ = expand(claims["n_blood"].to_numpy())
    frame = pl.DataFrame(
        {
            "ci": np.concatenate([ci, bi]),
            "item_id": np.concatenate(
                [item, blood[rng.integers(0, len(blood), len(bi))]]
            ),
            "dose": np.concatenate([dose, np.full(len(bi), 1000)]),
            "per_day": np.concatenate([per_day, np.ones(len(bi), dtype=np.int64)]),
            "days": np.concatenate([days, np.ones(len(bi), dtype=np.int64)]),
        }
    ).with_columns((pl.col("dose") * pl.col("per_day") * pl.col("days")).alias("qty"))
    index = frame["ci"].to_numpy()
    yl, th, _ = line_times(
        _claim(claims, "vao", index), _claim(claims, "ra", index), rng
    )
    return _priced(frame.with_columns(yl=yl, th=th), claims, "drug")


def _priced(
    frame: pl.DataFrame, claims: pl.DataFrame, kind: str | None
) -> pl.DataFrame:
    """Attach the facility's unit price (thousandths of a đồng) to each line."""
    catalog = drug_items() if kind == "drug" else xml3_items()
    frame = frame.join(
        catalog.select("item_id", "kind", "base_milli", "tyle_tt_bh", "ma_nhom"),
        on="item_id",
        how="left",
        maintain_order="left",
    )
    ci = frame["ci"].to_numpy()
    price = unit_price(
        frame["kind"].to_numpy(),
        frame["base_milli"].to_numpy(),
        _claim(claims, "fac_num", ci),
        frame["item_id"].to_numpy(),
        _claim(claims, "tier_idx", ci),
    )
    return frame.with_columns(pl.Series("price", price)).drop("base_milli")


def number_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Sort lines by claim and order time, and number them 1..n per claim (STT)."""
    return frame.sort("ci", "yl", "item_id", "th", maintain_order=True).with_columns(
        (pl.int_range(pl.len()).over("ci") + 1).alias("stt")
    )


# ---- XML3 lines

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
        "procedure",
        pl.col("extra").is_null()
        & ~pl.col("ma_dich_vu").is_in([DRESSING, WOUND_SUTURE]),
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


# ---- XML4 results and XML5 progress notes

DISEASE_STAGES = ("Ổn định", "Cải thiện", "Diễn biến phức tạp")


def result_rows(lines: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """XML4 rows for the numbered XML3 ``lines`` that are tests.

    Returns:
        ``ci, line_stt, ma_dich_vu, ma_chi_so, ten_chi_so, gia_tri, don_vi_do, mo_ta,
        ket_luan, kq, performer_serial`` sorted by claim and line.
    """
    items = xml3_items().select("item_id", "ma_dich_vu", pl.col("extra").alias("key"))
    tests = lines.filter(pl.col("kind").is_in(["lab", "imaging", "functional"])).join(
        items, on="item_id", how="left", maintain_order="left"
    )
    indices = read_table(LAB_INDICES).with_columns(
        pl.col("low", "high").cast(pl.Float64), pl.int_range(pl.len()).alias("order")
    )
    labs = tests.join(indices, on="key", how="inner").sort("ci", "stt", "order")
    u = pl.Series(rng.random(labs.height))
    value = pl.col("low") + (pl.col("high") - pl.col("low")) * (u * 1.3 - 0.1)
    labs = labs.with_columns(
        value.clip(lower_bound=0).round(2).cast(pl.String).alias("gia_tri"),
        pl.lit(None, pl.String).alias("mo_ta"),
        pl.lit(None, pl.String).alias("ket_luan"),
    )
    texts = read_table(RESULT_TEXTS).with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("ma_chi_so", "ten_chi_so", "gia_tri")
    )
    images = tests.join(
        texts.with_columns(
            order=pl.lit(0, pl.Int64), don_vi_do=pl.lit(None, pl.String)
        ),
        on="key",
        how="inner",
        maintain_order="left",
    )
    columns = [
        "ci",
        "stt",
        "order",
        "ma_dich_vu",
        "ma_chi_so",
        "ten_chi_so",
        "gia_tri",
        "don_vi_do",
        "mo_ta",
        "ket_luan",
        "kq",
        "performer_serial",
    ]
    rows = pl.concat([labs.select(columns), images.select(columns)])
    return rows.sort("ci", "stt", "order").rename({"stt": "line_stt"}).drop("order")


def note_rows(claims: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """XML5 progress notes: one per day of an inpatient stay, one after a surgery.

    Returns:
        ``ci, time, dien_bien_ls, giai_doan_benh, hoi_chan, phau_thuat`` by claim and time.
    """
    ci, k = expand(claims["n_note"].to_numpy())
    n = len(ci)
    vao, ra = _claim(claims, "vao", ci), _claim(claims, "ra", ci)
    surgery_note = _claim(claims, "surgical", ci) & (
        k == _claim(claims, "n_note", ci) - 1
    )
    daily = np.clip(vao + k * MINUTES + rng.integers(0, 121, n), vao, ra - 5)
    time = np.where(surgery_note, _claim(claims, "surg_time", ci) + 150, daily)
    vitals = pl.DataFrame(
        {
            "p": rng.integers(62, 101, n),
            "t": np.round(36.3 + rng.random(n) * 1.6, 1),
            "s": rng.integers(100, 146, n),
            "d": rng.integers(60, 91, n),
            "r": rng.integers(16, 23, n),
        }
    )
    text = vitals.select(
        pl.format(
            "Bệnh nhân tỉnh, tiếp xúc tốt. Mạch {} lần/phút, nhiệt độ {}°C, HA {}/{} mmHg, "
            "nhịp thở {} lần/phút.",
            "p",
            "t",
            "s",
            "d",
            "r",
        )
    ).to_series()
    none = pl.Series([None] * n, dtype=pl.String)
    stage = pl.Series(DISEASE_STAGES).gather(rng.integers(0, len(DISEASE_STAGES), n))
    consult = pl.Series(["Hội chẩn khoa: thống nhất tiếp tục phác đồ điều trị"] * n)
    surgery = pl.Series(
        ["Sau phẫu thuật: vết mổ khô, không chảy máu, theo dõi tiếp"] * n
    )
    return pl.DataFrame(
        {
            "ci": ci,
            "time": time,
            "dien_bien_ls": text,
            "giai_doan_benh": stage.zip_with(pl.Series(rng.random(n) < 0.3), none),
            "hoi_chan": consult.zip_with(pl.Series(rng.random(n) < 0.03), none),
            "phau_thuat": surgery.zip_with(pl.Series(surgery_note), none),
        }
    ).sort("ci", "time", maintain_order=True)
