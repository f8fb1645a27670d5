"""Work allocation (issue 12.10): claim a batch, a supervisor assigns one, claims expire and hide rows."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from secondary_crimes.queue.models import AuditEvent, Claim, Incident, User, utcnow

ROW = re.compile(r'<tr data-href="[^"]*" data-incident="([^"]+)" data-flags="[\d ]*">')
ALL = ["SC2400263", "SC2400311", "SC2400402", "SC2400517"]


def incidents(html: str) -> list[str]:
    return ROW.findall(html)


def held(app) -> dict[str, str]:
    with app.state.db.session() as session:
        rows = session.execute(
            select(Incident.incident_id, User.username)
            .join(Claim, Claim.incident_pk == Incident.id)
            .join(User, User.id == Claim.user_id)
        )
        return dict(rows.all())


def audit(app, action: str) -> list[AuditEvent]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_a_claimed_batch_is_hidden_from_the_others_next_list(app, alice, bob) -> None:
    response = alice.post("/claims", {"count": 2})
    assert response.url.path == "/queue" and response.url.query == b"mine=true"
    assert "You hold 2 incident(s)" in response.text and incidents(response.text) == ALL[:2]
    assert held(app) == {"SC2400263": "alice", "SC2400311": "alice"}
    assert incidents(alice.get("/queue").text) == ALL  # her own stay in her list, marked as hers
    assert "yours until" in alice.get("/queue").text
    assert incidents(bob.get("/queue").text) == ALL[2:]  # hidden from bob's open queue
    assert set(incidents(bob.get("/queue?status=all").text)) == set(ALL)  # still findable
    assert "alice until" in bob.get("/queue?status=all").text
    assert "Claimed by alice until" in bob.get("/incidents/SC2400263").text
    assert "Claimed by" not in alice.get("/incidents/SC2400263").text
    taken = bob.post("/claims", {"count": 5})
    assert "You hold 2 incident(s)" in taken.text and incidents(taken.text) == ALL[2:]  # never alice's
    assert incidents(bob.get("/queue").text) == ALL[2:] and incidents(alice.get("/queue").text) == ALL[:2]
    claims = audit(app, "claim")
    assert [(e.username, e.detail["incidents"]) for e in claims] == [("alice", ALL[:2]), ("bob", ALL[2:])]


def test_claims_expire(app, alice, bob) -> None:
    alice.post("/claims", {"count": 2})
    with app.state.db.session() as session:
        session.execute(update(Claim).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert incidents(bob.get("/queue").text) == ALL  # expired claims hide nothing
    taken = bob.post("/claims", {"count": 1})
    assert incidents(taken.text) == ["SC2400263"] and held(app) == {"SC2400263": "bob"}  # expired ones replaced


def test_claim_time_is_configurable(app, alice) -> None:
    app.state.claim_minutes = 15
    alice.post("/claims", {"count": 1})
    with app.state.db.session() as session:
        claim = session.scalar(select(Claim))
        assert timedelta(minutes=14) < claim.expires_at - claim.claimed_at <= timedelta(minutes=15)


def test_a_supervisor_assigns_a_batch(app, alice, bob, sue) -> None:
    response = sue.post("/claims/assign", {"count": 1, "username": "BOB"})
    assert response.status_code == 200 and "bob holds 1 incident(s)" in response.text
    assert held(app) == {"SC2400263": "bob"}
    assert incidents(bob.get("/queue?mine=true").text) == ["SC2400263"]
    assert "SC2400263" not in incidents(alice.get("/queue").text)
    [event] = audit(app, "assign")
    assert event.username == "sue" and event.target == "user:bob" and event.detail["incidents"] == ["SC2400263"]
    assert alice.post("/claims/assign", {"count": 1, "username": "alice"}).status_code == 403
    assert sue.post("/claims/assign", {"count": 1, "username": "nobody"}).status_code == 404


def test_release_and_validation(app, alice, bob) -> None:
    alice.post("/claims", {"count": 3})
    released = alice.post("/claims/release", {})
    assert "Released 3 claim(s)" in released.text and held(app) == {}
    assert incidents(bob.get("/queue").text) == ALL
    for count in (0, 101, "x"):
        assert alice.post("/claims", {"count": count}).status_code == 422, count
    assert alice.client.post("/claims", data={"count": 1, "csrf_token": "forged"}).status_code == 403
    assert held(app) == {}


def test_the_dashboard_counts_open_claimed_incidents(app, alice, sue) -> None:
    alice.post("/claims", {"count": 3})
    page = sue.get("/dashboard").text
    row = re.search(r'<tr data-auditor="alice">(.*?)</tr>', page, re.S)[1]
    assert '<td class="num open">3</td>' in row
