"""A reviewer's history and the supervisor's second check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, decisions
from secondary_crimes.queue.auth import find_user
from secondary_crimes.queue.deps import (
    CsrfChecked,
    CurrentUser,
    DbSession,
    Viewer,
    flash,
    record_view,
    render,
    require,
)
from secondary_crimes.queue.models import User
from secondary_crimes.queue.names import login_name

router = APIRouter()
Supervisor = Annotated[User, Depends(require("supervisor"))]


@router.get("/history")
def my_history(request: Request, db: DbSession, user: Viewer) -> Response:
    return render(request, "history.html", user, subject=user, items=decisions.history(db, user))


@router.get("/history/{username}")
def user_history(request: Request, db: DbSession, user: CurrentUser, username: str) -> Response:
    if login_name(username) != user.username and not user.can("supervisor"):
        raise HTTPException(status_code=403, detail="only supervisors can see other reviewers' history")
    record_view(request, db, user)
    subject = find_user(db, username)
    if subject is None:
        raise HTTPException(status_code=404, detail=f"no user {username}")
    return render(request, "history.html", user, subject=subject, items=decisions.history(db, subject))


@router.get("/supervisor")
def supervisor_page(request: Request, db: DbSession, user: Supervisor, size: int = 10) -> Response:
    record_view(request, db, user)
    sample = decisions.sample_for_review(db, user, size=max(1, min(size, 50)))
    auditors = list(db.scalars(select(User).order_by(User.username)))
    return render(request, "supervisor.html", user, sample=sample, agreement=decisions.agreement(db), auditors=auditors)


@router.post("/decisions/{decision_id}/review", dependencies=[CsrfChecked])
def second_check(
    request: Request,
    db: DbSession,
    user: Supervisor,
    decision_id: int,
    agree: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    if agree not in ("yes", "no"):
        raise HTTPException(status_code=400, detail="agree must be yes or no")
    try:
        decisions.review(db, user, decision_id, agree=agree == "yes", note=note)
        db.commit()
    except decisions.NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except decisions.DecisionError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    except decisions.AlreadyReviewed as error:
        db.rollback()
        audit_log.record(db, user, "review_conflict", f"decision:{decision_id}", agree=agree == "yes")
        db.commit()
        raise HTTPException(status_code=409, detail=str(error)) from None
    flash(
        request, f"Second check recorded for decision {decision_id}: {'agree' if agree == 'yes' else 'disagree'}.", "ok"
    )
    return RedirectResponse("/supervisor", status_code=303)
