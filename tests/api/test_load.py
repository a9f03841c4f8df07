"""100 concurrent submissions from 20 clinics to a real uvicorn: every claim is
stored exactly once and every clinic gets the receipt of its own file."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from datetime import date
from pathlib import Path

import httpx
import pytest

from claims.config import Settings
from claims.intake import read_submission
from tests.api.conftest import add_keys, run_server, sender_of

CLINICS, PER_CLINIC = 20, 5


@pytest.fixture(scope="module")
def clinic_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("load-day")
    summary = generate(
        root / "inbox",
        claims=2000,
        facilities=CLINICS,
        day=date(2026, 10, 15),
        days=7,
        seed=21,
        error_rate=0.1,
        fmt="xml",
    )
    files: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(summary.files):
        files[sender_of(path)].append(path)
    chosen = {f: paths[:PER_CLINIC] for f, paths in files.items()}
    assert len(chosen) == CLINICS
    assert all(len(p) == PER_CLINIC for p in chosen.values())
    return chosen


async def _send_all(
    url: str, keys: dict[str, str], files: dict[str, list[Path]]
) -> list[tuple[str, Path, httpx.Response]]:
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:

        async def send(facility: str, path: Path) -> tuple[str, Path, httpx.Response]:
            answer = await http.post(
                "/submissions",
                content=path.read_bytes(),
                headers={
                    "Authorization": f"Bearer {keys[f'clinic:{facility}']}",
                    "Content-Type": "application/xml",
                },
            )
            return facility, path, answer

        return await asyncio.gather(
            *(send(f, p) for f, paths in files.items() for p in paths)
        )


def test_concurrent_submissions_are_each_stored_once_with_their_receipt(
    tmp_path: Path, clinic_files: dict[str, list[Path]]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", lock_wait=60)
    keys = add_keys(settings, sorted(clinic_files))
    for url in run_server(settings):
        sent = asyncio.run(_send_all(url, keys, clinic_files))
        assert [a.status_code for _, _, a in sent] == [202] * CLINICS * PER_CLINIC
        assert len({a.json()["id"] for _, _, a in sent}) == CLINICS * PER_CLINIC
        receipts = _wait_all(url, keys, sent)
    stored_total = 0
    for (facility, path, _), receipt in zip(sent, receipts, strict=True):
        body = path.read_bytes()
        assert receipt["file_id"] == hashlib.sha256(body).hexdigest()
        assert receipt["ma_cskcb"] == facility
        read = read_submission(path, max_bytes=1 << 30)
        sent_keys = sorted(read.tables["XML1"]["ma_lk"].to_list())
        assert sorted(c["ma_lk"] for c in receipt["claims"]) == sent_keys
        stored_total += sum(c["trang_thai"] != "rejected" for c in receipt["claims"])
    import duckdb

    with duckdb.connect(str(settings.store_path), read_only=True) as con:
        rows, keys_stored = con.execute(
            "SELECT count(*), count(DISTINCT (ma_cskcb, ma_lk)) FROM claims"
        ).fetchone()
    assert rows == keys_stored == stored_total


def _wait_all(
    url: str, keys: dict[str, str], sent: list[tuple[str, Path, httpx.Response]]
) -> list[dict]:
    import time

    deadline = time.monotonic() + 600
    out: list[dict] = []
    for facility, _, answer in sent:
        headers = {"Authorization": f"Bearer {keys[f'clinic:{facility}']}"}
        while True:
            got = httpx.get(
                f"{url}/submissions/{answer.json()['id']}", headers=headers
            ).json()
            if got["status"] in ("assessed", "failed"):
                assert got["status"] == "assessed", got
                out.append(got["receipt"])
                break
            assert time.monotonic() < deadline, "not assessed in 600 s"
            time.sleep(0.5)
    return out
