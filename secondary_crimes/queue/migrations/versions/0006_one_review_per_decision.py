"""One second check per decision: a unique index on reviews.decision_id.

Revision ID: 0006_one_review_per_decision
Revises: 0005_audit_address_no_truncate
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_one_review_per_decision"
down_revision = "0005_audit_address_no_truncate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    repeated = (
        op.get_bind()
        .execute(sa.text("SELECT decision_id FROM reviews GROUP BY decision_id HAVING COUNT(*) > 1 ORDER BY 1"))
        .scalars()
        .all()
    )
    if repeated:
        raise RuntimeError(
            f"decisions {repeated} were second-checked more than once (before this was refused); keep one "
            "review per decision (the audit log has them all: action 'review') and start again"
        )
    op.drop_index("ix_reviews_decision_id", table_name="reviews")
    op.create_index("uq_reviews_decision_id", "reviews", ["decision_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_reviews_decision_id", table_name="reviews")
    op.create_index("ix_reviews_decision_id", "reviews", ["decision_id"])
