"""Decide: from a model's analysis and the recorded crimes to offences, missed flags and priority."""

from __future__ import annotations

from typing import Any

import numpy as np

from secondary_crimes.classify.base import Analysis
from secondary_crimes.recording_rules import check_rules
from secondary_crimes.records import Incident
from secondary_crimes.scored import (
    EvidenceSpan,
    ScoredIncident,
    ScoredOffence,
    ScoredPerson,
    incident_fields,
)
from secondary_crimes.taxonomy import LABELS, load_taxonomy


def _reason(label: str, probability: float, threshold: float, incident: Incident, missed: bool,
            covered: set[str], principal: str | None, doubtful: str | None = None) -> str:
    """Why ``label`` is listed: unrecorded (``missed``), recorded (in ``covered``), or accounted for by
    the flagged ``principal`` offence (``Taxonomy.absorbing``); ``doubtful`` is a flagged offence that
    would account for an unrecorded one but is less probable than it."""
    taxonomy = load_taxonomy()
    name = taxonomy.offences[label].name
    supported = f"{name}: the account supports it (p={probability:.2f}, threshold {threshold:.2f})"
    if not missed:
        if label in covered:
            return supported + "; recorded."
        return supported + f"; the flagged {taxonomy.offences[principal].name} accounts for it (principal crime)."
    if not incident.recorded_crimes:
        reason = supported + "; nothing was recorded for this incident"
    else:
        reason = supported + f"; the recorded crimes ({', '.join(incident.recorded_crimes)}) do not cover it"
    if doubtful is not None:
        reason += f"; the flagged {taxonomy.offences[doubtful].name} would account for it, but is less probable"
    return reason + "."


def review_priority(probabilities: np.ndarray, covered: set[str]) -> float:
    """Chance that at least one uncovered offence is present (labels treated as independent)."""
    uncovered = [p for label, p in zip(LABELS, probabilities, strict=True) if label not in covered]
    return float(1.0 - np.prod([1.0 - p for p in uncovered])) if uncovered else 0.0


def scored_incident(incident: Incident, analysis: Analysis, thresholds: np.ndarray, *,
                    model_version: str, decimals: int = 4, max_evidence: int = 3) -> ScoredIncident:
    """The scored record (one line of the `score` command's output) for an incident."""
    taxonomy = load_taxonomy()
    covered = taxonomy.covered(incident.recorded_crimes)
    order = np.argsort(-analysis.probabilities, kind="stable")
    chosen = [j for j in order if analysis.probabilities[j] >= thresholds[j]]
    flagged = [LABELS[j] for j in chosen]
    sure = {label: round(float(analysis.probabilities[j]), decimals) for j, label in zip(chosen, flagged, strict=True)}
    unrecorded = set(taxonomy.unrecorded(flagged, incident.recorded_crimes, sure))
    offences = []
    for j, label in zip(chosen, flagged, strict=True):
        probability, threshold = float(analysis.probabilities[j]), float(thresholds[j])
        offences.append(ScoredOffence(
            offence=label,
            probability=round(probability, decimals),
            threshold=round(threshold, decimals),
            reason=_reason(label, probability, threshold, incident, label in unrecorded, covered,
                           taxonomy.absorbing(label, flagged, sure), taxonomy.absorbing(label, flagged)),
            evidence=[EvidenceSpan.of(span) for span in analysis.evidence.get(label, [])[:max_evidence]],
        ))
    # The rules read the offences and the reporter (recording_rules.check_rules).
    rule_flags = check_rules(incident, {"offences": [entry.model_dump(mode="json") for entry in offences],
                                        "reporter": analysis.reporter})
    return ScoredIncident(
        incident_id=incident.incident_id,
        model_version=model_version,
        offences=offences,
        missed=[entry for entry in offences if entry.offence in unrecorded],
        review_priority=round(review_priority(analysis.probabilities, covered), decimals),
        domestic=analysis.domestic,
        relationship=analysis.relationship,
        reporter=analysis.reporter,
        people=[ScoredPerson(text=p.text, role=p.role, relationship=p.relationship, described_as=list(p.described_as))
                for p in analysis.people],
        incident=incident_fields(incident),
        rule_flags=rule_flags,
    )


def decide(incident: Incident, analysis: Analysis, thresholds: np.ndarray, *,
           model_version: str, decimals: int = 4, max_evidence: int = 3) -> dict[str, Any]:
    """One scored-output record (the `score` command's line) for an incident, as its JSON object:
    :func:`scored_incident`'s ``record()``."""
    return scored_incident(incident, analysis, thresholds, model_version=model_version, decimals=decimals,
                           max_evidence=max_evidence).record()
