"""Settlement on literal decisions: every amount a claim asks is on one settled line
(quarantined lines and the rest of its XML1 total included), requested = accepted +
rejected + pending everywhere, and advances above the amount due are carried forward."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from claims.money import MONEY
from claims.settle import (
    AMOUNTS_SCHEMA,
    UNALLOCATED,
    ReconciliationError,
    breaks,
    reconcile,
    settle,
)

D = Decimal
A, B = "01001", "01002"
PERIOD = "2026-10"
KEYS = {"file_id": pl.String, "hoso_idx": pl.UInt32}


def _decisions(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """(claim, facility, outcome, T_BHTT claimed, accepted, T_TONGCHI_BH claimed,
    accepted); outpatient, declared in :data:`PERIOD`."""
    return pl.DataFrame(
        [
            (
                "f",
                n,
                facility,
                f"LK{n}",
                PERIOD,
                False,
                outcome,
                *tuple(D(v) for v in money),
                [],
            )
            for n, facility, outcome, *money in rows
        ],
        schema={
            **KEYS,
            "ma_cskcb": pl.String,
            "ma_lk": pl.String,
            "period": pl.String,
            "inpatient": pl.Boolean,
            "outcome": pl.String,
            "claimed_t_bhtt": MONEY,
            "accepted_t_bhtt": MONEY,
            "claimed_t_tongchi_bh": MONEY,
            "accepted_t_tongchi_bh": MONEY,
            "reason_codes": pl.List(pl.String),
        },
        orient="row",
    )


def _lines(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """(claim, table, line_no, cost group, BH claimed, accepted, T_BHTT claimed,
    accepted, refused by)."""
    return pl.DataFrame(
        [
            (
                "f",
                n,
                table,
                line_no,
                line_no,
                f"C{n}.{line_no}",
                group,
                *tuple(D(v) for v in money),
                refused,
            )
            for n, table, line_no, group, *money, refused in rows
        ],
        schema={
            **KEYS,
            "table": pl.String,
            "line_no": pl.UInt32,
            "stt": pl.Int64,
            "code": pl.String,
            "cost_group": pl.String,
            "claimed_bh": MONEY,
            "accepted_bh": MONEY,
            "claimed_bhtt": MONEY,
            "accepted_bhtt": MONEY,
            "refused_by": pl.String,
        },
        orient="row",
    )


def _reasons(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """(claim, table, line_no, code, source)."""
    return pl.DataFrame(
        [
            (
                "f",
                n,
                "line" if line_no else "claim",
                table,
                line_no,
                code,
                source,
                f"message of {code}",
            )
            for n, table, line_no, code, source in rows
        ],
        schema={
            **KEYS,
            "level": pl.String,
            "table": pl.String,
            "line_no": pl.UInt32,
            "code": pl.String,
            "source": pl.String,
            "message": pl.String,
        },
        orient="row",
    )


DECISIONS = _decisions(
    [
        (1, A, "partially_accepted", "1000", "500", "1200", "600"),
        (2, A, "pending_review", "300", "300", "400", "400"),
        (3, A, "accepted", "90", "90", "100", "100"),  # lines ask 100: capped
        (4, B, "rejected", "50", "0", "60", "0"),
    ]
)
LINES = _lines(
    [
        (1, "XML2", 1, "drugs", "700", "600", "600", "500", None),
        (2, "XML3", 1, "exam", "400", "400", "300", "300", None),
        (3, "XML2", 1, "drugs", "100", "100", "100", "90", None),
        (4, "XML3", 1, "tests", "60", "60", "50", "50", None),
    ]
)
REASONS = _reasons(
    [
        (1, "XML2", 1, "CATALOG_PRICE", "payment"),
        (1, "XML2", 2, "LINE_DATE_OUTSIDE_STAY", "validation"),
        (1, "XML4", 1, "LINE_ORPHAN", "validation"),  # no money: not a money line
        (2, "XML2", 2, "BAD_MONEY", "validation"),  # pending: pending, not rejected
        (4, "XML1", None, "J1_REJECT", "J1"),
    ]
)
ADVANCES = pl.DataFrame(
    {"ma_cskcb": [A], "amount": [D("1000")]},
    schema={"ma_cskcb": pl.String, "amount": MONEY},
)


def _settled(**kwargs: Any) -> dict[str, pl.DataFrame]:
    settlement = settle(DECISIONS, LINES, REASONS, ADVANCES, period=PERIOD, **kwargs)
    return settlement.frames


def _by(frame: pl.DataFrame, *keys: str) -> dict[Any, dict[str, Any]]:
    return {
        tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r
        for r in frame.iter_rows(named=True)
    }


def test_requested_is_the_xml1_total_and_splits_into_accepted_rejected_pending() -> (
    None
):
    frames = _settled()
    facilities = _by(frames["facilities"], "ma_cskcb")
    got = {
        k: tuple(r[c] for c in ("requested", "accepted", "rejected", "pending_amount"))
        for k, r in facilities.items()
    }
    assert got == {
        A: (D("1390"), D("590"), D("500"), D("300")),  # pending claims requested too
        B: (D("50"), D("0"), D("50"), D("0")),
    }
    # per claim, its rows add up to its XML1 total, split by its outcome
    claims = (
        frames["claims"]
        .group_by("ma_lk")
        .agg(
            pl.col(
                "claimed_bhtt", "accepted_bhtt", "rejected_amount", "pending_amount"
            ).sum()
        )
    )
    assert sorted(claims.rows()) == [
        ("LK1", D("1000"), D("500"), D("500"), D("0")),
        ("LK2", D("300"), D("0"), D("0"), D("300")),
        ("LK3", D("90"), D("90"), D("0"), D("0")),
        ("LK4", D("50"), D("0"), D("50"), D("0")),
    ]
    assert breaks(frames).height == 0


def test_quarantined_lines_are_rejected_lines_with_their_reason_issue12() -> None:
    """The issue's gap: the facility rejected more than its rejected lines showed (the
    quarantined lines' money was in the XML1 total, on no line). Now every quarantined
    money line is listed with its reason, and the part of the total no stored line
    carries is a line of its own: the rejected lines add up to the facility's."""
    frames = _settled()
    lines = frames["rejected_lines"]
    rows = _by(
        lines.filter(pl.col("ma_cskcb") == A), "ma_lk", "kind", "table", "line_no"
    )
    quarantined = rows["LK1", "quarantined", "XML2", 2]
    assert quarantined["refused_by"] == "LINE_DATE_OUTSIDE_STAY"
    assert "message of LINE_DATE_OUTSIDE_STAY" in quarantined["reasons"]
    assert quarantined["cost_group"] == UNALLOCATED
    assert (
        quarantined["claimed_bhtt"] == quarantined["rejected_amount"] == 0
    )  # not kept
    rest = rows["LK1", "claim_total", "XML1", None]
    assert (rest["claimed_bhtt"], rest["rejected_amount"]) == (D("400"), D("400"))
    assert rest["refused_by"] == "TOTAL_NOT_IN_LINES"
    # the lines ask more than claim 3's total: its rest is negative, its claim rejects 0
    capped = rows["LK3", "claim_total", "XML1", None]
    assert capped["rejected_amount"] == D("-10")
    assert rows["LK3", "line", "XML2", 1]["rejected_amount"] == D("10")
    # no line of a pending claim, no XML4 line, no line paid in full is listed
    assert set(lines["ma_lk"]) == {"LK1", "LK3", "LK4"}
    assert set(lines["table"]) == {"XML1", "XML2", "XML3"}
    per_facility = lines.group_by("ma_cskcb").agg(pl.col("rejected_amount").sum())
    rejected = frames["facilities"].select("ma_cskcb", "rejected")
    assert dict(per_facility.rows()) == dict(rejected.rows())
    claims = (
        frames["rejected_claims"]
        .group_by("ma_cskcb")
        .agg(pl.col("rejected_amount").sum())
    )
    assert dict(claims.rows()) == dict(rejected.rows())


