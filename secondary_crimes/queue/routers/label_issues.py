"""Label quality for supervisors: the likely label errors of the latest ``secondary-crimes label-issues`` run.

The run writes its ranked list into the queue's data folder (``--queue-db``, or ``--out`` to
``<data folder>/label_issues.jsonl``); this page reads that file as it is at each request.
It quotes incidents and auditors' decisions, so only supervisors and admins see it, and every
view is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from secondary_crimes.label_quality import ISSUES_FILE, read_issues
from secondary_crimes.queue.config import data_dir
from secondary_crimes.queue.deps import DbSession, Supervisor, record_view, render
from secondary_crimes.queue.models import Incident

router = APIRouter()
MAX_ROWS = 1000


@router.get("/label-issues")
def label_issues(request: Request, db: DbSession, user: Supervisor) -> Response:
    record_view(request, db, user)
    path = data_dir(request.app.state.db.url) / ISSUES_FILE
    issues, error, written = [], None, None
    if path.exists():
        try:
            issues = read_issues(path)
            written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except (OSError, ValueError) as problem:
            error = str(problem)
    ids = {issue.incident_id for issue in issues[:MAX_ROWS]}
    in_queue = set(db.scalars(select(Incident.incident_id).where(Incident.incident_id.in_(ids)))) if ids else set()
    return render(request, "label_issues.html", user, issues=issues[:MAX_ROWS], total=len(issues),
                  in_queue=in_queue, error=error, written=written, found=path.exists())
