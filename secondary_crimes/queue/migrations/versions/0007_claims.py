"""claims: auditors hold incidents for a while so two people do not start on the same ones.

Revision ID: 0007_claims
Revises: 0006_one_review_per_decision
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_claims"
down_revision = "0006_one_review_per_decision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_pk", sa.Integer(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("assigned_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("uq_claims_incident_pk", "claims", ["incident_pk"], unique=True)
    op.create_index("ix_claims_user_expires", "claims", ["user_id", "expires_at"])


def downgrade() -> None:
    op.drop_table("claims")
