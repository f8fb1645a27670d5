"""A run's inputs on a temporary MLflow store: datasets with log_input, the auditors' export pseudonymised."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from secondary_crimes import run_inputs, tracking
from secondary_crimes.training_data import Dataset, content_hash, synthetic

EXPORT = {
    "incident_id": "SMP-24-0001", "reported_at": "2024-02-03T23:41:00", "closed_at": "2024-02-04T02:15:00",
    "opening_code": "DOMESTIC INCIDENT", "closing_code": "DOMESTIC - NO CRIME",
    "call_log": "neighbour at 9 Pelham Walk reports shouting, caller kerry ashworth on 07700 900388.",
    "officer_narrative": "Spoke to Kerry ASHWORTH (34) and partner Dale FINCH (37).",
    "recorded_crimes": [], "offences": ["common_assault"], "missed": ["common_assault"],
    "known_offences": ["common_assault", "harassment"],
}


@pytest.fixture()
def run(store):
    """A run started on the test's own store (tests/tracking/conftest.py)."""
    import mlflow

    experiment = tracking.ensure_experiment("inputs-test", tracking.configure())
    with mlflow.start_run(experiment_id=experiment) as active:
        yield active.info.run_id


def test_training_and_test_sets_are_logged_as_inputs(run, tmp_path):
    import mlflow

    incidents = synthetic(8, seed=3)
    dataset = Dataset(incidents, {"synthetic": 8}, groups=["synthetic"] * 8)
    train, test = dataset.subset(range(6)), incidents[6:]
    config = tmp_path / "config.yaml"
    config.write_text("kind: baseline\n", encoding="utf-8")
    run_inputs.log_datasets(dataset, train, test, "tiny", config)
    inputs = {_context(i): i.dataset for i in _inputs(mlflow.MlflowClient(), run)}
    assert set(inputs) == {"training", "testing"}
    assert inputs["training"].digest == train.content_hash()[:32] and inputs["training"].name == "tiny-train"
    assert inputs["testing"].digest == content_hash(test)[:32]
    profile = json.loads(inputs["training"].profile)
    assert profile["num_rows"] == 6
    schema = inputs["training"].schema
    assert "common_assault" in schema and "call_log" not in schema  # labels, never the texts


def _inputs(client, run_id: str):
    return client.get_run(run_id).inputs.dataset_inputs


def _context(dataset_input) -> str:
    return {tag.key: tag.value for tag in dataset_input.tags}.get("mlflow.data.context", "")


def test_the_auditors_export_is_logged_pseudonymised_with_its_hash(run, tmp_path):
    import mlflow

    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(EXPORT) + "\n", encoding="utf-8")
    manifest = run_inputs.log_extra_files([str(tmp_path / "*.jsonl")], extraction=False)
    assert manifest == [{"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "incidents": 1,
                         "rejected_lines": 0, "artifact": "data/extra/export.jsonl"}]
    client = mlflow.MlflowClient()
    logged = Path(client.download_artifacts(run, "data/extra/export.jsonl")).read_text(encoding="utf-8")
    row = json.loads(logged)
    assert row["offences"] == ["common_assault"] and row["known_offences"] == ["common_assault", "harassment"]
    for personal in ("kerry", "ashworth", "dale", "finch", "pelham", "07700"):
        assert personal not in logged.lower()
    (extra,) = _inputs(client, run)
    assert _context(extra) == "training" and {t.key: t.value for t in extra.tags}["extra"] == "true"
    assert extra.dataset.name == "extra:export" and extra.dataset.digest == manifest[0]["sha256"][:32]