def test_a_quarantined_line_counts_at_the_amount_validation_kept() -> None:
    kept = pl.DataFrame(
        [("f", 1, "XML2", 2, D("500"), D("400"))], schema=AMOUNTS_SCHEMA, orient="row"
    )
    frames = _settled(amounts=kept)
    lines = _by(frames["rejected_lines"], "ma_lk", "kind")
    assert lines["LK1", "quarantined"]["claimed_bhtt"] == D("400")
    assert lines["LK1", "quarantined"]["rejected_amount"] == D("400")
    assert ("LK1", "claim_total") not in lines  # the lines now carry the whole total
    groups = _by(frames["groups"], "ma_cskcb", "cost_group")
    assert groups[A, UNALLOCATED]["claimed_bh"] == D("500")
    assert breaks(frames).height == 0


def test_a_claim_pending_review_is_pending_on_every_line() -> None:
    frames = _settled()
    pending = frames["claims"].filter(pl.col("ma_lk") == "LK2")
    assert (pending["pending_amount"] == pending["claimed_bhtt"]).all()
    assert pending["accepted_bhtt"].sum() == pending["rejected_amount"].sum() == 0
    assert frames["pending"]["ma_lk"].to_list() == ["LK2"]
    groups = _by(frames["groups"], "ma_cskcb", "cost_group")
    assert groups[A, "exam"]["pending_amount"] == D("300")


