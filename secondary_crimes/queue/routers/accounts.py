"""Log in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, auth
from secondary_crimes.queue.deps import CsrfChecked, CurrentUser, DbSession, optional_user, render, safe_next
from secondary_crimes.queue.names import login_name

router = APIRouter()


@router.get("/login")
def login_page(request: Request, db: DbSession, next: str = "/queue") -> Response:
    user = optional_user(request, db)
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", None, next=safe_next(next))


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    username = login_name(username)
    if auth.locked_out(db, username):
        audit_log.record(db, None, "login_locked", "/login", username=username)
        db.commit()
        return render(
            request,
            "login.html",
            None,
            status_code=429,
            next=safe_next(next),
            username=username,
            error="Too many failed attempts for this account: try again in 15 minutes.",
        )
    user = auth.authenticate(db, username, password)
    if user is None:
        audit_log.record(db, None, "login_failed", "/login", username=username)
        db.commit()
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            next=safe_next(next),
            error="Unknown username or wrong password.",
            username=username,
        )
    auth.log_in(request, user)
    audit_log.record(db, user, "login", "/login")
    db.commit()
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: DbSession, user: CurrentUser) -> Response:
    auth.end_sessions(user)
    audit_log.record(db, user, "logout", "/logout")
    db.commit()
    auth.log_out(request)
    return RedirectResponse("/login", status_code=303)
