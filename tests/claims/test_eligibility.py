"""Eligibility facts from the benefits catalog: level, percent, cover of the stay, exemption."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest

from catalogs.resolve import load_catalogs
from claims.eligibility import eligibility
from claims.errors import ReasonCode as R

BENEFITS = load_catalogs(ids=["benefits"])["benefits"].resolve()
SCHEMA = {
    "file_id": pl.String,
    "hoso_idx": pl.UInt32,
    "ma_the_bhyt": pl.String,
    "gt_the_tu": pl.String,
    "gt_the_den": pl.String,
    "ngay_vao": pl.Datetime("us"),
    "ngay_ra": pl.Datetime("us"),
    "ngay_mien_cct": pl.Datetime("us"),
    "ma_loai_kcb": pl.String,
}


def _claim(
    card: str,
    *,
    start: str = "20240101",
    end: str = "20241231",
    vao: datetime = datetime(2024, 8, 1, 8, 0),
    ra: datetime = datetime(2024, 8, 3, 10, 0),
    exempt: datetime | None = None,
    loai: str = "01",
) -> dict[str, object]:
    row = {"file_id": "f", "hoso_idx": 0, "ma_the_bhyt": card, "gt_the_tu": start}
    return row | {
        "gt_the_den": end,
        "ngay_vao": vao,
        "ngay_ra": ra,
        "ngay_mien_cct": exempt,
        "ma_loai_kcb": loai,
    }


def _one(**kwargs: object) -> dict[str, object]:
    frame = pl.DataFrame([_claim(**kwargs)], schema=SCHEMA, orient="row")  # type: ignore[arg-type]
    return eligibility(frame, BENEFITS).row(0, named=True)


@pytest.mark.parametrize(
    ("card", "level", "percent"),
    [
        ("TE1010123456789", 1, 100),
        ("CB2010123456789", 2, 100),
        ("HT3010123456789", 3, 95),
        ("DN4010123456789", 4, 80),
        ("QN5010123456789", 5, 100),
    ],
)
def test_object_code_gives_level_and_percent(
    card: str, level: int, percent: int
) -> None:
    row = _one(card=card)
    assert (row["benefit_level"], row["benefit_percent"]) == (level, Decimal(percent))
    assert row["eligibility_reason"] is None
    assert row["card_covers_stay"] is True


def test_the_near_poor_move_to_level_2_in_2026() -> None:
    before = _one(
        card="CN3010123456789",
        vao=datetime(2025, 12, 31, 9),
        ra=datetime(2025, 12, 31, 11),
        start="20250101",
        end="20261231",
    )
    after = _one(
        card="CN3010123456789",
        vao=datetime(2026, 1, 2, 9),
        ra=datetime(2026, 1, 2, 11),
        start="20250101",
        end="20261231",
    )
    assert (before["benefit_level"], before["benefit_percent"]) == (3, Decimal(95))
    assert before["eligibility_reason"] is None
    # the card still prints 3: from 2026 the catalog says level 2
    assert (after["benefit_level"], after["benefit_percent"]) == (2, Decimal(100))
    assert after["eligibility_reason"] == R.CARD_LEVEL_MISMATCH


def test_level_digit_must_agree_with_the_object_code() -> None:
    assert _one(card="DN3010123456789")["eligibility_reason"] == R.CARD_LEVEL_MISMATCH
    assert _one(card="ZZ4010123456789")["eligibility_reason"] == R.CARD_OBJECT_UNKNOWN


def test_cards_together_must_cover_the_whole_stay() -> None:
    exact = _one(card="DN4010123456789", start="20240801", end="20240803")
    assert exact["card_covers_stay"] is True
    late_start = _one(card="DN4010123456789", start="20240802", end="20241231")
    assert late_start["eligibility_reason"] == R.CARD_NOT_COVERING_STAY
    early_end = _one(card="DN4010123456789", start="20240101", end="20240802")
    assert early_end["card_covers_stay"] is False
    two_cards = _one(
        card="DN4010123456789;DN4010123456789",
        start="20240101;20240803",
        end="20240802;20241231",
    )
    assert two_cards["card_covers_stay"] is True


def test_exemption_applies_from_its_date() -> None:
    assert (
        _one(card="DN4010123456789", exempt=datetime(2024, 8, 1))["copay_exempt"]
        is True
    )
    assert (
        _one(card="DN4010123456789", exempt=datetime(2024, 8, 2))["copay_exempt"]
        is False
    )
    assert _one(card="DN4010123456789")["copay_exempt"] is False


def test_an_inpatient_card_ending_during_the_stay_pays_15_days_past_its_end() -> None:
    """NĐ 146/2018 art. 27.9: the stay is paid until discharge, at most 15 days past the
    card's end; an inpatient card starting during the stay pays from its start."""
    ends = _one(
        card="DN4010123456789",
        end="20240802",
        loai="03",
        ra=datetime(2024, 8, 30, 10),
    )
    assert ends["card_covers_stay"] is False
    assert ends["eligibility_reason"] is None
    # 2024-08-02 + 15 days = 2024-08-17
    assert (ends["cover_from"], ends["cover_to"]) == (
        date(2024, 1, 1),
        date(2024, 8, 17),
    )
    starts = _one(card="DN4010123456789", start="20240802", loai="03")
    assert starts["eligibility_reason"] is None
    assert starts["cover_from"] == date(2024, 8, 2)
    # a card that ended before admission covers no day of the stay
    before = _one(card="DN4010123456789", end="20240731", loai="03")
    assert before["eligibility_reason"] == R.CARD_NOT_COVERING_STAY
    # an outpatient visit gets no grace: the whole visit must be covered
    outpatient = _one(card="DN4010123456789", end="20240802")
    assert outpatient["eligibility_reason"] == R.CARD_NOT_COVERING_STAY
