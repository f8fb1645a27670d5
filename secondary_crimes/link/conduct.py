"""Course of conduct: harassment, stalking, coercive control and breach of an order across a series.

For each incident with earlier incidents in its series (its ``linked``), the occasions are those
incidents and itself. They support, from the indicators of each (``Extraction``, and the offences
a model found when scored records are given):

- coercive control: an intimate-partner series with controlling behaviour on at least one occasion
  (money, phone, movements, degradation, monitoring);
- stalking, otherwise: stalking behaviour on at least one occasion (following, loitering, watching
  or tracking);
- harassment, otherwise: an offence indicator on at least one occasion (two occasions of unwanted
  conduct are the course of conduct);
- breach of an order: this incident mentions the order or a breach and so does an earlier one.

A flag is missed when the incident's recorded crimes do not cover it. Its evidence is the
supporting spans of every occasion, oldest first, so an auditor sees the whole course of conduct.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from secondary_crimes.extract.types import Extraction, Span
from secondary_crimes.link.series import Series
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import load_taxonomy

CONDUCT_OFFENCES = ("harassment", "stalking", "coercive_control", "breach_of_order")
CONTROL_KINDS = {"control_money", "control_phone", "control_movement", "degradation", "monitoring"}
STALKING_KINDS = {"following", "loitering", "monitoring"}
ORDER_KINDS = {"court_order", "breach"}
# The indicator kinds shown as evidence for each offence (any offence indicator for harassment).
EVIDENCE_KINDS = {
    "coercive_control": CONTROL_KINDS,
    "stalking": STALKING_KINDS | {"contact_through_others", "unwanted_contact", "repeated_contact"},
    "breach_of_order": ORDER_KINDS,
}


@dataclass(frozen=True)
class Occasion:
    """What one incident of a series shows: its affirmed indicator kinds and any model offences."""

    incident: Incident
    extraction: Extraction
    model_offences: frozenset[str] = frozenset()

    @property
    def kinds(self) -> set[str]:
        return {i.kind for i in self.extraction.affirmed()}

    @property
    def conduct(self) -> bool:
        """Something the perpetrator did: an affirmed offence indicator, or an offence the model found."""
        return any(i.offences for i in self.extraction.affirmed()) or bool(self.model_offences)

    def shows(self, offence: str, kinds: set[str]) -> bool:
        return bool(self.kinds & kinds) or offence in self.model_offences

    def evidence(self, offence: str, limit: int) -> list[Span]:
        kinds = EVIDENCE_KINDS.get(offence)
        spans = [i.span for i in sorted(self.extraction.affirmed(), key=lambda i: (i.span.field != "call_log",
                                                                                  i.span.start))
                 if i.offences and (kinds is None or i.kind in kinds)]
        return list(dict.fromkeys(spans))[:limit]


@dataclass(frozen=True)
class ConductFlag:
    """A course-of-conduct offence for one incident of a series."""

    incident_id: str
    offence: str
    series_id: str
    linked: tuple[str, ...]
    missed: bool
    reason: str
    evidence: tuple[dict, ...] = field(default_factory=tuple)  # per occasion: incident_id, reported_at, spans

    def to_dict(self) -> dict:
        return {"offence": self.offence, "series_id": self.series_id, "linked": list(self.linked),
                "missed": self.missed, "reason": self.reason, "evidence": list(self.evidence)}


def relationship(occasions: Sequence[Occasion]) -> str | None:
    """The series' relationship: the commonest one the extraction found ("stranger" only when no other
    was found: the same two people in a series know each other), the latest on a tie."""
    found = [o.extraction.relationship for o in occasions if o.extraction.relationship not in (None, "none")]
    known = [r for r in found if r != "stranger"] or found
    if not known:
        return None
    counts = Counter(known)
    return max(reversed(known), key=lambda r: counts[r])


def supported(occasions: Sequence[Occasion]) -> list[str]:
    """The course-of-conduct offences the occasions (oldest first, this incident last) support together."""
    if len(occasions) < 2:
        return []
    out = []
    intimate = relationship(occasions) == "intimate_partner"
    if intimate and any(o.shows("coercive_control", CONTROL_KINDS) for o in occasions):
        out.append("coercive_control")
    elif any(o.shows("stalking", STALKING_KINDS) for o in occasions):
        out.append("stalking")
    elif any(o.conduct for o in occasions):
        out.append("harassment")
    current, earlier = occasions[-1], occasions[:-1]
    if current.shows("breach_of_order", ORDER_KINDS) and any(o.shows("breach_of_order", ORDER_KINDS)
                                                             for o in earlier):
        out.append("breach_of_order")
    return out


def _reason(offence: str, occasions: Sequence[Occasion], missed: bool, recorded: Sequence[str]) -> str:
    name = load_taxonomy().offences[offence].name
    dates = ", ".join(o.incident.reported_at.date().isoformat() if o.incident.reported_at else o.incident.incident_id
                      for o in occasions)
    text = f"{name}: a course of conduct over {len(occasions)} incidents with the same people ({dates})"
    if not missed:
        return text + "; recorded."
    return text + ("; nothing was recorded for this incident." if not recorded
                   else f"; the recorded crimes ({', '.join(recorded)}) do not cover it.")


def score_series(series: Sequence[Series], incidents: Mapping[str, Incident], extractions: Mapping[str, Extraction],
                 model_offences: Mapping[str, Sequence[str]] | None = None, *,
                 max_evidence: int = 3) -> dict[str, list[ConductFlag]]:
    """Course-of-conduct flags by incident id (only incidents with at least one flag)."""
    model_offences = model_offences or {}
    taxonomy = load_taxonomy()
    out: dict[str, list[ConductFlag]] = {}
    for one in series:
        occasions = [Occasion(incidents[i], extractions[i], frozenset(model_offences.get(i, ()))) for i in
                     one.incident_ids]
        for n in range(1, len(occasions)):
            so_far = occasions[: n + 1]
            incident = so_far[-1].incident
            covered = taxonomy.covered(incident.recorded_crimes)
            flags = []
            for offence in supported(so_far):
                missed = offence not in covered
                evidence = tuple(
                    {"incident_id": o.incident.incident_id,
                     "reported_at": o.incident.reported_at.isoformat() if o.incident.reported_at else None,
                     "spans": [s.to_dict() for s in (o.evidence(offence, max_evidence)
                                                     or o.evidence("harassment", max_evidence))]}
                    for o in so_far)
                flags.append(ConductFlag(incident.incident_id, offence, one.series_id,
                                         tuple(one.incident_ids[:n]), missed,
                                         _reason(offence, so_far, missed, incident.recorded_crimes), evidence))
            if flags:
                out[incident.incident_id] = flags
    return out
