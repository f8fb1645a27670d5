"""Claiming a batch of open incidents, a supervisor's assignment, giving claims back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import claims
from secondary_crimes.queue.auth import find_user
from secondary_crimes.queue.deps import CsrfChecked, CurrentUser, DbSession, Supervisor, flash
from secondary_crimes.queue.models import User

router = APIRouter(dependencies=[CsrfChecked])
Count = Annotated[int, Form(ge=1, le=claims.MAX_BATCH)]


def _minutes(request: Request) -> int:
    return request.app.state.claim_minutes


def _claimed(request: Request, holder: User, taken: list[str], by: User | None = None) -> Response:
    who = "You hold" if by is None else f"{holder.username} holds"
    expiry = f"for {_minutes(request)} minutes"
    flash(request, f"{who} {len(taken)} incident(s) {expiry}: {', '.join(taken) or 'none open'}.", "ok")
    return RedirectResponse("/queue?mine=true" if by is None else "/queue", status_code=303)


@router.post("/claims")
def claim(request: Request, db: DbSession, user: CurrentUser, count: Count) -> Response:
    taken = claims.claim(db, user, count, _minutes(request))
    db.commit()
    return _claimed(request, user, taken)


@router.post("/claims/assign")
def assign(
    request: Request, db: DbSession, user: Supervisor, count: Count, username: Annotated[str, Form()]
) -> Response:
    holder = find_user(db, username)
    if holder is None:
        raise HTTPException(status_code=404, detail=f"no user {username}")
    try:
        taken = claims.claim(db, holder, count, _minutes(request), by=user)
    except claims.ClaimError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    db.commit()
    return _claimed(request, holder, taken, by=user)


@router.post("/claims/release")
def release(request: Request, db: DbSession, user: CurrentUser) -> Response:
    released = claims.release(db, user)
    db.commit()
    flash(request, f"Released {released} claim(s).", "ok")
    return RedirectResponse("/queue", status_code=303)
