"""series: courses of conduct decided once per series (append-only series_decisions); the person store.

The person store (link_incidents, link_people, link_parties, link_keys) lets a later scoring run's
incidents link to earlier runs' (secondary_crimes/link/store.py, docs/course_of_conduct.md).

Revision ID: 0009_series_and_person_store
Revises: 0008_corrections
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_series_and_person_store"
down_revision = "0008_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("series_id", sa.String(96), nullable=False, unique=True),
        sa.Column("incident_ids", sa.JSON(), nullable=False),
        sa.Column("first_reported_at", sa.DateTime(), nullable=True),
        sa.Column("last_reported_at", sa.DateTime(), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "series_flags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("series_pk", sa.Integer(), sa.ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
        sa.Column("offence", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("occasions", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("series_pk", "offence", name="uq_series_flags_series_offence"),
    )
    op.create_index("ix_series_flags_status_active", "series_flags", ["status", "active"])
    op.create_table(
        "series_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("series_flag_id", sa.Integer(), sa.ForeignKey("series_flags.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("offence", sa.String(64), nullable=True),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("flag_version", sa.Integer(), nullable=False),
        sa.Column("incident_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_series_decisions_flag_id", "series_decisions", ["series_flag_id"])
    op.create_index("ix_series_decisions_user_id", "series_decisions", ["user_id"])

    op.create_table(
        "link_incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.String(64), nullable=False, unique=True),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("series_id", sa.String(96), nullable=True),
        sa.Column("recorded_crimes", sa.JSON(), nullable=False),
        sa.Column("occasion", sa.JSON(), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_link_incidents_reported_at", "link_incidents", ["reported_at"])
    op.create_index("ix_link_incidents_series_id", "link_incidents", ["series_id"])
    op.create_table(
        "link_people",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.String(32), nullable=False, unique=True),
        sa.Column("first_seen", sa.DateTime(), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "link_parties",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_pk", sa.Integer(), sa.ForeignKey("link_incidents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("person_pk", sa.Integer(), sa.ForeignKey("link_people.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("forename", sa.String(64), nullable=False),
        sa.Column("surname", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("relation", sa.String(32), nullable=True),
        sa.Column("perpetrator", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.UniqueConstraint("incident_pk", "position", name="uq_link_parties_incident_position"),
    )
    op.create_index("ix_link_parties_person_pk", "link_parties", ["person_pk"])
    op.create_table(
        "link_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("incident_pk", sa.Integer(), sa.ForeignKey("link_incidents.id", ondelete="CASCADE"),
                  nullable=False),
    )
    op.create_index("uq_link_keys_key_incident", "link_keys", ["key_hash", "incident_pk"], unique=True)
    op.create_index("ix_link_keys_incident_pk", "link_keys", ["incident_pk"])

    # Series decisions are append-only in the database itself, like decisions (0001, 0005).
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER series_decisions_no_{verb.lower()} BEFORE {verb} ON series_decisions "
                "BEGIN SELECT RAISE(ABORT, 'series_decisions is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER series_decisions_append_only BEFORE UPDATE OR DELETE ON series_decisions "
            "FOR EACH ROW EXECUTE FUNCTION queue_append_only()"
        )
        op.execute(
            "CREATE TRIGGER series_decisions_no_truncate BEFORE TRUNCATE ON series_decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION queue_append_only()"
        )


def downgrade() -> None:
    for table in ("link_keys", "link_parties", "link_people", "link_incidents", "series_decisions", "series_flags",
                  "series"):
        op.drop_table(table)  # triggers go with their table
