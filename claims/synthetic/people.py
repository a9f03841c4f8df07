"""Synthetic facilities and people: who is treated where, with what card.

Facilities are drawn from the ``facilities`` catalog; people are made one per claim, in
the facility's province (a few from elsewhere), with a 15-character card whose benefit
digit matches its object code (§2.1–§2.2) and whose validity covers any stay of the run.
Injected faults later point a claim at another claim's person, so the same person can
appear at two facilities. Dates are day numbers since 1970-01-01 (numpy ``int64``).

Names, places and the small demographic codes are drawn by index from the word lists
below. Weights are rough national shares (family names) or uniform; nothing here
identifies a real person.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from catalogs.seed_facilities import CITIES, PROVINCES
from claims.synthetic.items import TIERS, read_table

MAX_STAY = 45
"""Longest generated stay (days): cards and birth dates leave room for it."""
# object code, benefit level (§2.2), share of cards in %, age range in years
OBJECTS = """code|level|weight|min_age|max_age
TE|1|8|0|4
CC|1|0.3|60|95
CK|2|0.5|6|90
CB|2|0.8|60|95
KC|2|0.3|65|95
HN|2|4|6|90
DT|2|4|6|90
DK|2|0.5|6|90
BT|2|2|6|95
TS|2|0.3|18|90
HT|3|6|50|95
TC|3|0.5|6|90
CN|3|3|6|90
DN|4|25|18|60
HX|4|1|18|60
HC|4|5|22|60
TN|4|0.5|18|60
HS|4|10|6|17
SV|4|3|18|24
GD|4|19|6|90
GB|4|1|18|80
QN|5|0.5|18|55
CA|5|0.4|18|55
CY|5|0.05|20|55
"""
LEVEL_PERCENT = {1: 100, 2: 100, 3: 95, 4: 80, 5: 100}
"""Card benefit level → percent of the covered cost the fund pays (§2.2)."""
LEVEL_CHANGES = {"CN": (date(2026, 1, 1), 2)}
"""Object code → (from admission day, level): CN moves to level 2 from 2026 (NQ
261/2025 [U]), as the ``benefits`` catalog's ``object_level`` rows say."""
HOME_SHARE = {"commune": 0.75, "district": 0.45, "provincial": 0.08, "central": 0.02}
"""Share of a tier's claims where the patient is registered at the facility itself."""
LOCAL_SHARE = 0.93
# word lists: Vietnamese names, places and demographic codes
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Hoàng", 4.1),
    ("Huỳnh", 1.9),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.8),
    ("Trịnh", 0.6),
    ("Đoàn", 0.6),
    ("Lâm", 0.5),
    ("Mai", 0.5),
    ("Tô", 0.3),
    ("Hà", 0.5),
    ("Cao", 0.4),
    ("Lương", 0.4),
    ("Quách", 0.2),
    ("Tạ", 0.2),
    ("Vương", 0.2),
)

MIDDLE_MALE = (
    "Văn",
    "Hữu",
    "Đức",
    "Minh",
    "Quốc",
    "Thanh",
    "Công",
    "Xuân",
    "Quang",
    "Đình",
)
MIDDLE_FEMALE = (
    "Thị",
    "Ngọc",
    "Thu",
    "Thanh",
    "Kim",
    "Minh",
    "Mỹ",
    "Bích",
    "Thùy",
    "Hồng",
)
GIVEN_MALE = (
    "Anh", "Bình", "Cường", "Dũng", "Hùng", "Huy", "Hải", "Khoa", "Long", "Minh",
    "Nam", "Phúc", "Quân", "Sơn", "Thắng", "Tuấn", "Việt", "Vinh", "Trung", "Hiếu",
    "Đạt", "Khánh", "Toàn", "Tùng", "Hoàng", "Lộc", "Phong", "Tài", "Thịnh", "Bảo",
)  # fmt: skip
GIVEN_FEMALE = (
    "Anh", "Hà", "Hương", "Lan", "Linh", "Mai", "Ngọc", "Nhung", "Oanh", "Phương",
    "Quỳnh", "Thảo", "Trang", "Tuyết", "Vân", "Yến", "Hạnh", "Hằng", "Thủy", "Nga",
    "Loan", "Dung", "Hoa", "Hiền", "My", "Chi", "Giang", "Huyền", "Nhi", "Vy",
)  # fmt: skip

