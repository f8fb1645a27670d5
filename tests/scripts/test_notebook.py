"""notebooks/compare_models.ipynb: its imports are installed by the extras, and it runs on any store's experiments."""

from __future__ import annotations

import ast
import json
import os
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "compare_models.ipynb"


def _code() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def _name(requirement: str) -> str:
    return requirement.split("==")[0].split(">")[0].split("[")[0].strip().lower().replace("_", "-")


def test_the_notebook_and_all_extras_install_what_the_notebook_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert "notebook" in extras["all"][0]
    declared = {_name(r) for r in project["dependencies"] + extras["notebook"]}
    modules = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for code in _code()
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    distributions = packages_distributions()
    third_party = {m for m in modules if m in distributions}
    assert {"matplotlib", "mlflow", "pandas"} <= third_party
    for module in third_party:
        assert {_name(d) for d in distributions[module]} & declared, module
    assert {"nbformat", "nbclient", "ipykernel"} <= declared


def _run(tmp_path: Path, monkeypatch, experiment: str | None) -> str:
    import contextlib
    import io

    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    if experiment is None:
        monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", experiment)
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for code in _code():
            exec(compile(code, str(NOTEBOOK), "exec"), namespace)
    return out.getvalue()


@pytest.fixture()
def store(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    yield mlflow
    mlflow.set_tracking_uri(previous)


def test_an_empty_store_gives_messages_not_errors(store, tmp_path, monkeypatch):
    out = _run(tmp_path, monkeypatch, None)
    assert "0 finished runs" in out and "Nothing to compare yet" in out and "No training curves" in out


def test_any_experiment_and_no_training_curve_message(store, tmp_path, monkeypatch):
    mlflow = store
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    for name in ("team-a", "team-b"):
        experiment = mlflow.create_experiment(name, artifact_location=(tmp_path / name).as_uri())
        with mlflow.start_run(experiment_id=experiment, run_name=f"baseline-{name}"):
            mlflow.set_tags({"kind": "baseline", "data_sha256": "ab" * 32})
            mlflow.log_metrics({"test_missed_micro_f1": 0.5, "test_incident_recall": 0.6})
    out = _run(tmp_path, monkeypatch, "team-b")
    assert "1 finished runs in team-b" in out and "No training curves" in out
    assert "2 finished runs in Default, team-a, team-b" in _run(tmp_path, monkeypatch, None)
