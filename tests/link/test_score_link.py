"""`score` links its whole output after the last batch: `linked` and flags per record, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scoring_helpers import interrupt_scoring

from secondary_crimes.link import run as link_run
from secondary_crimes.score import score_file
from secondary_crimes.score_link import should_link


@pytest.fixture()
def source(tmp_path: Path, batch) -> Path:
    """The handwritten batch (a three-incident series among distractors) and one bad record."""
    rows = [incident.model_dump(mode="json") for incident in batch]
    rows.insert(2, {**rows[0], "incident_id": "BAD-1", "reported_at": "last Tuesday"})
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _records(path: Path) -> dict[str, dict]:
    return {r["incident_id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_scored_records_gain_linked_and_flags(tmp_path, bundle, source) -> None:
    summary = score_file(source, tmp_path / "out.jsonl", bundle, batch_size=2, progress=False)
    records = _records(tmp_path / "out.jsonl")
    assert summary.scored == 7 and summary.rejected_records == 1  # counting unchanged
    assert records["T-103"]["linked"] == ["T-101", "T-102"]  # across batches of two
    (flag,) = records["T-103"]["course_of_conduct"]
    assert flag["offence"] == "stalking" and [e["incident_id"] for e in flag["evidence"]] == ["T-101", "T-102",
                                                                                              "T-103"]
    assert records["T-201"]["linked"] == [] and records["T-201"]["course_of_conduct"] == []
    assert summary.link == {"series": 1, "linked_incidents": 2, "conduct_flags": 2, "missed_conduct_flags": 2}
    assert "linked 2 incidents into 1 series" in summary.line()
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["link"] == summary.link and manifest["counts"]["scored"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "out.jsonl.manifest.json",
                                                          "out.jsonl.rejects.jsonl"]


def test_no_link_then_link(tmp_path, bundle, source) -> None:
    output = tmp_path / "out.jsonl"
    assert score_file(source, output, bundle, progress=False, link=False).link is None
    assert all("linked" not in r for r in _records(output).values())
    assert score_file(source, output, bundle, progress=False, link=False).already_done
    again = score_file(source, output, bundle, progress=False, link=True)  # not done as asked: scored again
    assert not again.already_done and again.link["series"] == 1
    assert _records(output)["T-102"]["linked"] == ["T-101"]
    assert score_file(source, output, bundle, progress=False).already_done  # default: either is fine


def test_the_default_links_only_up_to_the_size_setting(settings_env) -> None:
    settings_env(score_link_max_incidents=10)
    assert should_link(None, 10) and not should_link(None, 11)
    assert should_link(True, 10**6) and not should_link(False, 1)


def test_blocking_that_splits_a_key_is_counted_in_the_manifest(tmp_path, bundle, source, settings_env) -> None:
    """A block size of 2: the series' shared keys (three incidents) are split, and the manifest says so."""
    settings_env(link_max_block_size=2)
    summary = score_file(source, tmp_path / "out.jsonl", bundle, progress=False)
    assert summary.link["blocking_split_keys"] >= 1 and summary.link["blocking_neighbourhood_pairs"] >= 1
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["link"] == summary.link


def test_resume_mid_scoring_and_mid_linking(tmp_path, bundle, source, monkeypatch) -> None:
    score_file(source, tmp_path / "ref.jsonl", bundle, batch_size=2, progress=False)
    expected = (tmp_path / "ref.jsonl").read_bytes()
    output = tmp_path / "out.jsonl"
    with interrupt_scoring(3), pytest.raises(KeyboardInterrupt):  # killed while scoring
        score_file(source, output, bundle, batch_size=2, progress=False)

    def failing_link(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(link_run, "link_batch", failing_link)
    with pytest.raises(KeyboardInterrupt):  # resumed, scored the rest, killed while linking
        score_file(source, output, bundle, batch_size=2, progress=False)
    monkeypatch.undo()
    assert not output.exists() and (tmp_path / "out.jsonl.checkpoint.json").exists()
    assert not list(tmp_path.glob(".*linking"))
    summary = score_file(source, output, bundle, batch_size=2, progress=False)
    assert summary.resumed and summary.scored == 7 and summary.link["series"] == 1
    assert output.read_bytes() == expected


def test_evaluation_links_a_labelled_file_as_score_does(tmp_path, bundle, source, batch) -> None:
    """Evaluation (the evaluate command, cross-validation by source) judges a labelled file on what `score`
    would write for it: its course-of-conduct flags count as flags, so a series is not read one call at a time."""
    from secondary_crimes.evaluate import evaluate
    from secondary_crimes.records import GoldIncident
    from secondary_crimes.score_link import link_records

    score_file(source, tmp_path / "linked.jsonl", bundle, progress=False)
    score_file(source, tmp_path / "plain.jsonl", bundle, progress=False, link=False)
    plain = list(_records(tmp_path / "plain.jsonl").values())
    relinked = {r["incident_id"]: r for r in link_records(batch, plain)}
    assert relinked == _records(tmp_path / "linked.jsonl")
    (flag,) = relinked["T-103"]["course_of_conduct"]
    assert flag["missed"] and flag["offence"] not in {o["offence"] for o in relinked["T-103"]["missed"]}

    gold = [GoldIncident(**i.model_dump(), offences=[flag["offence"]], missed=[flag["offence"]],
                         relationship="ex_partner") for i in batch if i.incident_id == "T-103"]
    assert evaluate(gold, [plain_record for plain_record in plain if plain_record["incident_id"] == "T-103"]
                    )["missed"]["micro"]["recall"] == 0.0  # one call alone: the model's flags only
    assert evaluate(gold, list(relinked.values()))["missed"]["micro"]["recall"] == 1.0
