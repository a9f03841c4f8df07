"""Faults of the registry and code-pair checks (issue 13 item 2), each found by a pack rule.

Text faults, applied to the text tables after the structural faults (``ci`` columns
present): a drug's prescriber nobody registered (E11) or registered in another ward (E11
scope), a test's performer nobody registered (F5), a department the facility does not
have (E12), a machine serial the facility never registered or a machine whose
registration ended before the claim (F6), the orderer performing
the lab or imaging test (F9), a bed code out of format (H7), a bed number beyond the
department's beds (H7: a bed of another, bigger department), a stay put in the bed of
another patient's stay still there (H9; the holder is reserved, like a duplicate's
original), a dialysis claim without a renal-failure diagnosis (F16), a drug line with
another strength than its catalog row (E2), a service or supply with another name (F3,
F4), and a YHCT disease code as principal diagnosis (G2).

Content faults, applied to the priced lines before the money is computed so every amount
follows them: a wound suture re-coded onto the day of an appendectomy or cholecystectomy
(F10), enoxaparin on a dialysis visit (F11), a second HbA1c on the claim (F12), a
dressing change in inpatient care (F13), two rehabilitation sessions in a day (F14), a
mesh repair whose mesh is billed as a plain suture (F15). Each kind's expected reason is
the reason code of the rule that must find it (:data:`REGISTRY_KINDS`).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from claims.synthetic.items import drug_items, unit_price, xml3_items
from claims.synthetic.registry import RETIRED_AFTER, WARDS, practitioner_code

REGISTRY_KINDS: dict[str, tuple[str, str, str]] = {
    "unregistered_prescriber": ("PRESCRIBER_NOT_REGISTERED", "XML2", "line"),
    "prescriber_other_ward": ("PRESCRIBER_OUTSIDE_DEPARTMENT", "XML2", "line"),
    "unregistered_performer": ("PERFORMER_NOT_REGISTERED", "XML3", "line"),
    "unknown_department": ("DEPARTMENT_UNKNOWN", "XML3", "line"),
    "unknown_machine": ("MACHINE_NOT_REGISTERED", "XML3", "line"),
    "retired_machine": ("MACHINE_NOT_REGISTERED", "XML3", "line"),
    "orderer_performs": ("ORDERER_PERFORMS", "XML3", "line"),
    "bad_bed_code": ("BED_CODE_FORMAT", "XML3", "line"),
    "bed_of_other_department": ("BED_NOT_IN_DEPARTMENT", "XML3", "line"),
    "shared_bed": ("BED_SHARED", "XML3", "line"),
    "no_indication": ("INDICATION_MISSING", "XML3", "line"),
    "unbundled_pair": ("UNBUNDLED_SERVICE", "XML3", "line"),
    "included_drug": ("INCLUDED_IN_PRICE", "XML2", "line"),
    "frequency_limit": ("FREQUENCY_LIMIT", "XML3", "line"),
    "inpatient_dressing": ("NOT_PAYABLE_IN_SETTING", "XML3", "line"),
    "quantity_per_day": ("QUANTITY_PER_DAY", "XML3", "line"),
    "prerequisite_missing": ("PREREQUISITE_MISSING", "XML3", "line"),
    # catalog attributes and YHCT codes (attributes fragment: E2, F3, F4, G2)
    "drug_other_strength": ("DRUG_ATTRIBUTES_MISMATCH", "XML2", "line"),
    "service_other_name": ("SERVICE_NAME_MISMATCH", "XML3", "line"),
    "supply_other_name": ("SUPPLY_NAME_MISMATCH", "XML3", "line"),
    "yhct_principal": ("YHCT_CODE_IN_ICD10_FIELD", "XML1", "claim"),
}
"""Kind → (expected reason, table, level)."""
UNREGISTERED = "999999/XX-CCHN"
"""A practising-certificate number no facility registers."""
UNKNOWN_DEPARTMENT = "K99"
UNKNOWN_SERIAL = "9"
"""Machine serials run 1–3 (:data:`claims.synthetic.registry.MACHINES_PER_GROUP`)."""
RETIRED_SERIAL = "4"
"""The retired machine of each group above communes (registration ended
:data:`claims.synthetic.registry.RETIRED_AFTER`)."""
UNBUNDLING_SURGERIES = ("47.01", "51.23")
"""Appendectomy and cholecystectomy (ICD-9-CM): the code_pairs rows with the suture."""
SUTURE_SERVICE = "10.0924.0205"
DIALYSIS = "01.0257.0066"
ENOXAPARIN = "40.581"
HBA1C = "23.0083.1523"
DRESSING = "03.0076.0210"
MESH_REPAIR = "53.03"
MESH, SUTURE_SUPPLY = "N07.01.050", "N05.03.030"
TESTS = ("1", "2", "3", "8", "18")
YHCT_CODE = "U50.011"
"""A YHCT disease code of the form the G2 rules take (U50–U99 [U])."""
_TRUTH = {"ci": pl.Int64, "table": pl.String, "stt": pl.String, "kind": pl.String}


def _cis(claims: pl.DataFrame, kind: str) -> np.ndarray:
    return np.flatnonzero((claims["fault"] == kind).fill_null(False).to_numpy())


def registry_eligible(plan: pl.DataFrame) -> dict[str, np.ndarray]:
    """Claims each kind can be injected into (``choose_faults``'s masks)."""
    tests = (plan["n_lab"] + plan["n_img"] + plan["n_func"]).to_numpy()
    performed = tests + (plan["n_proc"] + plan["n_surg"]).to_numpy()
    beds = plan["n_bed"].to_numpy() > 0
    drugs = plan["n_drug"].to_numpy() > 0
    icd9 = plan["icd9"].fill_null("")
    dialysis = (plan["loai"] == "08").to_numpy()
    return {
        "unregistered_prescriber": drugs,
        "prescriber_other_ward": drugs & plan["dept"].is_in(WARDS).to_numpy(),
        "unregistered_performer": performed > 0,
        "unknown_department": np.ones(plan.height, dtype=bool),
        "unknown_machine": tests > 0,
        "retired_machine": (tests > 0)
        & (plan["tier_idx"].to_numpy() > 0)
        & (plan["vao"].to_numpy() // 1440 > (RETIRED_AFTER - date(1970, 1, 1)).days),
        "orderer_performs": (plan["n_lab"] + plan["n_img"]).to_numpy() > 0,
        "bad_bed_code": beds,
        "bed_of_other_department": beds,
        "shared_bed": beds,
        "no_indication": dialysis & (plan["n_proc"].to_numpy() > 0),
        "unbundled_pair": icd9.is_in(UNBUNDLING_SURGERIES).to_numpy()
        & (plan["n_proc"].to_numpy() > 0),
        "included_drug": dialysis & drugs,
        "frequency_limit": plan["n_lab"].to_numpy() >= 2,
        "inpatient_dressing": plan["inpatient"].to_numpy()
        & (plan["n_proc"].to_numpy() > 0),
        "quantity_per_day": (plan["loai"] == "02").to_numpy()
        & (plan["n_proc"].to_numpy() > 0),
        "prerequisite_missing": (icd9 == MESH_REPAIR).to_numpy(),
        "drug_other_strength": drugs,
        "service_other_name": np.ones(plan.height, dtype=bool),
        "supply_other_name": plan["inpatient"].to_numpy()
        | (plan["n_surg"].to_numpy() > 0),
        "yhct_principal": np.ones(plan.height, dtype=bool),
    }


def bed_pairs(
    plan: pl.DataFrame, ok: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (holder, sharer) pairs of eligible stays of one department of a facility,
    the sharer admitted while the holder is still there, shuffled.

    Consecutive stays by admission are paired; a pair is kept when the holder came
    first (strictly: two stays admitted in one minute would question each other) and
    the sharer leaves no later than the holder (after the holder left, the bed may go
    to a clean stay, which would then find the sharer in it). The holder is reserved
    like a duplicate's original.
    """
    frame = (
        plan.select("cid", "fac", "dept", "vao", "ra")
        .filter(pl.Series(ok))
        .sort("fac", "dept", "vao", "cid")
        .with_columns(pl.int_range(pl.len()).over("fac", "dept").alias("pos"))
    )
    first = frame.filter(pl.col("pos") % 2 == 0)
    second = frame.filter(pl.col("pos") % 2 == 1).with_columns(pl.col("pos") - 1)
    pairs = first.join(second, on=["fac", "dept", "pos"], suffix="_b").filter(
        (pl.col("vao") < pl.col("vao_b"))
        & (pl.col("vao_b") < pl.col("ra"))
        & (pl.col("ra_b") <= pl.col("ra"))
    )
    order = rng.permutation(pairs.height)
    return pairs["cid"].to_numpy()[order], pairs["cid_b"].to_numpy()[order]


def _pick(
    frame: pl.DataFrame, cis: np.ndarray, where: pl.Expr, rng: np.random.Generator
) -> pl.DataFrame:
    """One random row (``_row``, ``ci``, ``stt``) matching ``where`` of each claim."""
    picked = frame.with_row_index("_row").filter(
        pl.col("ci").is_in(pl.Series(cis, dtype=pl.Int64).implode()) & where
    )
    return (
        picked.with_columns(pl.Series("_r", rng.random(picked.height)))
        .sort("ci", "_r")
        .group_by("ci", maintain_order=True)
        .first()
        .select("_row", "ci", pl.col("stt").cast(pl.String))
    )


def _truth(picked: pl.DataFrame, table: str, kind: str) -> pl.DataFrame:
    return picked.select(
        pl.col("ci").cast(pl.Int64),
        pl.lit(table).alias("table"),
        pl.col("stt").cast(pl.String),
        pl.lit(kind).alias("kind"),
    )


def _set(
    frame: pl.DataFrame, column: str, rows: pl.Series, values: pl.Series
) -> pl.DataFrame:
    series = frame[column].clone()
    series.scatter(rows.cast(pl.Int64).to_numpy(), values.cast(pl.String))
    return frame.with_columns(series)


def _nhom() -> pl.Expr:
    return pl.col("ma_nhom").cast(pl.Int64, strict=False).cast(pl.String)


def _text_faults(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> list[pl.DataFrame]:
    """Every text fault but the shared bed; ``tables`` changed in place."""
    truth = []
    serial = claims.select("doc_base", "dept", "abbr").with_row_index("ci")
    for kind, table, column, where, value in (
        ("unregistered_prescriber", "XML2", "ma_bac_si", pl.lit(True), None),
        ("prescriber_other_ward", "XML2", "ma_bac_si", pl.lit(True), "ward"),
        ("unregistered_performer", "XML3", "nguoi_thuc_hien",
         _nhom().is_in(TESTS) & pl.col("nguoi_thuc_hien").is_not_null(), None),
        ("unknown_department", "XML3", "ma_khoa", pl.lit(True), UNKNOWN_DEPARTMENT),
        ("unknown_machine", "XML3", "ma_may", pl.col("ma_may").is_not_null(), "serial"),
        ("retired_machine", "XML3", "ma_may", pl.col("ma_may").is_not_null(), "retired"),
        ("orderer_performs", "XML3", "nguoi_thuc_hien",
         _nhom().is_in(["1", "2"]) & pl.col("ma_bac_si").is_not_null(), "orderer"),
        ("bad_bed_code", "XML3", "ma_giuong", pl.col("ma_giuong").is_not_null(), "bad"),
        ("bed_of_other_department", "XML3", "ma_giuong",
         pl.col("ma_giuong").is_not_null(), "beyond"),
        ("drug_other_strength", "XML2", "ham_luong",
         pl.col("so_dang_ky").is_not_null() & pl.col("ham_luong").is_not_null(), " x 2"),
        ("service_other_name", "XML3", "ten_dich_vu",
         pl.col("ma_vat_tu").is_null() & pl.col("ten_dich_vu").is_not_null(), " (khác)"),
        ("supply_other_name", "XML3", "ten_vat_tu", pl.col("ten_vat_tu").is_not_null(),
         " (khác)"),
        ("yhct_principal", "XML1", "ma_benh_chinh", pl.lit(True), YHCT_CODE),
    ):  # fmt: skip
        frame = tables[table]
        picked = _pick(frame, _cis(claims, kind), where, rng)
        rows = picked["_row"]
        if value is None:
            new = pl.Series([UNREGISTERED] * len(rows))
        elif value == "ward":
            new = _other_ward(picked.join(serial, on="ci", how="left"))
        elif value in ("serial", "retired"):
            suffix = UNKNOWN_SERIAL if value == "serial" else RETIRED_SERIAL
            new = frame["ma_may"].gather(rows).str.replace(r"\.[^.]+$", "." + suffix)
        elif value == "orderer":
            new = frame["ma_bac_si"].gather(rows)
        elif value in ("bad", "beyond"):
            new = _own_bed(picked, value)
        elif value.startswith(" "):  # another strength or name: the value + a suffix
            new = frame[column].gather(rows) + value
        else:
            new = pl.Series([value] * len(rows))
        tables[table] = _set(frame, column, rows, new)
        if table == "XML1":  # a claim-level fault names no line
            picked = picked.with_columns(pl.lit(None, pl.String).alias("stt"))
        truth.append(_truth(picked, table, kind))
    return truth


def _own_bed(picked: pl.DataFrame, value: str) -> pl.Series:
    """A bed code no other stay holds, so the fault adds no shared bed (H9): ``G``
    and the claim's row (out of format) or an extra bed ``T999``, ``T998``… beyond any
    department's (``giuong_tk`` ≤ 499), one per faulted line."""
    if value == "bad":
        return picked.select(pl.format("G{}", pl.col("ci"))).to_series()
    rank = pl.int_range(pl.len()) % 500
    return picked.select(pl.format("T{}", 999 - rank)).to_series()


def _other_ward(picked: pl.DataFrame) -> pl.Series:
    """A doctor of the facility registered in the next ward, not the claim's."""
    ward = pl.col("dept").replace_strict({w: i for i, w in enumerate(WARDS)})
    return picked.select(
        practitioner_code(pl.col("doc_base") + (ward + 1) % len(WARDS), pl.col("abbr"))
    ).to_series()


def _shared_bed(claims: pl.DataFrame, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Each faulted stay's bed lines take the bed of its partner, a stay of the same
    department still there at its admission (:func:`bed_pairs`); its first bed line is
    labelled (the holder was there first: H9 questions the stay that came)."""
    cis = pl.Series(_cis(claims, "shared_bed"), dtype=pl.Int64)
    holders = claims.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("ci"),
        pl.col("partner_ci").cast(pl.Int64),
    ).filter(pl.col("ci").is_in(cis.implode()))
    beds = claims.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("partner_ci"),
        pl.col("bed").alias("_bed"),
    )
    found = holders.join(beds, on="partner_ci", how="left")
    xml3 = tables["XML3"].with_row_index("_row")
    moved = xml3.join(found.select("ci", "_bed"), on="ci").filter(
        pl.col("ma_giuong").is_not_null()
    )
    tables["XML3"] = _set(tables["XML3"], "ma_giuong", moved["_row"], moved["_bed"])
    first = moved.sort("ci", pl.col("stt").cast(pl.Int64, strict=False))
    one = first.group_by("ci", maintain_order=True).first()
    return _truth(one, "XML3", "shared_bed")


def _no_indication(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """The dialysis claim's diagnoses without renal failure; its dialysis line labelled."""
    cis = pl.Series(_cis(claims, "no_indication"), dtype=pl.Int64)
    xml1 = (
        tables["XML1"].with_row_index("_row").filter(pl.col("ci").is_in(cis.implode()))
    )
    frame = _set(
        tables["XML1"],
        "ma_benh_chinh",
        xml1["_row"],
        pl.Series(["J18.9"] * xml1.height),
    )
    tables["XML1"] = _set(
        frame,
        "ma_benh_kt",
        xml1["_row"],
        pl.Series([None] * xml1.height, dtype=pl.String),
    )
    lines = tables["XML3"].filter(
        pl.col("ci").is_in(cis.implode()) & (pl.col("ma_dich_vu") == DIALYSIS)
    )
    one = lines.group_by("ci", maintain_order=True).first()
    return _truth(one, "XML3", "no_indication")


def break_registry(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame], rng: np.random.Generator
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply every registry text fault chosen for ``claims`` to ``tables``."""
    tables = dict(tables)
    truth = [
        *_text_faults(claims, tables, rng),
        _shared_bed(claims, tables),
        _no_indication(claims, tables),
    ]
    return tables, pl.concat(
        [pl.DataFrame(schema=_TRUTH), *truth], how="vertical_relaxed"
    )


# ---- content faults (before the money)


def _item_ids() -> dict[str, int]:
    items = xml3_items()
    codes = pl.coalesce("ma_dich_vu", "ma_vat_tu")
    out = dict(items.select(codes, "item_id").iter_rows())
    out |= dict(drug_items().select("ma_thuoc", "item_id").iter_rows())
    return out


def _recode(
    lines: pl.DataFrame,
    claims: pl.DataFrame,
    rows: np.ndarray,
    code: str,
    *,
    drug: bool,
) -> pl.DataFrame:
    """Lines ``rows`` billed as item ``code``: its id, kind, group, ratio and price."""
    items = drug_items() if drug else xml3_items()
    item = _item_ids()[code]
    row = items.filter(pl.col("item_id") == item).row(0, named=True)
    ci = lines["ci"].to_numpy()[rows]
    price = unit_price(
        np.full(len(rows), row["kind"]),
        np.full(len(rows), row["base_milli"]),
        claims["fac_num"].to_numpy()[ci],
        np.full(len(rows), item),
        claims["tier_idx"].to_numpy()[ci],
    )
    values = {
        "item_id": item,
        "kind": row["kind"],
        "ma_nhom": row["ma_nhom"],
        "tyle_tt_bh": row["tyle_tt_bh"],
    }
    columns = []
    for name in (
        "item_id",
        "kind",
        "ma_nhom",
        "tyle_tt_bh",
        "price",
        "price_bh",
        "price_bv",
    ):
        if name not in lines.columns:
            continue
        series = lines[name].clone()
        new = price if name.startswith("price") else np.full(len(rows), values[name])
        series.scatter(rows, pl.Series(new).cast(series.dtype))
        columns.append(series)
    return lines.with_columns(columns)


def _rows(
    lines: pl.DataFrame, claims: pl.DataFrame, kind: str, where: pl.Expr,
    rng: np.random.Generator, take: int = 1,
) -> np.ndarray:  # fmt: skip
    """Up to ``take`` random rows matching ``where`` of each claim faulted ``kind``."""
    cis = pl.Series(_cis(claims, kind), dtype=pl.Int64)
    picked = lines.with_row_index("_row").filter(
        pl.col("ci").is_in(cis.implode()) & where
    )
    picked = picked.with_columns(pl.Series("_r", rng.random(picked.height))).sort(
        "ci", "_r"
    )
    first = picked.filter(pl.int_range(pl.len()).over("ci") < take)
    return first["_row"].cast(pl.Int64).to_numpy()


def _label(
    lines: pl.DataFrame, rows: np.ndarray, table: str, kind: str
) -> pl.DataFrame:
    """One truth row per claim: its last changed line (the one over a limit)."""
    picked = lines[rows].sort("ci", "stt").group_by("ci", maintain_order=True).last()
    return _truth(picked.with_columns(pl.col("stt").cast(pl.String)), table, kind)


def _same_time(
    lines: pl.DataFrame, rows: np.ndarray, anchor: np.ndarray
) -> pl.DataFrame:
    """Lines ``rows`` ordered and done when lines ``anchor`` were."""
    out = []
    for name in ("yl", "th"):
        series = lines[name].clone()
        series.scatter(rows, lines[name].gather(anchor))
        out.append(series)
    return lines.with_columns(out)


def recode_lines(
    claims: pl.DataFrame,
    drugs: pl.DataFrame,
    services: pl.DataFrame,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The code-pair content faults on numbered, priced lines before their amounts.

    Returns:
        The changed drug and service lines, and the truth rows.
    """
    truth = []
    kind = pl.col("kind")
    # F10: a wound suture the day of the surgery whose price includes closing the wound
    rows = _rows(services, claims, "unbundled_pair", kind == "procedure", rng)
    surgery = services.with_row_index("_row").filter(kind == "surgery")
    anchor = (
        pl.DataFrame({"ci": services["ci"].gather(rows)})
        .join(surgery.group_by("ci").agg(pl.col("_row").first()), on="ci", how="left")[
            "_row"
        ]
        .to_numpy()
    )
    services = _same_time(
        _recode(services, claims, rows, SUTURE_SERVICE, drug=False), rows, anchor
    )
    truth.append(_label(services, rows, "XML3", "unbundled_pair"))
    # F11: enoxaparin on a dialysis visit (the session's price includes it)
    rows = _rows(drugs, claims, "included_drug", pl.lit(True), rng)
    drugs = _recode(drugs, claims, rows, ENOXAPARIN, drug=True)
    truth.append(_label(drugs, rows, "XML2", "included_drug"))
    # F12: two HbA1c on the claim
    rows = _rows(services, claims, "frequency_limit", kind == "lab", rng, take=2)
    services = _recode(services, claims, rows, HBA1C, drug=False)
    truth.append(_label(services, rows, "XML3", "frequency_limit"))
    # F13: a dressing change in inpatient care
    rows = _rows(services, claims, "inpatient_dressing", kind == "procedure", rng)
    services = _recode(services, claims, rows, DRESSING, drug=False)
    truth.append(_label(services, rows, "XML3", "inpatient_dressing"))
    # F14: two rehabilitation sessions in one day
    rows = _rows(services, claims, "quantity_per_day", kind == "procedure", rng)
    qty = services["qty"].clone()
    qty.scatter(rows, pl.Series(np.full(len(rows), 2000)).cast(qty.dtype))
    services = services.with_columns(qty)
    truth.append(_label(services, rows, "XML3", "quantity_per_day"))
    # F15: a mesh repair whose mesh is billed as a plain suture
    mesh = pl.col("item_id") == _item_ids()[MESH]
    rows = _rows(services, claims, "prerequisite_missing", mesh, rng)
    services = _recode(services, claims, rows, SUTURE_SUPPLY, drug=False)
    repaired = _rows(services, claims, "prerequisite_missing", kind == "surgery", rng)
    truth.append(_label(services, repaired, "XML3", "prerequisite_missing"))
    return drugs, services, pl.concat(truth, how="vertical_relaxed")
