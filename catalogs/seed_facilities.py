"""Build the seeded synthetic facilities catalog (13,000 facilities, structure per §3.6).

The national register of facilities under contract is not public as data, so the built-in
``facilities`` catalog is synthetic: real province codes (the 63 provinces before the 2025
mergers) and the real tier mix (about 10,500 commune stations, 2,000 district-level, 450
provincial and 50 central facilities), with invented names and numbers.

Rewrite the catalog with ``python -m catalogs.seed_facilities``.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from catalogs.loader import BUILTIN_ROOT, CatalogVersion, write_version

VERSION = "2019-07-01"
SEED = 20190701
TIER_COUNTS = {"central": 50, "provincial": 450, "district": 2_000, "commune": 10_500}
CITIES = frozenset({"01", "31", "48", "79", "92"})

# code, name, population in millions (2019 census, rounded): the weights of the mix
PROVINCES: tuple[tuple[str, str, float], ...] = (
    ("01", "Hà Nội", 8.05), ("02", "Hà Giang", 0.85), ("04", "Cao Bằng", 0.53),
    ("06", "Bắc Kạn", 0.31), ("08", "Tuyên Quang", 0.78), ("10", "Lào Cai", 0.73),
    ("11", "Điện Biên", 0.60), ("12", "Lai Châu", 0.46), ("14", "Sơn La", 1.25),
    ("15", "Yên Bái", 0.82), ("17", "Hòa Bình", 0.85), ("19", "Thái Nguyên", 1.29),
    ("20", "Lạng Sơn", 0.78), ("22", "Quảng Ninh", 1.32), ("24", "Bắc Giang", 1.80),
    ("25", "Phú Thọ", 1.46), ("26", "Vĩnh Phúc", 1.15), ("27", "Bắc Ninh", 1.37),
    ("30", "Hải Dương", 1.89), ("31", "Hải Phòng", 2.03), ("33", "Hưng Yên", 1.25),
    ("34", "Thái Bình", 1.86), ("35", "Hà Nam", 0.85), ("36", "Nam Định", 1.78),
    ("37", "Ninh Bình", 0.98), ("38", "Thanh Hóa", 3.64), ("40", "Nghệ An", 3.33),
    ("42", "Hà Tĩnh", 1.29), ("44", "Quảng Bình", 0.90), ("45", "Quảng Trị", 0.63),
    ("46", "Thừa Thiên Huế", 1.13), ("48", "Đà Nẵng", 1.13), ("49", "Quảng Nam", 1.50),
    ("51", "Quảng Ngãi", 1.23), ("52", "Bình Định", 1.49), ("54", "Phú Yên", 0.96),
    ("56", "Khánh Hòa", 1.23), ("58", "Ninh Thuận", 0.59), ("60", "Bình Thuận", 1.23),
    ("62", "Kon Tum", 0.54), ("64", "Gia Lai", 1.51), ("66", "Đắk Lắk", 1.87),
    ("67", "Đắk Nông", 0.62), ("68", "Lâm Đồng", 1.30), ("70", "Bình Phước", 0.99),
    ("72", "Tây Ninh", 1.17), ("74", "Bình Dương", 2.43), ("75", "Đồng Nai", 3.10),
    ("77", "Bà Rịa - Vũng Tàu", 1.15), ("79", "Hồ Chí Minh", 8.99), ("80", "Long An", 1.69),
    ("82", "Tiền Giang", 1.76), ("83", "Bến Tre", 1.29), ("84", "Trà Vinh", 1.01),
    ("86", "Vĩnh Long", 1.02), ("87", "Đồng Tháp", 1.60), ("89", "An Giang", 1.91),
    ("91", "Kiên Giang", 1.72), ("92", "Cần Thơ", 1.24), ("93", "Hậu Giang", 0.73),
    ("94", "Sóc Trăng", 1.20), ("95", "Bạc Liêu", 0.91), ("96", "Cà Mau", 1.19),
)  # fmt: skip

CENTRAL: tuple[tuple[str, str], ...] = (
    ("01", "Bệnh viện Bạch Mai"), ("01", "Bệnh viện Hữu nghị Việt Đức"),
    ("01", "Bệnh viện K"), ("01", "Bệnh viện Nhi Trung ương"),
    ("01", "Bệnh viện Phụ sản Trung ương"), ("01", "Bệnh viện E"),
    ("01", "Bệnh viện Hữu nghị"), ("01", "Bệnh viện Mắt Trung ương"),
    ("01", "Bệnh viện Nội tiết Trung ương"), ("01", "Bệnh viện Da liễu Trung ương"),
    ("01", "Bệnh viện Phổi Trung ương"), ("01", "Bệnh viện Lão khoa Trung ương"),
    ("01", "Bệnh viện Bệnh Nhiệt đới Trung ương"), ("01", "Bệnh viện Tai Mũi Họng Trung ương"),
    ("01", "Bệnh viện Châm cứu Trung ương"), ("01", "Bệnh viện Y học cổ truyền Trung ương"),
    ("01", "Bệnh viện Răng Hàm Mặt Trung ương Hà Nội"), ("01", "Bệnh viện Đại học Y Hà Nội"),
    ("01", "Viện Huyết học - Truyền máu Trung ương"), ("01", "Bệnh viện Trung ương Quân đội 108"),
    ("01", "Bệnh viện 19-8"), ("01", "Bệnh viện Giao thông vận tải"),
    ("01", "Bệnh viện Bưu điện"), ("01", "Bệnh viện Xây dựng"),
    ("01", "Viện Bỏng Quốc gia Lê Hữu Trác"), ("01", "Bệnh viện Tâm thần Trung ương 1"),
    ("79", "Bệnh viện Chợ Rẫy"), ("79", "Bệnh viện Thống Nhất"),
    ("79", "Bệnh viện Răng Hàm Mặt Trung ương Thành phố Hồ Chí Minh"),
    ("79", "Bệnh viện Đại học Y Dược Thành phố Hồ Chí Minh"), ("79", "Bệnh viện Quân y 175"),
    ("79", "Bệnh viện Tâm thần Trung ương 2"), ("79", "Bệnh viện 30-4"),
    ("79", "Bệnh viện Quân y 7A"), ("46", "Bệnh viện Trung ương Huế"),
    ("46", "Bệnh viện Trường Đại học Y - Dược Huế"), ("48", "Bệnh viện C Đà Nẵng"),
    ("48", "Bệnh viện 199"), ("19", "Bệnh viện Đa khoa Trung ương Thái Nguyên"),
    ("19", "Bệnh viện Gang Thép"), ("49", "Bệnh viện Đa khoa Trung ương Quảng Nam"),
    ("92", "Bệnh viện Đa khoa Trung ương Cần Thơ"), ("92", "Bệnh viện Quân y 121"),
    ("44", "Bệnh viện Hữu nghị Việt Nam - Cu Ba Đồng Hới"),
    ("52", "Bệnh viện Phong - Da liễu Trung ương Quy Hòa"),
    ("40", "Bệnh viện Phong - Da liễu Trung ương Quỳnh Lập"),
    ("38", "Bệnh viện 71 Trung ương"), ("25", "Bệnh viện 74 Trung ương"),
    ("36", "Bệnh viện Điều dưỡng - Phục hồi chức năng Trung ương"),
    ("31", "Bệnh viện Hữu nghị Việt Tiệp"),
)  # fmt: skip

PROVINCIAL_KINDS = (
    "Bệnh viện Đa khoa {unit} {p}", "Bệnh viện Sản - Nhi {p}", "Bệnh viện Y học cổ truyền {p}",
    "Bệnh viện Phổi {p}", "Bệnh viện Mắt {p}", "Bệnh viện Tâm thần {p}",
    "Bệnh viện Phục hồi chức năng {p}", "Bệnh viện Da liễu {p}", "Bệnh viện Nội tiết {p}",
    "Bệnh viện Ung bướu {p}", "Bệnh viện Đa khoa khu vực {x}", "Bệnh viện Đa khoa {x}",
)  # fmt: skip
# template, 2025 level, bed range
DISTRICT_KINDS: tuple[tuple[str, str, int, int], ...] = (
    ("Trung tâm Y tế {d} {x}", "basic", 80, 300),
    ("Trung tâm Y tế {d} {x}", "basic", 60, 250),
    ("Bệnh viện Đa khoa {d} {x}", "basic", 100, 350),
    ("Phòng khám đa khoa khu vực {x}", "primary", 5, 20),
    ("Phòng khám đa khoa {x}", "primary", 0, 10),
)
COMMUNE_KINDS = ("xã",) * 15 + ("phường",) * 4 + ("thị trấn",)
PLACE_A = (
    "Tân", "An", "Hòa", "Phú", "Bình", "Thạnh", "Long", "Vĩnh", "Đông", "Tây", "Nam",
    "Bắc", "Trung", "Xuân", "Quang", "Hưng", "Thanh", "Minh", "Đức", "Phước", "Mỹ",
)  # fmt: skip
PLACE_B = (
    "Phú", "Bình", "Lợi", "Hòa", "Thành", "Lộc", "Hưng", "Sơn", "Hải", "Thịnh", "Tiến",
    "Phong", "Khánh", "Thuận", "An", "Điền", "Xuân", "Hà", "Giang", "Lâm", "Châu",
)  # fmt: skip
CONTRACTS_START = date(2019, 7, 1)
CONTRACTS_END = "2028-12-31"
MERGER_CLOSE = "2025-06-30"  # commune stations merged in the 2025 two-tier reform
EPOCH = date(1975, 1, 1)


def province_abbreviation(name: str) -> str:
    """ASCII initials of a province name, as practising-certificate numbers use (``HN``)."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    letters = "".join(c for c in plain if not unicodedata.combining(c))
    return "".join(word[0] for word in letters.replace("-", " ").split()).upper()


