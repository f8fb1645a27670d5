"""Streaming scoring: bounded batches, the three input formats, progress, manifest, re-runs."""

from __future__ import annotations

import hashlib
import json

import pytest
from scoring_helpers import TEST_MODEL_VERSION, input_rows, read_jsonl, write_input

from secondary_crimes import score as score_module
from secondary_crimes.score import score_file


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_each_format_streams_in_bounded_batches(tmp_path, bundle, monkeypatch, suffix):
    rows = input_rows()
    source = write_input(rows, tmp_path / f"in{suffix}")
    pulled = 0
    real_read = score_module.read_numbered

    def counting_read(path, **options):
        nonlocal pulled
        for item in real_read(path, **options):
            pulled += 1
            yield item

    scored_before: list[int] = []
    real_score = score_module.score_incidents

    def checking_score(batch, model_bundle):
        assert len(batch) <= 8
        # Streaming: the reader is at most one batch (plus rejects) ahead of what was scored.
        assert pulled - sum(scored_before) <= len(batch) + 6
        scored_before.append(len(batch))
        return real_score(batch, model_bundle)

    monkeypatch.setattr(score_module, "read_numbered", counting_read)
    monkeypatch.setattr(score_module, "score_incidents", checking_score)
    summary = score_file(source, tmp_path / "out.jsonl", bundle, batch_size=8, progress=False)

    records = read_jsonl(tmp_path / "out.jsonl")
    expected_ids = list(dict.fromkeys(r["incident_id"] for r in rows if not r["incident_id"].startswith("BAD")))
    assert [r["incident_id"] for r in records] == expected_ids
    assert summary.scored == len(expected_ids) == 60
    assert len(scored_before) == 8  # ceil(60 / 8)
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert {(r["incident_id"], r["field"].split(".")[0]) for r in rejects} >= {
        ("BAD-1", "reported_at"),
        ("BAD-2", "recorded_crimes"),
        (rows[2]["incident_id"], "incident_id"),
    }
    assert summary.rejected_records == (4 if suffix == ".jsonl" else 3)  # + the broken JSON line
    assert all({"source", "line", "incident_id", "field", "reason"} <= set(r) for r in rejects)


def test_formats_give_the_same_scores(tmp_path, bundle):
    rows = input_rows(n=20)
    outputs = []
    for suffix in (".jsonl", ".csv", ".parquet"):
        source = write_input(rows, tmp_path / f"in{suffix}")
        score_file(source, tmp_path / f"out{suffix}.jsonl", bundle, progress=False)
        outputs.append(read_jsonl(tmp_path / f"out{suffix}.jsonl"))
    assert outputs[0] == outputs[1] == outputs[2]


def test_manifest_and_rerun(tmp_path, bundle):
    source = write_input(input_rows(n=20), tmp_path / "in.jsonl")
    output = tmp_path / "out.jsonl"
    first = score_file(source, output, bundle, progress=False)
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["input"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["model"]["version"] == TEST_MODEL_VERSION
    assert manifest["engine"] == "local"
    assert manifest["counts"]["scored"] == first.scored == 20
    assert manifest["rejects_count"] == first.rejected_records == 4
    assert manifest["started_at"] <= manifest["finished_at"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.jsonl",
        "out.jsonl",
        "out.jsonl.manifest.json",
        "out.jsonl.rejects.jsonl",
    ]

    again = score_file(source, output, bundle, progress=False)
    assert again.already_done and again.scored == first.scored and len(again.rejects) == first.reject_entries == 4
    fresh = score_file(source, output, bundle, progress=False, resume=False)
    assert not fresh.already_done and fresh.scored == first.scored


def test_progress_quiet_when_not_a_terminal(tmp_path, bundle, capsys):
    source = write_input(input_rows(n=10), tmp_path / "in.jsonl")
    score_file(source, tmp_path / "a.jsonl", bundle, progress=None)  # stderr is captured: not a tty
    assert capsys.readouterr().err == ""
    score_file(source, tmp_path / "b.jsonl", bundle, progress=True)
    err = capsys.readouterr().err
    assert "incidents/s" in err and "14/14" in err  # rate, and records of the estimated total


def test_two_runs_never_write_one_output(tmp_path, bundle):
    import fcntl

    source = write_input(input_rows(n=4), tmp_path / "in.jsonl")
    with (tmp_path / "out.jsonl.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RuntimeError, match="another run"):
            score_file(source, tmp_path / "out.jsonl", bundle, progress=False)
    assert score_file(source, tmp_path / "out.jsonl", bundle, progress=False).scored == 4
