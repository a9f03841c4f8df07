"""Hand-made batches for the payment and decision stages, without XML.

A claim is ``claim(*lines, card=..., route=..., vao=..., ...)``; its lines are ``drug``,
``service`` and ``supply``. ``build`` turns claims into a :class:`claims.features.Batch`
with the engine's own typed schemas (from ``claims.validate.tables`` on no rows), one price row
per line and one facility row per claim. ``run`` pays and decides them with an empty
assessment (every claim ``accepted``, no rule hits).

What the clinic claimed is an input too: by default every line's THANH_TIEN_BV/BH,
T_BHTT, T_BNCCT, T_BNTT are the clinic's own arithmetic on the claimed figures and the
claim's claimed MUC_HUONG (``muc``, default 100), and the XML1 totals are the sums of the
lines; any of them can be overridden (``claimed=`` on a line, ``totals=`` on a claim).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import polars as pl

from catalogs.resolve import VERSION, load_catalogs
from claims.assess import ASSESSMENT_SCHEMA
from claims.decide import Decisions, decide
from claims.pay import Payment, pay
from claims.price import PRICE_SCHEMA
from claims.schema import FACILITY_SCHEMA, Batch
from claims.validate.tables import empty_tables
from rules.evaluate import HIT_SCHEMA

Number = Decimal | int | str
FILE_ID = "hand"
DAY_CARD_FROM = "0101"
DAY_CARD_TO = "1231"


def D(value: Number) -> Decimal:
    """An exact decimal from text or an integer (never a float)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def cents(value: Decimal) -> Decimal:
    """Half-up to 2 decimals, as the standard rounds each step."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@functools.cache
def catalogs() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The resolved ``benefits`` and ``base_salary`` catalogs."""
    cats = load_catalogs(ids=["benefits", "base_salary"])
    return cats["benefits"].resolve(), cats["base_salary"].resolve()


@functools.cache
def policy() -> pl.DataFrame:
    """The resolved ``policy`` catalog (the documented default answers)."""
    return load_catalogs(ids=["policy"])["policy"].resolve()


@dataclass(frozen=True)
class Line:
    """One XML2 (drug) or XML3 (service, supply) line as the clinic claimed it."""

    table: str
    ma_nhom: str
    qty: Decimal
    price: Decimal
    """DON_GIA (XML2) or DON_GIA_BH (XML3): the claimed BHYT unit price."""
    price_bv: Decimal
    """DON_GIA (XML2) or DON_GIA_BV (XML3): the facility's unit price."""
    ratio_dv: int = 100
    ratio_bh: int = 100
    pham_vi: str = "1"
    catalog_price: Decimal | None = None
    """The catalog's unit price; None: not in the catalog (NOT_IN_CATALOG)."""
    catalog_ratio: int | None = None
    goi_vtyt: str | None = None
    performers: str | None = None
    day: datetime | None = None
    """NGAY_YL/NGAY_TH_YL (None: the admission time)."""
    supply: bool = False
    nguonkhac: Decimal | None = None
    code: str | None = None
    claimed: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the claimed amounts: thanh_tien_bv, thanh_tien_bh, muc_huong,
    t_bhtt, t_bncct, t_bntt."""
    refused_by: str | None = None
    """A line ``reject`` rule that fired on the line (its rule id), else None."""
    nguon_ctra: str | None = None
    """NGUON_CTRA of a drug line (1 BHYT, 2–4 a programme; None: not given)."""
    kq: datetime | None = None
    """NGAY_KQ of a service line (None: not given)."""
    ceiling: Decimal | None = None
    """The catalog's per-item ceiling ``tran_tt`` of a supply (None: none)."""
    trantt: Decimal | None = None
    """T_TRANTT the facility declared on a supply line (None: not given)."""


def drug(
    qty: Number,
    price: Number,
    *,
    ratio_bh: int = 100,
    catalog_price: Number | None = None,
    catalog_ratio: int | None = None,
    in_catalog: bool = True,
    pham_vi: str = "1",
    day: datetime | None = None,
    nguonkhac: Number | None = None,
    code: str | None = None,
    claimed: Mapping[str, Any] | None = None,
    nguon_ctra: str | None = None,
) -> Line:
    """A drug line (XML2, MA_NHOM 4); the catalog has its price and ratio unless told."""
    p = D(price)
    return Line(
        table="XML2",
        ma_nhom="4",
        qty=D(qty),
        price=p,
        price_bv=p,
        ratio_bh=ratio_bh,
        pham_vi=pham_vi,
        catalog_price=(D(catalog_price) if catalog_price is not None else p)
        if in_catalog
        else None,
        catalog_ratio=catalog_ratio if catalog_ratio is not None else ratio_bh,
        day=day,
        nguonkhac=D(nguonkhac) if nguonkhac is not None else None,
        code=code,
        claimed=claimed or {},
        nguon_ctra=nguon_ctra,
    )


