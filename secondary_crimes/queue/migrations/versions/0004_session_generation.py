"""users.session_generation: sessions revocable on the server (logout, password change, deactivation).

Revision ID: 0004_session_generation
Revises: 0003_login_names
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_session_generation"
down_revision = "0003_login_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
