"""The progress dashboard's figures: work per auditor and per offence, confirmation and agreement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Subquery, and_, case, func, select
from sqlalchemy.orm import Session

from secondary_crimes.queue import claims
from secondary_crimes.queue.models import DECIDED, Decision, Flag, Review, User


@dataclass
class AuditorRow:
    username: str
    decided: int  # flags whose current decision is theirs and final (recorded / no crime)
    more_info: int  # flags whose current decision is theirs: more information
    decisions: int  # every decision they made, superseded ones included
    open_claimed: int = 0  # open incidents they hold a live claim on


@dataclass
class OffenceRow:
    offence: str
    open: int
    more_info: int
    decided: int
    confirmed: int  # recorded as the offence flagged
    recorded_other: int  # recorded, as another offence
    no_crime: int

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmed / decided: the model's precision on this offence as auditors see it."""
        return self.confirmed / self.decided if self.decided else None


@dataclass
class Agreement:
    username: str
    checked: int
    agreed: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.checked if self.checked else None


def _latest() -> Subquery:
    """Each flag's current (latest) decision id."""
    return select(func.max(Decision.id).label("id")).group_by(Decision.flag_id).subquery()


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def by_auditor(session: Session) -> list[AuditorRow]:
    latest = _latest()
    current = {
        name: (int(decided or 0), int(more or 0))
        for name, decided, more in session.execute(
            select(User.username, _count(Flag.status.in_(DECIDED)), _count(Flag.status == "more_info"))
            .select_from(Decision)
            .join(latest, latest.c.id == Decision.id)
            .join(Flag, Flag.id == Decision.flag_id)
            .join(User, User.id == Decision.user_id)
            .group_by(User.username)
        )
    }
    made = dict(
        session.execute(
            select(User.username, func.count(Decision.id))
            .join(User, User.id == Decision.user_id)
            .group_by(User.username)
        ).all()
    )
    users = session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username)).all()
    held = claims.open_claimed(session)
    names = sorted(set(users) | set(made))
    return [AuditorRow(name, *current.get(name, (0, 0)), made.get(name, 0), held.get(name, 0)) for name in names]


def by_offence(session: Session) -> list[OffenceRow]:
    latest = _latest()
    current = select(Decision.flag_id, Decision.action, Decision.offence).join(latest, latest.c.id == Decision.id)
    current = current.subquery()
    recorded = Flag.status == "recorded"
    rows = session.execute(
        select(
            Flag.offence,
            _count(and_(Flag.status == "open", Flag.active.is_(True))),
            _count(Flag.status == "more_info"),
            _count(Flag.status.in_(DECIDED)),
            _count(and_(recorded, current.c.offence == Flag.offence)),
            _count(and_(recorded, current.c.offence != Flag.offence)),
            _count(Flag.status == "no_crime"),
        )
        .outerjoin(current, current.c.flag_id == Flag.id)
        .where(Flag.active.is_(True) | (Flag.status != "open"))
        .group_by(Flag.offence)
        .order_by(Flag.offence)
    )
    return [OffenceRow(offence, *(int(n or 0) for n in counts)) for offence, *counts in rows]


def agreement(session: Session) -> tuple[list[Agreement], Agreement]:
    """Second checks per auditor checked, and over all."""
    rows = [
        Agreement(name, total, int(agreed or 0))
        for name, total, agreed in session.execute(
            select(User.username, func.count(Review.id), _count(Review.agree.is_(True)))
            .select_from(Review)
            .join(Decision, Review.decision_id == Decision.id)
            .join(User, Decision.user_id == User.id)
            .group_by(User.username)
            .order_by(User.username)
        )
    ]
    return rows, Agreement("all", sum(r.checked for r in rows), sum(r.agreed for r in rows))
