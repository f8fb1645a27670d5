"""Admin: the audit trail."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.deps import Admin, DbSession, record_view, render

router = APIRouter()


@router.get("/audit")
def audit_page(request: Request, db: DbSession, user: Admin, username: str | None = None) -> Response:
    record_view(request, db, user)
    return render(request, "audit.html", user, events=audit_log.recent(db, 300, username or None), username=username)
