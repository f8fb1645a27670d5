"""Streaming scoring: bounded batches, the three input formats, progress, manifest, re-runs."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from secondary_crimes import score as score_module
from secondary_crimes.classify.baseline import BaselineModel
from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.records import INPUT_FIELDS, GoldIncident
from secondary_crimes.score import score_file
from secondary_crimes.synthetic.generator import iter_incidents
from secondary_crimes.training_data import label_matrix

TEST_MODEL_VERSION = "baseline-test-45"


def tiny_bundle(folder: Path) -> ModelBundle:
    """A small real baseline, fitted once per machine (pytest cache) and reused."""
    try:
        cached = ModelBundle.load(folder)
        if cached.version == TEST_MODEL_VERSION:
            return cached
    except Exception:  # missing or unreadable: fit it again
        pass
    train = [GoldIncident.model_validate(r) for r in iter_incidents(60, seed=5)]
    model = BaselineModel(max_features=3000).fit(train, label_matrix(train))
    ModelBundle(model, np.full(len(model.labels), 0.45), TEST_MODEL_VERSION, "baseline").save(folder)
    return ModelBundle.load(folder)


def model_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test model lives: pytest's cache when it is on, else a temporary folder."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("secondary-crimes-score-model") if cache else tmp_path_factory.mktemp("model")
    tiny_bundle(folder)
    return folder


@pytest.fixture(scope="module")
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    return ModelBundle.load(model_folder(request, tmp_path_factory))


def input_rows(n: int = 60, seed: int = 21) -> list[dict]:
    """Synthetic input records plus three bad ones: bad time, unknown label, duplicate id.

    Every third incident arrives with nothing recorded, so whatever the text supports there
    is a missed flag whichever offences the generator happened to record.
    """
    rows = [{k: r[k] for k in INPUT_FIELDS if k in r} for r in iter_incidents(n, seed=seed)]
    for row in rows[::3]:
        row["recorded_crimes"] = []
    rows.insert(5, {**rows[0], "incident_id": "BAD-1", "reported_at": "last Tuesday"})
    rows.insert(20, {**rows[1], "incident_id": "BAD-2", "recorded_crimes": ["jaywalking"]})
    rows.insert(30, dict(rows[2]))  # duplicate of an earlier id
    return rows


def write_input(rows: list[dict], path: Path) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n", encoding="utf-8")
    elif path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=INPUT_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "recorded_crimes": json.dumps(row["recorded_crimes"])})
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=16)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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
