"""The one place the audit reads the review queue: auditors' decisions, read-only.

An incident's finding is built from its recorded crimes and its flags' current status:
a flag decided ``recorded`` confirms its offence (or the offence the auditor named in the
decision) as a crime that should have been recorded; ``no_crime`` rejects it; a flag still
``open`` or ``more_info`` leaves the incident incomplete (left out of the estimate until it
is decided). Recorded crimes are taken as correctly recorded. An incident with no flags is
complete with nothing unrecorded: the queue only shows auditors the model's flags, so crimes
the model missed entirely are not in these decisions (see docs/audit.md), except on a check item
(queue/checks.py): an offence recorded on it is confirmed, and until it is decided the incident is
incomplete; a check item is no model flag, so it is not among the flag outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable

from secondary_crimes.audit.types import AuditDecision, FlagOutcome


def _engine(db_url: str):
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only = ON")
            cursor.close()

        return engine
    if url.get_backend_name() == "postgresql":
        return create_engine(url, execution_options={"postgresql_readonly": True})
    return create_engine(url)


def decisions_from_queue(db_url: str, incident_ids: Iterable[str]) -> dict[str, AuditDecision]:
    """The auditors' findings for ``incident_ids`` that are in the queue, by incident id."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session, selectinload

    from secondary_crimes.queue.models import Flag, Incident

    wanted = list(dict.fromkeys(incident_ids))
    engine = _engine(db_url)
    out: dict[str, AuditDecision] = {}
    try:
        with Session(engine) as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = session.scalars(
                    select(Incident)
                    .where(Incident.incident_id.in_(chunk))
                    .options(selectinload(Incident.flags).selectinload(Flag.decisions))
                )
                for row in rows:
                    out[row.incident_id] = _finding(row)
            session.rollback()
    finally:
        engine.dispose()
    return out


def _finding(row) -> AuditDecision:
    from secondary_crimes.queue.models import CHECK_OFFENCE

    recorded = tuple(row.recorded_crimes or ())
    confirmed = list(recorded)
    outcomes = []
    complete = True
    for flag in row.flags:
        if not flag.active and not flag.decisions:
            continue
        status = flag.status
        offence = flag.offence
        latest = flag.decisions[-1] if flag.decisions else None
        if status == "recorded":
            if latest is not None and latest.action == "record" and latest.offence:
                offence = latest.offence
            confirmed.append(offence)
        elif status != "no_crime":
            complete = False
        if flag.offence != CHECK_OFFENCE:  # a check item's decision counts above, but it is no model flag
            outcomes.append(FlagOutcome(flag.offence, float(flag.probability), status))
    return AuditDecision(row.incident_id, tuple(dict.fromkeys(confirmed)), recorded, complete, tuple(outcomes))
