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
            "accepted",
            "partially_accepted",
            "pending_review",
            "rejected",
        }
        again = http.post(
            "/submissions", content=body, headers={"Content-Type": "application/xml"}
        )
        assert again.status_code == 200
        assert again.json()["id"] == sub_id


def test_a_claim_is_shown_as_json_and_as_a_fhir_claim_response(
    server: Server,
) -> None:
    from fhir.resources.R4B.claimresponse import ClaimResponse

    facility, path = next(iter(sorted(server.files.items())))
    who = f"clinic:{facility}"
    with server.client(who) as http:
        sent = http.post(
            "/submissions",
            files={"file": (path.name, path.read_bytes(), "application/xml")},
        )
        assert sent.status_code == 202, sent.text
        done = server.wait_assessed(who, sent.json()["id"])
        assert done["filename"] == path.name
        decided = [
            c for c in done["receipt"]["claims"] if c["trang_thai"] != "rejected"
        ]
        claim = decided[0]
        detail = http.get(f"/claims/{facility}/{claim['ma_lk']}").json()
        assert detail["ma_lk"] == claim["ma_lk"]
        assert detail["decision"]["outcome"] == claim["outcome"]
        fhir = http.get(f"/claims/{facility}/{claim['ma_lk']}/fhir")
        assert fhir.headers["content-type"].startswith("application/fhir+json")
        parsed = ClaimResponse.model_validate_json(fhir.text)
        benefit = [t for t in parsed.total if t.category.coding[0].code == "benefit"]
        assert str(benefit[0].amount.value) == claim["accepted"]["t_bhtt"]


def test_self_check_answers_what_giamdinh_check_answers(
    server: Server, reference, tmp_path
) -> None:
    from claims.pipeline.selfcheck import check_files

    facility, path = next(iter(sorted(server.files.items())))
    with server.client(f"clinic:{facility}") as http:
        got = http.post(
            "/self-check",
            files={"file": (path.name, path.read_bytes(), "application/xml")},
        )
    assert got.status_code == 200, got.text
    expected, readable = check_files([path], reference, None, server.settings)
    assert got.json() == {"readable": readable, "claims": expected}
    assert not (server.settings.data_dir / "processed").exists()
