"""corrections: auditors' corrections of the model, append-only; incidents.correction_version.

Revision ID: 0008_corrections
Revises: 0007_claims
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_corrections"
down_revision = "0007_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite keeps the table (and the flags' foreign keys) as it is.
    op.add_column("incidents", sa.Column("correction_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_pk", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=True),
        sa.Column("person", sa.Integer(), nullable=True),
        sa.Column("offence", sa.String(64), nullable=True),
        sa.Column("field", sa.String(32), nullable=True),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("end", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("incident_version", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_corrections_incident_pk", "corrections", ["incident_pk"])
    op.create_index("ix_corrections_user_id", "corrections", ["user_id"])
    # Append-only in the database itself, like decisions (0001, 0005).
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER corrections_no_{verb.lower()} BEFORE {verb} ON corrections "
                "BEGIN SELECT RAISE(ABORT, 'corrections is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER corrections_append_only BEFORE UPDATE OR DELETE ON corrections "
            "FOR EACH ROW EXECUTE FUNCTION queue_append_only()"
        )
        op.execute(
            "CREATE TRIGGER corrections_no_truncate BEFORE TRUNCATE ON corrections "
            "FOR EACH STATEMENT EXECUTE FUNCTION queue_append_only()"
        )


def downgrade() -> None:
    op.drop_table("corrections")  # its triggers go with it
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("correction_version")
