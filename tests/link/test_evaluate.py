"""Linking evaluation: pairwise precision/recall of `linked`, course-of-conduct flags, the CLI, settings."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from secondary_crimes.cli import app
from secondary_crimes.link.conduct import ConductFlag
from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.evaluate import conduct_flags, pairwise, read_gold_linked
from secondary_crimes.records import GoldIncident

runner = CliRunner()


def test_pairwise_precision_and_recall() -> None:
    gold = {"a": [], "b": ["a"], "c": ["a", "b"], "d": []}
    predicted = {"b": ["a"], "d": ["c"]}  # one right, one wrong, two gold pairs missed
    report = pairwise(gold, predicted)
    assert (report["gold"], report["predicted"], report["true"]) == (3, 2, 1)
    assert report["precision"] == 0.5 and report["recall"] == 1 / 3
    assert report["false_pairs"] == [("c", "d")]
    assert report["missed_pairs"] == [("a", "c"), ("b", "c")]


def _gold(incident_id: str, offences: list[str], missed: list[str]) -> GoldIncident:
    return GoldIncident(incident_id=incident_id, call_log="x", offences=offences, missed=missed)


def _flag(incident_id: str, offence: str, missed: bool = True) -> ConductFlag:
    return ConductFlag(incident_id, offence, "s", ("a",), missed, "")


def test_course_of_conduct_flags_against_gold() -> None:
    gold = [_gold("a", [], []), _gold("b", ["harassment"], ["harassment"]),
            _gold("c", ["stalking", "theft"], ["stalking", "theft"]), _gold("d", ["harassment"], ["harassment"])]
    linked = {"a": [], "b": ["a"], "c": ["a", "b"], "d": []}  # d's harassment is one incident's: not counted
    flags = {"b": [_flag("b", "stalking")], "c": [_flag("c", "stalking")], "d": [_flag("d", "harassment", False)]}
    report = conduct_flags(gold, linked, flags)
    assert (report["missed"]["gold"], report["missed"]["predicted"], report["missed"]["true"]) == (2, 2, 1)
    assert report["missed"]["false"] == ["b:stalking"] and report["missed"]["not_found"] == ["b:harassment"]
    assert report["offences"]["predicted"] == 3


def test_link_evaluate_command(tmp_path, batch) -> None:
    gold_linked = {"T-102": ["T-101"], "T-103": ["T-101", "T-102"]}
    gold_missed = {"T-102": ["harassment"], "T-103": ["stalking"]}
    path = tmp_path / "series_test.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for incident in batch:
            row = incident.model_dump(mode="json")
            missed = gold_missed.get(incident.incident_id, [])
            row.update(offences=missed, missed=missed, linked=gold_linked.get(incident.incident_id, []))
            handle.write(json.dumps(row) + "\n")
    assert read_gold_linked(path)["T-103"] == ["T-101", "T-102"]
    result = runner.invoke(app, ["link-evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["linking"]["precision"], report["linking"]["recall"]) == (1.0, 1.0)
    assert report["conduct"]["missed"]["true"] == 1  # T-103 stalking; T-102 is stalking here, harassment in gold
    text = runner.invoke(app, ["link-evaluate", str(path)]).output
    assert "linking (pairwise, 3 gold pairs): precision 1.000  recall 1.000" in text


def test_link_settings_are_typed_and_read_from_the_environment(settings_env) -> None:
    settings_env(link_window_days=30)
    config = LinkConfig.from_settings()
    assert config.window_days == 30.0 and isinstance(config.min_parties, int)
    assert LinkConfig.from_settings(window_days=5).window_days == 5


def test_evaluate_command_counts_the_course_of_conduct_that_score_would_write(tmp_path, batch, model_dir) -> None:
    """`evaluate` links the scored file as `score` does, so T-103's stalking (a series of three visits by
    her ex) is found, though no single call's text makes the small baseline flag it."""
    path = tmp_path / "series_test.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for incident in batch:
            missed = ["stalking"] if incident.incident_id == "T-103" else []
            row = incident.model_dump(mode="json") | {"offences": missed, "missed": missed}
            handle.write(json.dumps(row) + "\n")
    result = runner.invoke(app, ["evaluate", str(path), "--model", str(model_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["missed"]["per_offence"]["stalking"]["recall"] == 1.0
