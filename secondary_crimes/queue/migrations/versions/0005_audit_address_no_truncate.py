"""audit_log.address (the web client's address); on PostgreSQL, TRUNCATE of the append-only tables fails.

Revision ID: 0005_audit_address_no_truncate
Revises: 0004_session_generation
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_address_no_truncate"
down_revision = "0004_session_generation"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "decisions")


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild), so SQLite keeps the append-only triggers; old rows get NULL.
    op.add_column("audit_log", sa.Column("address", sa.String(64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # row triggers (0001) do not see TRUNCATE
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION queue_append_only()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("address")
