"""Keep each incident's recording-rule flags (late recording, victim's wishes given as the
reason, 'no crime' closing on a disclosed offence, ...) for the incident page.

Revision ID: 0002_rule_flags
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rule_flags"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("rule_flags", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("rule_flags")
