"""The command line end to end: score (with bad rows), evaluate, cross-validate."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from secondary_crimes.cli import app
from secondary_crimes.records import INPUT_FIELDS

from .conftest import SAMPLE

runner = CliRunner()


def test_score_writes_one_line_per_accepted_incident_and_sets_bad_rows_aside(tmp_path, tiny_model_dir, sample_rows):
    rows = [json.dumps({k: r[k] for k in INPUT_FIELDS if k in r}) for r in sample_rows[:8]]
    rows.insert(3, json.dumps({"incident_id": "BAD-1", "call_log": 7}))
    rows.insert(5, rows[0])  # duplicate id
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    result = runner.invoke(app, ["score", str(tmp_path / "in.jsonl"), "--out", str(out),
                                 "--model", str(tiny_model_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "scored 8 incidents" in result.output and "2 records rejected" in result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["incident_id"] for r in records] == [r["incident_id"] for r in sample_rows[:8]]
    for record in records:
        assert 0.0 <= record["review_priority"] <= 1.0
        covered = set(record["incident"]["recorded_crimes"])
        assert all(m["offence"] not in covered for m in record["missed"])
        assert {m["offence"] for m in record["missed"]} <= {o["offence"] for o in record["offences"]}
    rejects = [json.loads(line) for line in (tmp_path / "scored.jsonl.rejects.jsonl").read_text().splitlines()]
    assert {(r["line"], r["field"]) for r in rejects} == {(4, "call_log"), (6, "incident_id")}


def test_score_exits_non_zero_when_nothing_could_be_scored(tmp_path, tiny_model_dir):
    (tmp_path / "in.jsonl").write_text('{"call_log": "no id"}\n', encoding="utf-8")
    result = runner.invoke(app, ["score", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                                 "--model", str(tiny_model_dir), "--quiet"])
    assert result.exit_code == 1
    assert "scored 0 incidents" in result.output


def test_score_names_a_missing_model(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"incident_id": "A", "call_log": "x"}\n', encoding="utf-8")
    result = runner.invoke(app, ["score", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                                 "--model", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no trained model" in result.output


def test_evaluate_prints_the_full_table(tiny_model_dir):
    result = runner.invoke(app, ["evaluate", str(SAMPLE), "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    for heading in ("Offences the account supports", "Missed (unrecorded) flags", "micro avg", "macro avg",
                    "Incident level", "average precision", "top 10%", "relationship", "reporter"):
        assert heading in result.output


def test_evaluate_json_has_every_figure(tiny_model_dir):
    result = runner.invoke(app, ["evaluate", str(SAMPLE), "--model", str(tiny_model_dir), "--json"])
    report = json.loads(result.output)
    assert set(report["missed"]["per_offence"]) >= {"common_assault", "rape"}
    level = report["incident_level"]
    assert level["incidents"] == 30 and 0 <= level["recall"] <= 1
    assert set(level["missed_found_in_top"]) == {"10%", "20%", "30%"}


def test_redrawing_the_evaluation_set_needs_track_and_reaches_tracked_train(monkeypatch, tmp_path):
    result = runner.invoke(app, ["train", "--config", "training/baseline.yaml", "--redraw-evaluation-set"])
    assert result.exit_code != 0
    assert "--redraw-evaluation-set needs --track" in result.output and "Traceback" not in result.output
    import secondary_crimes.tracking as tracking

    calls = []

    def tracked_train(config, *, output=None, redraw_evaluation_set=False):
        calls.append(redraw_evaluation_set)
        raise SystemExit(0)  # the tracked run itself is tested in tests/tracking

    monkeypatch.setattr(tracking, "tracked_train", tracked_train)
    runner.invoke(app, ["train", "--config", "training/baseline.yaml", "--track", "--redraw-evaluation-set"])
    runner.invoke(app, ["train", "--config", "training/baseline.yaml", "--track"])
    assert calls == [True, False]
