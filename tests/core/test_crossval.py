"""Cross-validation and the unseen-corpus check: no model ever scores an incident it trained on."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from secondary_crimes import crossval
from secondary_crimes.cli import app
from secondary_crimes.train import TrainConfig

from .conftest import SAMPLE

runner = CliRunner()


@pytest.fixture()
def config_file(tmp_path):
    """A tiny baseline that treats the 30 hand-written samples as the corpus."""
    config = {"kind": "baseline", "params": {"max_features": 2000},
              "data": {"corpus": [str(SAMPLE)], "sample": [str(SAMPLE)], "synthetic_n": 120, "synthetic_seed": 3},
              "threshold_folds": 3, "seed": 1}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture()
def fitted(monkeypatch):
    """Every dataset a model is fitted on, in order (the real fit still runs)."""
    seen: list = []
    real = crossval.fit_bundle

    def spy(config, dataset):
        seen.append((config, dataset))
        return real(config, dataset)

    monkeypatch.setattr(crossval, "fit_bundle", spy)
    return seen


def test_each_fold_scores_only_incidents_its_model_never_saw(config_file, fitted):
    gold, scored = crossval.cross_validate(TrainConfig.from_file(config_file), [str(SAMPLE)], folds=3, seed=0)
    corpus_ids = {g.incident_id for g in gold}
    assert len(corpus_ids) == 30
    assert sorted(r["incident_id"] for r in scored) == sorted(corpus_ids)  # each exactly once
    assert len(fitted) == 3
    scored_ids = [r["incident_id"] for r in scored]
    for number, (_, dataset) in enumerate(fitted):
        fold = set(scored_ids[number * 10:(number + 1) * 10])
        trained_on = {row.incident_id for row in dataset.incidents}
        assert not fold & trained_on
        assert len(corpus_ids & trained_on) == 20  # the other two folds, not the same samples twice


def test_unseen_scores_all_of_the_corpus_with_models_that_saw_none_of_it(config_file, fitted):
    gold, scored = crossval.score_unseen(TrainConfig.from_file(config_file), [str(SAMPLE)], synthetic_seeds=[3, 4])
    corpus_ids = {g.incident_id for g in gold}
    assert set(scored) == {3, 4}
    for records in scored.values():
        assert sorted(r["incident_id"] for r in records) == sorted(corpus_ids)
    assert [config.data.synthetic_seed for config, _ in fitted] == [3, 4]
    for _, dataset in fitted:
        assert not corpus_ids & {row.incident_id for row in dataset.incidents}
        assert len(dataset.incidents) == len(dataset.weights) == 120
    texts = [{row.call_log for row in dataset.incidents} for _, dataset in fitted]
    assert texts[0] != texts[1]  # each seed draws its own synthetic incidents

    summary = crossval.summarise_seeds(gold, scored)
    assert set(summary["per_seed"]) == {3, 4}
    f1 = [figures["missed.micro.f1"] for figures in summary["per_seed"].values()]
    assert summary["mean"]["missed.micro.f1"] == pytest.approx(sum(f1) / 2)
    assert summary["sd"]["missed.micro.f1"] == pytest.approx(abs(f1[0] - f1[1]) / 2 ** 0.5)


def test_cross_validate_command_prints_the_report(config_file):
    result = runner.invoke(app, ["cross-validate", "--config", str(config_file), "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["incident_level"]["incidents"] == 30
    assert report["config"] == str(config_file)


def test_unseen_command_prints_a_row_per_figure_and_writes_each_seeds_records(config_file, tmp_path):
    out = tmp_path / "unseen.jsonl"
    result = runner.invoke(app, ["cross-validate", "--config", str(config_file), "--unseen",
                                 "--synthetic-seed", "3", "--synthetic-seed", "4", "--scored-out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "trained without" in lines[0] and "all 30 incidents" in lines[0]
    assert lines[1].split() == ["synthetic", "seed", "3", "4", "mean", "sd"]
    assert any(line.startswith("missed.micro.f1") for line in lines)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 60 and {r["synthetic_seed"] for r in records} == {3, 4}


@pytest.fixture()
def three_forces(tmp_path, sample_rows):
    """The 30 samples written out as three 'forces' of 10 incidents each."""
    paths = []
    for number, name in enumerate(("alpha", "bravo", "charlie")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in sample_rows[number * 10:(number + 1) * 10]),
                        encoding="utf-8")
        paths.append(path)
    config = {"kind": "baseline", "params": {"max_features": 2000},
              "data": {"corpus": [str(tmp_path / "*.jsonl")], "sample": [], "synthetic_n": 120, "synthetic_seed": 3},
              "threshold_folds": 3, "seed": 1}
    config_path = tmp_path / "forces.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return config_path, paths


def test_by_source_never_trains_on_the_file_it_scores(three_forces, fitted):
    config_path, paths = three_forces
    outputs: dict = {}
    gold, scored = crossval.cross_validate_by_source(TrainConfig.from_file(config_path),
                                                     [str(config_path.parent / "*.jsonl")], outputs=outputs)
    assert list(gold) == ["alpha", "bravo", "charlie"] == list(scored) == list(outputs)
    assert len(fitted) == 3
    for (held, rows), (_, dataset) in zip(gold.items(), fitted, strict=True):
        trained_on = {row.incident_id for row in dataset.incidents}
        held_ids = {row.incident_id for row in rows}
        others = {row.incident_id for source, rs in gold.items() if source != held for row in rs}
        assert not held_ids & trained_on  # the held-out file never leaks into its own training
        assert others <= trained_on  # every other file does train it
        assert len(trained_on) == 120 + 20
        assert sorted(r["incident_id"] for r in scored[held]) == sorted(held_ids)
        assert outputs[held].probabilities.shape == (10, len(outputs[held].thresholds))


def test_by_source_needs_two_files(tmp_path, sample_rows):
    path = tmp_path / "only.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in sample_rows), encoding="utf-8")
    with pytest.raises(ValueError, match="at least two labelled files"):
        crossval.read_by_source([str(path)])


def test_by_source_command_prints_each_file_and_the_pool(three_forces):
    config_path, _ = three_forces
    result = runner.invoke(app, ["cross-validate", "--config", str(config_path), "--by-source"])
    assert result.exit_code == 0, result.output
    rows = [line.split()[0] for line in result.output.splitlines()[1:6]]
    assert rows == ["held-out", "alpha", "bravo", "charlie", "pooled"]
    assert "Pooled over every held-out file" in result.output
