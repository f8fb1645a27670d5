"""Fixtures shared across test folders.

Databases (the queue and person-store tests): real SQLite files and a real PostgreSQL schema per
test run (``db_url`` runs a test on both). Scoring (tests/core, tests/engines, tests/link): the small
real baseline model of ``scoring_helpers`` (``model_dir``, ``bundle``). Settings: ``settings_env``."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from scoring_helpers import model_folder

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.queue.db import Database

PG_URL = os.environ.get("SECONDARY_CRIMES_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


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


TABLES = ("audit_log", "claims", "corrections", "reviews", "decisions", "flags", "incidents", "users",
          "series_decisions", "series_flags", "series", "link_keys", "link_parties", "link_people", "link_incidents")


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


@pytest.fixture(scope="module")
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the scoring tests' small real baseline (fitted once per machine, in pytest's cache)."""
    return model_folder(request, tmp_path_factory)


@pytest.fixture(scope="module")
def bundle(model_dir: Path) -> ModelBundle:
    """That baseline, loaded once per test module."""
    return ModelBundle.load(model_dir)


@pytest.fixture
def settings_env(monkeypatch) -> Iterator[Callable[..., None]]:
    """``settings_env(link_max_block_size=2)`` sets settings through their environment variables
    (``SECONDARY_CRIMES_<NAME>``) for this test; the settings are read afresh then and after it."""
    from secondary_crimes.settings import get_settings

    def set_settings(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"SECONDARY_CRIMES_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield set_settings
    get_settings.cache_clear()  # monkeypatch restores the environment; the next read sees it
