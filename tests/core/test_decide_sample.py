"""decide on the bundled sample: its scored lines are pinned, byte for byte, in data/decide_sample.jsonl.

The analyses are made here, deterministically (seeded probabilities and thresholds, the
incidents' own sentences as evidence, people, relationship and reporter from fixed cycles), so
the pin is on ``decide`` and the writer alone, not on a model's numerics. The pinned file was
written by ``decide`` before the scored record became a typed model (secondary_crimes/scored.py);
rewrite it (run this file with Python) only for a change to the output that is meant and documented.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, timedelta
from pathlib import Path

import numpy as np

from secondary_crimes.classify.base import Analysis
from secondary_crimes.decide import decide
from secondary_crimes.extract.types import Person
from secondary_crimes.records import Incident
from secondary_crimes.score import record_line
from secondary_crimes.settings import get_settings
from secondary_crimes.taxonomy import LABELS, load_taxonomy
from secondary_crimes.text import sentences

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_incidents.jsonl"
PINNED = Path(__file__).parent / "data" / "decide_sample.jsonl"
ROLES = ("victim", "suspect", "reporter", "witness", "child", "other")


def sample_incidents() -> list[Incident]:
    """The sample's incidents; every sixth recorded 30 hours or more after the report (every twelfth in UTC)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    incidents = [Incident.model_validate(json.loads(line)) for line in lines if line.strip()]
    for n, incident in enumerate(incidents):
        if n % 6 == 0 and incident.reported_at is not None:
            recorded = incident.reported_at + timedelta(hours=30 + n, seconds=n)
            incidents[n] = incident.model_copy(update={"crime_recorded_at": recorded.replace(
                tzinfo=UTC if n % 12 == 0 else None)})
    return incidents


def sample_analysis(incident: Incident, n: int, thresholds: np.ndarray) -> Analysis:
    """A seeded analysis: a few offences over threshold, each with up to four sentences of evidence."""
    taxonomy = load_taxonomy()
    rng = np.random.default_rng(1000 + n)
    probabilities = rng.random(len(LABELS)) ** 3
    spans = list(sentences(incident))
    evidence = {}
    for j in np.flatnonzero(probabilities >= thresholds):
        chosen = sorted(rng.choice(len(spans), size=min(len(spans), 1 + n % 4), replace=False)) if spans else []
        evidence[LABELS[j]] = [spans[i] for i in chosen]
    people = [
        Person(text=span.text[:12], role=ROLES[(n + k) % len(ROLES)], span=span,
               relationship=taxonomy.relationships[(n + k) % len(taxonomy.relationships)] if k else None,
               described_as=tuple(f"word{m}" for m in range(k)))
        for k, span in enumerate(spans[: n % 3])
    ]
    relationship = taxonomy.relationships[n % len(taxonomy.relationships)] if n % 5 else None
    return Analysis(
        probabilities=probabilities,
        evidence=evidence,
        domestic=(None, True, False)[n % 3],
        relationship=relationship,
        reporter=taxonomy.reporters[n % len(taxonomy.reporters)] if n % 7 else None,
        people=people,
    )


def sample_lines() -> bytes:
    """The scored lines ``decide`` and the writer make for the sample (as ``score`` calls them)."""
    settings = get_settings()
    thresholds = np.round(np.random.default_rng(7).uniform(0.3, 0.6, len(LABELS)), 3)
    out = []
    for n, incident in enumerate(sample_incidents()):
        record = decide(incident, sample_analysis(incident, n, thresholds), thresholds, model_version="sample-1",
                        decimals=settings["probability_decimals"], max_evidence=settings["max_evidence_per_offence"])
        out.append(record_line(record))
    return b"".join(out)


def test_decide_on_the_sample_is_unchanged():
    assert sample_lines() == PINNED.read_bytes()


def test_the_pin_covers_every_part_of_the_record():
    records = [json.loads(line) for line in PINNED.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(sample_incidents())
    assert sum(len(r["missed"]) for r in records) > 10
    assert any(len(o["evidence"]) == 3 for r in records for o in r["offences"])
    assert {p["role"] for r in records for p in r["people"]} > {"victim", "suspect"}
    assert {f["rule"] for r in records for f in r["rule_flags"]} >= {
        "professional_third_party_nothing_recorded", "sexual_offence_not_recorded", "victim_wishes_reason",
        "late_recording", "no_crime_closing_with_offence"}
    assert any(r["incident"]["crime_recorded_at"] for r in records)
    assert {r["domestic"] for r in records} == {None, True, False}


if __name__ == "__main__":  # rewrite the pin (see the module docstring)
    PINNED.parent.mkdir(exist_ok=True)
    PINNED.write_bytes(sample_lines())
    sys.exit(0)
