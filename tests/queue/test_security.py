"""Regression tests for the review queue's security fixes (issue 12), over HTTP with TestClient."""

from __future__ import annotations

import getpass
import os
import re
import stat
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from secondary_crimes.queue import auth, decisions, lockout
from secondary_crimes.queue.app import create_app
from secondary_crimes.queue.cli import queue_app, serve
from secondary_crimes.queue.db import Database, migrate
from secondary_crimes.queue.export import export_file
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import AuditEvent, Decision, Flag, Review, User

runner = CliRunner()
SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct-horse-battery"


def login(client: TestClient, username: str, password: str = PASSWORD):
    token = CSRF.search(client.get("/login").text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def flag_id(app, incident: str, offence: str) -> int:
    with app.state.db.session() as session:
        return session.scalar(
            select(Flag.id).join(Flag.incident).where(Flag.offence == offence, Flag.incident.has(incident_id=incident))
        )


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


# --- 4. the audit trail -------------------------------------------------------------------------


def test_refused_requests_are_logged_with_the_client_address(app, alice, anon) -> None:
    assert alice.get("/audit").status_code == 403
    assert anon.client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    refused = [(e.username, e.target, e.address, e.detail["method"]) for e in audit(app, "refused")]
    assert refused == [("alice", "/audit", "testclient", "GET"), (None, "/logout", "testclient", "POST")]


def test_refused_history_is_logged_as_refused_not_as_a_view(app, alice, sue) -> None:
    assert alice.get("/history/BOB").status_code == 403
    assert "/history/BOB" not in [event.target for event in audit(app, "view")]
    assert [(e.username, e.target) for e in audit(app, "refused")] == [("alice", "/history/BOB")]
    assert sue.get("/history/bob").status_code == 200
    assert ("sue", "/history/bob") in [(e.username, e.target) for e in audit(app, "view")]


def test_the_audit_log_keeps_the_client_address(app) -> None:
    with TestClient(app, base_url="http://testserver", client=("203.0.113.7", 51000)) as client:
        assert login(client, "alice", "wrong-password-here").status_code == 401
        assert login(client, "alice").status_code == 200
    assert [e.address for e in audit(app, "login_failed")] == ["203.0.113.7"]
    assert [e.address for e in audit(app, "login")] == ["203.0.113.7"]


def test_cli_actions_name_the_os_user_and_absolute_paths(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scored.jsonl").write_bytes(SCORED_V1.read_bytes())
    monkeypatch.chdir(tmp_path)
    for args in (["load", "scored.jsonl"], ["export", "--out", "labels.jsonl"], ["create-user", "eve", "--no-prompt"]):
        result = runner.invoke(queue_app, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output
    database = Database(db_url)
    try:
        with database.session() as session:
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    finally:
        database.dispose()
    who = f"cli:{getpass.getuser()}".casefold()
    assert [(e.action, e.username, e.target) for e in events] == [
        ("load", who, str(tmp_path / "scored.jsonl")),
        ("export", who, str(tmp_path / "labels.jsonl")),
        ("create_user", who, "eve"),
    ]
    assert all(e.detail["os_user"] == getpass.getuser() and e.detail["host"] for e in events)


def test_an_existing_audit_log_gains_the_address_column_and_stays_append_only(sqlite_url: str) -> None:
    database = Database(sqlite_url, migrate_schema=False)
    try:
        migrate(database.engine, "0002_rule_flags")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_log (at, username, action, target, detail) "
                    "VALUES ('2026-01-01 00:00:00', 'cli', 'load', 'old.jsonl', '{}')"
                )
            )
        migrate(database.engine)
        with database.session() as session:
            assert session.execute(select(AuditEvent.target, AuditEvent.address)).all() == [("old.jsonl", None)]
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET address = 'forged'"))
    finally:
        database.dispose()


@pytest.mark.postgres
def test_truncate_of_the_append_only_tables_fails_on_postgres(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        for table in ("audit_log", "audit_log, decisions CASCADE", "flags CASCADE"):
            with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {table}"))
    finally:
        database.dispose()


# --- 3. login throttling --------------------------------------------------------------------------


def _client(app, address: str) -> TestClient:
    return TestClient(app, base_url="http://testserver", client=(address, 50000))


def test_lockout_is_per_account_and_address_and_an_admin_can_lift_it(app, db_url: str) -> None:
    with _client(app, "198.51.100.1") as guesser, _client(app, "198.51.100.2") as bobs_desk:
        for _ in range(5):
            assert login(guesser, "bob", "guess-guess-guess").status_code == 401
        assert login(guesser, "bob").status_code == 429  # locked for bob, from this address
        assert login(guesser, "alice").status_code == 200  # other accounts are not
        assert login(bobs_desk, "bob").status_code == 200  # nor is bob from elsewhere
        result = runner.invoke(queue_app, ["unlock", "Bob", "--db", db_url])
        assert result.exit_code == 0 and "unlocked 'bob'" in result.output
        assert login(guesser, "bob").status_code == 200
    assert [e.username for e in audit(app, "unlock")] == [f"cli:{getpass.getuser()}".casefold()]


def test_failed_logins_are_limited_per_address(app) -> None:
    with _client(app, "198.51.100.9") as sprayer, _client(app, "198.51.100.10") as neighbour:
        for number in range(lockout.ADDRESS_FAILURES):
            assert login(sprayer, f"user{number}", "guess-guess-guess").status_code == 401
        response = login(sprayer, "alice")  # the right password, from a throttled address
        assert response.status_code == 429 and "from your address" in response.text
        assert login(neighbour, "alice").status_code == 200
    assert [e.address for e in audit(app, "login_throttled")] == ["198.51.100.9"]


def test_many_addresses_guessing_one_account_leave_its_known_addresses_working(app) -> None:
    with _client(app, "192.0.2.50") as bobs_desk:
        assert login(bobs_desk, "bob").status_code == 200
    per_address = lockout.ACCOUNT_ADDRESS_FAILURES
    for index in range(-(-lockout.ACCOUNT_FAILURES // per_address)):
        with _client(app, f"203.0.113.{index}") as guesser:
            for _ in range(per_address):
                assert login(guesser, "bob", "guess-guess-guess").status_code == 401
    with _client(app, "203.0.113.200") as stranger:
        assert login(stranger, "bob").status_code == 429
    with _client(app, "192.0.2.50") as bobs_desk:
        assert login(bobs_desk, "bob").status_code == 200


def test_password_hashing_is_bounded(app, monkeypatch: pytest.MonkeyPatch) -> None:
    active, peak, lock = 0, 0, threading.Lock()
    real = auth.HASHER

    class SlowHasher:
        def __getattr__(self, name: str):
            return getattr(real, name)

        def verify(self, digest: str, password: str) -> bool:
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.05)
            with lock:
                active -= 1
            return real.verify(digest, password)

    monkeypatch.setattr(auth, "HASHER", SlowHasher())
    threads = [
        threading.Thread(target=auth.verify_password, args=(auth.hash_password("x" * 10), "y")) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= peak <= auth.HASH_SLOTS
    monkeypatch.setattr(auth, "HASH_WAIT", 0.01)
    for _ in range(auth.HASH_SLOTS):
        assert auth._hashing.acquire(timeout=1)
    try:
        with _client(app, "198.51.100.77") as client:
            response = login(client, "alice")
        assert response.status_code == 503 and "busy" in response.text
    finally:
        for _ in range(auth.HASH_SLOTS):
            auth._hashing.release()


# --- 6. one second check per decision -------------------------------------------------------------


def test_a_decision_is_second_checked_once(app, alice, sue, ada) -> None:
    target = flag_id(app, "SC2400402", "assault_with_injury")
    alice.post(f"/flags/{target}/decision", {"version": 0, "action": "record"})
    with app.state.db.session() as session:
        decision = session.scalar(select(Decision.id).where(Decision.flag_id == target))
    first = sue.post(f"/decisions/{decision}/review", {"agree": "yes"}, csrf_from="/supervisor")
    assert first.status_code == 200
    for who, agree in ((sue, "no"), (ada, "yes")):
        again = who.post(f"/decisions/{decision}/review", {"agree": agree}, csrf_from="/supervisor")
        assert again.status_code == 409 and "already second-checked by sue" in again.text
    with app.state.db.session() as session:
        assert session.scalars(select(Review.agree).where(Review.decision_id == decision)).all() == [True]
    assert [e.username for e in audit(app, "review_conflict")] == ["sue", "ada"]


def test_a_racing_second_check_is_refused_by_the_unique_index(database: Database, monkeypatch) -> None:
    with database.session() as session:
        load_file(session, SCORED_V1)
        alice, _ = auth.create_user(session, "alice", "auditor", PASSWORD)
        sue, _ = auth.create_user(session, "sue", "supervisor", PASSWORD)
        ada, _ = auth.create_user(session, "ada", "admin", PASSWORD)
        decision = decisions.decide(
            session, alice, session.scalars(select(Flag.id)).first(), version=0, action="record"
        )
        decisions.review(session, sue, decision.id, agree=True)
    real = decisions._review_of
    calls = iter([None])  # the check before the insert misses the other supervisor's review
    monkeypatch.setattr(decisions, "_review_of",
                        lambda session, checked, decision_id: next(calls, real(session, checked, decision_id)))
    with pytest.raises(decisions.AlreadyReviewed, match="by sue"), database.session() as session:
        decisions.review(session, session.get(User, ada.id), decision.id, agree=False)


# --- 7. bad dates, kept notes, a kept secret key --------------------------------------------------


def test_out_of_range_or_reversed_dates_are_a_bad_request_not_a_crash(alice) -> None:
    for query in ("date_to=9999-12-31", "date_from=0001-01-01", "date_from=2024-02-01&date_to=2024-01-01"):
        response = alice.get(f"/queue?{query}")
        assert response.status_code == 422 and "<html" in response.text, query


def _decision_form(page: str, flag: int) -> str:
    return re.search(rf'<form class="decide" method="post" action="/flags/{flag}/decision">.*?</form>', page, re.S)[0]


def test_a_failed_csrf_check_keeps_the_typed_decision(app, alice) -> None:
    target = flag_id(app, "SC2400311", "harassment")
    note = "Texts over 3 weeks <b>daily</b>: a course of conduct"
    form = {"version": 0, "action": "no_crime", "reason_code": "evidence_to_contrary", "note": note}
    response = alice.client.post(f"/flags/{target}/decision", data={**form, "csrf_token": "stale"})
    assert response.status_code == 403 and "NOT saved" in response.text
    kept = _decision_form(response.text, target)
    assert "Texts over 3 weeks &lt;b&gt;daily&lt;/b&gt;: a course of conduct</textarea>" in kept
    assert 'value="no_crime" checked' in kept and 'value="evidence_to_contrary" selected' in kept
    token = CSRF.search(kept).group(1)  # the re-rendered form carries a fresh token: saving it again works
    saved = alice.client.post(f"/flags/{target}/decision", data={**form, "csrf_token": token})
    assert saved.url.path == "/incidents/SC2400311"  # saved; its other flag is still open
    with app.state.db.session() as session:
        assert session.scalars(select(Decision.note)).all() == [note]
    assert [e.target for e in audit(app, "refused")] == [f"/flags/{target}/decision"]


def test_a_decision_posted_after_the_session_ended_shows_the_note(app, anon) -> None:
    response = anon.client.post("/flags/1/decision", data={"version": 0, "action": "record", "note": "my long note"})
    assert response.status_code == 403 and "NOT saved" in response.text
    assert "my long note</textarea>" in response.text and 'name="password"' in response.text


def test_a_conflict_keeps_the_typed_note(app, alice, bob) -> None:
    target = flag_id(app, "SC2400263", "common_assault")
    assert alice.post(f"/flags/{target}/decision", {"version": 0, "action": "record"}).status_code == 200
    form = {"version": 0, "action": "more_info", "note": "Ask the OIC about the bruising"}
    response = bob.post(f"/flags/{target}/decision", form)
    assert response.status_code == 409
    kept = _decision_form(response.text, target)
    assert "Ask the OIC about the bruising</textarea>" in kept and 'value="more_info" checked' in kept
    assert 'name="version" value="1"' in kept  # deciding again supersedes alice's on purpose


def test_a_generated_secret_key_is_kept_so_a_restart_keeps_sessions_and_forms(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECONDARY_CRIMES_QUEUE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SECONDARY_CRIMES_QUEUE_DATA_DIR", raising=False)
    first = create_app(sqlite_url, secure_cookies=False)
    with first.state.db.session() as session:
        load_file(session, SCORED_V1)
        auth.create_user(session, "alice", "auditor", PASSWORD)
    with TestClient(first, base_url="http://testserver") as client:
        login(client, "alice")
        cookie = client.cookies["sc_session"]
        token = CSRF.search(client.get("/queue").text).group(1)
    first.state.db.dispose()
    second = create_app(sqlite_url, secure_cookies=False)  # a restart
    try:
        with TestClient(second, base_url="http://testserver") as client:
            client.cookies.set("sc_session", cookie)
            data = {"csrf_token": token, "version": 0, "action": "more_info", "note": "typed before the restart"}
            assert client.post("/flags/1/decision", data=data).url.path.startswith("/incidents/")  # saved
    finally:
        second.state.db.dispose()
    key_file = Path(sqlite_url.removeprefix("sqlite:///")).parent / "queue_secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# --- 8. serving behind a TLS proxy; private files -------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What ``serve`` hands to uvicorn.run (which is not started)."""
    import uvicorn

    calls: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.update(app=app, **options))
    for name in ("SECURE_COOKIES", "HSTS", "TRUSTED_PROXIES", "SECRET_KEY"):
        monkeypatch.delenv(f"SECONDARY_CRIMES_QUEUE_{name}", raising=False)
    yield calls
    calls["app"].state.db.dispose()


def test_serve_trusts_forwarded_headers_only_when_configured(served: dict, sqlite_url: str) -> None:
    serve(sqlite_url, "127.0.0.1", 8000)
    assert served["proxy_headers"] is False
    with TestClient(served["app"], base_url="https://testserver") as client:
        response = client.get("/login")
        assert "secure" not in response.headers["set-cookie"].lower()
        assert "strict-transport-security" not in response.headers


def test_serve_behind_a_tls_proxy(served: dict, sqlite_url: str) -> None:
    args = ["serve", "--db", sqlite_url, "--secure-cookies", "--hsts", "--trusted-proxies", "127.0.0.1"]
    result = runner.invoke(queue_app, args)
    assert result.exit_code == 0, result.output
    assert served["host"] == "127.0.0.1" and served["proxy_headers"] is True
    assert served["forwarded_allow_ips"] == "127.0.0.1"
    with TestClient(served["app"], base_url="https://testserver") as client:
        response = client.get("/login")
        assert "; secure" in response.headers["set-cookie"].lower()
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_serve_reads_the_proxy_settings_from_the_environment(
    served: dict, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECONDARY_CRIMES_QUEUE_SECURE_COOKIES", "true")
    monkeypatch.setenv("SECONDARY_CRIMES_QUEUE_TRUSTED_PROXIES", "10.0.0.5")
    serve(sqlite_url, "127.0.0.1", 8000)
    assert served["proxy_headers"] is True and served["forwarded_allow_ips"] == "10.0.0.5"
    with TestClient(served["app"], base_url="https://testserver") as client:
        assert "strict-transport-security" in client.get("/login").headers


def test_the_sqlite_file_and_exported_labels_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
        try:
            with database.session() as session:
                load_file(session, SCORED_V1)
                export_file(session, tmp_path / "labels.jsonl")
        finally:
            database.dispose()
    finally:
        os.umask(old)
    files = sorted(path.name for path in tmp_path.iterdir())
    assert "queue.db" in files and "labels.jsonl" in files
    assert {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in files} == dict.fromkeys(files, 0o600)


# --- 5. scored records checked at load: ids in links ----------------------------------------------


def test_incident_ids_are_percent_encoded_in_links(app, alice, tmp_path: Path) -> None:
    import json

    record = json.loads(SCORED_V1.read_text(encoding="utf-8").splitlines()[0])
    record["incident_id"] = "SC/24 #7?x=1&y"
    path = tmp_path / "odd_id.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with app.state.db.session() as session:
        load_file(session, path)
    page = alice.get("/queue").text
    link = "/incidents/SC%2F24%20%237%3Fx%3D1%26y?back="
    assert f'href="{link}' in page
    href = re.search(rf'href="({re.escape(link)}[^"]*)"', page).group(1).replace("&amp;", "&")
    incident = alice.get(href)
    assert incident.status_code == 200 and "<h1>SC/24 #7?x=1&amp;y</h1>" in incident.text