def service(
    ma_nhom: str,
    qty: Number,
    price: Number,
    *,
    price_bv: Number | None = None,
    ratio_dv: int = 100,
    ratio_bh: int = 100,
    goi_vtyt: str | None = None,
    performers: str | None = None,
    day: datetime | None = None,
    catalog_price: Number | None = None,
    catalog_ratio: int | None = None,
    in_catalog: bool = True,
    pham_vi: str = "1",
    nguonkhac: Number | None = None,
    code: str | None = None,
    claimed: Mapping[str, Any] | None = None,
    kq: datetime | None = None,
) -> Line:
    """A service line (XML3, MA_DICH_VU) of group ``ma_nhom``."""
    p = D(price)
    return Line(
        table="XML3",
        ma_nhom=ma_nhom,
        qty=D(qty),
        price=p,
        price_bv=D(price_bv) if price_bv is not None else p,
        ratio_dv=ratio_dv,
        ratio_bh=ratio_bh,
        pham_vi=pham_vi,
        catalog_price=(D(catalog_price) if catalog_price is not None else p)
        if in_catalog
        else None,
        catalog_ratio=catalog_ratio if catalog_ratio is not None else ratio_bh,
        goi_vtyt=goi_vtyt,
        performers=performers,
        day=day,
        nguonkhac=D(nguonkhac) if nguonkhac is not None else None,
        code=code,
        claimed=claimed or {},
        kq=kq,
    )


def supply(
    qty: Number,
    price: Number,
    *,
    goi_vtyt: str | None = None,
    ma_nhom: str = "10",
    ratio_bh: int = 100,
    day: datetime | None = None,
    code: str | None = None,
    claimed: Mapping[str, Any] | None = None,
    ceiling: Number | None = None,
    trantt: Number | None = None,
) -> Line:
    """A supply line (XML3, MA_VAT_TU, MA_NHOM 10 by default) of package ``goi_vtyt``."""
    line = service(
        ma_nhom,
        qty,
        price,
        ratio_bh=ratio_bh,
        goi_vtyt=goi_vtyt,
        day=day,
        code=code,
        claimed=claimed,
    )
    return replace(
        line,
        supply=True,
        ceiling=D(ceiling) if ceiling is not None else None,
        trantt=D(trantt) if trantt is not None else None,
    )


@dataclass(frozen=True)
class Claim:
    """One HOSO: its XML1 facts, its facility and its lines."""

    lines: tuple[Line, ...]
    card: str
    route: str
    vao: datetime
    ra: datetime
    loai: str
    tier: str
    level: str | None
    exempt: datetime | None
    muc: int
    card_from: str
    card_to: str
    totals: Mapping[str, Any]


def claim(
    *lines: Line,
    card: str = "DN4010123456789",
    route: str = "1.1",
    vao: datetime = datetime(2024, 8, 1, 8, 0),
    ra: datetime | None = None,
    loai: str = "01",
    tier: str = "district",
    level: str | None = "basic",
    exempt: datetime | None = None,
    muc: int = 100,
    card_from: str | None = None,
    card_to: str | None = None,
    totals: Mapping[str, Any] | None = None,
) -> Claim:
    """A claim; ``muc`` is the MUC_HUONG the clinic claimed on its lines, ``totals``
    overrides XML1 totals (t_bhtt, …); the card covers the admission and discharge
    years unless ``card_from``/``card_to`` (YYYYMMDD) say otherwise."""
    end = ra if ra is not None else vao + timedelta(hours=2)
    return Claim(
        lines=lines,
        card=card,
        route=route,
        vao=vao,
        ra=end,
        loai=loai,
        tier=tier,
        level=level,
        exempt=exempt,
        muc=muc,
        card_from=card_from or f"{vao.year}{DAY_CARD_FROM}",
        card_to=card_to or f"{end.year}{DAY_CARD_TO}",
        totals=totals or {},
    )


