"""The queue page: open flags by review priority, with filters, counts and pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from secondary_crimes.queue.deps import DbSession, Viewer, render
from secondary_crimes.queue.queries import STATUS_FILTERS, QueueFilters, queue_page

router = APIRouter()


@router.get("/queue")
def queue(request: Request, db: DbSession, user: Viewer, filters: Annotated[QueueFilters, Query()]) -> Response:
    page = queue_page(db, filters)
    here = "/queue" + (f"?{filters.query_string(page=page.page)}" if filters.query_string(page=page.page) else "")
    return render(request, "queue.html", user, page=page, filters=filters, status_filters=STATUS_FILTERS, here=here)
