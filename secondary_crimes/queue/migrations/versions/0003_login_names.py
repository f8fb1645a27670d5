"""Spell every existing login name the one way login does (NFKC, trimmed, case-folded).

Revision ID: 0003_login_names
Revises: 0002_rule_flags
Create Date: 2026-12-04
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0003_login_names"
down_revision = "0002_rule_flags"
branch_labels = None
depends_on = None


def _login_name(name: str) -> str:  # a copy of names.login_name as it was at this revision
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name or "").casefold()).strip()


def upgrade() -> None:
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    rows = bind.execute(sa.select(users.c.id, users.c.username)).all()
    spelt: dict[str, list[str]] = {}
    for _, username in rows:
        spelt.setdefault(_login_name(username), []).append(username)
    clashes = {name: names for name, names in spelt.items() if len(names) > 1}
    if clashes:
        raise RuntimeError(
            f"these accounts differ only in case or spaces: {clashes}; rename or deactivate all but one "
            "(UPDATE users SET username = ...) and start again"
        )
    for user_id, username in rows:
        if _login_name(username) != username:
            bind.execute(sa.update(users).where(users.c.id == user_id).values(username=_login_name(username)))


def downgrade() -> None:
    pass  # the old spellings are not kept
