"""Log in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, auth, lockout
from secondary_crimes.queue.deps import (
    ClientAddress,
    CsrfChecked,
    CurrentUser,
    DbSession,
    LoginLimiter,
    optional_user,
    render,
    safe_next,
)
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
    address: ClientAddress,
    limiter: LoginLimiter,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    username = login_name(username)

    def refuse(status: int, action: str, error: str) -> Response:
        audit_log.record(db, None, action, "/login", username=username)
        db.commit()
        return render(
            request, "login.html", None, status_code=status, next=safe_next(next), username=username, error=error
        )

    if limiter.blocked(address or ""):
        return refuse(429, "login_throttled", "Too many failed logins from your address: try again later.")
    if lockout.locked_out(db, username, address):
        return refuse(429, "login_locked", "Too many failed attempts for this account: try again in 15 minutes.")
    try:
        user = auth.authenticate(db, username, password)
    except auth.Busy:
        return refuse(503, "login_busy", "The server is busy: try again in a moment.")
    if user is None:
        limiter.hit(address or "")
        return refuse(401, "login_failed", "Unknown username or wrong password.")
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
