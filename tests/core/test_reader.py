"""The record contract: every reader, and every kind of bad record set aside with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from secondary_crimes.failures import InputError
from secondary_crimes.reader import ReadStats, detect_format, load_gold, read_incidents, read_numbered
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
    # Issue 11: one record never stops the batch.
    ("[" * 100_000 + "]" * 100_000, "(line)", "nested too deeply"),
    ('{"incident_id": "T-2", "call_log": ' + "7" * 5000 + "}", "(line)", "4300 digits"),
    ({**GOOD, "call_log": "kicked \ud800 door"}, "call_log", "lone surrogate \\ud800"),
    ({**GOOD, "incident_id": "\ud800"}, "incident_id", "lone surrogate"),
    ({**GOOD, "officer_narrative": "x" * 1_000_001}, "officer_narrative", "over the max_text_chars limit"),
    ('{"incident_id": "T-2", "call_log": "a", "call_log": "b"}', "call_log", "appears twice"),
    # Issue 11: validation.
    ({**GOOD, "closed_at": "2024-03-01T09:00:00"}, "closed_at", "closed before it was reported"),
    ({**GOOD, "reported_at": 1709287200}, "reported_at", "bare number"),
    ({**GOOD, "closed_at": "1709294400"}, "closed_at", "bare number"),
    ({**GOOD, "incident_id": "\u200b"}, "incident_id", "invisible"),
    ({**GOOD, "incident_id": " \u00a0\ufeff\u2060 "}, "incident_id", "invisible"),
])
def test_bad_records_are_rejected_with_line_field_and_reason(tmp_path, row, field, reason):
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD, row, {**GOOD, "incident_id": "T-3"}])
    incidents, rejects = split(read_incidents(path))
    assert [i.incident_id for i in incidents] == ["T-1", "T-3"]  # the batch goes on
    [reject] = rejects
    assert (reject.line, reject.field) == (2, field)
    assert reason in reject.reason
    assert reject.source == str(path)


def test_rejects_stay_writable_and_short(tmp_path):
    """A reject echoes a bad id: lone surrogates escaped, a huge id cut, so the rejects file always writes."""
    path = write_jsonl(tmp_path / "in.jsonl", [{**GOOD, "incident_id": "\ud800" + "x" * 5000, "call_log": 1}])
    rejects = split(read_incidents(path))[1]
    assert {r.field for r in rejects} == {"incident_id", "call_log"}
    assert all(r.incident_id.startswith("\\ud800x") and len(r.incident_id) < 300 for r in rejects)
    assert all(r.model_dump_json().encode("utf-8") for r in rejects)


def test_max_text_chars_is_a_setting(tmp_path, monkeypatch):
    from secondary_crimes.settings import get_settings

    monkeypatch.setenv("SECONDARY_CRIMES_MAX_TEXT_CHARS", "40")
    get_settings.cache_clear()
    try:
        path = write_jsonl(tmp_path / "in.jsonl", [GOOD, {**GOOD, "incident_id": "T-2", "call_log": "y" * 41}])
        incidents, [reject] = split(read_incidents(path))
    finally:
        monkeypatch.delenv("SECONDARY_CRIMES_MAX_TEXT_CHARS")
        get_settings.cache_clear()
    assert [i.incident_id for i in incidents] == ["T-1"]
    assert (reject.line, reject.field) == (2, "call_log") and "41 characters" in reject.reason


def test_jsonl_splits_at_newline_only_and_drops_a_bom(tmp_path):
    path = tmp_path / "in.jsonl"
    good = json.dumps(GOOD).encode()
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\n" + good.replace(b"T-1", b"T-2").replace(b", ", b",\r ", 1)
                     + b"\r\n\n" + good.replace(b"T-1", b"T-3") + b"\n")
    stats = ReadStats()
    numbered = list(read_numbered(path, stats=stats))
    assert [(line, i.incident_id) for line, i in numbered] == [(1, "T-1"), (2, "T-2"), (4, "T-3")]
    assert (stats.records, stats.blank_lines) == (4, 1)


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


def csv_bytes(*rows: str) -> bytes:
    return "".join(row + "\n" for row in ("incident_id,call_log,reported_at", *rows)).encode("utf-8")


def test_csv_bad_rows_cost_only_themselves(tmp_path):
    """Issue 11: a bad byte, a long cell, an unclosed quote, a BOM: each row is judged alone, none lost."""
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"  # Excel's "CSV UTF-8"
        + csv_bytes("C1,hello,", 'C2,"two\nlines",')
        + b"C3,caf\xe9 au lait,\n"  # one byte that is not UTF-8
        + csv_bytes("C4," + "z" * 200_000 + ",", "C5," + "w" * 1_000_001 + ",", "", 'C6,"unclosed,',
                    "C7,after it,", "C8,one,too,many")[len(csv_bytes()):]
    )
    stats = ReadStats()
    items = list(read_numbered(path, stats=stats))
    incidents = [(line, i.incident_id) for line, i in (x for x in items if not isinstance(x, Reject))]
    rejects = {r.line: r for r in items if isinstance(r, Reject)}
    assert incidents == [(2, "C1"), (3, "C2"), (6, "C4"), (10, "C7")]
    assert "not UTF-8" in rejects[5].reason
    assert rejects[7].field == "call_log" and "max_text_chars" in rejects[7].reason
    assert "unclosed quote" in rejects[9].reason and "lines 9-11" in rejects[9].reason
    assert "4 fields; the header has 3" in rejects[11].reason
    assert (stats.records, stats.blank_lines) == (len(incidents) + len(rejects) + 1, 1)


def test_csv_quote_that_swallows_rows_rejects_one_and_reads_the_rest(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(csv_bytes('D1,"opens here,', "D2,b,", 'D3,"x"y,', "D4,d,"))
    items = list(read_numbered(path))
    assert [i[1].incident_id for i in items if not isinstance(i, Reject)] == ["D2", "D4"]
    assert [(r.line, r.reason.split(":")[0]) for r in items if isinstance(r, Reject)] == [
        (2, "not CSV"), (4, "not CSV")]


def test_whole_file_problems_are_one_clear_error(tmp_path):
    (tmp_path / "dup.csv").write_text("incident_id,call_log,call_log\nA,b,c\n", encoding="utf-8")
    with pytest.raises(InputError, match="dup.csv: line 1: the header names"):
        list(read_incidents(tmp_path / "dup.csv"))
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match="bad.parquet: not a readable Parquet file"):
        list(read_incidents(tmp_path / "bad.parquet"))
