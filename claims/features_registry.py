"""Registry features of drug and service lines: who ordered and performed them, in which
department, on which machine and bed, checked against the facility's registries (§3.6–§3.8;
§4.3 E11, E12, F5, F6, F9, H7, H9, J4).

Per line, against the ``practitioners``, ``departments`` and ``equipment`` catalogs as of
the line's date: the prescriber and every performer registered at the claim's facility,
the prescriber registered in the line's department, the department one of the
facility's, the machine registered there. Across the batch: tests per machine per day
(against the machine's daily capacity), other patients already in the bed a claim
takes, and the department's occupied beds when the claim took its bed (an event sweep
over admissions and discharges; ``giuong_pd + giuong_tk`` beside it).

A bed is occupied from the claim's admission to its discharge; a patient's stays that
overlap in one bed or department count once (a duplicated claim is J1's business, not a
second patient). Cross-claim counts see the batch and the stored window of the history
(``claims.store.window``: stored bed and machine lines of the batch's facilities and
days; a store-less check: the batch only). Without registries (``Batch.registries``
None) the catalog columns read as registered, and the capacities are null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl

from catalogs.resolve import VERSION, Catalog, as_of
from claims.schema import (
    ATTRIBUTE_LINE_FEATURES,
    BED_GROUPS,
    CLAIM_KEYS,
    REGISTRY_LINE_FEATURES,
    Batch,
    Registries,
    patient_id,
)
from claims.store.window import stored_machine_days, with_stored_beds

LINE = (*CLAIM_KEYS, "line_no")
_PRACTITIONER_FLAGS = (
    "prescriber_registered",
    "prescriber_in_department",
    "performer_registered",
)


def _codes(column: str) -> pl.Expr:
    """The ';'-separated codes of ``column``, trimmed, empty ones dropped."""
    return (
        pl.col(column)
        .str.split(";")
        .list.eval(pl.element().str.strip_chars())
        .list.filter(pl.element() != "")
    )


def _as_of_once(
    frame: pl.DataFrame,
    resolved: pl.DataFrame,
    code: tuple[str, str],
    columns: list[str],
) -> pl.DataFrame:
    """``frame`` with ``columns`` and ``catalog_scope`` of the catalog row valid on its
    ``line_date``, looked up once per distinct facility, code and date."""
    keys = ["ma_cskcb", code[0], "line_date"]
    found = as_of(
        frame.select(keys).unique(),
        resolved,
        code=code,
        on="line_date",
        columns=columns,
    ).select(*keys, *columns, "catalog_scope")
    return frame.join(found, on=keys, how="left", nulls_equal=True)


def _registered(
    lines: pl.DataFrame, column: str, practitioners: pl.DataFrame
) -> pl.DataFrame:
    """Per line: every code of ``column`` registered at the facility on the date, and
    (for the first code) the departments it is registered in."""
    one = (
        lines.select(*LINE, "ma_cskcb", "line_date", _codes(column).alias("_code"))
        .explode("_code")
        .filter(pl.col("_code").is_not_null())
    )
    found = _as_of_once(one, practitioners, ("_code", "ma_bac_si"), ["ma_khoa"])
    return found.group_by(LINE).agg(
        pl.col("catalog_scope").is_not_null().all().alias("_ok"),
        pl.col("ma_khoa").first().alias("_khoa"),
    )


def _with_practitioners(lines: pl.DataFrame, reg: Registries) -> pl.DataFrame:
    prescriber = _registered(lines, "ma_bac_si", reg.practitioners).rename(
        {"_ok": "_p_ok", "_khoa": "_p_khoa"}
    )
    performer = _registered(lines, "nguoi_thuc_hien", reg.practitioners).select(
        *LINE, pl.col("_ok").alias("_t_ok")
    )
    in_department = (
        pl.col("_p_khoa").is_null()
        | pl.col("ma_khoa").is_null()
        | _codes("ma_khoa")
        .list.set_difference(pl.col("_p_khoa").str.split(";"))
        .list.len()
        .eq(0)
    )
    return (
        lines.join(prescriber, on=LINE, how="left", maintain_order="left")
        .join(performer, on=LINE, how="left", maintain_order="left")
        .with_columns(
            pl.col("_p_ok").fill_null(True).alias("prescriber_registered"),
            (~pl.col("_p_ok").fill_null(True) | in_department)
            .fill_null(True)
            .alias("prescriber_in_department"),
            pl.col("_t_ok").fill_null(True).alias("performer_registered"),
        )
        .drop("_p_ok", "_p_khoa", "_t_ok")
    )


def _with_departments(lines: pl.DataFrame, reg: Registries | None) -> pl.DataFrame:
    """``department_known`` (every code of MA_KHOA) and the line's department beds."""
    if reg is None:
        return lines.with_columns(
            pl.lit(True).alias("department_known"),
            pl.lit(None, pl.Int64).alias("_pd"),
            pl.lit(None, pl.Int64).alias("_tk"),
        )
    one = (
        lines.select(*LINE, "ma_cskcb", "line_date", _codes("ma_khoa").alias("_k"))
        .explode("_k")
        .filter(pl.col("_k").is_not_null())
    )
    found = (
        _as_of_once(one, reg.departments, ("_k", "ma_khoa"), ["giuong_pd", "giuong_tk"])
        .group_by(LINE)
        .agg(
            pl.col("catalog_scope").is_not_null().all().alias("department_known"),
            pl.col("giuong_pd").first().alias("_pd"),
            pl.col("giuong_tk").first().alias("_tk"),
        )
    )
    return lines.join(found, on=LINE, how="left", maintain_order="left").with_columns(
        pl.col("department_known").fill_null(True)
    )


