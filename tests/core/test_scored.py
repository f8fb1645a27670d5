"""The scored record, typed once (secondary_crimes/scored.py): what decide writes, linking adds,
the README shows and docs/scored_incident.schema.json publishes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from secondary_crimes.classify.base import Analysis
from secondary_crimes.decide import decide, scored_incident
from secondary_crimes.link.conduct import ConductFlag
from secondary_crimes.link.run import LinkResult, annotate
from secondary_crimes.recording_rules import RULES
from secondary_crimes.records import INPUT_FIELDS, Incident
from secondary_crimes.scored import (
    IncidentFields,
    RuleFlag,
    ScoredIncident,
    json_schema,
    json_schema_text,
    write_json_schema,
)
from secondary_crimes.taxonomy import LABELS

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "docs" / "scored_incident.schema.json"
PINNED = Path(__file__).parent / "data" / "decide_sample.jsonl"


def pinned_records() -> list[dict]:
    return [json.loads(line) for line in PINNED.read_text(encoding="utf-8").splitlines()]


def readme_example() -> dict:
    """The scored line the README shows (the JSON block after 'Each scored line')."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"Each scored line.*?```json\n(.*?)```", text, re.DOTALL)
    assert found, "README.md: no scored-line example"
    return json.loads(found.group(1))


def test_the_scored_incident_is_the_input_fields_less_the_id():
    assert tuple(IncidentFields.model_fields) == INPUT_FIELDS[1:] == tuple(Incident.model_fields)[1:]


def test_decide_writes_its_scored_incident():
    incident = Incident(incident_id="A", call_log="He punched her.", recorded_crimes=["common_assault"],
                        reported_at="2024-03-01T10:00:00+01:00")
    analysis = Analysis(probabilities=np.where(np.array(LABELS) == "assault_with_injury", 0.9, 0.01))
    thresholds = np.full(len(LABELS), 0.5)
    scored = scored_incident(incident, analysis, thresholds, model_version="m")
    assert isinstance(scored, ScoredIncident)
    assert decide(incident, analysis, thresholds, model_version="m") == scored.record()
    assert list(scored.record()) == [
        "incident_id", "model_version", "offences", "missed", "review_priority", "domestic", "relationship",
        "reporter", "people", "incident", "rule_flags"]  # no linked fields until the linking pass
    assert scored.input_incident() == incident
    assert scored.record()["incident"]["reported_at"] == "2024-03-01T10:00:00+01:00"


def test_scored_lines_round_trip_exactly():
    for record in pinned_records():
        assert ScoredIncident.model_validate(record).record() == record
        assert ScoredIncident.model_validate_json(json.dumps(record)).record() == record


def test_linked_lines_round_trip_exactly():
    record = pinned_records()[3]
    flag = ConductFlag(record["incident_id"], "stalking", "series-7", ("SMP-24-0001",), True, "Stalking: ...", (
        {"incident_id": "SMP-24-0001", "reported_at": "2024-02-03T23:41:00+00:00",
         "spans": [{"field": "call_log", "start": 0, "end": 4, "text": "2341"}]},
        {"incident_id": record["incident_id"], "reported_at": None, "spans": []},
    ))
    result = LinkResult(series=[], linked={record["incident_id"]: ["SMP-24-0001"]},
                        flags={record["incident_id"]: [flag]})
    [linked] = annotate([record], result)
    scored = ScoredIncident.model_validate(linked)
    assert scored.record() == linked and list(scored.record())[-2:] == ["linked", "course_of_conduct"]
    assert scored.course_of_conduct[0].evidence[0].spans[0].text == "2341"
    [unlinked] = annotate([record], LinkResult(series=[], linked={}, flags={}))
    assert ScoredIncident.model_validate(unlinked).record() == {**record, "linked": [], "course_of_conduct": []}


def test_every_recording_rule_can_be_a_flag():
    for rule in RULES:
        RuleFlag(rule=rule, reason="r")
    with pytest.raises(ValidationError, match="rule"):
        RuleFlag(rule="no_such_rule", reason="r")


@pytest.mark.parametrize(("change", "where"), [
    (lambda r: r["offences"][0].update(probability=float("nan")), "offences.0.probability"),
    (lambda r: r["missed"][0].update(offence="jaywalking"), "missed.0.offence"),
    (lambda r: r["offences"][0]["evidence"][0].update(field="notes"), "offences.0.evidence.0.field"),
    (lambda r: r["incident"].update(reported_at="1706140800"), "incident.reported_at"),
    (lambda r: r.pop("incident"), "incident"),
])
def test_a_bad_record_names_its_field(change, where):
    record = next(r for r in pinned_records() if r["missed"] and r["offences"][0]["evidence"])
    change(record)
    with pytest.raises(ValidationError) as raised:
        ScoredIncident.model_validate(record)
    assert where in {".".join(str(part) for part in error["loc"]) for error in raised.value.errors()}


def test_the_published_json_schema_is_the_models(tmp_path):
    assert SCHEMA.read_text(encoding="utf-8") == json_schema_text(), (
        "docs/scored_incident.schema.json is stale: run `python -m secondary_crimes.scored`")
    assert json.loads(write_json_schema(tmp_path / "schema.json").read_text(encoding="utf-8")) == json_schema()


def test_the_readme_example_is_a_scored_line():
    example = readme_example()
    assert ScoredIncident.model_validate(example).record() == example
    incident = example["incident"]
    for entry in example["offences"] + example["missed"]:
        for span in entry["evidence"]:
            assert incident[span["field"]][span["start"]:span["end"]] == span["text"]


def test_the_readme_example_and_decides_lines_validate_against_the_published_schema():
    import jsonschema  # the test extra
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.check_schema(schema)
    for record in [readme_example(), *pinned_records()]:
        validator.validate(record)
    bad = {**readme_example(), "review_priority": 1.5}
    assert not validator.is_valid(bad)
    assert not validator.is_valid({**readme_example(), "rule_flags": [{"rule": "no_such_rule", "reason": "r"}]})
