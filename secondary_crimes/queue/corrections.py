"""Auditors correct the model on an incident: facts, roles, missed offences, wrong evidence spans.

Corrections are append-only rows (``Correction``); the latest one on a fact supersedes earlier
ones. Each is made against the incident's ``correction_version`` (a compare-and-set, as for
decisions), so a correction made on a stale page is a conflict, never an overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.extract.types import PERSON_ROLES as EXTRACTED_ROLES
from secondary_crimes.queue import audit_log
from secondary_crimes.queue.display import london, offence_name
from secondary_crimes.queue.highlight import locate
from secondary_crimes.queue.models import Correction, Incident, User
from secondary_crimes.records import TEXT_FIELDS
from secondary_crimes.taxonomy import load_taxonomy

MAX_NOTE = 4000
# The extractor's person roles and its fallback "other" (extract.types holds no spaCy).
PERSON_ROLES = (*EXTRACTED_ROLES, "other")
FACTS = ("domestic", "relationship", "reporter")
DOMESTIC = {"true": True, "false": False, "": None}


class CorrectionError(ValueError):
    """A correction that cannot be accepted as submitted."""


class Conflict(Exception):
    """Someone corrected the incident after this user loaded it."""

    def __init__(self, incident: Incident) -> None:
        self.incident = incident
        latest = incident.corrections[-1] if incident.corrections else None
        who = "it changed"
        if latest is not None:
            when = london(latest.created_at, seconds=True)
            who = f"{latest.user.username} corrected it ({describe(latest)}) at {when}"
        super().__init__(f"{who} while you had it open. Your correction was NOT saved; check it and correct again.")


def facts_choices() -> dict[str, tuple[str, ...]]:
    """The choices for each fact: the taxonomy's vocabularies ("" is unknown)."""
    taxonomy = load_taxonomy()
    return {"domestic": tuple(DOMESTIC), "relationship": ("", *taxonomy.relationships),
            "reporter": ("", *taxonomy.reporters)}


def describe(correction: Correction) -> str:
    """A correction in words, for history and messages."""
    kind, value = correction.kind, correction.value
    if kind in FACTS:
        shown = {"true": "yes", "false": "no"}.get(value or "", (value or "unknown").replace("_", " "))
        return f"{kind} is {shown}"
    if kind == "role":
        return f"{correction.text or 'person ' + str(correction.person)} is the {value}"
    quote = f"“{correction.text}”"
    if kind == "offence":
        return f"missed {offence_name(correction.offence)}: {quote}"
    return f"not evidence of {offence_name(correction.offence)}: {quote}"


@dataclass
class Effective:
    """The incident as corrected: the model's facts and roles with the auditors' corrections laid over."""

    facts: dict[str, Any]
    roles: list[str | None]
    corrected: set[str] = field(default_factory=set)  # facts an auditor set
    added: dict[str, Correction] = field(default_factory=dict)  # offence -> the latest span given
    wrong: list[Correction] = field(default_factory=list)


def effective(incident: Incident) -> Effective:
    """What the auditors' corrections make of ``incident`` (latest correction wins)."""
    out = Effective({k: getattr(incident, k) for k in FACTS}, [p.get("role") for p in incident.people or []])
    for correction in incident.corrections:
        if correction.kind in FACTS:
            value = correction.value or ""
            out.facts[correction.kind] = DOMESTIC[value] if correction.kind == "domestic" else (value or None)
            out.corrected.add(correction.kind)
        elif correction.kind == "role" and correction.person is not None and correction.person < len(out.roles):
            out.roles[correction.person] = correction.value
        elif correction.kind == "offence":
            out.added[correction.offence or ""] = correction
        elif correction.kind == "wrong_span":
            out.wrong.append(correction)
    return out


def _note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise CorrectionError(f"note too long ({len(note)} characters, at most {MAX_NOTE})")
    return note


