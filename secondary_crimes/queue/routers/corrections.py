"""Correcting the model on an incident page: facts, a person's role, a missed offence, a wrong span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, corrections
from secondary_crimes.queue.deps import Auditor, CsrfChecked, DbSession, flash, incident_url, safe_next
from secondary_crimes.queue.models import User
from secondary_crimes.queue.routers.incidents import incident_page_for, load_incident

router = APIRouter(dependencies=[CsrfChecked])
IncidentId = Annotated[str, Form(max_length=64)]
Version = Annotated[int, Form()]
Note = Annotated[str, Form()]
Back = Annotated[str, Form()]
Offset = Annotated[int, Form(ge=0)]


def _apply(request: Request, db: Session, user: User, incident_id: str, back: str,
           make: Callable[..., object]) -> Response:
    """Run one correction: saved -> back to the incident; refused (400) or stale (409) -> the page again."""
    back = safe_next(back, prefix="/queue")
    incident = load_incident(db, incident_id)
    try:
        made = make(incident)
        db.commit()
    except corrections.Conflict as conflict:
        db.rollback()
        audit_log.record(db, user, "correct_conflict", f"incident:{incident_id}")
        db.commit()
        return incident_page_for(request, db, user, load_incident(db, incident_id), back=back, status_code=409,
                                 conflict=str(conflict))
    except corrections.CorrectionError as error:
        db.rollback()
        audit_log.record(db, user, "correct_rejected", f"incident:{incident_id}", reason=str(error))
        db.commit()
        return incident_page_for(request, db, user, load_incident(db, incident_id), back=back, status_code=400,
                                 error=str(error))
    saved = made if isinstance(made, list) else [made]
    flash(request, f"Corrected {incident_id}: {'; '.join(map(corrections.describe, saved))}.", "ok")
    return RedirectResponse(f"{incident_url(incident_id)}?back={quote(back, safe='')}#corrections", status_code=303)


@router.post("/corrections/facts")
def facts(request: Request, db: DbSession, user: Auditor, incident_id: IncidentId, version: Version,
          domestic: Annotated[str | None, Form()] = None, relationship: Annotated[str | None, Form()] = None,
          reporter: Annotated[str | None, Form()] = None, note: Note = "", back: Back = "/queue") -> Response:
    sent = {"domestic": domestic, "relationship": relationship, "reporter": reporter}
    values = {fact: value for fact, value in sent.items() if value is not None}  # a fact not sent is left alone
    return _apply(request, db, user, incident_id, back, lambda incident: corrections.correct_facts(
        db, user, incident, version=version, values=values, note=note))


@router.post("/corrections/role")
def role(request: Request, db: DbSession, user: Auditor, incident_id: IncidentId, version: Version,
         person: Annotated[int, Form(ge=0)], role: Annotated[str, Form()], note: Note = "",
         back: Back = "/queue") -> Response:
    return _apply(request, db, user, incident_id, back, lambda incident: corrections.correct_role(
        db, user, incident, version=version, person=person, role=role, note=note))


@router.post("/corrections/offence")
def offence(request: Request, db: DbSession, user: Auditor, incident_id: IncidentId, version: Version,
            offence: Annotated[str, Form()], field: Annotated[str, Form()], start: Offset, end: Offset,
            note: Note = "", back: Back = "/queue") -> Response:
    return _apply(request, db, user, incident_id, back, lambda incident: corrections.add_offence(
        db, user, incident, version=version, offence=offence, field_name=field, start=start, end=end, note=note))


@router.post("/corrections/wrong-span")
def wrong_span(request: Request, db: DbSession, user: Auditor, incident_id: IncidentId, version: Version,
               offence: Annotated[str, Form()], field: Annotated[str, Form()], start: Offset, end: Offset,
               note: Note = "", back: Back = "/queue") -> Response:
    return _apply(request, db, user, incident_id, back, lambda incident: corrections.mark_wrong(
        db, user, incident, version=version, offence=offence, field_name=field, start=start, end=end, note=note))
