"""Decide: coverage rules, the output schema, priority, evidence offsets."""

from __future__ import annotations

import numpy as np

from secondary_crimes.classify.base import Analysis
from secondary_crimes.decide import decide, review_priority
from secondary_crimes.extract.types import Span
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS

OUTPUT_KEYS = {"incident_id", "model_version", "offences", "missed", "review_priority", "domestic",
               "relationship", "reporter", "people", "incident", "rule_flags"}
FLAG_KEYS = {"offence", "probability", "threshold", "reason", "evidence"}


def analysis(**probabilities: float) -> Analysis:
    row = np.full(len(LABELS), 0.01)
    for label, p in probabilities.items():
        row[LABELS.index(label)] = p
    return Analysis(probabilities=row)


THRESHOLDS = np.full(len(LABELS), 0.5)


def test_recorded_abh_covers_a_predicted_common_assault():
    incident = Incident(incident_id="A", call_log="He punched her, cut lip.", recorded_crimes=["assault_with_injury"])
    record = decide(incident, analysis(common_assault=0.8, assault_with_injury=0.9), THRESHOLDS, model_version="m")
    assert [o["offence"] for o in record["offences"]] == ["assault_with_injury", "common_assault"]
    assert record["missed"] == []


def test_a_lesser_recorded_crime_does_not_cover_the_greater():
    incident = Incident(incident_id="B", call_log="Followed her daily.", recorded_crimes=["harassment"])
    record = decide(incident, analysis(stalking=0.7), THRESHOLDS, model_version="m")
    assert [m["offence"] for m in record["missed"]] == ["stalking"]
    assert "do not cover it" in record["missed"][0]["reason"]


def test_a_flagged_greater_offence_is_the_one_missed_flag_for_the_same_act():
    incident = Incident(incident_id="D", call_log="He punched her in the face, black eye.", recorded_crimes=[])
    record = decide(incident, analysis(common_assault=0.8, assault_with_injury=0.9, criminal_damage=0.6),
                    THRESHOLDS, model_version="m")
    assert [o["offence"] for o in record["offences"]] == ["assault_with_injury", "common_assault", "criminal_damage"]
    assert [m["offence"] for m in record["missed"]] == ["assault_with_injury", "criminal_damage"]
    common = next(o for o in record["offences"] if o["offence"] == "common_assault")
    assert common["reason"].endswith(
        "the flagged Assault with injury (ABH or worse) accounts for it (principal crime).")
    alone = decide(incident, analysis(common_assault=0.8, assault_with_injury=0.3), THRESHOLDS, model_version="m")
    assert [m["offence"] for m in alone["missed"]] == ["common_assault"]  # the greater below threshold: the lesser


def test_a_lesser_offence_the_model_is_surer_of_is_not_hidden_behind_a_doubtful_greater_one():
    incident = Incident(incident_id="E", call_log="Ex sent her 'hope your kids die' on Snapchat.", recorded_crimes=[])
    record = decide(incident, analysis(malicious_communications=0.97, harassment=0.6), THRESHOLDS, model_version="m")
    assert [m["offence"] for m in record["missed"]] == ["malicious_communications", "harassment"]
    surer = record["missed"][0]
    assert surer["reason"].endswith("nothing was recorded for this incident; the flagged Harassment would account "
                                    "for it, but is less probable.")
    assert "would account" not in record["missed"][1]["reason"]
    # as sure of the greater as of the lesser: the principal crime alone
    tied = decide(incident, analysis(malicious_communications=0.6, harassment=0.6), THRESHOLDS, model_version="m")
    assert [m["offence"] for m in tied["missed"]] == ["harassment"]
    assert "accounts for it (principal crime)" in next(
        o["reason"] for o in tied["offences"] if o["offence"] == "malicious_communications")


def test_output_schema_and_evidence_offsets():
    incident = Incident(incident_id="C", call_log="0102 RP says ex smashed her phone.", officer_narrative="")
    start = incident.call_log.index("smashed")
    span = Span("call_log", start, start + 19, incident.call_log[start:start + 19])
    result = analysis(criminal_damage=0.66)
    result.evidence = {"criminal_damage": [span]}
    record = decide(incident, result, THRESHOLDS, model_version="baseline-1")
    assert set(record) == OUTPUT_KEYS
    [flag] = record["missed"]
    assert set(flag) == FLAG_KEYS
    assert flag["probability"] == 0.66 and flag["threshold"] == 0.5
    [evidence] = flag["evidence"]
    assert incident.call_log[evidence["start"]:evidence["end"]] == evidence["text"] == "smashed her phone."[:19]
    assert "nothing was recorded" in flag["reason"]
    assert record["incident"]["call_log"] == incident.call_log


def test_below_threshold_is_not_flagged_but_still_raises_priority():
    incident = Incident(incident_id="D", call_log="Verbal argument only.")
    record = decide(incident, analysis(public_order=0.4), THRESHOLDS, model_version="m")
    assert record["offences"] == [] and record["missed"] == []
    assert 0.4 <= record["review_priority"] < 0.5


def test_priority_ignores_covered_offences_and_stays_in_unit_interval():
    probabilities = analysis(common_assault=0.9, theft=0.99).probabilities
    assert review_priority(probabilities, set(LABELS)) == 0.0
    high = review_priority(probabilities, {"theft"})
    assert 0.9 <= high <= 1.0
    assert review_priority(np.ones(len(LABELS)), set()) == 1.0
