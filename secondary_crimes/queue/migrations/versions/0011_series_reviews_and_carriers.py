"""series_reviews (supervisors' second checks of series decisions, append-only) and
series_flags.carried_by (the incidents that carry a series flag's offence: export's labels).

Existing series flags are filled with the one incident known to carry them (their ``incident_id``).

Revision ID: 0011_series_reviews_and_carriers
Revises: 0010_check_items
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_series_reviews_and_carriers"
down_revision = "0010_check_items"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite keeps the table (and series_decisions' foreign key to it) as it is.
    op.add_column("series_flags", sa.Column("carried_by", sa.JSON(), nullable=False, server_default="[]"))
    flags = sa.table("series_flags", sa.column("id", sa.Integer()), sa.column("incident_id", sa.String(64)),
                     sa.column("carried_by", sa.JSON()))
    bind = op.get_bind()
    for flag_id, incident_id in bind.execute(sa.select(flags.c.id, flags.c.incident_id)).all():
        bind.execute(flags.update().where(flags.c.id == flag_id).values(carried_by=[incident_id]))

    op.create_table(
        "series_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("series_decision_id", sa.Integer(), sa.ForeignKey("series_decisions.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("agree", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("uq_series_reviews_decision_id", "series_reviews", ["series_decision_id"], unique=True)
    # Append-only in the database itself, as series_decisions (0009).
    dialect = bind.dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER series_reviews_no_{verb.lower()} BEFORE {verb} ON series_reviews "
                "BEGIN SELECT RAISE(ABORT, 'series_reviews is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER series_reviews_append_only BEFORE UPDATE OR DELETE ON series_reviews "
            "FOR EACH ROW EXECUTE FUNCTION queue_append_only()"
        )
        op.execute(
            "CREATE TRIGGER series_reviews_no_truncate BEFORE TRUNCATE ON series_reviews "
            "FOR EACH STATEMENT EXECUTE FUNCTION queue_append_only()"
        )


def downgrade() -> None:
    op.drop_table("series_reviews")  # its triggers go with it
    with op.batch_alter_table("series_flags") as batch:
        batch.drop_column("carried_by")
