"""Export decided incidents in the corpus format (FORMAT.md), as extra training data.

An incident is exported once every flag on it that the current scoring raises has a final
decision (recorded or no crime); flags the scoring dropped count if someone decided them.
``offences`` is the recorded crimes plus the offences the auditors confirmed, ``missed`` the
confirmed offences not among the recorded crimes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.models import DECIDED, NO_CRIME_REASONS, Flag, Incident, User
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import load_taxonomy

FALLBACK_QUOTE_CHARS = 80


def _quote(incident: Incident, offence: str) -> str:
    """A verbatim quote supporting ``offence``: an evidence span, else the call log's start."""
    sources = [flag.evidence for flag in incident.flags if flag.offence == offence]
    sources += [entry.get("evidence", []) for entry in incident.scored_offences if entry.get("offence") == offence]
    for spans in sources:
        for span in spans:
            text = incident.call_log if span.get("field") == "call_log" else incident.officer_narrative
            quote = (text or "")[span.get("start", 0) : span.get("end", 0)].strip()
            if quote:
                return quote
    return incident.call_log[:FALLBACK_QUOTE_CHARS].strip() or incident.call_log[:FALLBACK_QUOTE_CHARS]


def is_decided(incident: Incident) -> bool:
    decided = [flag for flag in incident.flags if flag.status in DECIDED]
    pending = [flag for flag in incident.flags if flag.active and flag.status not in DECIDED]
    return bool(decided) and not pending


def gold_record(incident: Incident) -> dict[str, Any]:
    """The corpus-format record for a decided incident."""
    taxonomy = load_taxonomy()
    recorded = list(incident.recorded_crimes)
    confirmed: list[str] = []
    rationale: list[str] = []
    for flag in incident.flags:
        decision = flag.latest_decision
        if flag.status not in DECIDED or decision is None:
            continue
        if decision.action == "record":
            offence = decision.offence or flag.offence
            confirmed.append(offence)
            rationale.append(f"{offence} should have been recorded" + (f": {decision.note}" if decision.note else "."))
        else:
            reason = NO_CRIME_REASONS.get(decision.reason_code or "", decision.reason_code or "no reason given")
            rationale.append(
                f"{flag.offence} not a crime to record ({reason})" + (f": {decision.note}" if decision.note else ".")
            )
    offences = list(dict.fromkeys(recorded + confirmed))
    missed = [label for label in dict.fromkeys(confirmed) if label not in recorded]
    record: dict[str, Any] = {
        "incident_id": incident.incident_id,
        "reported_at": incident.reported_at.isoformat() if incident.reported_at else None,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "opening_code": incident.opening_code,
        "closing_code": incident.closing_code,
        "call_log": incident.call_log,
        "officer_narrative": incident.officer_narrative,
        "recorded_crimes": recorded,
        "offences": offences,
        "missed": missed,
        "domestic": incident.domestic,
        "relationship": incident.relationship if incident.relationship in taxonomy.relationships else None,
        "reporter": incident.reporter if incident.reporter in taxonomy.reporters else None,
        "evidence": {label: _quote(incident, label) for label in offences},
        "rationale": " ".join(rationale),
    }
    GoldIncident.model_validate(record)  # raises, naming the field, if we would write a bad record
    return record


def decided_records(session: Session) -> Iterator[dict[str, Any]]:
    query = (
        select(Incident)
        .where(Incident.id.in_(select(Flag.incident_pk).where(Flag.status.in_(DECIDED))))
        .options(selectinload(Incident.flags).selectinload(Flag.decisions))
        .order_by(Incident.incident_id)
        .execution_options(yield_per=500)
    )
    for incident in session.scalars(query):
        if is_decided(incident):
            yield gold_record(incident)


def export_file(session: Session, out: Path, *, user: User | None = None) -> int:
    """Write the decided incidents to ``out`` (JSON Lines, mode 0600, atomically); returns how many."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = out.with_name(out.name + ".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an old .tmp was left behind with a wider mode
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        for record in decided_records(session):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out)
    if user is None:
        audit_log.record_cli(session, "export", str(out.resolve()), incidents=count)
    else:
        audit_log.record(session, user, "export", str(out.resolve()), incidents=count)
    return count