def _bump(session: Session, incident: Incident, version: int) -> int:
    """Compare-and-set the incident's correction version; a stale one raises Conflict."""
    result = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.correction_version == version)
        .values(correction_version=Incident.correction_version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        fresh = session.scalar(
            select(Incident)
            .where(Incident.id == incident.id)
            .options(selectinload(Incident.corrections).selectinload(Correction.user))
            .execution_options(populate_existing=True)
        )
        raise Conflict(fresh)
    return version + 1


def _save(session: Session, user: User, incident: Incident, version: int, rows: list[dict[str, Any]],
          note: str) -> list[Correction]:
    new_version = _bump(session, incident, version)
    made = [Correction(incident=incident, user=user, note=note, incident_version=new_version,
                       model_version=incident.model_version, **row) for row in rows]  # joins incident.corrections
    session.add_all(made)
    session.flush()
    for correction in made:
        audit_log.record(
            session, user, "correct", f"incident:{incident.incident_id}", correction_id=correction.id,
            kind=correction.kind, value=correction.value, person=correction.person, offence=correction.offence,
            field=correction.field, start=correction.start, end=correction.end, version=new_version,
        )
    return made


def correct_facts(session: Session, user: User, incident: Incident, *, version: int, values: dict[str, str],
                  note: str = "") -> list[Correction]:
    """One correction per fact (domestic, relationship, reporter) whose value changes; the caller commits."""
    note = _note(note)
    choices = facts_choices()
    now = effective(incident).facts
    rows = []
    for fact in FACTS:
        if fact not in values:
            continue
        value = values[fact] or ""
        if value not in choices[fact]:
            raise CorrectionError(f"unknown {fact} {value!r}")
        current = DOMESTIC[value] if fact == "domestic" else (value or None)
        if current != now[fact]:
            rows.append({"kind": fact, "value": value})
    if not rows:
        raise CorrectionError("nothing to correct: the values are as shown")
    return _save(session, user, incident, version, rows, note)


def correct_role(session: Session, user: User, incident: Incident, *, version: int, person: int, role: str,
                 note: str = "") -> Correction:
    """Person ``person`` (an index into ``people``) has ``role``; the caller commits."""
    note = _note(note)
    people = incident.people or []
    if not 0 <= person < len(people):
        raise CorrectionError(f"no person {person} on this incident")
    if role not in PERSON_ROLES:
        raise CorrectionError(f"unknown role {role!r}")
    if effective(incident).roles[person] == role:
        raise CorrectionError("nothing to correct: that is the role shown")
    text = people[person].get("text") or ", ".join(people[person].get("described_as") or []) or None
    return _save(session, user, incident, version, [{"kind": "role", "value": role, "person": person,
                                                      "text": text}], note)[0]


def _span(incident: Incident, field_name: str, start: int, end: int) -> str:
    """The text of a span, checked against the stored text."""
    if field_name not in TEXT_FIELDS:
        raise CorrectionError(f"unknown text field {field_name!r}")
    text = getattr(incident, field_name) or ""
    if not 0 <= start < end <= len(text):
        raise CorrectionError(f"the span {start}-{end} is not within the {field_name.replace('_', ' ')} "
                              f"({len(text)} characters)")
    quoted = text[start:end]
    if not quoted.strip():
        raise CorrectionError("the span holds only white space: select the words that are the evidence")
    return quoted


def add_offence(session: Session, user: User, incident: Incident, *, version: int, offence: str, field_name: str,
                start: int, end: int, note: str = "") -> Correction:
    """``offence`` was reported and the model missed it; the span is its evidence. The caller commits."""
    note = _note(note)
    if offence not in load_taxonomy().offences:
        raise CorrectionError(f"unknown offence {offence!r}")
    if offence in (incident.recorded_crimes or []):
        raise CorrectionError(f"{offence_name(offence)} was recorded: it was not missed")
    if any(flag.offence == offence and flag.active for flag in incident.flags):
        raise CorrectionError(f"{offence_name(offence)} is flagged already: decide its flag")
    text = _span(incident, field_name, start, end)
    return _save(session, user, incident, version, [{"kind": "offence", "offence": offence, "field": field_name,
                                                      "start": start, "end": end, "text": text}], note)[0]


def model_spans(incident: Incident) -> list[tuple[str, dict[str, Any]]]:
    """The model's evidence spans on the incident: (offence, span), flags first, no repeats."""
    entries = [(flag.offence, flag.evidence) for flag in incident.flags if flag.active]
    entries += [(e.get("offence"), e.get("evidence") or []) for e in incident.scored_offences or []]
    seen, out = set(), []
    for offence, spans in entries:
        for span in spans:
            key = (offence, span.get("field"), span.get("start"), span.get("end"))
            if offence and key not in seen:
                seen.add(key)
                out.append((offence, span))
    return out


def mark_wrong(session: Session, user: User, incident: Incident, *, version: int, offence: str, field_name: str,
               start: int, end: int, note: str = "") -> Correction:
    """The model's span is not evidence of ``offence``; the caller commits."""
    key = (offence, field_name, start, end)
    note = _note(note)
    quoted = next((s.get("text") or "" for o, s in model_spans(incident)
                   if (o, s.get("field"), int(s.get("start", -1)), int(s.get("end", -1))) == key), None)
    if quoted is None:
        raise CorrectionError("no such evidence span from the model on this incident")
    marked = {(c.offence, c.field, c.start, c.end) for c in effective(incident).wrong}
    if key in marked:
        raise CorrectionError("that span is already marked wrong")
    where = locate(getattr(incident, field_name) or "", start, end, quoted)  # as the page highlights it
    if where is None:
        raise CorrectionError("that span is no longer in the text")
    text = _span(incident, field_name, *where)
    return _save(session, user, incident, version, [{"kind": "wrong_span", "offence": offence, "field": field_name,
                                                      "start": start, "end": end, "text": text}], note)[0]
