"""An incident with its flags, and the decision form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.responses import RedirectResponse, Response

from secondary_crimes.queue import audit_log, claims, corrections, decisions, series
from secondary_crimes.queue.deps import (
    CSRF_FAILED,
    CsrfPassed,
    DbSession,
    OptionalUser,
    Viewer,
    flash,
    incident_url,
    render,
    safe_next,
)
from secondary_crimes.queue.display import describe
from secondary_crimes.queue.highlight import highlight, locate
from secondary_crimes.queue.models import Correction, Decision, Flag, Incident, User
from secondary_crimes.records import TEXT_FIELDS
from secondary_crimes.taxonomy import load_taxonomy

router = APIRouter()


def load_incident(db: Session, incident_id: str) -> Incident:
    """The incident with its flags, decisions and corrections (404 if there is none)."""
    incident = db.scalar(
        select(Incident)
        .where(Incident.incident_id == incident_id)
        .options(
            selectinload(Incident.flags).selectinload(Flag.decisions).selectinload(Decision.user),
            selectinload(Incident.corrections).selectinload(Correction.user),
        )
    )
    if incident is None:
        raise HTTPException(status_code=404, detail=f"no incident {incident_id}")
    return incident


def _texts(incident: Incident) -> dict[str, object]:
    """Each text field highlighted with the evidence of every scored and flagged offence."""
    entries = [(flag.offence, flag.evidence) for flag in incident.flags if flag.active]
    entries += [(entry.get("offence"), entry.get("evidence") or []) for entry in incident.scored_offences]
    entries += [(c.offence, [{"field": c.field, "start": c.start, "end": c.end, "text": c.text}])
                for c in corrections.effective(incident).added.values()]  # the auditors' added offences
    out = {}
    for field in TEXT_FIELDS:
        text = getattr(incident, field) or ""
        spans = set()
        for offence, evidence in entries:
            for span in evidence:
                if span.get("field") != field:
                    continue
                where = locate(text, int(span.get("start", 0)), int(span.get("end", 0)), span.get("text") or "")
                if where:
                    spans.add((*where, offence))
        out[field] = highlight(text, sorted(spans))
    return out


def _incident_page(
    request: Request,
    db: Session,
    user: User,
    incident: Incident,
    *,
    selected: int | None,
    back: str,
    status_code: int = 200,
    conflict: str | None = None,
    error: str | None = None,
    draft: Draft | None = None,
) -> Response:
    flags = sorted(incident.flags, key=lambda f: (f.status != "open", not f.active, -f.probability))
    if selected is None or selected not in {f.id for f in flags}:
        selected = flags[0].id if flags else None
    evidence_offences = list(
        dict.fromkeys(
            [f.offence for f in incident.flags if f.active and f.evidence]
            + [e.get("offence") for e in incident.scored_offences if e.get("evidence")]
        )
    )
    return render(
        request,
        "incident.html",
        user,
        status_code=status_code,
        incident=incident,
        flags=flags,
        selected=selected,
        texts=_texts(incident),
        back=back,
        conflict=conflict,
        error=error,
        draft=draft,
        evidence_offences=evidence_offences,
        labels=load_taxonomy().labels,
        hold=claims.holds(db, [incident.id]).get(incident.id),
        corrected=corrections.effective(incident),
        fact_choices=corrections.facts_choices(),
        person_roles=corrections.PERSON_ROLES,
        model_spans=corrections.model_spans(incident),
        describe_correction=corrections.describe,
        series_of=series.of_incident(db, incident.incident_id),
    )


def incident_page_for(
    request: Request, db: Session, user: User, incident: Incident, *, back: str, status_code: int = 200,
    conflict: str | None = None, error: str | None = None,
) -> Response:
    """The incident page (for the corrections' routes: no flag selected, no draft)."""
    return _incident_page(request, db, user, incident, selected=None, back=back, status_code=status_code,
                          conflict=conflict, error=error)


@router.get("/incidents/{incident_id:path}")  # an id may hold a "/" (sent as %2F)
def incident_page(
    request: Request, db: DbSession, user: Viewer, incident_id: str, flag: int | None = None, back: str = "/queue"
) -> Response:
    incident = load_incident(db, incident_id)
    return _incident_page(request, db, user, incident, selected=flag, back=safe_next(back, prefix="/queue"))


@dataclass(frozen=True)
class Draft:
    """A decision form as submitted, filled in again when it could not be saved."""

    flag_id: int
    action: str
    offence: str
    reason_code: str
    note: str


NOT_SAVED = "Your decision was NOT saved"


def _not_saved(request: Request, db: Session, user: User | None, draft: Draft, back: str) -> Response:
    """A form without a live session or CSRF token: refused, logged, and the typed note kept."""
    audit_log.record(
        db, user, "refused", request.url.path, method="POST", reason=CSRF_FAILED if user else "no live session"
    )
    db.commit()
    if user is None:
        error = f"{NOT_SAVED}: your session had ended. Your note is below; log in and decide again."
        return render(request, "login.html", None, status_code=403, next=back, error=error, kept_note=draft.note)
    flag = db.get(Flag, draft.flag_id)
    if flag is None:
        return _withdrawn(request, user, draft)
    return _incident_page(
        request,
        db,
        user,
        load_incident(db, flag.incident.incident_id),
        selected=draft.flag_id,
        back=back,
        status_code=403,
        error=f"{NOT_SAVED}: {CSRF_FAILED}. It is filled in again below: check it and save it again.",
        draft=draft,
    )


def _withdrawn(request: Request, user: User, draft: Draft) -> Response:
    detail = f"no flag {draft.flag_id}: a re-scoring may have withdrawn it. Your decision was not saved."
    return render(request, "error.html", user, status_code=404, status=404, detail=detail, kept_note=draft.note)


@router.post("/flags/{flag_id}/decision")
def decide(
    request: Request,
    db: DbSession,
    user: OptionalUser,
    csrf_passed: CsrfPassed,
    flag_id: int,
    version: Annotated[int, Form()],
    action: Annotated[str, Form()],
    offence: Annotated[str, Form()] = "",
    reason_code: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/queue",
) -> Response:
    back = safe_next(back, prefix="/queue")
    draft = Draft(flag_id, action, offence, reason_code, note)
    if user is None or not csrf_passed:
        return _not_saved(request, db, user, draft, back)
    try:
        decision = decisions.decide(
            db,
            user,
            flag_id,
            version=version,
            action=action,
            offence=offence or None,
            reason_code=reason_code or None,
            note=note,
        )
        db.commit()
    except decisions.NotFound:
        return _withdrawn(request, user, draft)
    except decisions.Conflict as conflict:
        db.rollback()
        audit_log.record(db, user, "decide_conflict", f"flag:{flag_id}", version=version, decision=action)
        db.commit()
        incident = load_incident(db, conflict.flag.incident.incident_id)
        return _incident_page(
            request,
            db,
            user,
            incident,
            selected=flag_id,
            back=back,
            status_code=409,
            conflict=str(conflict),
            draft=draft,
        )
    except decisions.DecisionError as error:
        db.rollback()
        audit_log.record(db, user, "decide_rejected", f"flag:{flag_id}", reason=str(error), decision=action)
        db.commit()
        flag = db.get(Flag, flag_id)
        if flag is None:
            raise HTTPException(status_code=404, detail=f"no flag {flag_id}") from None
        incident = load_incident(db, flag.incident.incident_id)
        return _incident_page(
            request, db, user, incident, selected=flag_id, back=back, status_code=400, error=str(error), draft=draft
        )
    incident = decision.flag.incident
    flash(request, f"Saved: {incident.incident_id} {describe(decision)}.", "ok")
    if any(f.status == "open" and f.active for f in incident.flags):  # decide its other flags next
        return RedirectResponse(f"{incident_url(incident.incident_id)}?back={quote(back, safe='')}", status_code=303)
    return RedirectResponse(back, status_code=303)
