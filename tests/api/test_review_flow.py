"""An assessor works the queue over HTTP: take, decide line by line, four eyes; the
decision is in the audit trail, in the claim's detail and in the next settlement; the
clinic contests and another assessor decides again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.api.conftest import Server, sender_of

XML = {"Content-Type": "application/xml"}


def _submit_all(server: Server) -> None:
    ids = {}
    for facility, path in sorted(server.files.items()):
        with server.client(f"clinic:{facility}") as http:
            sent = http.post("/submissions", content=path.read_bytes(), headers=XML)
            assert sent.status_code == 202
            ids[facility] = sent.json()["id"]
    for facility, sub_id in ids.items():
        assert (
            server.wait_assessed(f"clinic:{facility}", sub_id)["status"] == "assessed"
        )


def test_a_decision_reaches_the_trail_the_claim_and_the_settlement(
    make_server,
) -> None:
    server = make_server(review_four_eyes_amount=Decimal("1000000000"))
    _submit_all(server)
    with server.client("assessor") as assessor:
        queue = assessor.get("/review/queue", params={"month": "2026-10"}).json()
        assert queue["total"] >= 1
        money = [Decimal(c["money_at_risk"]) for c in queue["claims"]]
        assert money == sorted(money, reverse=True)
        held = queue["claims"][0]
        facility, ma_lk = held["ma_cskcb"], held["ma_lk"]
        route = f"/review/{facility}/{ma_lk}"
        assert assessor.post(f"{route}/take").status_code == 200
        with server.client("assessor2") as other:
            locked = other.post(
                f"{route}/decision", json={"lines": [], "justification": "đồng ý"}
            )
            assert locked.status_code == 409, locked.text
        detail = assessor.get(f"/claims/{facility}/{ma_lk}").json()
        line = detail["lines"][0]
        decided = assessor.post(
            f"{route}/decision",
            json={
                "lines": [
                    {"table": line["table"], "stt": line["stt"], "action": "reject"}
                ],
                "justification": "Dịch vụ không có chỉ định trong bệnh án",
            },
        )
        assert decided.status_code == 200, decided.text
        review_id = decided.json()["review_id"]
        after = assessor.get(f"/claims/{facility}/{ma_lk}").json()
        assert after["decision"]["review_id"] == review_id
        assert after["reviews"][0]["assessor"] == "assessor"
        gone = assessor.get("/review/queue").json()["claims"]
        assert (facility, ma_lk) not in {(c["ma_cskcb"], c["ma_lk"]) for c in gone}
    with server.client("finance") as finance:
        trail = finance.get("/events", params={"subject": f"claim:{facility}/{ma_lk}"})
        actions = [e["action"] for e in trail.json()["events"]]
        assert actions[-2:] == ["review.taken", "review.decided"]
        settled = finance.post("/settlements", json={"period": "2026-10"})
        assert settled.status_code == 201, settled.text
        files = finance.get(f"/settlements/{settled.json()['id']}").json()["files"]
        assert files
        name = next(n for n in files if n.endswith(".csv"))
        download = finance.get(f"/settlements/{settled.json()['id']}/files/{name}")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        posted = finance.get("/events", params={"action": "settlement.posted"})
        assert posted.json()["events"][-1]["actor"] == "finance"
    accept = {"table": line["table"], "stt": line["stt"], "action": "accept"}
    with server.client(f"clinic:{facility}") as clinic:
        contested = clinic.post(
            f"/claims/{facility}/{ma_lk}/contest",
            json={"reason": "Có chỉ định, bổ sung bệnh án"},
        )
        assert contested.status_code == 200, contested.text
    with server.client("assessor") as assessor:
        again = assessor.post(
            f"/review/{facility}/{ma_lk}/decision",
            json={"lines": [accept], "justification": "xem lại"},
        )
        assert again.status_code == 422  # the assessor of the contested review
    with server.client("assessor2") as other:
        redo = other.post(
            f"/review/{facility}/{ma_lk}/decision",
            json={"lines": [accept], "justification": "Chấp nhận sau khi bổ sung"},
        )
        assert redo.status_code == 200, redo.text


def test_a_large_cut_waits_for_a_second_assessor(make_server) -> None:
    server = make_server(review_four_eyes_amount=Decimal("0"))
    _submit_all(server)
    with server.client("assessor") as assessor:
        held = assessor.get("/review/queue").json()["claims"][0]
        facility, ma_lk = held["ma_cskcb"], held["ma_lk"]
        detail = assessor.get(f"/claims/{facility}/{ma_lk}").json()
        line = max(detail["lines"], key=lambda ln: Decimal(ln["accepted_bhtt"] or "0"))
        decided = assessor.post(
            f"/review/{facility}/{ma_lk}/decision",
            json={
                "lines": [
                    {"table": line["table"], "stt": line["stt"], "action": "reject"}
                ],
                "justification": "Không đúng chỉ định",
            },
        ).json()
        assert decided["state"] == "awaiting_approval"
        own = assessor.post(f"/review/approvals/{decided['review_id']}", json={})
        assert own.status_code == 422
    with server.client("assessor2") as other:
        approved = other.post(f"/review/approvals/{decided['review_id']}", json={})
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "approved"


@pytest.fixture(scope="module")
def anomalous_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A day large enough for anomaly scores (a tiny day scores every claim 0)."""
    from claims.synthetic import generate

    summary = generate(
        tmp_path_factory.mktemp("anomalous-day") / "inbox",
        claims=800,
        facilities=4,
        day=date(2026, 10, 15),
        seed=16,
        error_rate=0.05,
        anomaly_rate=0.03,
        fmt="xml",
    )
    return {sender_of(path): path for path in summary.files}


def test_a_receipt_shows_a_claim_held_by_its_risk(
    make_server, anomalous_files: dict[str, Path]
) -> None:
    server = make_server(review_risk_threshold=0.99)
    ids = {}
    for facility, path in sorted(anomalous_files.items()):
        with server.client(f"clinic:{facility}") as http:
            ids[facility] = http.post(
                "/submissions", content=path.read_bytes(), headers=XML
            ).json()["id"]
    # every file assessed before any receipt is read: a later run re-scores the month,
    # so a receipt read in between may name holds the month's final scores do not keep
    for facility, sub_id in ids.items():
        server.wait_assessed(f"clinic:{facility}", sub_id)
    held, payable = [], 0
    for facility, sub_id in ids.items():
        receipt = server.wait_assessed(f"clinic:{facility}", sub_id)["receipt"]
        for claim in receipt["claims"]:
            if claim["held_for_review"]:
                assert claim["status"] == "pending_review"
                assert claim["outcome"] in ("accepted", "partially_accepted")
                assert "RISK_HOLD" in claim["reason_codes_now"]
                held.append((facility, claim["ma_lk"]))
            payable += claim.get("outcome") in ("accepted", "partially_accepted")
    assert held, "the riskiest payable claims are held"
    assert len(held) < payable / 20
    facility, ma_lk = held[0]
    with server.client("assessor") as assessor:
        queued = assessor.get("/review/queue", params={"facility": facility}).json()
        assert ma_lk in {c["ma_lk"] for c in queued["claims"]}