def _with_machines(
    lines: pl.DataFrame, reg: Registries | None, stored: pl.DataFrame
) -> pl.DataFrame:
    """``machine_registered``, ``machine_capacity`` and the tests per machine-day: the
    batch's and the ``stored`` window's (:func:`stored_machine_days`)."""
    day = ["ma_cskcb", "ma_may", "line_date"]
    per_day = pl.len().over(day).cast(pl.Int64) + pl.col("_stored_n").fill_null(0)
    out = (
        lines.join(stored, on=day, how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("ma_may").is_not_null())
            .then(per_day)
            .alias("machine_tests_day")
        )
        .drop("_stored_n")
    )
    if reg is None:
        return out.with_columns(
            pl.lit(True).alias("machine_registered"),
            pl.lit(None, pl.Int64).alias("machine_capacity"),
        )
    found = _as_of_once(
        out.select(*LINE, "ma_cskcb", "ma_may", "line_date").filter(
            pl.col("ma_may").is_not_null()
        ),
        reg.equipment,
        ("ma_may", "ma_may"),
        ["capacity_per_day"],
    ).select(
        *LINE,
        pl.col("catalog_scope").is_not_null().alias("machine_registered"),
        pl.col("capacity_per_day").cast(pl.Int64).alias("machine_capacity"),
    )
    return out.join(found, on=LINE, how="left", maintain_order="left").with_columns(
        pl.col("machine_registered").fill_null(True)
    )


def _bed_number_ok() -> pl.Expr:
    """The bed number is one of the department's: H/C ≤ approved, T ≤ extra beds,
    K (stretchers, folding beds) any [U]; unknown department or format: not judged."""
    code = pl.col("ma_giuong").str.strip_chars()
    letter, number = (
        code.str.slice(0, 1),
        code.str.slice(1).cast(pl.Int64, strict=False),
    )
    limit = (
        pl.when(letter.is_in(["H", "C"]))
        .then(pl.col("_pd"))
        .when(letter == "T")
        .then(pl.col("_tk"))
    )
    judged = number.is_not_null() & limit.is_not_null() & (letter != "K")
    return ~judged | ((number >= 1) & (number <= limit))


