"""Admin: the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.deps import DbSession, render, require
from secondary_crimes.queue.models import User

router = APIRouter()
Admin = Annotated[User, Depends(require("admin"))]


@router.get("/audit")
def audit_page(request: Request, db: DbSession, user: Admin, username: str | None = None) -> Response:
    audit_log.record(db, user, "view", request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    db.commit()
    return render(request, "audit.html", user, events=audit_log.recent(db, 300, username or None), username=username)
