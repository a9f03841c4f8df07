"""The submissions folder: the same bytes are one submission even when sent at once;
what waits and what a facility lists come from their markers."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from api.spool import Spool


def _upload(spool: Spool, body: bytes) -> Path:
    path = spool.upload_path()
    path.write_bytes(body)
    return path


def test_the_same_bytes_sent_at_once_are_one_submission(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    body = b"<GIAMDINHHS>same</GIAMDINHHS>"
    sha = hashlib.sha256(body).hexdigest()
    results: list[tuple[str, bool]] = []
    uploads = [_upload(spool, body) for _ in range(8)]

    def receive(path: Path) -> None:
        entry, created = spool.receive(
            path, sha256=sha, facility="01002", user_id="u", filename="a.xml",
            at="2026-11-02T08:00:00+00:00",
        )  # fmt: skip
        results.append((entry.id, created))

    threads = [threading.Thread(target=receive, args=(p,)) for p in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({sub_id for sub_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert not any(p.exists() for p in uploads)
    assert [e.id for e in spool.entries()] == [results[0][0]]
    spool.sweep()
    assert len(spool.entries()) == 1


def test_waiting_and_per_facility_listings_follow_the_status(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    made = []
    for n, facility in enumerate(["01002", "01002", "79001"]):
        body = f"<GIAMDINHHS>{n}</GIAMDINHHS>".encode()
        entry, _ = spool.receive(
            _upload(spool, body), sha256=hashlib.sha256(body).hexdigest(),
            facility=facility, user_id="u", filename="a.xml",
            at=f"2026-11-02T08:00:0{n}+00:00",
        )  # fmt: skip
        made.append(entry)
    assert [e.id for e in spool.pending()] == [e.id for e in made]
    assert [e.id for e in spool.entries(facility="01002")] == [e.id for e in made[:2]]
    assert spool.entries(facility="../01002") == []
    spool.update(made[0], status="assessed", updated_at="2026-11-02T09:00:00+00:00")
    assert [e.id for e in spool.pending()] == [e.id for e in made[1:]]
    assert spool.get(made[0].id).status == "assessed"
    assert spool.get("../../etc") is None
