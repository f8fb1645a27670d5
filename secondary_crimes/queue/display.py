"""How the pages and messages show things: offence names from the taxonomy."""

from __future__ import annotations

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
