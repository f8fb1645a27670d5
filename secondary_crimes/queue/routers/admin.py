"""Admin: the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.deps import DbSession, record_view, render, require
from secondary_crimes.queue.models import User

router = APIRouter()
Admin = Annotated[User, Depends(require("admin"))]


@router.get("/audit")
def audit_page(request: Request, db: DbSession, user: Admin, username: str | None = None) -> Response:
    record_view(request, db, user)
    return render(request, "audit.html", user, events=audit_log.recent(db, 300, username or None), username=username)
