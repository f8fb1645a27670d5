"""Deciding flags and second-checking decisions; a stale decision is a conflict, never an overwrite."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.display import describe, london
from secondary_crimes.queue.models import (
    ACTIONS,
    CHECK_OFFENCE,
    NO_CRIME_REASONS,
    Decision,
    Flag,
    Incident,
    Review,
    SeriesDecision,
    SeriesFlag,
    SeriesReview,
    User,
    utcnow,
)
from secondary_crimes.taxonomy import load_taxonomy

MAX_NOTE = 4000


class DecisionError(ValueError):
    """A decision form that cannot be accepted as submitted."""


class NotFound(LookupError):
    pass


class AlreadyReviewed(Exception):
    """The decision has had its second check."""

    def __init__(self, review: Review | SeriesReview, subject: str | None = None) -> None:
        self.review = review
        subject = subject or f"decision {review.decision_id}"
        super().__init__(
            f"{subject} was already second-checked by {review.reviewer.username} at "
            f"{london(review.created_at)} ({'agree' if review.agree else 'disagree'}); "
            "each decision is checked once. Your check was not saved."
        )


class Conflict(Exception):
    """Someone decided the flag after this user loaded it."""

    def __init__(self, flag: Flag) -> None:
        self.flag = flag
        latest = flag.latest_decision
        if latest is not None:
            message = (
                f"{latest.user.username} decided this flag ({describe(latest)}) at "
                f"{london(latest.created_at, seconds=True)} while you had it open. Your decision was NOT saved; "
                "theirs is shown below. Decide again to supersede it."
            )
        else:
            message = "This flag changed while you had it open. Your decision was NOT saved; reload and decide again."
        super().__init__(message)


def check_action(action: str) -> None:
    if action not in ACTIONS:
        raise DecisionError(f"unknown decision {action!r}")


def checked_form(
    action: str, offence: str | None, reason_code: str | None, note: str, *, flagged: str
) -> tuple[str | None, str | None, str]:
    """A decision form's (offence, reason code, note) as stored: the offence to record (default the
    ``flagged`` one) only with "record", a reason only with "no crime" (the same for series flags)."""
    check_action(action)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise DecisionError(f"note too long ({len(note)} characters, at most {MAX_NOTE})")
    if action == "record":
        offence = offence or flagged
        if offence == CHECK_OFFENCE:  # a check item names no offence: the auditor chooses one
            raise DecisionError("choose the offence that should have been recorded")
        if offence not in load_taxonomy().offences:
            raise DecisionError(f"unknown offence {offence!r}")
        return offence, None, note
    if action == "no_crime":
        if reason_code not in NO_CRIME_REASONS:
            raise DecisionError("choose a reason for 'no crime'")
        return None, reason_code, note
    return None, None, note


def advance_version(session: Session, flag_model: type, decision_model: type, flag_id: int, *, version: int,
                    action: str, offence: str | None, reason_code: str | None, note: str):
    """Check a decision form on a flag (an incident's ``Flag`` or a ``SeriesFlag``) and compare-and-set
    the flag from the ``version`` its decider saw to the next, with the action's status: of two
    concurrent decisions exactly one matches. Returns the refreshed flag and the checked offence,
    reason code and note; ``NotFound``, ``DecisionError``, or ``Conflict`` with the current flag and
    its decisions."""
    check_action(action)
    flag = session.get(flag_model, flag_id)
    if flag is None:
        raise NotFound(f"no {'series flag' if flag_model is not Flag else 'flag'} {flag_id}")
    offence, reason_code, note = checked_form(action, offence, reason_code, note, flagged=flag.offence)
    result = session.execute(
        update(flag_model)
        .where(flag_model.id == flag_id, flag_model.version == version)
        .values(version=flag_model.version + 1, status=ACTIONS[action], updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        current = session.scalar(
            select(flag_model)
            .where(flag_model.id == flag_id)
            .options(selectinload(flag_model.decisions).selectinload(decision_model.user))
            .execution_options(populate_existing=True)
        )
        raise Conflict(current)
    session.refresh(flag)
    return flag, offence, reason_code, note


def decide(
    session: Session,
    user: User,
    flag_id: int,
    *,
    version: int,
    action: str,
    offence: str | None = None,
    reason_code: str | None = None,
    note: str = "",
) -> Decision:
    """Record ``user``'s decision on a flag they saw at ``version`` (the caller commits)."""
    flag, offence, reason_code, note = advance_version(session, Flag, Decision, flag_id, version=version,
                                                       action=action, offence=offence, reason_code=reason_code,
                                                       note=note)
    decision = Decision(
        flag_id=flag.id,
        user_id=user.id,
        action=action,
        offence=offence,
        reason_code=reason_code,
        note=note,
        flag_version=flag.version,
        model_version=flag.model_version,
        probability=flag.probability,
    )
    session.add(decision)
    session.flush()
    audit_log.record(
        session,
        user,
        "decide",
        f"flag:{flag.id}",
        incident=flag.incident.incident_id,
        flag_offence=flag.offence,
        decision=action,
        offence=offence,
        reason_code=reason_code,
        decision_id=decision.id,
        version=flag.version,
    )
    return decision


MAX_BULK = 200


def bulk_duplicates(session: Session, user: User, incident_ids: list[str], note: str = "") -> tuple[int, list[str]]:
    """'No crime: duplicate' on every open flag of these incidents, each a decision of its own.

    Returns (flags decided, incidents with no open flag left to decide); the caller commits.
    """
    incident_ids = list(dict.fromkeys(incident_ids))
    if not incident_ids or len(incident_ids) > MAX_BULK:
        raise DecisionError(f"select between 1 and {MAX_BULK} incidents")
    flags = session.scalars(
        select(Flag)
        .join(Flag.incident)
        .where(Incident.incident_id.in_(incident_ids), Flag.status == "open", Flag.active.is_(True))
        .order_by(Flag.id)
    ).all()
    for flag in flags:
        decide(session, user, flag.id, version=flag.version, action="no_crime", reason_code="duplicate", note=note)
    touched = {flag.incident.incident_id for flag in flags}
    skipped = [incident for incident in incident_ids if incident not in touched]
    audit_log.record(
        session, user, "bulk_no_crime", "incidents", reason_code="duplicate", incidents=incident_ids,
        flags=[flag.id for flag in flags], skipped=skipped,
    )
    return len(flags), skipped


@dataclass(frozen=True)
class _Checked:
    """What a second check is of: an incident flag's ``Decision`` or a ``SeriesDecision``."""

    review: type  # the review model
    key: str  # its column naming the decision
    name: str  # in messages and audit-log targets ("decision", "series decision")
    action: str  # the audit log's action
    loaded: tuple  # loader options for the supervisor's page


SECOND_CHECKS = {
    Decision: _Checked(Review, "decision_id", "decision", "review",
                       (selectinload(Decision.flag).selectinload(Flag.incident), selectinload(Decision.user))),
    SeriesDecision: _Checked(SeriesReview, "series_decision_id", "series decision", "review_series",
                             (selectinload(SeriesDecision.flag).selectinload(SeriesFlag.series),
                              selectinload(SeriesDecision.user))),
}


def review(session: Session, supervisor: User, decision_id: int, *, agree: bool, note: str = "",
           model: type = Decision) -> Review | SeriesReview:
    """A supervisor's second check of someone else's decision (the caller commits): a ``Decision`` on an
    incident's flag or (``model=SeriesDecision``) one on a series flag. One check per decision."""
    checked = SECOND_CHECKS[model]
    decision = session.get(model, decision_id)
    if decision is None:
        raise NotFound(f"no {checked.name} {decision_id}")
    if decision.user_id == supervisor.id:
        raise DecisionError("you cannot second-check your own decision")
    subject = f"{checked.name} {decision_id}"
    earlier = _review_of(session, checked, decision_id)
    if earlier is not None:
        raise AlreadyReviewed(earlier, subject)
    item = checked.review(**{checked.key: decision.id}, reviewer_id=supervisor.id, agree=agree,
                          note=(note or "").strip()[:MAX_NOTE])
    session.add(item)
    try:
        session.flush()
    except IntegrityError:  # another supervisor checked it in the meantime (a unique index)
        session.rollback()
        raise AlreadyReviewed(_review_of(session, checked, decision_id), subject) from None
    where = {"series": decision.flag.series.series_id} if model is SeriesDecision else {}
    audit_log.record(
        session,
        supervisor,
        checked.action,
        f"{checked.name.replace(' ', '_')}:{decision.id}",
        agree=agree,
        auditor=decision.user.username,
        review_id=item.id,
        **where,
    )
    return item


def _review_of(session: Session, checked: _Checked, decision_id: int) -> Review | SeriesReview | None:
    model = checked.review
    return session.scalar(
        select(model).where(getattr(model, checked.key) == decision_id).options(selectinload(model.reviewer))
    )


def sample_for_review(session: Session, supervisor: User, size: int = 10, seed: int | None = None,
                      model: type = Decision) -> list:
    """A random sample of other people's decisions (``model``: ``Decision`` or ``SeriesDecision``) that
    nobody has second-checked yet."""
    candidates = list(
        session.scalars(
            select(model.id)
            .where(model.user_id != supervisor.id, ~model.reviews.any())
            .order_by(model.id.desc())
            .limit(5000)
        )
    )
    chosen = random.Random(seed).sample(candidates, min(size, len(candidates)))
    if not chosen:
        return []
    return list(
        session.scalars(
            select(model).where(model.id.in_(chosen)).options(*SECOND_CHECKS[model].loaded).order_by(model.id)
        )
    )


def agreement(session: Session) -> list[tuple[str, int, int]]:
    """Per auditor: (username, second checks, agreements), of their decisions on incident and series flags."""
    totals: dict[str, list[int]] = {}
    for model, checked in SECOND_CHECKS.items():
        review_model = checked.review
        rows = session.execute(
            select(User.username, func.count(review_model.id),
                   func.sum(case((review_model.agree.is_(True), 1), else_=0)))
            .select_from(review_model)
            .join(model, getattr(review_model, checked.key) == model.id)
            .join(User, model.user_id == User.id)
            .group_by(User.username)
        )
        for name, total, agreed in rows:
            counts = totals.setdefault(name, [0, 0])
            counts[0] += total
            counts[1] += int(agreed or 0)
    return [(name, total, agreed) for name, (total, agreed) in sorted(totals.items())]


def history(session: Session, user: User, limit: int = 200) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision)
            .where(Decision.user_id == user.id)
            .options(selectinload(Decision.flag).selectinload(Flag.incident), selectinload(Decision.reviews))
            .order_by(Decision.id.desc())
            .limit(limit)
        )
    )
