"""The review-queue web app: ``create_app(database_url)``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, config, lockout
from secondary_crimes.queue.claims import DEFAULT_MINUTES as DEFAULT_CLAIM_MINUTES
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.deps import LoginRequired, here, login_url, open_session, optional_user, render
from secondary_crimes.queue.routers import (
    accounts,
    admin,
    claims,
    corrections,
    incidents,
    label_issues,
    progress,
    queue,
    review,
    series,
)

SESSION_MAX_AGE = 8 * 3600  # one working day
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _secret_key(explicit: str | None, database_url: str) -> str:
    """``explicit``, else the setting ``queue_secret_key``, else a key generated once and kept on disk."""
    return str(explicit or config.setting("queue_secret_key") or config.persisted_key(config.data_dir(database_url)))


def create_app(
    database_url: str,
    *,
    secret_key: str | None = None,
    secure_cookies: bool = True,
    hsts: bool | None = None,
    claim_minutes: int | None = None,
) -> FastAPI:
    """The app over the database at ``database_url`` (migrated to the latest schema on start).

    ``secure_cookies`` sends the session cookie only over HTTPS; turn it off only for plain
    HTTP on a loopback address (the demo, tests). ``hsts`` (default: as ``secure_cookies``)
    sends Strict-Transport-Security. ``claim_minutes`` (default: setting ``queue_claim_minutes``,
    else 120) is how long a claimed incident stays held.
    """
    hsts = secure_cookies if hsts is None else hsts
    app = FastAPI(title="Secondary crimes review queue", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = Database(database_url)
    app.state.login_limiter = lockout.address_limiter()
    app.state.claim_minutes = int(claim_minutes or config.setting("queue_claim_minutes", DEFAULT_CLAIM_MINUTES))
    app.add_middleware(
        SessionMiddleware,
        secret_key=_secret_key(secret_key, database_url),
        session_cookie="sc_session",
        max_age=SESSION_MAX_AGE,
        same_site="strict",
        https_only=secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            if header == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(header, value)
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        with open_session(request) as session:
            user = optional_user(request, session)
            if exc.status_code == 403:
                audit_log.record(session, user, "refused", here(request), method=request.method, reason=str(exc.detail))
                session.commit()
            return render(
                request, "error.html", user, status_code=exc.status_code, status=exc.status_code, detail=exc.detail
            )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'][1:]) or 'request'}: {error['msg']}" for error in exc.errors()
        )
        with open_session(request) as session:
            user = optional_user(request, session)
            return render(request, "error.html", user, status_code=422, status=422, detail=f"Bad request: {problems}")

    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    routers = (accounts, queue, claims, incidents, corrections, review, progress, admin, series, label_issues)
    for router in (module.router for module in routers):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    return app
