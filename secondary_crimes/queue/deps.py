"""FastAPI dependencies: the database session, the current user, roles, CSRF; page rendering."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from secondary_crimes.queue import audit_log, auth
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.display import incident_time, london, offence_name
from secondary_crimes.queue.highlight import colour
from secondary_crimes.queue.lockout import SlidingWindow
from secondary_crimes.queue.models import NO_CRIME_REASONS, ROLES, User
from secondary_crimes.taxonomy import load_taxonomy

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def incident_url(incident_id: str) -> str:
    """The incident page's path, the id percent-encoded whatever characters it holds."""
    return "/incidents/" + quote(incident_id, safe="")


templates.env.filters["incident_url"] = incident_url
templates.env.filters.update(offence_name=offence_name, london=london, incident_time=incident_time)
templates.env.globals.update(
    taxonomy=load_taxonomy(),
    no_crime_reasons=NO_CRIME_REASONS,
    roles=ROLES,
    colour=colour,
)


class LoginRequired(Exception):
    """Raised for pages that need a user; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def client_address(request: Request) -> str | None:
    """The client's address (the proxy's unless ``serve`` trusts it to forward the real one)."""
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]


def login_limiter(request: Request) -> SlidingWindow:
    """The app's per-address window of failed logins."""
    return request.app.state.login_limiter


LoginLimiter = Annotated[SlidingWindow, Depends(login_limiter)]


@contextmanager
def open_session(request: Request) -> Iterator[Session]:
    """A database session for ``request``; audit events it records carry the client address."""
    database: Database = request.app.state.db
    with database.sessions(info={audit_log.CLIENT_ADDRESS: client_address(request)}) as session:
        yield session


def get_db(request: Request) -> Iterator[Session]:
    with open_session(request) as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


def optional_user(request: Request, db: DbSession) -> User | None:
    """The logged-in user; a revoked session (logout, new password, deactivation) is none."""
    return auth.session_user(request, db)


def current_user(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise LoginRequired(here(request) if request.method == "GET" else "/queue")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def here(request: Request) -> str:
    """The request's path as sent (percent-encoding kept) and query string."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(request.url.path)
    return path + (f"?{request.url.query}" if request.url.query else "")


def record_view(request: Request, db: Session, user: User) -> None:
    """Write a page view to the audit log (only once the user may see the page)."""
    audit_log.record(db, user, "view", here(request))
    db.commit()


def viewer(request: Request, db: DbSession, user: CurrentUser) -> User:
    """The current user of a page any user may see, its view written to the audit log."""
    record_view(request, db, user)
    return user


Viewer = Annotated[User, Depends(viewer)]


def require(role: str):
    """A dependency: the current user, who must hold ``role`` or higher (403 otherwise)."""

    def check(user: CurrentUser) -> User:
        if not user.can(role):
            raise HTTPException(status_code=403, detail=f"this page needs the {role} role")
        return user

    return check


# The current user, holding at least that role (403 otherwise): one alias per role for the routers.
Auditor = Annotated[User, Depends(require("auditor"))]
Supervisor = Annotated[User, Depends(require("supervisor"))]
Admin = Annotated[User, Depends(require("admin"))]


async def csrf_passed(request: Request) -> bool:
    """Whether the form carries this session's CSRF token."""
    form = await request.form()
    return auth.csrf_valid(request, form.get(auth.CSRF_FIELD))  # type: ignore[arg-type]


CsrfPassed = Annotated[bool, Depends(csrf_passed)]
CSRF_FAILED = "the form has expired or did not come from this site (CSRF check failed)"


def verify_csrf(passed: CsrfPassed) -> None:
    """Every form POST carries the session's CSRF token (403 otherwise)."""
    if not passed:
        raise HTTPException(status_code=403, detail=f"{CSRF_FAILED}; reload the page and try again")


CsrfChecked = Depends(verify_csrf)


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append([kind, message])


def render(request: Request, name: str, user: User | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    messages = request.session.pop("flash", [])
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": auth.csrf_token(request), "messages": messages, **context},
        status_code=status_code,
    )


def safe_next(url: str | None, default: str = "/queue", prefix: str = "/") -> str:
    """A local path to return to (no open redirects)."""
    if not url or not url.startswith(prefix) or url.startswith("//") or "\\" in url:
        return default
    return url


def login_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="")