def _apportion(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split ``total`` by ``weights`` (largest remainder), each share at least ``minimum``."""
    spare = total - minimum * len(weights)
    exact = spare * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: spare - int(counts.sum())]] += 1
    result: np.ndarray = counts + minimum
    return result


def _tier_rows() -> pl.DataFrame:
    """One row per facility: its province, tier and (central ones) fixed name."""
    codes = [p[0] for p in PROVINCES]
    weights = np.array([p[2] for p in PROVINCES])
    parts = [
        pl.DataFrame(
            {
                "ma_tinh": [c[0] for c in CENTRAL],
                "tier": "central",
                "fixed": [c[1] for c in CENTRAL],
            }
        )
    ]
    # flatter than population for communes: rural provinces have many small communes
    for tier, power, minimum in (
        ("provincial", 0.5, 4),
        ("district", 1.0, 12),
        ("commune", 0.7, 60),
    ):
        counts = _apportion(TIER_COUNTS[tier], weights**power, minimum)
        frame = pl.DataFrame({"ma_tinh": np.repeat(codes, counts), "tier": tier})
        parts.append(frame.with_columns(fixed=pl.lit(None, pl.String)))
    return pl.concat(parts)


def _pick(values: tuple[str, ...], index: pl.Expr) -> pl.Expr:
    """``values[index]`` as an expression (index clipped into range)."""
    mapping = dict(enumerate(values))
    return index.clip(0, len(values) - 1).replace_strict(
        mapping, return_dtype=pl.String
    )


def _names() -> pl.Expr:
    tier, u = pl.col("tier"), pl.col("u")
    city = pl.col("ma_tinh").is_in(list(CITIES))
    rank = pl.col("tier_rank")
    commune_kind = _pick(COMMUNE_KINDS, (u * len(COMMUNE_KINDS)).cast(pl.Int64))
    template = (
        pl.when(tier == "central").then(pl.col("fixed"))
        .when(tier == "provincial").then(_pick(PROVINCIAL_KINDS, rank))
        .when(tier == "district").then(_pick(tuple(k[0] for k in DISTRICT_KINDS), pl.col("kind")))
        .otherwise(pl.concat_str(pl.lit("Trạm Y tế "), commune_kind, pl.lit(" {x}")))
    )  # fmt: skip
    unit = pl.when(city).then(pl.lit("thành phố")).otherwise(pl.lit("tỉnh"))
    district_unit = pl.when(city).then(pl.lit("quận")).otherwise(pl.lit("huyện"))
    return (
        template.str.replace("{unit}", unit, literal=True)
        .str.replace("{p}", pl.col("tinh"), literal=True)
        .str.replace("{d}", district_unit, literal=True)
        .str.replace("{x}", pl.col("place"), literal=True)
        .alias("ten")
    )


def _level_and_beds() -> list[pl.Expr]:
    tier, u2, rank, kind = (
        pl.col("tier"),
        pl.col("u2"),
        pl.col("tier_rank"),
        pl.col("kind"),
    )
    lows = {i: k[2] for i, k in enumerate(DISTRICT_KINDS)}
    highs = {i: k[3] for i, k in enumerate(DISTRICT_KINDS)}
    district_beds = kind.replace_strict(lows) + u2 * (
        kind.replace_strict(highs) - kind.replace_strict(lows)
    )
    level = (
        pl.when(tier == "central").then(pl.lit("specialised"))
        .when(tier == "provincial")
        .then(pl.when((rank == 0) | (u2 < 0.5)).then(pl.lit("specialised"))
              .otherwise(pl.lit("basic")))
        .when(tier == "district")
        .then(_pick(tuple(k[1] for k in DISTRICT_KINDS), kind))
        .otherwise(pl.lit("primary"))
    )  # fmt: skip
    beds = (
        pl.when(tier == "central").then(300 + u2 * 2700)
        .when(tier == "provincial")
        .then(pl.when(rank == 0).then(500 + u2 * 1000).otherwise(80 + u2 * 420))
        .when(tier == "district").then(district_beds)
        .otherwise(0.0)
    )  # fmt: skip
    return [level.alias("level_2025"), beds.round(0).cast(pl.Int64).alias("beds")]


def _iso(column: str) -> pl.Expr:
    """ISO text of a day count since :data:`EPOCH`."""
    return (pl.lit(EPOCH) + pl.duration(days=pl.col(column))).dt.strftime("%Y-%m-%d")


def _dates(rng: np.random.Generator, tiers: pl.Series) -> pl.DataFrame:
    """Opening and closing dates; contracts run from the later of opening and 2019-07-01."""
    n = tiers.len()
    late = rng.random(n) < 0.04
    opened = np.where(
        late,
        (CONTRACTS_START - EPOCH).days + rng.integers(1, 6 * 365, n),
        rng.integers(0, (CONTRACTS_START - EPOCH).days - 1, n),
    )
    commune = (tiers == "commune").to_numpy()
    u = rng.random(n)
    merged = commune & ~late & (u < 0.05)
    closed_early = ~commune & ~late & (u < 0.005)
    closed_at = (CONTRACTS_START - EPOCH).days + rng.integers(200, 5 * 365, n)
    frame = pl.DataFrame(
        {"opened": opened, "closed": closed_at, "m": merged, "c": closed_early}
    )
    valid_to = (
        pl.when(pl.col("m")).then(pl.lit(MERGER_CLOSE))
        .when(pl.col("c")).then(_iso("closed"))
        .otherwise(pl.lit(None, pl.String))
    )  # fmt: skip
    valid_from = _iso("opened")
    start = pl.max_horizontal(valid_from, pl.lit(CONTRACTS_START.isoformat()))
    return frame.select(
        valid_from.alias("valid_from"),
        valid_to.alias("valid_to"),
        start.alias("contract_from"),
        valid_to.fill_null(pl.lit(CONTRACTS_END)).alias("contract_to"),
    )


def build_facilities(seed: int = SEED) -> pl.DataFrame:
    """The synthetic facilities catalog: 13,000 rows, sorted by ``ma_cskcb``.

    Args:
        seed: seeds every random choice; the same seed gives the same rows.

    Returns:
        Columns ``ma_cskcb, ten, ma_tinh, tier, level_2025, beds, contract_no,
        contract_from, contract_to, valid_from, valid_to`` (dates as ISO text, null
        ``valid_to`` for facilities still open).
    """
    rng = np.random.default_rng(seed)
    rows = _tier_rows()
    n = rows.height
    a = pl.Series(PLACE_A).gather(rng.integers(0, len(PLACE_A), n))
    b = pl.Series(PLACE_B).gather(rng.integers(0, len(PLACE_B), n))
    rows = rows.with_columns(
        (a + " " + b).alias("place"),
        pl.col("ma_tinh").replace_strict({p[0]: p[1] for p in PROVINCES}).alias("tinh"),
        pl.Series("u", rng.random(n)),
        pl.Series("u2", rng.random(n)),
        pl.Series("kind", rng.integers(0, len(DISTRICT_KINDS), n)),
        pl.int_range(pl.len()).over("ma_tinh", "tier").alias("tier_rank"),
        pl.int_range(pl.len()).over("ma_tinh").alias("rank"),
    )
    rows = pl.concat([rows, _dates(rng, rows["tier"])], how="horizontal")
    code = pl.col("ma_tinh") + (pl.col("rank") + 1).cast(pl.String).str.zfill(3)
    contract_no = pl.concat_str(
        (pl.col("rank") + 1).cast(pl.String).str.zfill(3),
        pl.lit("/"),
        pl.col("contract_from").str.slice(0, 4),
        pl.lit("/HĐKCB-"),
        pl.col("ma_tinh"),
    )
    return rows.select(
        code.alias("ma_cskcb"),
        _names(),
        "ma_tinh",
        "tier",
        *_level_and_beds(),
        contract_no.alias("contract_no"),
        "contract_from",
        "contract_to",
        "valid_from",
        "valid_to",
    ).sort("ma_cskcb")


def write_facilities(root: Path = BUILTIN_ROOT, seed: int = SEED) -> CatalogVersion:
    """(Re)write ``<root>/facilities/2019-07-01`` from :func:`build_facilities`."""
    manifest: dict[str, object] = {
        "id": "facilities",
        "version": VERSION,
        "effective_from": VERSION,
        "effective_to": None,
        "recorded_at": "2026-11-28T00:00:00",
        "source": "synthetic (seeded), structure per domain reference §3.6",
    }
    return write_version(
        root / "facilities" / VERSION, manifest, build_facilities(seed)
    )


if __name__ == "__main__":
    written = write_facilities()
    print(f"wrote {written.path} ({written.rows.height} rows, {written.label})")
