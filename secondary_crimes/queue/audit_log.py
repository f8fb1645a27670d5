"""The append-only audit trail: every page view, decision, login and bulk operation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from secondary_crimes.queue.models import AuditEvent, User
from secondary_crimes.queue.names import MAX_USERNAME, login_name


def record(
    session: Session, user: User | None, action: str, target: str = "", *, username: str | None = None, **detail: Any
) -> AuditEvent:
    """Add one event to ``session`` (committed with the work it describes).

    Without ``user``, ``username`` is logged as :func:`login_name` spells it.
    """
    event = AuditEvent(
        user_id=user.id if user else None,
        username=user.username if user else (login_name(username)[:MAX_USERNAME] if username else None),
        action=action,
        target=target[:512],
        detail=detail,
    )
    session.add(event)
    return event


def recent(session: Session, limit: int = 200, username: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if username:
        query = query.where(AuditEvent.username == login_name(username)[:MAX_USERNAME])
    return list(session.scalars(query))