def test_breaks_names_every_identity_a_tampered_frame_breaks() -> None:
    frames = _settled()
    tampered = dict(frames)
    tampered["rejected_lines"] = frames["rejected_lines"].filter(
        pl.col("kind") != "claim_total"
    )  # the issue's files: the quarantined money missing from the lines
    found = breaks(tampered)
    assert found["check"].to_list() == ["rejected_lines: Σ rejected_amount = rejected"]
    assert found["key"].to_list() == [A]
    assert found.row(0, named=True)["expected"] == "500.00"
    assert found.row(0, named=True)["found"] == "110.00"  # 100 + 10, the rest left out
    tampered = dict(frames)
    tampered["facilities"] = frames["facilities"].with_columns(pl.col("due") - 1)
    with pytest.raises(ReconciliationError, match="due − carried_forward"):
        reconcile(tampered)
    tampered = dict(frames)
    tampered["groups"] = frames["groups"].with_columns(pl.col("pending_amount") + 1)
    checks = set(breaks(tampered)["check"])
    assert (
        "groups: claimed_bhtt = accepted_bhtt + rejected_amount + pending_amount"
        in checks
    )
    assert "groups: Σ pending_amount = pending_amount" in checks


def test_an_advance_above_the_amount_due_is_carried_forward_never_negative_issue12() -> (
    None
):
    carried = pl.DataFrame(
        {"ma_cskcb": [A, B], "amount": [D("25"), D("-40")]},
        schema={"ma_cskcb": pl.String, "amount": MONEY},
    )
    frames = _settled(carried_in=carried)
    facilities = _by(frames["facilities"], "ma_cskcb")
    a, b = facilities[A], facilities[B]
    assert (a["advances"], a["carried_in"]) == (D("1025"), D("25"))
    assert (a["due"], a["carried_forward"], a["carried_to"]) == (
        D("0"),
        D("435"),
        "2026-11",
    )  # 1,025 advanced against 590 accepted
    assert (b["advances"], b["carried_in"], b["due"]) == (0, 0, 0)  # a debt is not
    assert (frames["facilities"]["due"] >= 0).all()
    assert breaks(frames).height == 0
    plain = _by(_settled()["facilities"], "ma_cskcb")
    assert (plain[A]["carried_in"], plain[A]["carried_forward"]) == (0, D("410"))


def test_the_settlement_id_names_the_advances_carried_in() -> None:
    carried = pl.DataFrame(
        {"ma_cskcb": [A], "amount": [D("25")]},
        schema={"ma_cskcb": pl.String, "amount": MONEY},
    )
    first = settle(DECISIONS, LINES, REASONS, ADVANCES, period=PERIOD)
    again = settle(DECISIONS, LINES, REASONS, ADVANCES, period=PERIOD)
    more = settle(
        DECISIONS, LINES, REASONS, ADVANCES, period=PERIOD, carried_in=carried
    )
    assert first.settlement_id == again.settlement_id
    assert more.settlement_id != first.settlement_id
