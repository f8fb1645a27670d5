"""Fixtures for the review-queue tests: the app over a loaded database, logged-in browsers.

The databases themselves (a SQLite file, a PostgreSQL schema per test run; ``db_url`` for both) are
in tests/conftest.py, shared with the person-store tests in tests/link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
PASSWORD = "correct-horse-battery"
USERS = {"alice": "auditor", "bob": "auditor", "sue": "supervisor", "ada": "admin"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2, with cheap parameters so the suite stays fast (test_auth checks the real ones)."""
    monkeypatch.setattr(auth, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


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
