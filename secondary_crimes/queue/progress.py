"""The progress dashboard's figures: work per auditor and per offence, confirmation and agreement.

Series flags (courses of conduct, decided once per series) are counted beside incident flags: per
auditor in their own columns, per offence in their own table, and in the agreement on second checks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Subquery, and_, case, func, select
from sqlalchemy.orm import Session

from secondary_crimes.queue import claims, decisions
from secondary_crimes.queue.models import DECIDED, Decision, Flag, SeriesDecision, SeriesFlag, User


@dataclass
class AuditorRow:
    username: str
    decided: int  # flags whose current decision is theirs and final (recorded / no crime)
    more_info: int  # flags whose current decision is theirs: more information
    decisions: int  # every decision they made, superseded ones included
    open_claimed: int = 0  # open incidents they hold a live claim on
    series_decided: int = 0  # series flags whose current decision is theirs and final
    series_decisions: int = 0  # every series decision they made


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


# (flag model, decision model, the decision's column naming its flag): incident flags and series flags.
INCIDENT_FLAGS = (Flag, Decision, Decision.flag_id)
SERIES_FLAGS = (SeriesFlag, SeriesDecision, SeriesDecision.series_flag_id)


def _latest(decision_model: type = Decision, flag_key: ColumnElement = Decision.flag_id) -> Subquery:
    """Each flag's current (latest) decision id."""
    return select(func.max(decision_model.id).label("id")).group_by(flag_key).subquery()


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _current_by_user(session: Session, kind: tuple) -> dict[str, tuple[int, int]]:
    """Per username: (flags whose current decision is theirs and final, ... theirs and more information)."""
    flag_model, decision_model, flag_key = kind
    latest = _latest(decision_model, flag_key)
    return {
        name: (int(decided or 0), int(more or 0))
        for name, decided, more in session.execute(
            select(User.username, _count(flag_model.status.in_(DECIDED)), _count(flag_model.status == "more_info"))
            .select_from(decision_model)
            .join(latest, latest.c.id == decision_model.id)
            .join(flag_model, flag_model.id == flag_key)
            .join(User, User.id == decision_model.user_id)
            .group_by(User.username)
        )
    }


def _made_by_user(session: Session, decision_model: type) -> dict[str, int]:
    return dict(
        session.execute(
            select(User.username, func.count(decision_model.id))
            .join(User, User.id == decision_model.user_id)
            .group_by(User.username)
        ).all()
    )


def by_auditor(session: Session) -> list[AuditorRow]:
    current = _current_by_user(session, INCIDENT_FLAGS)
    made = _made_by_user(session, Decision)
    series_current = _current_by_user(session, SERIES_FLAGS)
    series_made = _made_by_user(session, SeriesDecision)
    users = session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username)).all()
    held = claims.open_claimed(session)
    names = sorted(set(users) | set(made) | set(series_made))
    return [AuditorRow(name, *current.get(name, (0, 0)), made.get(name, 0), held.get(name, 0),
                       series_current.get(name, (0, 0))[0], series_made.get(name, 0)) for name in names]


def by_offence(session: Session, kind: tuple = INCIDENT_FLAGS) -> list[OffenceRow]:
    """Per flagged offence: open, more information, decided, confirmed, recorded as another, no crime.
    ``kind``: ``INCIDENT_FLAGS`` (the default) or ``SERIES_FLAGS``."""
    flag_model, decision_model, flag_key = kind
    latest = _latest(decision_model, flag_key)
    current = select(flag_key.label("flag_id"), decision_model.action, decision_model.offence).join(
        latest, latest.c.id == decision_model.id)
    current = current.subquery()
    recorded = flag_model.status == "recorded"
    rows = session.execute(
        select(
            flag_model.offence,
            _count(and_(flag_model.status == "open", flag_model.active.is_(True))),
            _count(flag_model.status == "more_info"),
            _count(flag_model.status.in_(DECIDED)),
            _count(and_(recorded, current.c.offence == flag_model.offence)),
            _count(and_(recorded, current.c.offence != flag_model.offence)),
            _count(flag_model.status == "no_crime"),
        )
        .outerjoin(current, current.c.flag_id == flag_model.id)
        .where(flag_model.active.is_(True) | (flag_model.status != "open"))
        .group_by(flag_model.offence)
        .order_by(flag_model.offence)
    )
    return [OffenceRow(offence, *(int(n or 0) for n in counts)) for offence, *counts in rows]


def agreement(session: Session) -> tuple[list[Agreement], Agreement]:
    """Second checks per auditor checked (of their incident and series decisions), and over all."""
    rows = [Agreement(name, total, agreed) for name, total, agreed in decisions.agreement(session)]
    return rows, Agreement("all", sum(r.checked for r in rows), sum(r.agreed for r in rows))
