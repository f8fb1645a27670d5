"""Fixtures for the review-queue tests: real SQLite files and a real PostgreSQL schema per test."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from secondary_crimes.queue import auth
from secondary_crimes.queue.app import create_app
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.load import load_file

DATA = Path(__file__).parent / "data"
SCORED_V1 = DATA / "scored_v1.jsonl"
SCORED_V2 = DATA / "scored_v2.jsonl"
PG_URL = os.environ.get("SECONDARY_CRIMES_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-battery"
USERS = {"alice": "auditor", "bob": "auditor", "sue": "supervisor", "ada": "admin"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, with cheap parameters so the suite stays fast (test_auth checks the real ones)."""
    monkeypatch.setattr(auth, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as error:
        return f"{type(error).__name__}: {error}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL at {PG_URL} is unreachable ({problem})"
        if IN_CI:
            pytest.fail(message + "; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(message)
    return PG_URL


TABLES = ("audit_log", "claims", "corrections", "reviews", "decisions", "flags", "incidents", "users")


@pytest.fixture(scope="session")
def postgres_schema(postgres_server: str) -> Iterator[str]:
    """This test run's own schema, migrated from scratch once, dropped at the end."""
    schema = f"sc_test_{uuid.uuid4().hex[:12]}"
    raw = postgres_server.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_server}?options=-csearch_path%3D{schema}"
    try:
        Database(url).dispose()  # runs the Alembic migrations
        yield url
    finally:
        with psycopg.connect(raw, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_url(postgres_schema: str) -> str:
    """The run's schema, emptied for this test.

    The append-only tables refuse TRUNCATE (a trigger); as a replica session (superuser only)
    the triggers do not fire.
    """
    schema = postgres_schema.rsplit("%3D", 1)[1]
    with psycopg.connect(
        PG_URL.replace("+psycopg", ""), autocommit=True, options=f"-csearch_path={schema} -clock_timeout=10000"
    ) as connection:
        connection.execute("SET session_replication_role = replica")
        connection.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return postgres_schema


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file; on tmpfs when there is one (the same SQLite, minus slow-disk fsyncs)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        directory = Path(tempfile.mkdtemp(prefix="queue-test-", dir=shm))
        try:
            yield f"sqlite:///{directory / 'queue.db'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    else:
        yield f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


@dataclass
class Browser:
    """A logged-in (or not) HTTP client against the real app."""

    client: TestClient

    def csrf(self, path: str = "/login") -> str:
        match = CSRF.search(self.client.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD):
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": self.csrf(), "next": "/queue"}
        )

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict, *, csrf_from: str = "/queue", **kwargs):
        return self.client.post(path, data={"csrf_token": self.csrf(csrf_from), **data}, **kwargs)


@pytest.fixture
def app(db_url: str):
    """The real app over a database loaded with scored_v1 and four users."""
    application = create_app(db_url, secret_key="test-secret-" + "x" * 32, secure_cookies=False)
    with application.state.db.session() as session:
        load_file(session, SCORED_V1)
        for username, role in USERS.items():
            auth.create_user(session, username, role, PASSWORD)
    yield application
    application.state.db.dispose()


@pytest.fixture
def anon(app) -> Iterator[Browser]:
    with TestClient(app, base_url="http://testserver") as client:
        yield Browser(client)


def _logged_in(app, username: str) -> Iterator[Browser]:
    with TestClient(app, base_url="http://testserver") as client:
        browser = Browser(client)
        response = browser.login(username)
        assert response.status_code == 200 and response.url.path == "/queue", response.text[:500]
        yield browser


@pytest.fixture
def alice(app) -> Iterator[Browser]:
    yield from _logged_in(app, "alice")


@pytest.fixture
def bob(app) -> Iterator[Browser]:
    yield from _logged_in(app, "bob")


@pytest.fixture
def sue(app) -> Iterator[Browser]:
    yield from _logged_in(app, "sue")


@pytest.fixture
def ada(app) -> Iterator[Browser]:
    yield from _logged_in(app, "ada")
