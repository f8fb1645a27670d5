"""Regression tests for the review queue's security fixes (issue 12), over HTTP with TestClient."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from secondary_crimes.queue.cli import queue_app
from secondary_crimes.queue.db import Database, migrate
from secondary_crimes.queue.models import AuditEvent, User

runner = CliRunner()


def audit(app, action: str) -> list[AuditEvent]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- 1. one spelling of a login name ------------------------------------------------------------


def test_lockout_counts_every_spelling_of_a_username(app, anon) -> None:
    for spelling in ("bob", "bob ", "bob  ", " BOB", "Bob\t"):
        assert anon.login(spelling, "guess-guess-guess").status_code == 401, spelling
    response = anon.login(" bob ")  # the right password, but the account is locked
    assert response.status_code == 429 and "Too many failed attempts" in response.text
    assert {event.username for event in audit(app, "login_failed")} == {"bob"}
    assert [event.username for event in audit(app, "login_locked")] == ["bob"]


def test_login_name_is_trimmed_and_case_folded(app, anon) -> None:
    response = anon.login("  ALICE ")
    assert response.status_code == 200 and response.url.path == "/queue"
    assert [event.username for event in audit(app, "login")] == ["alice"]


def test_existing_usernames_are_respelt_by_the_migration(sqlite_url: str) -> None:
    database = Database(sqlite_url, migrate_schema=False)
    try:
        migrate(database.engine, "0002_rule_flags")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (username, password_hash, role, active, created_at) "
                    "VALUES ('Carol ', 'x', 'auditor', 1, '2026-01-01 00:00:00')"
                )
            )
        migrate(database.engine)
        with database.session() as session:
            assert session.scalars(select(User.username)).all() == ["carol"]
    finally:
        database.dispose()


# --- 2. sessions end on the server --------------------------------------------------------------


def _copy_of_session(app, browser) -> TestClient:
    """A second client holding a copy of ``browser``'s session cookie (what a thief would have)."""
    thief = TestClient(app, base_url="http://testserver")
    thief.cookies.set("sc_session", browser.client.cookies["sc_session"])
    assert thief.get("/queue", follow_redirects=False).status_code == 200
    return thief


def test_logout_ends_every_copy_of_the_session(app, alice) -> None:
    with _copy_of_session(app, alice) as thief:
        alice.post("/logout", {})
        assert thief.get("/queue", follow_redirects=False).status_code == 303


def test_a_new_password_ends_every_session(app, alice, db_url: str) -> None:
    with _copy_of_session(app, alice) as thief:
        result = runner.invoke(queue_app, ["set-password", "ALICE", "--password", "a-new-password", "--db", db_url])
        assert result.exit_code == 0, result.output
        assert alice.get("/queue", follow_redirects=False).status_code == 303
        assert thief.get("/queue", follow_redirects=False).status_code == 303
    assert alice.login("alice", "a-new-password").url.path == "/queue"
    assert [event.target for event in audit(app, "set_password")] == ["alice"]


def test_deactivation_ends_every_session(app, alice, db_url: str) -> None:
    result = runner.invoke(queue_app, ["deactivate", "alice", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert alice.get("/queue", follow_redirects=False).status_code == 303
    assert alice.login("alice").status_code == 401
