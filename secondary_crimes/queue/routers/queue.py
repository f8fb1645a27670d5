"""The queue page (incidents by review priority, and series: search, filters, sort, counts, pages) and bulk
duplicates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import decisions
from secondary_crimes.queue.deps import CsrfChecked, CurrentUser, DbSession, Viewer, flash, render, safe_next
from secondary_crimes.queue.models import User
from secondary_crimes.queue.queries import SERIES_KIND, STATUS_FILTERS, QueueFilters, queue_page

router = APIRouter()


@router.get("/queue")
def queue(request: Request, db: DbSession, user: Viewer, filters: Annotated[QueueFilters, Query()]) -> Response:
    page = queue_page(db, filters, viewer=user.id)
    here = "/queue" + (f"?{filters.query_string(page=page.page)}" if filters.query_string(page=page.page) else "")
    auditors = list(db.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username)))
    return render(
        request,
        "queue.html",
        user,
        page=page,
        filters=filters,
        status_filters=STATUS_FILTERS,
        series_kind=SERIES_KIND,
        here=here,
        auditors=auditors if user.can("supervisor") else [],
    )


@router.post("/queue/duplicates", dependencies=[CsrfChecked])
def bulk_duplicates(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    incident: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/queue",
) -> Response:
    """'No crime: duplicate' for the open flags of the selected incidents (one decision per flag)."""
    try:
        decided, skipped = decisions.bulk_duplicates(db, user, incident, note)
        db.commit()
    except decisions.Conflict:
        db.rollback()
        raise HTTPException(status_code=409, detail="a flag changed while you chose; nothing was saved") from None
    except decisions.DecisionError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    incidents = len(set(incident)) - len(skipped)
    message = f"No crime (duplicate): {decided} flag{'s' if decided != 1 else ''} on {incidents} incident(s)."
    if skipped:
        message += f" Nothing open on {', '.join(skipped)}."
    flash(request, message, "ok")
    return RedirectResponse(safe_next(back, prefix="/queue"), status_code=303)
