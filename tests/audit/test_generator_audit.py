"""The audit on the synthetic generator's incidents (real-looking text, known recording rate).

The generator's gold offences stand in for the auditors' decisions; a noisy oracle stands in
for the model (the trained classifier is not needed to test the audit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

generator = pytest.importorskip("secondary_crimes.synthetic.generator")

from secondary_crimes.audit.estimate import estimate_audit  # noqa: E402
from secondary_crimes.audit.sampling import draw_sample  # noqa: E402
from secondary_crimes.audit.types import AuditDecision  # noqa: E402
from secondary_crimes.recording_rules import check_rules, professional_reporter_spans, sexual_disclosure_spans  # noqa: E402
from secondary_crimes.records import Incident  # noqa: E402
from secondary_crimes.taxonomy import LABELS, load_taxonomy  # noqa: E402

RATE = 0.8


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return generator.generate_incidents(1_500, seed=3, recording_rate=RATE)


def _noisy_oracle(row: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    covered = load_taxonomy().covered(row["recorded_crimes"])
    offences = []
    for label in LABELS:
        p = rng.beta(5, 1.6) if label in row["offences"] else (rng.beta(2, 4) if rng.random() < 0.02 else 0.01)
        if p >= 0.5:
            offences.append({"offence": label, "probability": float(p), "threshold": 0.5, "reason": "", "evidence": []})
    missed = [e for e in offences if e["offence"] not in covered]
    priority = 1 - np.prod([1 - e["probability"] for e in missed]) if missed else 0.0
    incident = Incident.model_validate(row)
    return {
        "incident_id": row["incident_id"],
        "model_version": "oracle",
        "offences": offences,
        "missed": missed,
        "review_priority": float(priority),
        "reporter": row["reporter"],
        "incident": incident.model_dump(mode="json", exclude={"incident_id"}),
    }


def test_rule_words_agree_with_gold(rows):
    professional = sum(
        bool(professional_reporter_spans(Incident.model_validate(r))) == (r["reporter"] == "third_party_professional")
        for r in rows
    )
    assert professional / len(rows) > 0.95
    sexual = [r for r in rows if set(r["offences"]) & {"rape", "sexual_assault"}]
    found = sum(bool(sexual_disclosure_spans(Incident.model_validate(r))) for r in sexual)
    assert sexual and found / len(sexual) > 0.8


def test_audit_on_generator_output(rows):
    rng = np.random.default_rng(0)
    scored = [_noisy_oracle(r, rng) for r in rows]
    flagged = {
        flag["rule"]
        for record, row in zip(scored, rows, strict=True)
        for flag in check_rules(Incident.model_validate(row), record)
    }
    assert {
        "professional_third_party_nothing_recorded",
        "sexual_offence_not_recorded",
        "victim_wishes_reason",
        "no_crime_closing_with_offence",
    } <= flagged
    sample = draw_sample(scored, size=600, priority_size=50, seed=1)
    gold = {r["incident_id"]: r for r in rows}
    decisions = {
        u.incident_id: AuditDecision(
            u.incident_id, tuple(gold[u.incident_id]["offences"]), tuple(gold[u.incident_id]["recorded_crimes"])
        )
        for u in sample.units
    }
    result = estimate_audit(sample.units, decisions, sample.population_sizes, auxiliary_totals=sample.auxiliary_totals)
    covered = load_taxonomy().covered
    true_y = sum(sum(o in covered(r["recorded_crimes"]) for o in r["offences"]) for r in rows)
    true_x = sum(len(r["offences"]) for r in rows)
    truth = true_y / true_x
    assert abs(truth - RATE) < 0.03  # the generator records each offence with probability RATE
    for key in ("recording_rate", "model_assisted_recording_rate"):
        estimate = result["overall"][key]
        assert estimate["low"] <= truth <= estimate["high"], (key, estimate, truth)
