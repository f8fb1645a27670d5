"""Tracked training: one MLflow run per training, everything it used and measured logged with it."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from secondary_crimes import run_inputs
from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS, load_taxonomy
from secondary_crimes.tracking import evaluation_set as evaluation_sets
from secondary_crimes.tracking.cards import log_model_card
from secondary_crimes.tracking.evaluation import evaluate_bundle, format_table
from secondary_crimes.tracking.promotion import TEST_SPLIT_TAG
from secondary_crimes.tracking.pseudonymisation import examples
from secondary_crimes.tracking.pyfunc import log_model
from secondary_crimes.tracking.store import configure, ensure_experiment
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import Dataset, assemble, content_hash, read_labelled

log = logging.getLogger(__name__)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return out


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def _git_commit() -> str | None:
    """HEAD's commit, with ``-dirty`` when the working tree has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if status else "")


def split_dataset(dataset: Dataset, test_fraction: float, seed: int) -> tuple[Dataset, list[GoldIncident]]:
    """A seeded held-out split drawn from ``dataset`` alone (untracked; a tracked run uses the registered set)."""
    if not test_fraction:
        return dataset, []
    wanted = set(evaluation_sets.draw(dataset, test_fraction, seed))
    train = [i for i, incident in enumerate(dataset.incidents) if incident.incident_id not in wanted]
    return dataset.subset(train), [incident for incident in dataset.incidents if incident.incident_id in wanted]


def _held_out(config: TrainConfig, config_path: str | Path, dataset: Dataset, redraw: bool
              ) -> tuple[Dataset, list[GoldIncident], evaluation_sets.EvaluationSet | None, list[str]]:
    """The training part, the evaluation incidents, the registered set they come from and its ids not found."""
    if not config.tracking.test_fraction:
        return dataset, [], None, []
    registered = evaluation_sets.for_training(
        config.name, dataset, config.tracking.test_fraction, config.seed, source=str(Path(config_path).resolve()),
        redraw=redraw,
    )
    train_set, test_set, missing = registered.split(dataset)
    if not test_set:
        raise ValueError(
            f"{config_path}: none of the {len(registered.incident_ids)} incidents of {config.name}'s registered "
            f"evaluation set ({registered.sha256[:12]}, run {registered.run_id}) is in this run's data; "
            "train on data that holds them, or redraw the set (train --track --redraw-evaluation-set): "
            "versions evaluated on another set do not compare"
        )
    if missing or not registered.matches(test_set):
        log.warning("%s: %d of the evaluation set's %d incidents are not in this run's data%s; its figures will "
                    "not compare with versions evaluated on the whole set", config.name, len(missing),
                    len(registered.incident_ids), "" if missing else " or are labelled differently")
    return train_set, test_set, registered, missing


