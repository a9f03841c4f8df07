"""Faults of the document checks (issue 13, reference §4.3 I1–I4, C12, C13): each makes
one claim lack a paper the law requires, or carry one whose dates do not add up.

Applied to the text tables after the other faults (``ci`` columns present). A kind first
changes the claim's XML1 where it needs to (a stay that absconded is discharged home, a
visit becomes a transfer, a newborn's weight or a re-visit date is added), then writes
the claim's documents again from that XML1 (:func:`claims.synthetic.documents.
document_tables`), then removes or changes one of them: no discharge paper (I1), no
referral paper on a transfer (I2, C12), no birth certificate (I3), leave days that are
not to − from + 1 or that start before discharge (I4), no appointment paper or one dated
before discharge (C13). Each kind's expected reason is the reason code of the rule in
``rules/packs/vn-bhyt/checks/documents.yaml`` that must find it (:data:`DOCUMENT_KINDS`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from claims.synthetic.documents import DISCHARGE_TYPES, document_tables

DOCUMENT_KINDS: dict[str, tuple[str, str, str]] = {
    "missing_discharge_paper": ("DISCHARGE_PAPER_MISSING", "XML1", "claim"),
    "missing_transfer_paper": ("TRANSFER_PAPER_MISSING", "XML1", "claim"),
    "missing_birth_certificate": ("BIRTH_CERTIFICATE_MISSING", "XML1", "claim"),
    "leave_days_mismatch": ("LEAVE_DAYS_MISMATCH", "XML1", "claim"),
    "leave_before_discharge": ("LEAVE_BEFORE_DISCHARGE", "XML1", "claim"),
    "missing_appointment_paper": ("APPOINTMENT_PAPER_MISSING", "XML1", "claim"),
    "appointment_before_discharge": ("APPOINTMENT_BEFORE_DISCHARGE", "XML1", "claim"),
}
"""Kind → (expected reason, table, level): every kind is found on the claim."""
STAYS = frozenset(
    {"missing_discharge_paper", "leave_days_mismatch", "leave_before_discharge"}
)
"""Kinds that need a stay with a discharge paper (MA_LOAI_KCB 03/04/09)."""
_TRUTH = {"ci": pl.Int64, "table": pl.String, "stt": pl.String, "kind": pl.String}
_DAY = "%Y%m%d"


def eligible(plan: pl.DataFrame) -> dict[str, np.ndarray]:
    """The claims of the plan (``loai``: MA_LOAI_KCB) each kind can be injected into."""
    stay = plan["loai"].is_in(DISCHARGE_TYPES).to_numpy()
    every = np.ones(plan.height, dtype=bool)
    return {k: stay if k in STAYS else every for k in DOCUMENT_KINDS}


def _discharge_day(offset: int) -> pl.Expr:
    day = pl.col("ngay_ra").str.slice(0, 8).str.strptime(pl.Date, _DAY, strict=False)
    return (day + pl.duration(days=offset)).dt.strftime(_DAY)


_XML1_EDITS: dict[str, dict[str, pl.Expr]] = {
    # kind: XML1 columns set before the documents are written again
    "missing_discharge_paper": {"ma_loai_rv": pl.lit("1")},
    "leave_days_mismatch": {"ma_loai_rv": pl.lit("1")},
    "leave_before_discharge": {"ma_loai_rv": pl.lit("1")},
    "missing_transfer_paper": {
        "ma_loai_rv": pl.lit("2"),
        "ma_noi_den": pl.coalesce("ma_noi_den", pl.col("ma_dkbd").str.slice(0, 5)),
    },
    "missing_birth_certificate": {"can_nang_con": pl.lit("3100")},
    "missing_appointment_paper": {"ngay_tai_kham": _discharge_day(7)},
    "appointment_before_discharge": {"ngay_tai_kham": _discharge_day(-1)},
}
"""An absconded stay (MA_LOAI_RV 3) has no discharge paper to break: it goes home."""
_DROPPED = {
    "missing_discharge_paper": "XML7",
    "missing_transfer_paper": "XML13",
    "missing_birth_certificate": "XML9",
    "missing_appointment_paper": "XML14",
}
_LEAVE = {
    # 9 days declared from discharge to discharge (1 day by its dates)
    "leave_days_mismatch": (pl.lit("9"), _discharge_day(0), _discharge_day(0)),
    # 2 days, consistent, but from the day before discharge
    "leave_before_discharge": (pl.lit("2"), _discharge_day(-1), _discharge_day(0)),
}


def _edit_xml1(
    xml1: pl.DataFrame, cis: np.ndarray, values: dict[str, pl.Expr]
) -> pl.DataFrame:
    hit = pl.col("ci").is_in(pl.Series(cis, dtype=pl.Int64).implode())
    return xml1.with_columns(
        pl.when(hit).then(v.cast(pl.String)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )


def _rewrite_documents(
    tables: dict[str, pl.DataFrame], cis: np.ndarray
) -> dict[str, pl.DataFrame]:
    """The documents of claims ``cis`` written again from their (changed) XML1."""
    chosen = pl.Series(cis, dtype=pl.Int64).implode()
    fresh = document_tables(tables["XML1"].filter(pl.col("ci").is_in(chosen)))
    for table, rows in fresh.items():
        kept = tables[table].filter(~pl.col("ci").is_in(chosen))
        tables[table] = pl.concat([kept, rows.select(kept.columns)]).sort(
            "ci", maintain_order=True
        )
    return tables


def _with_leave(xml7: pl.DataFrame, cis: np.ndarray, kind: str) -> pl.DataFrame:
    """Leave days of the papers of ``cis`` set as ``kind`` says (XML7's NGAY_RA is its
    claim's: the papers were just written again)."""
    days, start, end = _LEAVE[kind]
    hit = pl.col("ci").is_in(pl.Series(cis, dtype=pl.Int64).implode())
    changed = {"so_ngay_nghi": days, "ngoaitru_tungay": start, "ngoaitru_denngay": end}
    return xml7.with_columns(
        pl.when(hit).then(v).otherwise(pl.col(c)).alias(c) for c, v in changed.items()
    )


def break_documents(
    claims: pl.DataFrame, tables: dict[str, pl.DataFrame]
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply every document fault chosen for ``claims`` (the ``fault`` column).

    Returns:
        The changed tables and one truth row per fault (``ci, table, stt, kind``).
    """
    tables = dict(tables)
    truth = []
    for kind in DOCUMENT_KINDS:
        cis = np.flatnonzero((claims["fault"] == kind).fill_null(False).to_numpy())
        if not len(cis):
            continue
        tables["XML1"] = _edit_xml1(tables["XML1"], cis, _XML1_EDITS[kind])
        tables = _rewrite_documents(tables, cis)
        if kind in _DROPPED:
            table = _DROPPED[kind]
            gone = pl.col("ci").is_in(pl.Series(cis, dtype=pl.Int64).implode())
            tables[table] = tables[table].filter(~gone)
        elif kind in _LEAVE:
            tables["XML7"] = _with_leave(tables["XML7"], cis, kind)
        truth.append(
            pl.DataFrame(
                {"ci": cis, "table": "XML1", "stt": None, "kind": kind}, schema=_TRUTH
            )
        )
    return tables, pl.concat([pl.DataFrame(schema=_TRUTH), *truth])
