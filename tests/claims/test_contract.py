"""A claim from a facility without a contract valid at admission is rejected."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from catalogs.resolve import load_catalogs
from catalogs.schema import FACILITIES
from claims.codes import load_code_lists
from claims.errors import ReasonCode as R
from claims.ingest import Submission, read_submission
from claims.validate import validate
from tests.catalogs.helpers import version
from tests.factories import example_claim, hoso, wrapper

ADMISSION = date(2025, 10, 6)  # the example claim's NGAY_VAO


def _facilities(contract_to: date | None, code: str = "01030") -> pl.DataFrame:
    from datetime import datetime

    from catalogs.resolve import resolve

    row = dict.fromkeys(FACILITIES.names) | {
        "ma_cskcb": code,
        "ten": "Bệnh viện thử",
        "ma_tinh": "01",
        "tier": "district",
        "level_2025": "basic",
        "contract_no": "01/HĐ",
        "contract_from": date(2024, 1, 1),
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
