"""Finance over HTTP (advances, a settlement, its post-audit, the ledger diff) and the
rules routes (pack versions, one rule, a dry run on stored claims)."""

from __future__ import annotations

from tests.api.conftest import Server
from tests.api.test_review_flow import _submit_all


def test_finance_settles_audits_and_records_advances(server: Server) -> None:
    _submit_all(server)
    facility = sorted(server.files)[0]
    with server.client("finance") as finance:
        paid = finance.post(
            "/advances",
            json={"facility": facility, "period": "2026-10", "amount": "1500000"},
        )
        assert paid.status_code == 201, paid.text
        listed = finance.get("/advances", params={"facility": facility}).json()
        assert [a["amount"] for a in listed["advances"]] == ["1500000.00"]
        first = finance.post("/settlements", json={"period": "2026-10"})
        assert first.status_code == 201, first.text
        for url in first.json()["files"].values():
            assert url.startswith(f"/settlements/{first.json()['id']}/files/")
        cancelled = finance.post(f"/advances/{paid.json()['advance_id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["settle_again"]
        advance = paid.json()["advance_id"]
        trail = finance.get("/events", params={"subject": f"advance:{advance}"})
        rows = trail.json()["events"]
        assert [e["action"] for e in rows] == ["advance.recorded", "advance.reversed"]
        assert {e["actor"] for e in rows} == {cancelled.json()["reversed_by"]}
        assert rows[1]["after"]["reversal_id"] == cancelled.json()["reversal_id"]
        second = finance.post("/settlements", json={"period": "2026-10"})
        assert second.json()["id"] != first.json()["id"]
        diff = finance.get(
            f"/settlements/{first.json()['id']}/diff/{second.json()['id']}"
        )
        assert diff.status_code == 200, diff.text
        pack = server_pack(finance)
        audited = finance.post("/audits", json={"period": "2026-10", "pack": pack})
        assert audited.status_code == 201, audited.text
        assert audited.json()["entries_posted"] == 0
        bad = finance.post("/settlements", json={"period": "2026-13"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"


def server_pack(http) -> str:
    packs = http.get("/rules").json()["packs"]
    released = [p for p in packs if p["status"] == "released"]
    return f"{released[-1]['id']}@{released[-1]['version']}"


def test_rules_are_listed_shown_and_dry_run_on_stored_claims(server: Server) -> None:
    _submit_all(server)
    with server.client("assessor") as http:
        listing = http.get("/rules").json()
        assert listing["in_force"]
        pack = listing["packs"][-1]
        rule_id = http.get(f"/rules/{pack['id']}/{pack['version']}/NO_SUCH").status_code
        assert rule_id == 404
        from claims.assess import load_packs

        some = next(p for p in load_packs() if p.spec.version == pack["version"])
        shown = http.get(
            f"/rules/{pack['id']}/{pack['version']}/{some.spec.rules[0].id}"
        )
        assert shown.status_code == 200
        assert shown.json()["expr"] == some.spec.rules[0].expr
        same = server_pack(http)
        dry = http.post("/rules/dry-run", json={"draft": same, "since": "2026-01-01"})
        assert dry.status_code == 200, dry.text
        assert dry.json()["claims"] > 0
        missing = http.post(
            "/rules/dry-run", json={"draft": "vn-bhyt@1999.01.0", "since": "2026-01-01"}
        )
        assert missing.status_code == 404
