"""The report renders to one self-contained HTML file with embedded plots, and its JSON has the figures."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from secondary_crimes.audit.cli import audit_app
from secondary_crimes.audit.report import GROUP_NAMES, PLOTS, write_report
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


def _text(document: str) -> str:
    """The page's text: tags dropped, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())


def test_report_shows_the_figures_of_its_json(audited, tmp_path):
    _, sample, decisions = audited
    html_path, json_path = write_report(
        tmp_path / "report.html", sample, decisions, volume=120_000, db_url="sqlite:///queue.db",
        png_dir=tmp_path / "png",
    )
    document = html_path.read_text(encoding="utf-8")
    figures = json.loads(json_path.read_text(encoding="utf-8"))
    text = _text(document)
    overall = figures["estimates"]["overall"]
    rate, assisted, unrecorded = (overall[key] for key in (
        "recording_rate", "model_assisted_recording_rate", "unrecorded_per_year"))

    def pct(e: dict) -> str:
        return f"{e['estimate'] * 100:.1f}% ± {e['half_width'] * 100:.2f}"

    def interval(e: dict) -> str:
        return f"{e['low'] * 100:.1f}–{e['high'] * 100:.1f}"

    cards = [_text(card) for card in re.findall(r"<div class='card'>(.*?)</div>\s*</div>", document, re.S)]
    assert cards[0] == f"Crime recording rate {pct(rate)} 95% CI {interval(rate)}; stratified combined ratio estimator"
    assert cards[1].startswith(f"Model-assisted recording rate {pct(assisted)} ")
    assert cards[2] == (f"Unrecorded crimes per year {unrecorded['estimate']:,.0f} 95% CI "
                        f"{unrecorded['low']:,.0f}–{unrecorded['high']:,.0f} for 120,000 incidents")
    assert (f"All crime {overall['sample_recorded']} / {overall['sample_should_have_been_recorded']} "
            f"{pct(rate)} ({interval(rate)}) {pct(assisted)} ({interval(assisted)})") in text
    for group, stratum in figures["estimates"]["strata"].items():
        weight = stratum["population"] / stratum["sampled"]
        assert (f"{GROUP_NAMES[group]} {stratum['population']:,} {stratum['sampled']} {stratum['audited']} "
                f"{weight:.1f}") in text
    random_flags = figures["flags"]["random_sample"]
    assert f"Random {random_flags['decided']} {pct(random_flags['confirmed_share'])}" in text
    assert f"{figures['estimates']['population']:,} scored incidents" in text
    assert all(warning in text for warning in figures["estimates"]["warnings"])
    assert "Decisions read from sqlite:///queue.db." in text

    alts = re.findall(r"<img alt='([^']+)' src='data:image/png;base64,([^']+)'>", document)
    assert [alt for alt, _ in alts] == [alt for alt, _plot in PLOTS.values()]
    for alt, encoded in alts:
        png = base64.b64decode(encoded)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / "png" / (alt.replace(" ", "_") + ".png")).read_bytes() == png


def test_importing_the_report_and_plots_leaves_matplotlib_alone():
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.rcParams._get('backend')\n"
        "import secondary_crimes.audit.report\n"
        "import secondary_crimes.plots\n"
        "assert matplotlib.rcParams._get('backend') == before, matplotlib.rcParams._get('backend')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MPLBACKEND": "svg"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


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
    lines = result.output.splitlines()
    header = [line.split() for line in lines].index(["stratum", "incidents", "sampled"])  # the strata table
    end = next(i for i, line in enumerate(lines) if line.startswith("wrote "))
    strata = {line.split()[0]: line.split()[1:] for line in lines[header + 1:end]}
    assert set(offence_groups()) <= set(strata)
    assert sum(int(sampled) for _, sampled in strata.values()) == 200
    assert sum(int(incidents.replace(",", "")) for incidents, _ in strata.values()) == 2000
    assert (tmp_path / "again" / "sample.json").read_text() != ""
    first = json.loads((tmp_path / "sample" / "sample.json").read_text())["units"]
    second = json.loads((tmp_path / "again" / "sample.json").read_text())["units"]
    assert first == second
    result = runner.invoke(audit_app, ["rules", str(tmp_path / "scored.jsonl"), "--out", str(tmp_path / "rules.jsonl")])
    assert result.exit_code == 0, result.output
    rule_lines = result.output.splitlines()[1:]
    assert rule_lines[0].split() == ["rule", "flags"] and all(line.split()[1].isdigit() for line in rule_lines[1:])
    line = json.loads((tmp_path / "rules.jsonl").read_text().splitlines()[0])
    assert "rule_flags" in line
