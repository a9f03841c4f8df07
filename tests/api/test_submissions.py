"""Clinics submit files over HTTP to a real server and read their receipts."""

from __future__ import annotations

from tests.api.conftest import Server


def test_a_submission_is_assessed_and_its_receipt_lists_every_claim(
    server: Server,
) -> None:
    facility, path = next(iter(sorted(server.files.items())))
    body = path.read_bytes()
    with server.client(f"clinic:{facility}") as http:
        first = http.post(
            "/submissions", content=body, headers={"Content-Type": "application/xml"}
        )
        assert first.status_code == 202, first.text
        sub_id = first.json()["id"]
        assert first.json()["status"] in ("received", "processing", "assessed")
        done = server.wait_assessed(f"clinic:{facility}", sub_id)
        assert done["status"] == "assessed"
        receipt = done["receipt"]
        hoso = body.count(b"<HOSO>")
        assert len(receipt["claims"]) == hoso
        assert {c["status"] for c in receipt["claims"]} <= {
            "accepted", "partially_accepted", "pending_review", "rejected"
        }
        again = http.post(
            "/submissions", content=body, headers={"Content-Type": "application/xml"}
        )
        assert again.status_code == 200
        assert again.json()["id"] == sub_id
