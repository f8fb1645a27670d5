"""Work allocation (issue 12.10): claim a batch, a supervisor assigns one, claims expire and hide rows."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from secondary_crimes.queue import auth, claims
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.load import load_file
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
    events = audit(app, "claim")
    assert [(e.username, e.detail["incidents"]) for e in events] == [("alice", ALL[:2]), ("bob", ALL[2:])]


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


def test_two_auditors_claiming_at_once_get_different_incidents(app, alice, bob) -> None:
    forms = [(who, {"csrf_token": who.csrf("/queue"), "count": 2}) for who in (alice, bob)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def claim(who, data) -> None:
        barrier.wait()
        statuses.append(who.client.post("/claims", data=data).status_code)

    threads = [threading.Thread(target=claim, args=form) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]
    holders = held(app)
    assert sorted(holders) == ALL and sorted(holders.values()) == ["alice", "alice", "bob", "bob"]


@pytest.mark.postgres
def test_a_claim_lost_to_a_race_takes_the_next_incident(postgres_url: str) -> None:
    """The unique index decides a race: the loser skips that incident and takes the next one.

    (PostgreSQL only: SQLite has one writer at a time, so its claims never interleave.)
    """
    database = Database(postgres_url)
    try:
        _race(database)
    finally:
        database.dispose()


def _race(database: Database) -> None:
    with database.session() as session:
        load_file(session, Path(__file__).parent / "data" / "scored_v1.jsonl")
        auth.create_user(session, "alice", "auditor", "long-enough-password")
        auth.create_user(session, "bob", "auditor", "long-enough-password")
    with database.session() as first, database.session() as second:
        alice = first.scalar(select(User).where(User.username == "alice"))
        bob = second.scalar(select(User).where(User.username == "bob"))
        real_add = second.add

        def racing_add(instance) -> None:  # alice's claim on the same incident commits first
            if isinstance(instance, Claim) and not first.info.get("raced"):
                first.info["raced"] = True
                claims.claim(first, alice, 1, 60)
                first.commit()
            real_add(instance)

        second.add = racing_add
        assert claims.claim(second, bob, 1, 60) == ["SC2400311"]
    assert held_in(database) == {"SC2400263": "alice", "SC2400311": "bob"}


def held_in(database) -> dict[str, str]:
    with database.session() as session:
        rows = session.execute(
            select(Incident.incident_id, User.username)
            .join(Claim, Claim.incident_pk == Incident.id)
            .join(User, User.id == Claim.user_id)
        )
        return dict(rows.all())
