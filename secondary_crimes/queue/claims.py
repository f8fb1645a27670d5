"""Work allocation: an auditor claims the top open incidents (or a supervisor assigns them); claims expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Exists, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.models import Claim, Flag, Incident, User, utcnow

DEFAULT_MINUTES = 120
MAX_BATCH = 100


class ClaimError(ValueError):
    """A claim or an assignment that cannot be made as asked."""


@dataclass(frozen=True)
class Hold:
    """Who holds an incident, until when."""

    username: str
    expires_at: datetime


def live(now: datetime | None = None) -> ColumnElement[bool]:
    """Condition: the claim has not expired."""
    return Claim.expires_at > (now or utcnow())


def held_by_others(user_id: int, now: datetime | None = None) -> Exists:
    """Condition on an incident row: someone else holds a live claim on it."""
    return exists().where(Claim.incident_pk == Incident.id, Claim.user_id != user_id, live(now))


def held_by(user_id: int, now: datetime | None = None) -> Exists:
    """Condition on an incident row: ``user_id`` holds a live claim on it."""
    return exists().where(Claim.incident_pk == Incident.id, Claim.user_id == user_id, live(now))


def _has_open_flag() -> Exists:
    return exists().where(Flag.incident_pk == Incident.id, Flag.status == "open", Flag.active.is_(True))


def claim(
    session: Session, holder: User, count: int, minutes: int, *, by: User | None = None, now: datetime | None = None
) -> list[str]:
    """Claim for ``holder`` the ``count`` top open incidents nobody else holds (the caller commits).

    A race lost at the unique index skips that incident and takes the next one. Returns the ids.
    """
    if not 1 <= count <= MAX_BATCH:
        raise ClaimError(f"claim between 1 and {MAX_BATCH} incidents")
    if not holder.active:
        raise ClaimError(f"{holder.username} is not an active account")
    now = now or utcnow()
    session.execute(delete(Claim).where(~live(now)).execution_options(synchronize_session=False))
    expires = now + timedelta(minutes=minutes)
    taken: list[str] = []
    candidates = session.execute(
        select(Incident.id, Incident.incident_id)
        .where(_has_open_flag(), ~exists().where(Claim.incident_pk == Incident.id))
        .order_by(Incident.review_priority.desc(), Incident.id)
        .limit(count * 2 + 10)
    ).all()
    for pk, incident_id in candidates:
        if len(taken) == count:
            break
        try:
            with session.begin_nested():
                session.add(
                    Claim(incident_pk=pk, user_id=holder.id, assigned_by=by.id if by else None,
                          claimed_at=now, expires_at=expires)
                )
        except IntegrityError:  # someone claimed it in the meantime
            continue
        taken.append(incident_id)
    audit_log.record(
        session, by or holder, "assign" if by else "claim", f"user:{holder.username}",
        incidents=taken, asked=count, expires_at=expires.isoformat(timespec="seconds"),
    )
    return taken


def release(session: Session, user: User) -> int:
    """Give back every claim ``user`` holds (the caller commits)."""
    released = session.execute(
        delete(Claim).where(Claim.user_id == user.id).execution_options(synchronize_session=False)
    ).rowcount
    audit_log.record(session, user, "release", f"user:{user.username}", claims=released)
    return released


def holds(session: Session, incident_pks: list[int], now: datetime | None = None) -> dict[int, Hold]:
    """The live claims on these incidents."""
    if not incident_pks:
        return {}
    rows = session.execute(
        select(Claim.incident_pk, User.username, Claim.expires_at)
        .join(User, User.id == Claim.user_id)
        .where(Claim.incident_pk.in_(incident_pks), live(now))
    )
    return {pk: Hold(name, expires) for pk, name, expires in rows}


def open_claimed(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Per user: open incidents they hold a live claim on."""
    rows = session.execute(
        select(User.username, func.count(Claim.id))
        .join(User, User.id == Claim.user_id)
        .join(Incident, Incident.id == Claim.incident_pk)
        .where(live(now), _has_open_flag())
        .group_by(User.username)
    )
    return dict(rows.all())
