"""How the pages and messages show things: offence names from the taxonomy, times in Europe/London."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from secondary_crimes.queue.models import NO_CRIME_REASONS, Decision
from secondary_crimes.taxonomy import load_taxonomy


def offence_name(label: str | None) -> str:
    """The taxonomy's display name of an offence label (the label itself if unknown)."""
    if not label:
        return ""
    offence = load_taxonomy().offences.get(label)
    return offence.name if offence else label


def describe(decision: Decision) -> str:
    """A decision in words, with offence names: 'Common assault — no crime (No offence disclosed)'."""
    flagged = offence_name(decision.flag.offence)
    if decision.action == "record":
        what = "record" if decision.offence == decision.flag.offence else f"record as {offence_name(decision.offence)}"
    elif decision.action == "no_crime":
        what = f"no crime ({NO_CRIME_REASONS.get(decision.reason_code or '', decision.reason_code)})"
    else:
        what = "needs more information"
    return f"{flagged} — {what}"


LONDON = ZoneInfo("Europe/London")


def london(moment: datetime | None, *, utc: bool = True, seconds: bool = False) -> str:
    """``moment`` in Europe/London with its zone ('03 Jul 2024 14:05 BST').

    Times the queue records (decisions, checks, claims, the audit log) are naive UTC (``utc``);
    an incident's own times without a zone are the force's wall-clock times, read as London.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC) if utc else moment.replace(tzinfo=LONDON)
    return moment.astimezone(LONDON).strftime("%d %b %Y %H:%M" + (":%S" if seconds else "") + " %Z")


def incident_time(moment: datetime | None) -> str:
    """An incident's reported/closed time (wall-clock London when it has no zone)."""
    return london(moment, utc=False)