def _stays(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per claim, department and bed: the bed lines' keys and the stay's times."""
    return (
        lines.filter(
            pl.col("ma_giuong").is_not_null()
            & pl.col("ma_nhom")
            .cast(pl.Int64, strict=False)
            .cast(pl.String)
            .is_in(BED_GROUPS)
        )
        .select(
            *CLAIM_KEYS,
            "ma_cskcb",
            "_patient",
            pl.col("ma_khoa").str.split(";").list.first().alias("_khoa"),
            _codes("ma_giuong").alias("_bed"),
            (pl.col("claim_ngay_vao").dt.epoch("s") // 60).alias("_s"),
            (pl.col("claim_ngay_ra").dt.epoch("s") // 60).alias("_e"),
        )
        .explode("_bed")
        .drop_nulls(["_bed", "_s", "_e"])
        .unique([*CLAIM_KEYS, "_khoa", "_bed"], keep="first", maintain_order=True)
    )


def _bed_sharing(stays: pl.DataFrame) -> pl.DataFrame:
    """Per claim: other patients in one of its beds when it took it (H9): the stay that
    came to an occupied bed is questioned, not the one already there."""
    bed = ["ma_cskcb", "_khoa", "_bed"]
    pairs = stays.join(stays, on=bed, suffix="_o").filter(
        (pl.col("_patient") != pl.col("_patient_o"))
        & (pl.col("_s_o") <= pl.col("_s"))
        & (pl.col("_s") < pl.col("_e_o"))
    )
    return pairs.group_by(CLAIM_KEYS).agg(
        pl.col("_patient_o").n_unique().cast(pl.Int64).alias("bed_other_patients")
    )


def _occupancy(
    stays: pl.DataFrame,
    dept: tuple[str, ...] = ("ma_cskcb", "_khoa"),
    name: str = "department_occupancy",
) -> pl.DataFrame:
    """Per claim: beds of its department (``dept``: the facility with ``("ma_cskcb",)``)
    occupied when it took its bed (H7), as column ``name``.

    One stay per patient, department and times; discharges before admissions at the
    same minute, so a bed freed and taken in the same minute counts once.
    """
    stay = [*dept, "_patient", "_s", "_e"]
    once = stays.select(stay).unique()
    events = pl.concat(
        [
            once.with_columns(pl.col("_s").alias("_t"), pl.lit(1).alias("_d")),
            once.with_columns(pl.col("_e").alias("_t"), pl.lit(-1).alias("_d")),
        ]
    ).sort(*dept, "_t", "_d")
    occupied = events.with_columns(
        pl.col("_d").cum_sum().over(*dept).alias("_n")
    ).with_columns(  # stays admitted at the same minute see each other
        pl.col("_n").last().over(*dept, "_t")
    )
    return (
        occupied.filter(pl.col("_d") == 1)
        .join(stays.select(*CLAIM_KEYS, *stay), on=stay, nulls_equal=True)
        .group_by(CLAIM_KEYS)
        .agg(pl.col("_n").max().cast(pl.Int64).alias(name))
    )


def _with_beds(
    frame: pl.DataFrame, stays: pl.DataFrame, claims: pl.DataFrame
) -> pl.DataFrame:
    """``frame`` with the bed sweeps per claim (H9 sharing, H7 department and facility
    occupancy) and the facility's catalog beds (``_fbeds``: the claim frame's
    ``facility_beds``; null for a frame without it, e.g. bare XML1)."""
    beds = (
        pl.col("facility_beds")
        if "facility_beds" in claims.columns
        else pl.lit(None, pl.Int64)
    )
    found = [
        _bed_sharing(stays),
        _occupancy(stays),
        _occupancy(stays, ("ma_cskcb",), "facility_occupancy"),
        claims.select(*CLAIM_KEYS, beds.alias("_fbeds")),
    ]
    for other in found:
        frame = frame.join(other, on=CLAIM_KEYS, how="left", maintain_order="left")
    return frame


def registry_features(
    batch: Batch,
    lines: pl.DataFrame,
    claims: pl.DataFrame,
    history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``lines`` (a line frame with ``line_date`` and the claim context) with
    :data:`claims.schema.REGISTRY_LINE_FEATURES`.

    Args:
        batch: the batch (its registries, and XML3 for the bed sweeps).
        lines: the line frame so far (:func:`claims.features.line_features`).
        claims: the claim frame (for the patient of each claim).
        history: the stored claims the run sees; its bed and machine lines count
            with the batch's (``claims.store.window``; None: the batch only).
    """
    reg = batch.registries
    frame = lines.with_columns(
        pl.col("claim_ma_cskcb").alias("ma_cskcb"),
        *(
            pl.lit(None, pl.String).alias(c)
            for c in ("nguoi_thuc_hien", "ma_may", "ma_giuong")
            if c not in lines.columns
        ),
    )
    frame = (
        _with_practitioners(frame, reg)
        if reg is not None
        else frame.with_columns(pl.lit(True).alias(c) for c in _PRACTITIONER_FLAGS)
    )
    stored = stored_machine_days(history, claims)
    frame = _with_machines(_with_departments(frame, reg), reg, stored)
    patients = claims.select(*CLAIM_KEYS, patient_id().alias("_patient"))
    frame = frame.join(patients, on=CLAIM_KEYS, how="left", maintain_order="left")
    stays = _stays(with_stored_beds(frame, history, claims))
    orderer = pl.col("ma_bac_si").is_not_null() & _codes(
        "nguoi_thuc_hien"
    ).list.contains(pl.col("ma_bac_si")).fill_null(False)
    out = _with_beds(frame, stays, claims).with_columns(
        orderer.alias("orderer_performs"),
        _bed_number_ok().fill_null(True).alias("bed_in_department"),
        pl.col("bed_other_patients").fill_null(0),
        (pl.col("_pd") + pl.col("_tk")).alias("department_beds"),
        pl.col("_fbeds").alias("facility_total_beds"),
    )
    bed_line = pl.col("ma_giuong").is_not_null()
    out = out.with_columns(
        pl.when(bed_line).then(pl.col(c)).alias(c)
        for c in (
            "bed_other_patients",
            "department_occupancy",
            "department_beds",
            "facility_occupancy",
            "facility_total_beds",
        )
    )
    keep = [
        c
        for c in lines.columns
        if c not in REGISTRY_LINE_FEATURES and c not in ATTRIBUTE_LINE_FEATURES
    ]
    out = out.select(
        *keep, *(pl.col(c).cast(t) for c, t in REGISTRY_LINE_FEATURES.items())
    )
    return _with_attributes(out, batch.catalog_attributes)


