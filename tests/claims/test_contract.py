"""A claim from a facility without a contract valid at admission is rejected."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from catalogs.resolve import load_catalogs
from catalogs.schema import FACILITIES
from claims.errors import ReasonCode as R
from claims.intake import Submission, read_submission
from claims.validate.codes import load_code_lists
from claims.validate.tables import validate
from tests.catalogs.helpers import version
from tests.factories import example_claim, hoso, wrapper

ADMISSION = date(2025, 10, 6)  # the example claim's NGAY_VAO


def _facilities(
    contract_to: date | None,
    code: str = "01030",
    *,
    contract_from: date | None = date(2024, 1, 1),
    contract_no: str | None = "01/HĐ",
) -> pl.DataFrame:
    from datetime import datetime

    from catalogs.resolve import resolve

    row = dict.fromkeys(FACILITIES.names) | {
        "ma_cskcb": code,
        "ten": "Bệnh viện thử",
        "ma_tinh": "01",
        "tier": "district",
        "level_2025": "basic",
        "contract_no": contract_no,
        "contract_from": contract_from,
        "contract_to": contract_to,
    }
    rows = pl.DataFrame([row], schema=FACILITIES.polars_schema, orient="row")
    return resolve(
        [version("facilities", "2019-07-01", rows, recorded_at=datetime(2024, 1, 1))]
    )


def _statuses(tmp_path: Path, facilities: pl.DataFrame) -> tuple[str, set[str]]:
    path = tmp_path / "a.xml"
    path.write_bytes(wrapper([hoso(example_claim())]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    result = validate([sub], load_code_lists(), facilities)
    reasons = set(result.quarantine.filter(pl.col("table") == "XML1")["reason_code"])
    return result.claims["status"][0], reasons


@pytest.mark.parametrize(
    ("contract_to", "code", "status", "reason"),
    [
        (ADMISSION, "01030", "accepted", None),
        (date(2025, 10, 5), "01030", "rejected", R.NO_CONTRACT),
        (date(2030, 1, 1), "01999", "rejected", R.FACILITY_UNKNOWN),
    ],
)
def test_contract_is_checked_at_admission(
    tmp_path: Path, contract_to: date, code: str, status: str, reason: R | None
) -> None:
    got, reasons = _statuses(tmp_path, _facilities(contract_to, code))
    assert got == status
    assert reasons == ({reason.value} if reason else set())


def test_built_in_facilities_accept_the_example(tmp_path: Path) -> None:
    facilities = load_catalogs(ids=["facilities"])["facilities"].resolve()
    got, reasons = _statuses(tmp_path, facilities)
    assert (got, reasons) == ("accepted", set())


@pytest.mark.parametrize(
    ("contract_from", "status", "reason"),
    [
        (ADMISSION, "accepted", None),
        (date(2025, 10, 7), "rejected", R.NO_CONTRACT),
    ],
)
def test_contract_start_is_checked_at_admission(
    tmp_path: Path, contract_from: date, status: str, reason: R | None
) -> None:
    facilities = _facilities(date(2026, 12, 31), contract_from=contract_from)
    got, reasons = _statuses(tmp_path, facilities)
    assert got == status
    assert reasons == ({reason.value} if reason else set())


def test_a_known_facility_without_any_contract_is_rejected(tmp_path: Path) -> None:
    facilities = _facilities(None, contract_from=None, contract_no=None)
    assert _statuses(tmp_path, facilities) == ("rejected", {R.NO_CONTRACT.value})


def test_without_a_facilities_catalog_the_contract_is_not_checked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.xml"
    path.write_bytes(wrapper([hoso(example_claim())]))
    sub = read_submission(path, max_bytes=1 << 30)
    assert isinstance(sub, Submission)
    result = validate([sub], load_code_lists())
    assert result.claims["status"].to_list() == ["accepted"]


@pytest.mark.parametrize(
    ("renewed_on", "status"),
    [(ADMISSION, "accepted"), (date(2025, 10, 7), "rejected")],
)
def test_a_renewal_in_a_later_version_counts_from_its_effective_date(
    tmp_path: Path, renewed_on: date, status: str
) -> None:
    """The old contract ended 2025-09-30; the renewal's version decides from its date."""
    from datetime import datetime

    from catalogs.resolve import resolve

    def rows(start: date, end: date) -> pl.DataFrame:
        row = dict.fromkeys(FACILITIES.names) | {
            "ma_cskcb": "01030",
            "ten": "Bệnh viện thử",
            "ma_tinh": "01",
            "tier": "district",
            "level_2025": "basic",
            "contract_no": f"{start.year}/HĐ",
            "contract_from": start,
            "contract_to": end,
        }
        return pl.DataFrame([row], schema=FACILITIES.polars_schema, orient="row")

    at = datetime(2024, 1, 1)
    facilities = resolve(
        [
            version(
                "facilities",
                "2024-01-01",
                rows(date(2024, 1, 1), date(2025, 9, 30)),
                recorded_at=at,
            ),
            version(
                "facilities",
                renewed_on.isoformat(),
                rows(renewed_on, date(2026, 12, 31)),
                recorded_at=at,
            ),
        ]
    )
    got, reasons = _statuses(tmp_path, facilities)
    assert got == status
    assert reasons == (set() if status == "accepted" else {R.NO_CONTRACT.value})


def test_an_empty_contract_end_is_an_open_ended_contract(tmp_path: Path) -> None:
    assert _statuses(tmp_path, _facilities(None)) == ("accepted", set())
    later = _facilities(None, contract_from=date(2025, 10, 7))
    assert _statuses(tmp_path, later) == ("rejected", {R.NO_CONTRACT.value})