PLACE_FIRST = (
    "Tân", "An", "Hòa", "Phú", "Bình", "Thạnh", "Long", "Vĩnh", "Đông", "Tây",
    "Nam", "Bắc", "Trung", "Xuân", "Quang", "Hưng", "Thanh", "Minh", "Đức", "Phước",
    "Mỹ", "Hiệp", "Tiên", "Kim", "Yên", "Cẩm", "Lạc", "Thiện", "Quảng", "Hồng",
)  # fmt: skip
PLACE_SECOND = (
    "Phú", "Bình", "Lợi", "Hòa", "Thành", "Lộc", "Hưng", "Sơn", "Hải", "Thịnh",
    "Tiến", "Phong", "Mỹ", "Khánh", "Thuận", "An", "Đông", "Tây", "Trung", "Điền",
    "Xuân", "Hà", "Giang", "Lâm", "Châu", "Lạc", "Vinh", "Quý", "Tân", "Thạnh",
)  # fmt: skip
STREETS = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung",
    "Lý Thường Kiệt", "Hùng Vương", "Nguyễn Huệ", "Phan Chu Trinh", "Lê Duẩn",
    "Điện Biên Phủ", "Trần Phú", "Ngô Quyền", "Bạch Đằng", "Võ Thị Sáu",
)  # fmt: skip
HAMLET_KINDS = ("Thôn", "Xóm", "Ấp", "Bản", "Tổ dân phố", "Khu phố")

ETHNIC_CODES = ("01",) * 86 + (
    "02",
    "03",
    "04",
    "05",
    "06",
    "07",
    "08",
    "09",
    "10",
    "11",
)
OCCUPATIONS = ("00000",) * 6 + ("21110", "22210", "51310", "61110", "72120", "93120")
BLOOD_GROUPS = ("A", "B", "AB", "O", "O", "A", "B", "O")


def objects() -> pl.DataFrame:
    """Object codes with level, weight and age range."""
    return read_table(OBJECTS).with_columns(
        pl.col("level", "min_age", "max_age").cast(pl.Int64),
        pl.col("weight").cast(pl.Float64),
    )


def day_number(value: date) -> int:
    """Days since 1970-01-01."""
    return (value - date(1970, 1, 1)).days


def draw_facilities(
    catalog: pl.DataFrame, n: int, first: date, last: date, rng: np.random.Generator
) -> pl.DataFrame:
    """Draw ``n`` facilities open and under contract over ``[first, last]``.

    Every tier is represented (when ``n >= 4``): about 3 % central, 12 % provincial,
    25 % district, the rest commune stations, each drawn uniformly across provinces.

    Returns:
        The catalog rows drawn, sorted by ``ma_cskcb``, with ``tier_idx`` and ``beds``
        as integers.
    """
    lo, hi = pl.lit(first), pl.lit(last)
    open_ = catalog.filter(
        (pl.col("valid_from") <= lo)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= hi))
        & (pl.col("contract_from") <= lo)
        & (pl.col("contract_to") >= hi)
    ).sort("ma_cskcb")
    shares = {"central": 0.03, "provincial": 0.12, "district": 0.25}
    pools = {t: open_.filter(pl.col("tier") == t) for t in TIERS}
    wanted = {
        t: min(max(1, round(n * s)) if n >= len(TIERS) else 0, pools[t].height)
        for t, s in shares.items()
    }
    wanted["commune"] = n - sum(wanted.values())  # the commune pool is the largest
    picks = []
    for tier in TIERS:  # one draw per tier, in a fixed order
        rows = pools[tier]
        take = min(wanted[tier], rows.height)
        picks.append(rows[np.sort(rng.choice(rows.height, take, replace=False))])
    drawn = pl.concat(picks).sort("ma_cskcb")
    if drawn.height < n:
        msg = f"only {drawn.height} facilities are open from {lo} to {hi}; asked {n}"
        raise ValueError(msg)
    return drawn.with_columns(
        pl.col("tier")
        .replace_strict({t: i for i, t in enumerate(TIERS)})
        .alias("tier_idx"),
        pl.col("beds").cast(pl.Int64),
    )


