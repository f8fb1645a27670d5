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
    safe_next,
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


def back_to(back: str | None) -> str:
    """Where the series page's back link (and ``u``) goes: the queue page it was opened from, else the list."""
    return safe_next(back, default="/series", prefix="/queue")


def series_url_back(series_id: str, back: str) -> str:
    """The series page, keeping the queue page to go back to (none for the series list, the default)."""
    return series_url(series_id) + ("" if back == "/series" else f"?back={quote(back, safe='')}")


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


def _page(request: Request, db: Session, user: User, row: Series, *, back: str = "/series", status_code: int = 200,
          selected: int | None = None, conflict: str | None = None, error: str | None = None) -> Response:
    """The series page; ``selected`` the flag card the keyboard acts on (the first, open ones first, by default)."""
    occasions = series.timeline(db, row)
    flags = sorted(row.flags, key=lambda f: (f.status != "open", not f.active, f.id))
    if selected not in {f.id for f in flags}:
        selected = flags[0].id if flags else None
    return render(request, "series.html", user, status_code=status_code, series=row, flags=flags,
                  occasions=[(o, _texts(o)) for o in occasions], labels=load_taxonomy().labels,
                  conflict=conflict, error=error, back=back, selected=selected)


@router.get("/series")
def series_list(request: Request, db: DbSession, user: Viewer) -> Response:
    items = series.listing(db)
    return render(request, "series_list.html", user, open=[s for s in items if series.open_flags(s)],
                  others=[s for s in items if not series.open_flags(s)])


@router.get("/series/{series_id:path}")  # an id may hold a "/" (sent as %2F)
def series_page(request: Request, db: DbSession, user: Viewer, series_id: str, back: str = "/series") -> Response:
    return _page(request, db, user, _load(db, series_id), back=back_to(back))


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
    back: Annotated[str, Form()] = "/series",
) -> Response:
    back = back_to(back)
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
        return _page(request, db, user, _load(db, conflict.flag.series.series_id), back=back, status_code=409,
                     selected=flag_id, conflict=str(conflict))
    except series.DecisionError as error:
        db.rollback()
        audit_log.record(db, user, "decide_series_rejected", f"series_flag:{flag_id}", reason=str(error),
                         decision=action)
        db.commit()
        flag = db.get(SeriesFlag, flag_id)
        if flag is None:
            raise HTTPException(status_code=404, detail=f"no series flag {flag_id}") from None
        return _page(request, db, user, _load(db, flag.series.series_id), back=back, status_code=400,
                     selected=flag_id, error=str(error))
    row = decision.flag.series
    flash(request, f"Saved for the whole series {row.series_id}: {describe(decision)}.", "ok")
    if back != "/series" and not series.open_flags(row):  # opened from the queue, nothing left open: back to it
        return RedirectResponse(back, status_code=303)
    return RedirectResponse(series_url_back(row.series_id, back), status_code=303)
