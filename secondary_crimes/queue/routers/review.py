"""A reviewer's history and the supervisor's second check, of decisions on incident flags and on series
flags (courses of conduct, decided once per series)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, decisions, series
from secondary_crimes.queue.auth import find_user
from secondary_crimes.queue.deps import (
    CsrfChecked,
    CurrentUser,
    DbSession,
    Supervisor,
    Viewer,
    flash,
    record_view,
    render,
)
from secondary_crimes.queue.models import Decision, SeriesDecision, User
from secondary_crimes.queue.names import login_name

router = APIRouter()


@router.get("/history")
def my_history(request: Request, db: DbSession, user: Viewer) -> Response:
    return render(request, "history.html", user, subject=user, items=decisions.history(db, user),
                  series_items=series.history(db, user))


@router.get("/history/{username}")
def user_history(request: Request, db: DbSession, user: CurrentUser, username: str) -> Response:
    if login_name(username) != user.username and not user.can("supervisor"):
        raise HTTPException(status_code=403, detail="only supervisors can see other reviewers' history")
    record_view(request, db, user)
    subject = find_user(db, username)
    if subject is None:
        raise HTTPException(status_code=404, detail=f"no user {username}")
    return render(request, "history.html", user, subject=subject, items=decisions.history(db, subject),
                  series_items=series.history(db, subject))


@router.get("/supervisor")
def supervisor_page(request: Request, db: DbSession, user: Supervisor, size: int = 10) -> Response:
    record_view(request, db, user)
    size = max(1, min(size, 50))
    sample = decisions.sample_for_review(db, user, size=size)
    series_sample = decisions.sample_for_review(db, user, size=size, model=SeriesDecision)
    auditors = list(db.scalars(select(User).order_by(User.username)))
    return render(request, "supervisor.html", user, sample=sample, series_sample=series_sample,
                  agreement=decisions.agreement(db), auditors=auditors)


def _second_check(request: Request, db: Session, user: User, decision_id: int, agree: str, note: str,
                  model: type) -> Response:
    checked = decisions.SECOND_CHECKS[model]
    if agree not in ("yes", "no"):
        raise HTTPException(status_code=400, detail="agree must be yes or no")
    try:
        decisions.review(db, user, decision_id, agree=agree == "yes", note=note, model=model)
        db.commit()
    except decisions.NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except decisions.DecisionError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    except decisions.AlreadyReviewed as error:
        db.rollback()
        audit_log.record(db, user, f"{checked.action}_conflict", f"{checked.name.replace(' ', '_')}:{decision_id}",
                         agree=agree == "yes")
        db.commit()
        raise HTTPException(status_code=409, detail=str(error)) from None
    flash(request, f"Second check recorded for {checked.name} {decision_id}: "
                   f"{'agree' if agree == 'yes' else 'disagree'}.", "ok")
    return RedirectResponse("/supervisor", status_code=303)


@router.post("/decisions/{decision_id}/review", dependencies=[CsrfChecked])
def second_check(
    request: Request,
    db: DbSession,
    user: Supervisor,
    decision_id: int,
    agree: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    return _second_check(request, db, user, decision_id, agree, note, Decision)


@router.post("/series-decisions/{decision_id}/review", dependencies=[CsrfChecked])
def series_second_check(
    request: Request,
    db: DbSession,
    user: Supervisor,
    decision_id: int,
    agree: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    """A supervisor's second check of a decision on a series flag (one for the whole series)."""
    return _second_check(request, db, user, decision_id, agree, note, SeriesDecision)
