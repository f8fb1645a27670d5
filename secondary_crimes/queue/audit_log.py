"""The append-only audit trail: every page view, refusal, decision, login and bulk operation."""

from __future__ import annotations

import getpass
import os
import socket
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from secondary_crimes.queue.models import AuditEvent, User
from secondary_crimes.queue.names import MAX_USERNAME, login_name

CLIENT_ADDRESS = "client_address"
"""``Session.info`` key: the address of the web client whose request the session serves."""


def record(
    session: Session, user: User | None, action: str, target: str = "", *, username: str | None = None, **detail: Any
) -> AuditEvent:
    """Add one event to ``session`` (committed with the work it describes).

    Without ``user``, ``username`` is logged as :func:`login_name` spells it. The client address
    comes from the session (set for web requests by ``deps.open_session``).
    """
    event = AuditEvent(
        user_id=user.id if user else None,
        username=user.username if user else (login_name(username)[:MAX_USERNAME] if username else None),
        address=session.info.get(CLIENT_ADDRESS),
        action=action,
        target=target[:512],
        detail=detail,
    )
    session.add(event)
    return event


def os_user() -> str:
    """Who runs this process (for CLI events)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid{os.getuid()}"


def record_cli(session: Session, action: str, target: str = "", **detail: Any) -> AuditEvent:
    """An event from the command line: logged as ``cli:<OS user>``, with the OS user and host."""
    user = os_user()
    return record(
        session, None, action, target, username=f"cli:{user}", os_user=user, host=socket.gethostname(), **detail
    )


def recent(session: Session, limit: int = 200, username: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if username:
        query = query.where(AuditEvent.username == login_name(username)[:MAX_USERNAME])
    return list(session.scalars(query))
