"""The schema: migrations match the models, run twice safely, and keep the audit trail append-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from secondary_crimes.queue import auth, decisions
from secondary_crimes.queue.db import Database, migrate
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import AuditEvent, Base, Flag

SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"


def test_migrations_match_models_and_are_idempotent(database: Database) -> None:
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    migrate(database.engine)  # a second upgrade is a no-op
    tables = set(inspect(database.engine).get_table_names())
    assert {"users", "incidents", "flags", "decisions", "reviews", "audit_log", "alembic_version"} <= tables
    indexed = {tuple(ix["column_names"]) for ix in inspect(database.engine).get_indexes("flags")}
    assert ("status", "active") in indexed and ("offence",) in indexed and ("model_version",) in indexed


def test_audit_log_is_append_only_in_the_database(database: Database) -> None:
    with database.session() as session:
        load_file(session, SCORED_V1)
        user, _ = auth.create_user(session, "alice", "auditor", "a-long-password")
    with database.session() as session:
        flag_id = session.scalars(select(Flag.id)).first()
        decisions.decide(session, user, flag_id, version=0, action="more_info", note="ask the OIC")
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(update(AuditEvent).values(action="forged"))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(delete(AuditEvent))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("DELETE FROM decisions"))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text("UPDATE decisions SET note = 'rewritten'"))
    with pytest.raises(PermissionError), database.session() as session:
        event = session.scalars(select(AuditEvent)).first()
        session.delete(event)
        session.flush()
    with database.engine.connect() as connection:
        actions = connection.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars().all()
        assert actions == ["load", "create_user", "decide"]
        assert connection.execute(text("SELECT note FROM decisions")).scalars().all() == ["ask the OIC"]