# ---- catalog attributes (§4.3 E2, F3, F4 name)

ATTRIBUTES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "drugs": (
        ("ten_thuoc", "name", "TEN_THUOC"),
        ("ham_luong", "strength", "HAM_LUONG"),
        ("duong_dung", "route", "DUONG_DUNG"),
        ("don_vi_tinh", "unit", "DON_VI_TINH"),
        ("so_dang_ky", "registration", "SO_DANG_KY"),
    ),
    "services": (("ten_dich_vu", "name", "TEN_DICH_VU"),),
    "supplies": (("ten_vat_tu", "name", "TEN_VAT_TU"),),
}
"""Per price catalog: (its column, the attribute, the line's XML field) compared."""
_CODES = {"drugs": "ma_thuoc", "services": "ma_dich_vu", "supplies": "ma_vat_tu"}
_KINDS = ("name", "strength", "route", "unit", "registration")


def catalog_attributes(catalogs: Mapping[str, Catalog]) -> pl.DataFrame:
    """The price catalogs' rows with the attributes lines are compared with.

    Returns:
        ``catalog, ma_cskcb, code, valid_from, valid_to, catalog_version`` and
        ``name, strength, route, unit, registration`` (null where a catalog has none).
    """
    parts = []
    for catalog, code in _CODES.items():
        if catalog not in catalogs:
            continue
        rows = catalogs[catalog].resolve()
        named = {kind: column for column, kind, _ in ATTRIBUTES[catalog]}
        parts.append(
            rows.select(
                pl.lit(catalog).alias("catalog"),
                pl.col("ma_cskcb").replace("", None),
                pl.col(code).alias("code"),
                "valid_from",
                "valid_to",
                VERSION,
                *(
                    (pl.col(named[k]) if k in named else pl.lit(None))
                    .cast(pl.String)
                    .alias(k)
                    for k in _KINDS
                ),
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def _norm(value: pl.Expr) -> pl.Expr:
    """Text as compared: NFC, trimmed, case-folded, runs of spaces as one."""
    return (
        value.str.normalize("NFC")
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
    )


def _with_attributes(lines: pl.DataFrame, attrs: pl.DataFrame | None) -> pl.DataFrame:
    """``catalog_mismatch``: the line's XML fields that differ from the catalog row
    valid on its date (the facility's, else the national one, as pricing finds it).

    A drug's TEN_THUOC may also be the catalog name followed by its strength
    ("Alverin citrat 40mg"). A field is compared only where both the line and the
    catalog row have it (an empty field is validation's; blood has no SO_DANG_KY).
    """
    drug = "ma_thuoc" in lines.columns
    if attrs is None or attrs.is_empty():
        return lines.with_columns(pl.lit(None, pl.String).alias("catalog_mismatch"))
    supply = pl.col("ma_vat_tu").is_not_null() if not drug else pl.lit(False)
    probe = lines.select(
        *LINE,
        pl.col("claim_ma_cskcb").alias("ma_cskcb"),
        "line_date",
        (
            pl.lit("drugs")
            if drug
            else pl.when(supply).then(pl.lit("supplies")).otherwise(pl.lit("services"))
        ).alias("catalog"),
        (pl.col("ma_thuoc") if drug else pl.coalesce("ma_vat_tu", "ma_dich_vu")).alias(
            "code"
        ),
    )
    found = as_of(
        probe,
        attrs,
        code=("code", "code"),
        on="line_date",
        columns=_KINDS,
        by=["catalog"],
    ).select(
        *LINE,
        pl.col("catalog_scope").alias("_scope"),
        *(pl.col(k).alias(f"_c_{k}") for k in _KINDS),
    )
    out = lines.join(found, on=LINE, how="left", maintain_order="left")
    # normalising text is costly and nearly every line sends its catalog's text as
    # is: only the lines where some field differs as sent are normalised and compared
    raw = _differs(supply, _same, drug=drug)
    normalised = _differs(supply, _norm, drug=drug)
    suspects = (
        out.with_row_index("_i")
        .filter(pl.any_horizontal(d.is_not_null() for d in raw))
        .select("_i", _listed(normalised).alias("catalog_mismatch"))
    )
    return (
        out.with_row_index("_i")
        .join(suspects, on="_i", how="left", maintain_order="left")
        .drop("_i", "_scope", *(f"_c_{k}" for k in _KINDS))
    )


def _same(value: pl.Expr) -> pl.Expr:
    return value


def _differs(
    supply: pl.Expr, norm: Callable[[pl.Expr], pl.Expr], *, drug: bool
) -> list[pl.Expr]:
    """Per compared field, its name where the line's text (under ``norm``) differs
    from the catalog row's, else null."""
    differs: list[pl.Expr] = []
    for catalog, fields in ATTRIBUTES.items():
        if (catalog == "drugs") != drug:
            continue
        here = pl.col("_scope").is_not_null() & (
            pl.lit(True) if drug else (supply == (catalog == "supplies"))
        )
        for column, kind, field in fields:
            wanted, given = norm(pl.col(f"_c_{kind}")), norm(pl.col(column))
            same = given.eq_missing(wanted)
            if kind == "name" and drug:
                with_strength = norm(pl.col("_c_name") + " " + pl.col("_c_strength"))
                same = same | given.eq_missing(with_strength)
            bad = here & wanted.is_not_null() & given.is_not_null() & ~same
            differs.append(pl.when(bad).then(pl.lit(field)))
    return differs


def _listed(differs: list[pl.Expr]) -> pl.Expr:
    listed = pl.concat_list(differs).list.drop_nulls()
    return pl.when(listed.list.len() > 0).then(listed.list.join(";"))
