"""The report renders to one self-contained HTML file with embedded plots, and its JSON has the figures."""

from __future__ import annotations

import base64
import json
import re

import pytest
from typer.testing import CliRunner

from secondary_crimes.audit.cli import audit_app
from secondary_crimes.audit.report import write_report
from secondary_crimes.audit.sampling import draw_sample
from secondary_crimes.audit.simulate import simulate_population
from secondary_crimes.audit.types import offence_groups


@pytest.fixture(scope="module")
def audited():
    population = simulate_population(4_000, 21)
    sample = draw_sample(population.scored_records(), size=400, priority_size=60, seed=4, name="test-audit")
    return population, sample, population.decisions([u.incident_id for u in sample.units])


def test_report_html_and_json(audited, tmp_path):
    population, sample, decisions = audited
    html_path, json_path = write_report(
        tmp_path / "report.html", sample, decisions, volume=120_000, png_dir=tmp_path / "png"
    )
    document = html_path.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>") and document.rstrip().endswith("</html>")
    images = re.findall(r"src='data:image/png;base64,([^']+)'", document)
    assert len(images) == 4
    for encoded in images:
        assert base64.b64decode(encoded)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in document and "https://" not in document  # nothing fetched from elsewhere
    assert "Crime recording rate" in document and "test-audit" in document
    assert len(list((tmp_path / "png").glob("*.png"))) == 4

    figures = json.loads(json_path.read_text(encoding="utf-8"))
    overall = figures["estimates"]["overall"]
    rate = overall["recording_rate"]
    assert rate["low"] <= rate["estimate"] <= rate["high"]
    assert rate["method"] == "stratified combined ratio"
    assert overall["model_assisted_recording_rate"]["estimate"] > 0
    assert overall["unrecorded_per_year"]["estimate"] == pytest.approx(
        120_000 * overall["unrecorded_per_incident"]["estimate"]
    )
    assert set(figures["estimates"]["groups"]) == set(offence_groups())
    assert figures["calibration"]["bins"] and figures["calibration"]["brier"] is not None
    assert figures["priority"]["random"]["bins"] and figures["priority"]["priority"]["bins"]
    assert figures["population"]["flags_by_offence"] and figures["population"]["rule_flags"]
    assert figures["sample"]["random_size"] == 400 and figures["sample"]["priority_size"] == 60
    # The simulated truth is inside the interval here (seeded).
    assert rate["low"] <= population.true_rate() <= rate["high"]
    assert "images" not in figures


def test_report_with_no_decisions(audited, tmp_path):
    _, sample, _ = audited
    html_path, json_path = write_report(tmp_path / "empty.html", sample, {})
    figures = json.loads(json_path.read_text(encoding="utf-8"))
    assert figures["estimates"]["audited"] == 0 and figures["estimates"]["warnings"]
    assert "no audited incidents" in html_path.read_text(encoding="utf-8")


def test_cli_sample_and_simulate(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        audit_app,
        [
            "simulate",
            "--out-dir",
            str(tmp_path),
            "--incidents",
            "2000",
            "--size",
            "200",
            "--priority-size",
            "20",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.json").exists()
    result = runner.invoke(
        audit_app,
        [
            "sample",
            str(tmp_path / "scored.jsonl"),
            "--out-dir",
            str(tmp_path / "again"),
            "--size",
            "200",
            "--priority-size",
            "20",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again" / "sample.json").read_text() != ""
    first = json.loads((tmp_path / "sample" / "sample.json").read_text())["units"]
    second = json.loads((tmp_path / "again" / "sample.json").read_text())["units"]
    assert first == second
    result = runner.invoke(audit_app, ["rules", str(tmp_path / "scored.jsonl"), "--out", str(tmp_path / "rules.jsonl")])
    assert result.exit_code == 0, result.output
    line = json.loads((tmp_path / "rules.jsonl").read_text().splitlines()[0])
    assert "rule_flags" in line
