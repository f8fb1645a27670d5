"""The progress dashboard (supervisors)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from secondary_crimes.queue import progress
from secondary_crimes.queue.deps import DbSession, Supervisor, record_view, render

router = APIRouter()


@router.get("/dashboard")
def dashboard(request: Request, db: DbSession, user: Supervisor) -> Response:
    record_view(request, db, user)
    agreement, overall = progress.agreement(db)
    return render(
        request,
        "dashboard.html",
        user,
        auditors=progress.by_auditor(db),
        offences=progress.by_offence(db),
        series_offences=progress.by_offence(db, progress.SERIES_FLAGS),
        agreement=agreement,
        overall=overall,
    )
