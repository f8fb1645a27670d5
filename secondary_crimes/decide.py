"""Decide: from a model's analysis and the recorded crimes to offences, missed flags and priority."""

from __future__ import annotations

from typing import Any

import numpy as np

from secondary_crimes.classify.base import Analysis
from secondary_crimes.recording_rules import check_rules
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS, load_taxonomy


def _reason(label: str, probability: float, threshold: float, incident: Incident, missed: bool) -> str:
    taxonomy = load_taxonomy()
    name = taxonomy.offences[label].name
    supported = f"{name}: the account supports it (p={probability:.2f}, threshold {threshold:.2f})"
    if not missed:
        return supported + "; recorded."
    if not incident.recorded_crimes:
        return supported + "; nothing was recorded for this incident."
    recorded = ", ".join(incident.recorded_crimes)
    return supported + f"; the recorded crimes ({recorded}) do not cover it."


def review_priority(probabilities: np.ndarray, covered: set[str]) -> float:
    """Chance that at least one uncovered offence is present (labels treated as independent)."""
    uncovered = [p for label, p in zip(LABELS, probabilities, strict=True) if label not in covered]
    return float(1.0 - np.prod([1.0 - p for p in uncovered])) if uncovered else 0.0


def decide(incident: Incident, analysis: Analysis, thresholds: np.ndarray, *,
           model_version: str, decimals: int = 4, max_evidence: int = 3) -> dict[str, Any]:
    """One scored-output record (the `score` command's line) for an incident."""
    covered = load_taxonomy().covered(incident.recorded_crimes)
    offences, missed = [], []
    order = np.argsort(-analysis.probabilities, kind="stable")
    for j in order:
        probability, threshold = float(analysis.probabilities[j]), float(thresholds[j])
        if probability < threshold:
            continue
        label = LABELS[j]
        is_missed = label not in covered
        entry = {
            "offence": label,
            "probability": round(probability, decimals),
            "threshold": round(threshold, decimals),
            "reason": _reason(label, probability, threshold, incident, is_missed),
            "evidence": [span.to_dict() for span in analysis.evidence.get(label, [])[:max_evidence]],
        }
        offences.append(entry)
        if is_missed:
            missed.append(entry)
    record = {
        "incident_id": incident.incident_id,
        "model_version": model_version,
        "offences": offences,
        "missed": missed,
        "review_priority": round(review_priority(analysis.probabilities, covered), decimals),
        "domestic": analysis.domestic,
        "relationship": analysis.relationship,
        "reporter": analysis.reporter,
        "people": [{"text": p.text, "role": p.role, "relationship": p.relationship,
                    "described_as": list(p.described_as)} for p in analysis.people],
        "incident": incident.model_dump(mode="json", exclude={"incident_id"}),
    }
    record["rule_flags"] = check_rules(incident, record)
    return record
