"""The record contract: every reader, and every kind of bad record set aside with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from secondary_crimes.reader import detect_format, load_gold, read_incidents
from secondary_crimes.records import INPUT_FIELDS, GoldIncident, Incident, Reject

GOOD = {
    "incident_id": "T-1", "reported_at": "2024-03-01T10:00:00", "closed_at": "2024-03-01T12:00:00",
    "opening_code": "DOMESTIC INCIDENT", "closing_code": "ADVICE GIVEN",
    "call_log": "RP states partner pushed her.", "officer_narrative": "", "recorded_crimes": ["common_assault"],
}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def split(items):
    items = list(items)
    incidents = [i for i in items if isinstance(i, Incident)]
    rejects = [i for i in items if isinstance(i, Reject)]
    return incidents, rejects


def test_jsonl_csv_and_parquet_read_the_same_incidents(tmp_path, sample_rows):
    rows = [{k: r[k] for k in INPUT_FIELDS if k in r} for r in sample_rows[:10]]
    jsonl = write_jsonl(tmp_path / "in.jsonl", rows)
    frame = pd.DataFrame(rows)
    frame.assign(recorded_crimes=frame.recorded_crimes.map(json.dumps)).to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet")
    results = [split(read_incidents(p))[0] for p in (jsonl, tmp_path / "in.csv", tmp_path / "in.parquet")]
    assert [len(r) for r in results] == [10, 10, 10]
    assert results[0] == results[1] == results[2]
    assert results[0][0].call_log == rows[0]["call_log"]


def test_csv_accepts_semicolon_label_lists_and_empty_narrative(tmp_path):
    (tmp_path / "in.csv").write_text(
        "incident_id,call_log,officer_narrative,recorded_crimes\n"
        'A1,"hit him, twice",,common_assault;criminal_damage\n', encoding="utf-8")
    [incident] = split(read_incidents(tmp_path / "in.csv"))[0]
    assert incident.recorded_crimes == ["common_assault", "criminal_damage"]
    assert incident.officer_narrative == ""


@pytest.mark.parametrize(("row", "field", "reason"), [
    ({k: v for k, v in GOOD.items() if k != "incident_id"}, "incident_id", "Field required"),
    ({**GOOD, "incident_id": "  "}, "incident_id", "blank"),
    ({**GOOD, "call_log": 42}, "call_log", "valid string"),
    ({**GOOD, "recorded_crimes": ["assault"]}, "recorded_crimes", "unknown offence label"),
    ({**GOOD, "recorded_crimes": "[not json"}, "recorded_crimes", "not a JSON list"),
    ({**GOOD, "reported_at": "yesterday"}, "reported_at", "datetime"),
    ("{not json", "(line)", "not JSON"),
    ("[1, 2]", "(line)", "not a JSON object"),
])
def test_bad_records_are_rejected_with_line_field_and_reason(tmp_path, row, field, reason):
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD, row, {**GOOD, "incident_id": "T-3"}])
    incidents, rejects = split(read_incidents(path))
    assert [i.incident_id for i in incidents] == ["T-1", "T-3"]  # the batch goes on
    [reject] = rejects
    assert (reject.line, reject.field) == (2, field)
    assert reason in reject.reason
    assert reject.source == str(path)


def test_undecodable_bytes_and_duplicates_are_rejected(tmp_path):
    path = tmp_path / "in.jsonl"
    good = json.dumps(GOOD).encode()
    path.write_bytes(good + b"\n" + b'{"incident_id": "X", "call_log": "caf\xe9"}\n' + good + b"\n")
    incidents, rejects = split(read_incidents(path))
    assert len(incidents) == 1
    assert [(r.line, r.field) for r in rejects] == [(2, "(line)"), (3, "incident_id")]
    assert "undecodable" in rejects[0].reason and "duplicate" in rejects[1].reason


def test_gold_fields_are_ignored_for_scoring_and_read_for_evaluation(tmp_path, sample_rows):
    path = write_jsonl(tmp_path / "gold.jsonl", sample_rows[:3])
    incidents, _ = split(read_incidents(path))
    assert not hasattr(incidents[0], "offences")
    gold, rejects = load_gold(path)
    assert not rejects and all(isinstance(g, GoldIncident) and g.has_gold for g in gold)
    assert gold[0].offences == sample_rows[0]["offences"]


def test_unknown_gold_labels_are_rejected(tmp_path, sample_rows):
    path = write_jsonl(tmp_path / "gold.jsonl", [{**sample_rows[0], "relationship": "cousin"}])
    _, rejects = load_gold(path)
    assert [r.field for r in rejects] == ["relationship"]


def test_unknown_format_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown input format"):
        detect_format(tmp_path / "in.xlsx")