def _pick(values: tuple[str, ...], index: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(index)


def _where(mask: np.ndarray, yes: pl.Series, no: pl.Series) -> pl.Series:
    return yes.zip_with(pl.Series(mask, dtype=pl.Boolean), no)


def _place(rng: np.random.Generator, n: int) -> pl.Series:
    first = _pick(PLACE_FIRST, rng.integers(0, len(PLACE_FIRST), n))
    second = _pick(PLACE_SECOND, rng.integers(0, len(PLACE_SECOND), n))
    return first + " " + second


def _names(rng: np.random.Generator, male: np.ndarray) -> pl.Series:
    n = len(male)
    weights = np.array([w for _, w in FAMILY_NAMES])
    family = rng.choice(len(weights), n, p=weights / weights.sum())
    ho = _pick(tuple(f for f, _ in FAMILY_NAMES), family)
    middle = rng.integers(0, len(MIDDLE_MALE), n)
    given = rng.integers(0, len(GIVEN_MALE), n)
    dem = _where(male, _pick(MIDDLE_MALE, middle), _pick(MIDDLE_FEMALE, middle))
    ten = _where(male, _pick(GIVEN_MALE, given), _pick(GIVEN_FEMALE, given))
    return ho + " " + dem + " " + ten


def _address(rng: np.random.Generator, province: pl.Series) -> pl.Series:
    """Street addresses in cities, hamlet addresses elsewhere; a few need XML escaping."""
    n = province.len()
    city = province.is_in(list(CITIES)).to_numpy()
    tinh = province.replace_strict({p[0]: p[1] for p in PROVINCES})
    number = pl.Series(rng.integers(1, 300, n)).cast(pl.String)
    commune, district = _place(rng, n), _place(rng, n)
    street = _pick(STREETS, rng.integers(0, len(STREETS), n))
    hamlet = _pick(HAMLET_KINDS, rng.integers(0, len(HAMLET_KINDS), n))
    urban = "Số " + number + " đường " + street + ", phường " + commune
    urban = urban + ", quận " + district + ", thành phố " + tinh
    rural = hamlet + " " + number + ", xã " + commune + ", huyện " + district
    rural = rural + ", tỉnh " + tinh
    flat = _where(
        rng.random(n) < 0.02, pl.Series(["Khu tập thể A&B, "] * n), pl.Series([""] * n)
    )
    return flat + _where(city, urban, rural)


def _bijection(index: np.ndarray, modulus: int, offset: int) -> np.ndarray:
    """Distinct numbers below ``modulus`` for distinct indices below it (7919 is prime)."""
    return (index.astype(np.int64) * 7919 + offset) % modulus


def _card_dates(
    rng: np.random.Generator, birth: np.ndarray, te: np.ndarray, ref: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validity covering every stay of the run: children's TE cards run to age 6."""
    n = len(birth)
    start = ref - rng.integers(30, 1500, n)
    end = last + rng.integers(0, 700, n)
    dec31 = (
        pl.Series(end).cast(pl.Date).dt.year().cast(pl.String) + "-12-31"
    ).str.to_date()
    end = np.where(rng.random(n) < 0.4, dec31.cast(pl.Int64).to_numpy(), end)
    sixth = (
        pl.Series(birth).cast(pl.Date).dt.offset_by("6y").cast(pl.Int64).to_numpy() - 1
    )
    return np.where(te, birth, start), np.where(te, sixth, end)


def _registered(
    rng: np.random.Generator, province: pl.Series, primary: pl.DataFrame
) -> pl.Series:
    """A primary-care facility (commune or district) in each person's province."""
    codes = primary["ma_tinh"].to_numpy()
    wanted = province.to_numpy()
    start = np.searchsorted(codes, wanted, side="left")
    count = np.searchsorted(codes, wanted, side="right") - start
    index = np.where(
        count > 0,
        start + (rng.random(len(wanted)) * count).astype(np.int64),
        rng.integers(0, len(codes), len(wanted)),
    )
    return primary["ma_cskcb"].gather(index)


def _identity(rng: np.random.Generator, claims: pl.DataFrame, ref: int) -> pl.DataFrame:
    """Object code, age, sex, province and birth day of one person per claim."""
    n = claims.height
    table = objects()
    weights = table["weight"].to_numpy()
    obj = rng.choice(table.height, n, p=weights / weights.sum())
    lo, hi = table["min_age"].to_numpy()[obj], table["max_age"].to_numpy()[obj]
    age = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    share = (
        claims["tier"].replace_strict(HOME_SHARE, return_dtype=pl.Float64).to_numpy()
    )
    home = rng.random(n) < share
    local = home | (rng.random(n) < LOCAL_SHARE)
    population = np.array([p[2] for p in PROVINCES])
    elsewhere = _pick(
        tuple(p[0] for p in PROVINCES),
        rng.choice(len(PROVINCES), n, p=population / population.sum()),
    )
    return pl.DataFrame(
        {
            "obj": table["code"].gather(obj),
            "level": table["level"].gather(obj),
            "age": age,
            "male": rng.random(n) < 0.5,
            "home": home,
            "province": _where(local, claims["ma_tinh"], elsewhere),
            "birth": ref - age * 365 - rng.integers(0, 365, n),
        }
    )


def make_people(
    claims: pl.DataFrame,
    primary: pl.DataFrame,
    *,
    first: date,
    last: date,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """One person per claim, living near the claim's facility (row ``i`` for claim ``i``).

    Args:
        claims: ``ma_cskcb, ma_tinh, tier`` of each claim's facility.
        primary: commune and district facilities open over the run, sorted by
            ``ma_tinh`` (where people are registered for primary care).
        first: first day of the run; birth dates and cards start before its stays.
        last: last day of the run; cards stay valid past it.
        rng: the run's random generator.

    Returns:
        XML1 text of the person (``ho_ten``, ``ma_the_bhyt``, ``ma_dkbd``…) plus
        ``obj``, ``level``, ``age``, ``province`` and day numbers ``birth``,
        ``gt_tu``, ``gt_den``.
    """
    n = claims.height
    ref = day_number(first) - MAX_STAY - 1  # no stay of the run starts before this day
    who = _identity(rng, claims, ref)
    for code, (start, level) in LEVEL_CHANGES.items():  # cards of a run's first day
        if first >= start:
            moved = pl.col("obj") == code
            who = who.with_columns(
                pl.when(moved).then(level).otherwise(pl.col("level")).alias("level")
            )
    index = np.arange(n)
    province = who["province"]
    bhxh = province + _digits(_bijection(index, 10**8, int(rng.integers(10**8))), 8)
    card = who["obj"] + who["level"].cast(pl.String) + province + bhxh
    registered = _registered(rng, province, primary)
    dkbd = _where(who["home"].to_numpy(), claims["ma_cskcb"], registered)
    birth = who["birth"].to_numpy()
    gt_tu, gt_den = _card_dates(
        rng, birth, (who["obj"] == "TE").to_numpy(), ref, day_number(last)
    )
    return who.with_columns(
        _names(rng, who["male"].to_numpy()).alias("ho_ten"),
        pl.Series("ma_the_bhyt", card),
        pl.Series("ma_dkbd", dkbd),
        pl.Series("gt_tu", gt_tu),
        pl.Series("gt_den", gt_den),
        pl.Series("so_cccd", _cccd(rng, who, index)),
        pl.Series("dia_chi", _address(rng, province)),
        *_contact(rng, who),
    )


def _digits(values: np.ndarray, width: int) -> pl.Series:
    return pl.Series(values).cast(pl.String).str.zfill(width)


def _cccd(rng: np.random.Generator, who: pl.DataFrame, index: np.ndarray) -> pl.Series:
    """12-digit citizen id: 0 + province, century-and-sex digit, birth year, serial."""
    year = pl.Series(who["birth"]).cast(pl.Date).dt.year().to_numpy()
    century_sex = (year >= 2000).astype(np.int64) * 2 + (
        ~who["male"].to_numpy()
    ).astype(np.int64)
    serial = _bijection(index, 10**6, int(rng.integers(10**6)))
    text = (
        "0" + who["province"] + _digits(century_sex, 1) + _digits(year % 100, 2)
        + _digits(serial, 6)
    )  # fmt: skip
    return _where(
        rng.random(len(index)) < 0.97,
        text,
        pl.Series([None] * len(index), dtype=pl.String),
    )


def _contact(rng: np.random.Generator, who: pl.DataFrame) -> list[pl.Series]:
    """Residence codes, phone, weight and the small demographic codes of XML1."""
    n = who.height
    none = pl.Series([None] * n, dtype=pl.String)
    age = who["age"].to_numpy()
    kg100 = np.where(
        age < 18,
        330 + age * 260 + rng.integers(-150, 150, n),
        rng.integers(4200, 8000, n),
    )
    weight = _digits(kg100 // 100, 1) + "." + _digits(kg100 % 100, 2)
    phone = (
        "0"
        + _pick(("3", "5", "7", "8", "9"), rng.integers(0, 5, n))
        + _digits(rng.integers(0, 10**8, n), 8)
    )
    hard_area = who["obj"].is_in(["DT", "HN", "DK"]).to_numpy() & (rng.random(n) < 0.15)
    return [
        who["province"].alias("matinh_cu_tru"),
        _digits(rng.integers(1, 999, n), 3).alias("mahuyen_cu_tru"),
        _digits(rng.integers(1, 32_000, n), 5).alias("maxa_cu_tru"),
        _where(rng.random(n) < 0.7, phone, none).alias("dien_thoai"),
        _where(rng.random(n) < 0.85, weight, none).alias("can_nang"),
        (1 + (~who["male"]).cast(pl.Int8)).cast(pl.String).alias("gioi_tinh"),
        _pick(ETHNIC_CODES, rng.integers(0, len(ETHNIC_CODES), n)).alias("ma_dantoc"),
        _pick(OCCUPATIONS, rng.integers(0, len(OCCUPATIONS), n)).alias(
            "ma_nghe_nghiep"
        ),
        _where(
            rng.random(n) < 0.08,
            _pick(BLOOD_GROUPS, rng.integers(0, len(BLOOD_GROUPS), n)),
            none,
        ).alias("nhom_mau"),
        _where(hard_area, _pick(("K1", "K2", "K3"), rng.integers(0, 3, n)), none).alias(
            "ma_khuvuc"
        ),
    ]