def tracked_train(
    config_path: str | Path,
    output: str | Path | None = None,
    register: bool | None = None,
    *,
    redraw_evaluation_set: bool = False,
) -> tuple[ModelBundle, Path, str]:
    """Train the config's model inside an MLflow run, log everything, register the model.

    The model is evaluated on its name's registered evaluation set (drawn by the first tracked
    run, or now when ``redraw_evaluation_set``). Returns the bundle, its folder and the run id.
    """
    from secondary_crimes import plots

    config = TrainConfig.from_file(config_path)
    _seed_everything(config.seed)
    uri = configure(config)
    experiment_id = ensure_experiment(config.tracking.experiment, uri)
    test_fraction = config.tracking.test_fraction
    register = config.tracking.register if register is None else register

    dataset = assemble(config.data)
    if not dataset.incidents:
        raise ValueError(f"{config_path}: no labelled training data found: check the config's data sources")
    train_set, test_set, registered, missing = _held_out(config, config_path, dataset, redraw_evaluation_set)
    corpus_ids = {i.incident_id for i in read_labelled(config.data.corpus)[0]}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{config.kind}-{stamp}") as run:
        run_id = run.info.run_id
        data_hash = dataset.content_hash()
        test_hash = content_hash(test_set)  # promote compares versions only on the same evaluated incidents
        tags = {
            "kind": config.kind,
            "model_name": config.name,
            "data_sha256": data_hash,
            TEST_SPLIT_TAG: test_hash,
            "git_commit": _git_commit() or "unknown",
            "config_file": str(config_path),
        }
        if registered is not None:
            tags |= {
                evaluation_sets.SET_TAG: registered.sha256,
                evaluation_sets.SET_RUN_TAG: registered.run_id,
                "evaluation_set_complete": str(not missing and registered.matches(test_set)).lower(),
            }
        mlflow.set_tags(tags)
        params = _flatten(
            "",
            {
                "kind": config.kind,
                "params": config.params,
                "data": asdict(config.data),
                "threshold_folds": config.threshold_folds,
                "threshold_strategy": config.threshold_strategy,
                "holdout_fraction": config.holdout_fraction,
                "min_positives": config.min_positives,
                "seed": config.seed,
                "test_fraction": test_fraction,
            },
            {},
        )
        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
        mlflow.log_artifact(str(config_path), "config")
        mlflow.log_dict(asdict(config), "config/resolved.json")
        positives = dict(zip(LABELS, map(int, (dataset.Y == 1).sum(axis=0)), strict=True))
        data_summary = {
            "sha256": data_hash,
            "incidents": len(dataset.incidents),
            "train": len(train_set.incidents),
            "test": len(test_set),
            "test_from_corpus": sum(i.incident_id in corpus_ids for i in test_set),
            "sources": dataset.sources,
            "resolved": dataset.resolved,
            "partial": dataset.partial,
            "test_sha256": test_hash,
            "evaluation_set": None if registered is None else {
                "sha256": registered.sha256, "run_id": registered.run_id, "incidents": len(registered.incident_ids),
                "missing": len(missing),
            },
            "positives": positives,
            "test_ids": [i.incident_id for i in test_set],
        }
        mlflow.log_dict(data_summary, "data/summary.json")
        run_inputs.log_datasets(dataset, train_set, test_set, config.name, config_path)
        run_inputs.log_extra_files(config.data.extra)
        mlflow.log_metrics(
            {
                "data_incidents": len(dataset.incidents),
                "data_train": len(train_set.incidents),
                "data_test": len(test_set),
            }
        )

        fits = [0]  # the fits of this run so far: each fit starts at epoch 1

        def log_epoch(model: Any, epoch: int, metrics: dict[str, float]) -> None:
            if epoch == 1:
                fits[0] += 1
            prefix = "" if fits[0] == 1 else f"fit{fits[0]}_"
            mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}, step=epoch)

        started = time.perf_counter()
        bundle = fit_bundle(config, train_set, callbacks=[log_epoch])
        mlflow.log_metric("train_seconds", time.perf_counter() - started)
        if getattr(bundle.model, "chosen_", None):  # an ensemble: what won on its selection split
            mlflow.set_tag("ensemble_chosen", bundle.model.chosen_)
            scores = getattr(bundle.model, "selection_scores_", {}) or {}
            mlflow.log_metrics(
                {f"selection_ap_{k.replace(':', '_')}": float(v) for k, v in scores.items() if np.isfinite(v)}
            )
        mlflow.log_dict(dict(zip(LABELS, map(float, bundle.thresholds), strict=True)), "thresholds.json")

        evaluation: dict[str, Any] = {}
        if test_set:
            report = evaluate_bundle(bundle, test_set)
            evaluation = report["metrics"]
            mlflow.log_metrics({f"test_{k}": float(v) for k, v in evaluation.items() if np.isfinite(v)})
            corpus_test = [i for i in test_set if i.incident_id in corpus_ids]
            if corpus_test:
                corpus_report = evaluate_bundle(bundle, corpus_test)["metrics"]
                mlflow.log_metrics(
                    {
                        f"test_corpus_{k}": float(v)
                        for k, v in corpus_report.items()
                        if k != "inference_incidents_per_s" and np.isfinite(v)
                    }
                )
            table = pd.DataFrame(report["table"])
            mlflow.log_table(table, "evaluation/per_offence.json")
            mlflow.log_text(table.to_csv(index=False), "evaluation/per_offence.csv")
            mlflow.log_text(format_table(table, evaluation), "evaluation/report.txt")
            mlflow.log_text(report["project_report"], "evaluation/project_report.txt")
            figures = {
                "plots/pr_curves.png": plots.pr_curves(
                    report["Y"], report["proba"], LABELS, title="Held-out precision-recall per offence"
                ),
                "plots/calibration.png": plots.calibration_plot(report["Y"], report["proba"]),
                "plots/relationship_confusion.png": plots.confusion_plot(
                    [g for g, _ in report["relationship"]],
                    [p for _, p in report["relationship"]],
                    load_taxonomy().relationships,
                ),
            }
            for name, figure in figures.items():
                mlflow.log_figure(figure, name)
            mlflow.log_text(examples(test_set, report["records"]), "evaluation/examples.jsonl")

        bundle.metadata.update(
            {
                "mlflow_run_id": run_id,
                "evaluation": evaluation,
                "data": {**bundle.metadata.get("data", {}), "test": len(test_set)},
            }
        )
        path = bundle.save(output or config.output)
        version = log_model(bundle, path, config, test_set[:2], register=register)
        log_model_card(run_id, version, config.tracking.card_dir)
    log.info("run %s: model %s saved to %s (registered version %s)", run_id, bundle.version, path, version)
    return bundle, path, run_id