def claimed_amounts(line: Line, muc: int) -> dict[str, Any]:
    """The clinic's own arithmetic on the claimed figures (overridable per line)."""
    bv = cents(cents(line.qty * line.price_bv) * line.ratio_dv / 100)
    base = cents(cents(line.qty * line.price) * line.ratio_dv / 100)
    bh = cents(base * line.ratio_bh / 100) if line.pham_vi == "1" else Decimal("0.00")
    muc_huong = line.claimed.get("muc_huong", muc)
    bhtt = cents(bh * muc_huong / 100)
    out: dict[str, Any] = {
        "thanh_tien_bv": bv,
        "thanh_tien_bh": bh,
        "muc_huong": muc_huong,
        "t_bhtt": bhtt,
        "t_bncct": bh - bhtt,
        "t_bntt": bv - bh,
        "t_nguonkhac": line.nguonkhac,
    }
    return out | {k: v for k, v in line.claimed.items() if k != "muc_huong"}


def _line_rows(
    c: Claim, hoso_idx: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    xml2: list[dict[str, Any]] = []
    xml3: list[dict[str, Any]] = []
    prices: list[dict[str, Any]] = []
    for n, line in enumerate(c.lines, start=1):
        day = line.day or c.vao
        code = line.code or f"{'T' if line.table == 'XML2' else 'DV'}{n:02d}"
        amounts = claimed_amounts(line, c.muc)
        common = {
            "file_id": FILE_ID,
            "hoso_idx": hoso_idx,
            "line_no": n,
            "ma_lk": f"LK{hoso_idx:04d}",
            "stt": n,
            "ma_nhom": line.ma_nhom,
            "pham_vi": line.pham_vi,
            "so_luong": line.qty,
            "tyle_tt_bh": line.ratio_bh,
            "ngay_yl": day,
            "ngay_th_yl": day,
            "ma_khoa": "K01",
            "ma_bac_si": "BS0001",
            **amounts,
        }
        if line.table == "XML2":
            xml2.append(
                common
                | {
                    "ma_thuoc": code,
                    "don_gia": line.price,
                    "nguon_ctra": line.nguon_ctra,
                }
            )
        else:
            xml3.append(
                common
                | {
                    "ma_vat_tu": code if line.supply else None,
                    "ma_dich_vu": None if line.supply else code,
                    "don_gia_bv": line.price_bv,
                    "don_gia_bh": line.price,
                    "tyle_tt_dv": line.ratio_dv,
                    "goi_vtyt": line.goi_vtyt,
                    "nguoi_thuc_hien": line.performers,
                    "ngay_kq": line.kq,
                    "t_trantt": line.trantt,
                }
            )
        listed = line.catalog_price is not None
        prices.append(
            {
                "file_id": FILE_ID,
                "hoso_idx": hoso_idx,
                "table": line.table,
                "line_no": n,
                "code": code,
                "line_date": day.date(),
                "claimed_price": line.price,
                "claimed_ratio": line.ratio_bh,
                "catalog_price": line.catalog_price,
                "catalog_ratio": line.catalog_ratio if listed else None,
                "catalog_ceiling": line.ceiling if listed else None,
                "payable_price": min(line.price, line.catalog_price)
                if line.catalog_price is not None
                else Decimal(0),
                "reason_code": None if listed else "NOT_IN_CATALOG",
            }
        )
    return xml2, xml3, prices


def _xml1_row(
    c: Claim, hoso_idx: int, xml2: list[dict[str, Any]], xml3: list[dict[str, Any]]
) -> dict[str, Any]:
    lines = [*xml2, *xml3]

    def total(name: str, rows: list[dict[str, Any]] = lines) -> Decimal:
        return sum((r[name] or Decimal(0) for r in rows), Decimal("0.00"))

    supplies = [r for r in xml3 if r["ma_nhom"] in ("10", "11")]
    totals = {
        "t_thuoc": total("thanh_tien_bv", xml2),
        "t_vtyt": total("thanh_tien_bv", supplies),
        "t_tongchi_bv": total("thanh_tien_bv"),
        "t_tongchi_bh": total("thanh_tien_bh"),
        "t_bhtt": total("t_bhtt"),
        "t_bncct": total("t_bncct"),
        "t_bntt": total("t_bntt"),
        "t_nguonkhac": total("t_nguonkhac"),
    }
    return {
        "file_id": FILE_ID,
        "hoso_idx": hoso_idx,
        "ma_lk": f"LK{hoso_idx:04d}",
        "stt": hoso_idx + 1,
        "ma_bn": f"BN{hoso_idx:04d}",
        "ho_ten": "Nguyễn Văn A",
        "ngay_sinh": datetime(1980, 1, 1),
        "gioi_tinh": "1",
        "ma_the_bhyt": c.card,
        "ma_dkbd": "01001",
        "gt_the_tu": c.card_from,
        "gt_the_den": c.card_to,
        "ngay_mien_cct": c.exempt,
        "ma_benh_chinh": "J18.9",
        "ma_doituong_kcb": c.route,
        "ngay_vao": c.vao,
        "ngay_ra": c.ra,
        "ma_loai_kcb": c.loai,
        "ma_cskcb": f"F{hoso_idx:04d}",
        "nam_qt": c.ra.year,
        "thang_qt": c.ra.month,
        **totals,
        **c.totals,
    }


def build(*claims: Claim) -> tuple[Batch, pl.DataFrame]:
    """The batch of ``claims`` (hoso_idx in order) and its XML1 frame."""
    tables = empty_tables()
    xml1: list[dict[str, Any]] = []
    xml2: list[dict[str, Any]] = []
    xml3: list[dict[str, Any]] = []
    prices: list[dict[str, Any]] = []
    facilities: list[dict[str, Any]] = []
    for i, c in enumerate(claims):
        two, three, priced = _line_rows(c, i)
        xml2 += two
        xml3 += three
        prices += priced
        xml1.append(_xml1_row(c, i, two, three))
        facilities.append(
            {
                "ma_cskcb": f"F{i:04d}",
                "tier": c.tier,
                "level_2025": c.level,
                "beds": 100,
                "valid_from": datetime(2000, 1, 1).date(),
                "valid_to": None,
                VERSION: "hand",
            }
        )

    def frame(rows: list[dict[str, Any]], schema: Mapping[str, Any]) -> pl.DataFrame:
        full = [{k: r.get(k) for k in schema} for r in rows]
        return pl.DataFrame(full, schema=schema, orient="row")

    batch = Batch(
        xml1=frame(xml1, tables["XML1"].schema),
        xml2=frame(xml2, tables["XML2"].schema),
        xml3=frame(xml3, tables["XML3"].schema),
        xml4=tables["XML4"],
        xml5=tables["XML5"],
        prices=frame(prices, PRICE_SCHEMA),
        facilities=frame(facilities, FACILITY_SCHEMA),
    )
    return batch, batch.xml1


class Run(NamedTuple):
    """A paid and decided batch."""

    batch: Batch
    payment: Payment
    decisions: Decisions


def _hits(claims: tuple[Claim, ...]) -> pl.DataFrame:
    """A fired line ``reject`` hit for every line with ``refused_by``."""
    found = [
        {
            "file_id": FILE_ID,
            "hoso_idx": i,
            "table": line.table,
            "line_no": n,
            "rule_id": line.refused_by,
            "pack": "hand@1",
            "action": "reject",
            "reason_code": line.refused_by,
            "outcome": "fired",
            "adjust_to": None,
        }
        for i, c in enumerate(claims)
        for n, line in enumerate(c.lines, start=1)
        if line.refused_by is not None
    ]
    return pl.DataFrame(found, schema=HIT_SCHEMA, orient="row")


def run(*claims: Claim) -> Run:
    """Pay and decide ``claims`` with every claim ``accepted``; the only rule hits are
    the line rejections of lines with ``refused_by``."""
    benefits, salaries = catalogs()
    batch, xml1 = build(*claims)
    hits = _hits(claims)
    assessed = pl.DataFrame(
        [
            {
                "file_id": r["file_id"],
                "hoso_idx": r["hoso_idx"],
                "ma_cskcb": r["ma_cskcb"],
                "ma_lk": r["ma_lk"],
                "pack": "hand@1",
                "outcome": "accepted",
                "reason_codes": [],
                "rules_fired": 0,
                "rules_not_evaluable": 0,
            }
            for r in xml1.iter_rows(named=True)
        ],
        schema=ASSESSMENT_SCHEMA,
        orient="row",
    )
    payment = pay(batch, benefits, salaries, hits, policy=policy())
    decisions = decide(
        xml1,
        assessed,
        hits,
        payment,
        run_id="hand-run",
        catalogs={"benefits": "hand", "base_salary": "hand"},
    )
    return Run(batch, payment, decisions)


def rows(frame: pl.DataFrame, hoso_idx: int = 0) -> list[dict[str, Any]]:
    """The rows of one claim, lines in the order they were given to :func:`claim`."""
    part = frame.filter(pl.col("hoso_idx") == hoso_idx)
    if "line_no" in part.columns:
        part = part.sort("line_no")
    return list(part.iter_rows(named=True))


def one(frame: pl.DataFrame, hoso_idx: int = 0) -> dict[str, Any]:
    """The single row of one claim (payment or decision claims)."""
    (row,) = rows(frame, hoso_idx)
    return row
