"""check items: flags.kind ("flag" or "check"), check_reason and inclusion_probability (issue 13).

A check item is a row of ``flags`` (so auditors decide it, claim it and second-check it like a flag)
for an incident the model did not flag, sampled at load (secondary_crimes/queue/checks.py).

Revision ID: 0010_check_items
Revises: 0009_series_and_person_store
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_check_items"
down_revision = "0009_series_and_person_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite keeps the table (and the decisions' foreign keys to it) as it is.
    op.add_column("flags", sa.Column("kind", sa.String(16), nullable=False, server_default="flag"))
    op.add_column("flags", sa.Column("check_reason", sa.String(16), nullable=True))
    op.add_column("flags", sa.Column("inclusion_probability", sa.Float(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM flags WHERE kind = 'check' AND id NOT IN (SELECT flag_id FROM decisions)")
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("inclusion_probability")
        batch.drop_column("check_reason")
        batch.drop_column("kind")
