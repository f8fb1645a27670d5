"""Courses of conduct: the series list, a series' timeline with its one decision per flag, and (for
supervisors) the people the person store resolved in it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, series
from secondary_crimes.queue.deps import (
    CsrfChecked,
    CurrentUser,
    DbSession,
    Supervisor,
    Viewer,
    flash,
    record_view,
    render,
    templates,
)
from secondary_crimes.queue.display import describe
from secondary_crimes.queue.highlight import highlight, locate
from secondary_crimes.queue.models import Series, SeriesFlag, User
from secondary_crimes.records import TEXT_FIELDS
from secondary_crimes.taxonomy import load_taxonomy

router = APIRouter()


def series_url(series_id: str) -> str:
    """The series page's path, the id percent-encoded whatever characters it holds."""
    return "/series/" + quote(series_id, safe="")


def series_people_url(series_id: str) -> str:
    return "/series-people/" + quote(series_id, safe="")


templates.env.filters.update(series_url=series_url, series_people_url=series_people_url)


def _texts(occasion: series.Occasion) -> dict[str, object]:
    """The incident's texts with the series' evidence in it highlighted (when the queue holds the incident)."""
    if occasion.incident is None:
        return {}
    out = {}
    for field in TEXT_FIELDS:
        text = getattr(occasion.incident, field) or ""
        marks = set()
        for offence, spans in occasion.spans.items():
            for span in spans:
                if span.get("field") == field:
                    where = locate(text, int(span.get("start", 0)), int(span.get("end", 0)), span.get("text") or "")
                    if where:
                        marks.add((*where, offence))
        out[field] = highlight(text, sorted(marks))
    return out


def _load(db: Session, series_id: str) -> Series:
    try:
        return series.load_one(db, series_id)
    except series.NotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None


def _page(request: Request, db: Session, user: User, row: Series, *, status_code: int = 200,
          conflict: str | None = None, error: str | None = None) -> Response:
    occasions = series.timeline(db, row)
    flags = sorted(row.flags, key=lambda f: (f.status != "open", not f.active, f.id))
    return render(request, "series.html", user, status_code=status_code, series=row, flags=flags,
                  occasions=[(o, _texts(o)) for o in occasions], labels=load_taxonomy().labels,
                  conflict=conflict, error=error)


@router.get("/series")
def series_list(request: Request, db: DbSession, user: Viewer) -> Response:
    items = series.listing(db)
    return render(request, "series_list.html", user, open=[s for s in items if series.open_flags(s)],
                  others=[s for s in items if not series.open_flags(s)])


@router.get("/series/{series_id:path}")  # an id may hold a "/" (sent as %2F)
def series_page(request: Request, db: DbSession, user: Viewer, series_id: str) -> Response:
    return _page(request, db, user, _load(db, series_id))


@router.get("/series-people/{series_id:path}")
def series_people(request: Request, db: DbSession, user: Supervisor, series_id: str) -> Response:
    """The person store's people in the series, with their identifiers: supervisors and admins only."""
    from secondary_crimes.link.store import people_in

    row = _load(db, series_id)
    record_view(request, db, user)
    return render(request, "series_people.html", user, series=row, people=people_in(db, row.incident_ids))


@router.post("/series-flags/{flag_id}/decision", dependencies=[CsrfChecked])
def decide(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    flag_id: int,
    version: Annotated[int, Form()],
    action: Annotated[str, Form()],
    offence: Annotated[str, Form()] = "",
    reason_code: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        decision = series.decide_series(db, user, flag_id, version=version, action=action, offence=offence or None,
                                 reason_code=reason_code or None, note=note)
        db.commit()
    except series.NotFound as error:
        raise HTTPException(status_code=404, detail=f"{error}: a re-load may have withdrawn it. "
                                                    "Your decision was not saved.") from None
    except series.Conflict as conflict:
        db.rollback()
        audit_log.record(db, user, "decide_series_conflict", f"series_flag:{flag_id}", version=version,
                         decision=action)
        db.commit()
        return _page(request, db, user, _load(db, conflict.flag.series.series_id), status_code=409,
                     conflict=str(conflict))
    except series.DecisionError as error:
        db.rollback()
        audit_log.record(db, user, "decide_series_rejected", f"series_flag:{flag_id}", reason=str(error),
                         decision=action)
        db.commit()
        flag = db.get(SeriesFlag, flag_id)
        if flag is None:
            raise HTTPException(status_code=404, detail=f"no series flag {flag_id}") from None
        return _page(request, db, user, _load(db, flag.series.series_id), status_code=400, error=str(error))
    series_id = decision.flag.series.series_id
    flash(request, f"Saved for the whole series {series_id}: {describe(decision)}.", "ok")
    return RedirectResponse(series_url(series_id), status_code=303)
