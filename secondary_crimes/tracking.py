"""Tracked training with MLflow: runs, evaluation reports, the model registry and model cards.

- Tracking store: ``sqlite:///mlruns.db`` with artifacts in ``./mlartifacts`` by default;
  ``MLFLOW_TRACKING_URI`` (or ``tracking.uri`` in a training config) points at a team server.
- A training config's ``tracking:`` section (experiment, test_fraction, register, uri,
  card_dir) is ``train.TrackingOptions``: typed, unknown keys refused.
- ``tracked_train(config_path)`` trains inside one run and logs its config, the dataset's
  content hash and sizes, the training and test sets as inputs and the auditors' export
  pseudonymised (``run_inputs``), per-epoch metrics (the transformer), the held-out evaluation
  table (per offence, for offences and for missed flags), PNG plots, pseudonymised examples
  (``privacy``), the model card (an artifact only), and the model as an MLflow pyfunc (pinned
  ``pip_requirements``) that is registered under the config's ``name``.
- ``load_bundle_from_uri("models:/secondary-crimes@champion")`` gives back the
  ``ModelBundle`` (``classify.bundle.load_bundle`` calls it for ``models:/``/``runs:/``).
- ``promote(version)`` prints the comparison with the current champion and moves the alias,
  or refuses a worse version or one evaluated on another test split (``promotion``).

Held-out evaluation: ``tracking.test_fraction`` of the assembled data (seeded) is kept out of
training altogether; the registered model is the one those figures describe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import subprocess
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from secondary_crimes import promotion, run_inputs
from secondary_crimes.classify.base import Analysis
from secondary_crimes.classify.bundle import META_FILE, ModelBundle
from secondary_crimes.decide import decide
from secondary_crimes.model_cache import cache_root
from secondary_crimes.model_requirements import pinned_requirements
from secondary_crimes.privacy import NOT_NAMES, pseudonymise, pseudonymise_incident  # noqa: F401 (re-exported)
from secondary_crimes.promotion import KEY_METRICS, TEST_SPLIT_TAG
from secondary_crimes.records import GoldIncident, Incident
from secondary_crimes.taxonomy import LABELS, load_taxonomy
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import Dataset, assemble, content_hash, label_matrix, read_labelled

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
DEFAULT_ARTIFACTS = "mlartifacts"
DEFAULT_MODEL_NAME = "secondary-crimes"
CARD_TEMPLATE = Path(__file__).resolve().parents[1] / "models" / "cards" / "template.md"

# --------------------------------------------------------------------------- the store
def tracking_uri(config: TrainConfig | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the config's ``tracking.uri``, else local SQLite."""
    configured = (config.tracking.uri if config else None) or DEFAULT_TRACKING_URI
    return os.environ.get("MLFLOW_TRACKING_URI") or configured


def configure(config: TrainConfig | None = None) -> str:
    uri = tracking_uri(config)
    mlflow.set_tracking_uri(uri)
    return uri


def ensure_experiment(name: str, uri: str) -> str:
    """The experiment's id, creating it (local store: artifacts in ./mlartifacts) when new."""
    client = MlflowClient(uri)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if uri.startswith("sqlite:") or uri.startswith("file:"):
        location = Path(os.environ.get("SECONDARY_CRIMES_ARTIFACTS", DEFAULT_ARTIFACTS)).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


# --------------------------------------------------------------------------- pseudonymisation
# Every text logged to a run goes through ``privacy.pseudonymise_incident`` (names, addresses, phones, ...).
_NOT_NAMES = NOT_NAMES


# --------------------------------------------------------------------------- evaluation
def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _table(gold: np.ndarray, predicted: np.ndarray, task: str) -> tuple[list[dict], dict[str, float]]:
    rows = []
    totals = np.zeros(3)
    f1s = []
    for j, label in enumerate(LABELS):
        g, p = gold[:, j].astype(bool), predicted[:, j].astype(bool)
        tp, fp, fn = float(np.sum(g & p)), float(np.sum(~g & p)), float(np.sum(g & ~p))
        totals += (tp, fp, fn)
        precision, recall, f1 = _prf(tp, fp, fn)
        if g.any():
            f1s.append(f1)
        rows.append(
            {
                "task": task,
                "offence": label,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": int(g.sum()),
                "predicted": int(p.sum()),
            }
        )
    precision, recall, f1 = _prf(*totals)
    summary = {
        f"{task}_micro_precision": precision,
        f"{task}_micro_recall": recall,
        f"{task}_micro_f1": f1,
        f"{task}_macro_f1": float(np.mean(f1s)) if f1s else 0.0,
    }
    return rows, summary


def evaluate_bundle(bundle: ModelBundle, incidents: list[GoldIncident]) -> dict[str, Any]:
    """Held-out figures: per offence for offences and missed flags, incident level, timing."""
    from sklearn.metrics import average_precision_score

    started = time.perf_counter()
    analyses = bundle.model.analyse(incidents, None)  # probabilities (+ relationship) in one pass
    seconds = time.perf_counter() - started
    proba = np.vstack([a.probabilities for a in analyses]) if analyses else np.zeros((0, len(LABELS)))
    records = [
        decide(
            incident,
            Analysis(
                probabilities=a.probabilities, relationship=a.relationship, reporter=a.reporter, domestic=a.domestic
            ),
            bundle.thresholds,
            model_version=bundle.version,
        )
        for incident, a in zip(incidents, analyses, strict=True)
    ]
    gold_offences = label_matrix(incidents)
    gold_missed = label_matrix(incidents, "missed")
    index = {label: j for j, label in enumerate(LABELS)}
    predicted_offences = np.zeros_like(gold_offences)
    predicted_missed = np.zeros_like(gold_missed)
    for i, record in enumerate(records):
        for entry in record["offences"]:
            predicted_offences[i, index[entry["offence"]]] = 1
        for entry in record["missed"]:
            predicted_missed[i, index[entry["offence"]]] = 1
    rows_o, summary_o = _table(gold_offences, predicted_offences, "offences")
    rows_m, summary_m = _table(gold_missed, predicted_missed, "missed")
    gold_any = gold_missed.any(axis=1)
    flagged_any = predicted_missed.any(axis=1)
    precision, recall, f1 = _prf(
        float(np.sum(gold_any & flagged_any)),
        float(np.sum(~gold_any & flagged_any)),
        float(np.sum(gold_any & ~flagged_any)),
    )
    priority = np.array([record["review_priority"] for record in records])
    relationships = [
        (i.relationship, a.relationship) for i, a in zip(incidents, analyses, strict=True) if i.relationship is not None
    ]
    metrics = {
        **summary_o,
        **summary_m,
        "incident_precision": precision,
        "incident_recall": recall,
        "incident_f1": f1,
        "review_priority_ap": float(average_precision_score(gold_any, priority))
        if gold_any.any() and not gold_any.all()
        else float("nan"),
        "brier": float(np.mean((proba - gold_offences) ** 2)) if len(proba) else float("nan"),
        "inference_incidents_per_s": len(incidents) / max(seconds, 1e-9),
        "incidents": len(incidents),
        "incidents_with_missed": int(gold_any.sum()),
    }
    if relationships and any(p is not None for _, p in relationships):
        metrics["relationship_accuracy"] = float(np.mean([g == p for g, p in relationships]))
    report = {
        "metrics": metrics,
        "table": rows_o + rows_m,
        "proba": proba,
        "Y": gold_offences,
        "records": records,
        "relationship": relationships,
    }
    try:  # the project's own evaluation report, when that module is present
        from secondary_crimes.evaluate import evaluate, format_report

        full = evaluate(incidents, records)
        report["project_report"] = format_report(full)
    except Exception as error:
        log.info("secondary_crimes.evaluate not used: %s", error)
    return report


# --------------------------------------------------------------------------- the pyfunc
class SecondaryCrimesPyfunc(mlflow.pyfunc.PythonModel):
    """A ``ModelBundle`` as an MLflow pyfunc: a DataFrame of incidents in, scored rows out."""

    def load_context(self, context) -> None:
        self.bundle = ModelBundle.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        bundle = getattr(self, "bundle", None) or ModelBundle.load(context.artifacts["bundle"])
        rows = model_input.to_dict(orient="records")
        incidents = [Incident.model_validate({k: v for k, v in row.items() if v is not None}) for row in rows]
        analyses = bundle.model.analyse(incidents, None)
        out = []
        for incident, analysis in zip(incidents, analyses, strict=True):
            record = decide(incident, analysis, bundle.thresholds, model_version=bundle.version)
            out.append(
                {
                    "incident_id": incident.incident_id,
                    "offences": ";".join(e["offence"] for e in record["offences"]),
                    "missed": ";".join(e["offence"] for e in record["missed"]),
                    "review_priority": record["review_priority"],
                    **{f"p_{label}": float(p) for label, p in zip(LABELS, analysis.probabilities, strict=True)},
                }
            )
        return pd.DataFrame(out)


def _kinds_in(config: TrainConfig) -> set[str]:
    kinds = {config.kind}
    for member in config.params.get("members", []) or []:
        kinds.add(member.get("kind", ""))
    return kinds


# --------------------------------------------------------------------------- tracked training
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
    """A seeded held-out test split; the training part keeps the source summary."""
    from sklearn.model_selection import train_test_split

    if not test_fraction:
        return dataset, []
    train_index, test_index = train_test_split(
        np.arange(len(dataset.incidents)), test_size=test_fraction, random_state=seed, shuffle=True
    )
    return dataset.subset(train_index), [dataset.incidents[i] for i in test_index]


def tracked_train(
    config_path: str | Path, output: str | Path | None = None, register: bool | None = None
) -> tuple[ModelBundle, Path, str]:
    """Train the config's model inside an MLflow run, log everything, register the model.

    Returns the bundle, the folder it was saved to, and the run id.
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
    train_set, test_set = split_dataset(dataset, test_fraction, config.seed)
    corpus_ids = {i.incident_id for i in read_labelled(config.data.corpus)[0]}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{config.kind}-{stamp}") as run:
        run_id = run.info.run_id
        data_hash = dataset.content_hash()
        test_hash = content_hash(test_set)  # promote compares versions only on the same test split
        mlflow.set_tags(
            {
                "kind": config.kind,
                "model_name": config.name,
                "data_sha256": data_hash,
                TEST_SPLIT_TAG: test_hash,
                "git_commit": _git_commit() or "unknown",
                "config_file": str(config_path),
            }
        )
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
        positives = dict(zip(LABELS, map(int, dataset.Y.sum(axis=0)), strict=True))
        data_summary = {
            "sha256": data_hash,
            "incidents": len(dataset.incidents),
            "train": len(train_set.incidents),
            "test": len(test_set),
            "test_from_corpus": sum(i.incident_id in corpus_ids for i in test_set),
            "sources": dataset.sources,
            "resolved": dataset.resolved,
            "left_out": dataset.left_out,
            "test_sha256": test_hash,
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

        from secondary_crimes.classify import transformer as transformer_module

        def log_epoch(fit_number: int, epoch: int, metrics: dict[str, float]) -> None:
            prefix = "" if fit_number == 1 else f"fit{fit_number}_"
            mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}, step=epoch)

        started = time.perf_counter()
        if "transformer" in _kinds_in(config):
            with transformer_module.epoch_listener(log_epoch):
                bundle = fit_bundle(config, train_set)
        else:
            bundle = fit_bundle(config, train_set)
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
            mlflow.log_text(_format_table(table, evaluation), "evaluation/report.txt")
            if "project_report" in report:
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
            mlflow.log_text(_examples(test_set, report["records"]), "evaluation/examples.jsonl")

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


def _format_table(table: pd.DataFrame, metrics: dict[str, float]) -> str:
    lines = ["Held-out evaluation", ""]
    lines += [f"{k:28s} {v:.4f}" if isinstance(v, float) else f"{k:28s} {v}" for k, v in metrics.items()]
    lines.append("")
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines) + "\n"


def _examples(incidents: list[GoldIncident], records: list[dict], limit: int = 5) -> str:
    """A few held-out incidents (highest review priority first), names pseudonymised."""
    order = np.argsort([-r["review_priority"] for r in records], kind="stable")[:limit]
    lines = []
    for i in order:
        row = pseudonymise_incident(incidents[i])
        lines.append(
            json.dumps(
                {
                    "incident_id": row["incident_id"],
                    "call_log": row["call_log"],
                    "officer_narrative": row["officer_narrative"],
                    "recorded_crimes": row["recorded_crimes"],
                    "gold_offences": row.get("offences"),
                    "gold_missed": row.get("missed"),
                    "predicted_offences": [e["offence"] for e in records[i]["offences"]],
                    "predicted_missed": [e["offence"] for e in records[i]["missed"]],
                    "review_priority": records[i]["review_priority"],
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(lines) + "\n"


def log_model(
    bundle: ModelBundle, path: Path, config: TrainConfig, examples: list[Incident], register: bool = True
) -> str | None:
    """Log the bundle as a pyfunc in the active run; register it; return the version (or None)."""
    from mlflow.models import infer_signature

    package = Path(__file__).resolve().parent
    wrapper = SecondaryCrimesPyfunc()
    signature = input_example = None
    if examples:
        fields = ["incident_id", "opening_code", "closing_code", "call_log", "officer_narrative", "recorded_crimes"]
        rows = []
        for incident in examples:
            row = pseudonymise_incident(incident)
            rows.append({k: row[k] for k in fields} | {"recorded_crimes": ";".join(row["recorded_crimes"])})
        input_example = pd.DataFrame(rows)
        wrapper.bundle = bundle
        signature = infer_signature(input_example, wrapper.predict(None, input_example))
        del wrapper.bundle
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=wrapper,
        artifacts={"bundle": str(path)},
        code_paths=[str(package)],
        pip_requirements=pinned_requirements(_kinds_in(config)),
        signature=signature,
        input_example=input_example,
        registered_model_name=config.name if register else None,
        metadata={"bundle_version": bundle.version, "kind": bundle.kind},
    )
    version = getattr(info, "registered_model_version", None)
    if register and version is not None:
        client = MlflowClient()
        for key in ("kind",):
            client.set_model_version_tag(config.name, str(version), key, bundle.kind)
        client.set_model_version_tag(config.name, str(version), "bundle_version", bundle.version)
        client.update_model_version(
            config.name,
            str(version),
            description=f"{bundle.kind} model {bundle.version}, run {mlflow.active_run().info.run_id}",
        )
    return None if version is None else str(version)


# --------------------------------------------------------------------------- loading and registry
def _resolve(uri: str) -> str:
    """A stable key for what ``uri`` points at now (an alias resolves to its version)."""
    if uri.startswith("models:/"):
        rest = uri.removeprefix("models:/")
        client = MlflowClient()
        if "@" in rest:
            name, alias = rest.split("@", 1)
            try:
                return f"{name}/{client.get_model_version_by_alias(name, alias).version}"
            except MlflowException as error:
                raise ValueError(f"cannot load {uri!r} from {mlflow.get_tracking_uri()}: {error.message}") from None
    return uri.split(":/", 1)[1]


def model_cache_entry(uri: str) -> Path:
    """Where ``uri``'s download is cached: the private cache folder, keyed by store and resolved version."""
    import hashlib

    key = hashlib.sha256(f"{mlflow.get_tracking_uri()}|{_resolve(uri)}".encode()).hexdigest()[:16]
    return cache_root() / key


def load_bundle_from_uri(uri: str, *, trust_unhashed: bool | None = None) -> ModelBundle:
    """The ``ModelBundle`` inside a logged model (``models:/name@alias``, ``models:/name/3``, ``runs:/id/model``).

    A registered version's or a run's artifacts never change, so the download is cached in
    a private per-user folder (``secondary_crimes.model_cache``: owner-only, checked before
    use), keyed by the tracking store and the resolved version; an alias is resolved afresh
    on every load. The bundle's files are checked against their recorded hashes on load.
    """
    configure()
    cache = model_cache_entry(uri)
    found = sorted(cache.rglob(META_FILE)) if cache.exists() else []
    if not found:
        staging = Path(tempfile.mkdtemp(prefix=f"{cache.name}-", dir=cache.parent))
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging))
        except MlflowException as error:
            raise ValueError(f"cannot load {uri!r} from {mlflow.get_tracking_uri()}: {error.message}") from None
        if not sorted(staging.rglob(META_FILE)):
            raise ValueError(f"{uri!r} holds no secondary-crimes model bundle (no {META_FILE})")
        with contextlib.suppress(OSError):  # another process may have cached it first
            staging.rename(cache)
        found = sorted((cache if cache.exists() else staging).rglob(META_FILE))
    bundle = ModelBundle.load(found[0].parent, trust_unhashed=trust_unhashed)
    bundle.metadata["source_uri"] = uri
    return bundle


def promote(version: str, name: str = DEFAULT_MODEL_NAME, *, force: bool = False, dry_run: bool = False) -> str:
    """``promotion.promote`` on the configured store: compare with the champion, then move the alias."""
    configure()
    return promotion.promote(MlflowClient(), version, name, force=force, dry_run=dry_run)


# --------------------------------------------------------------------------- model card
def log_model_card(run_id: str, version: str | None, copy_to: str | Path | None = None) -> None:
    """Log the run's model card as the artifact ``model_card/<name>-v<version>.md``.

    The card lives with the run, not in the repository: ``copy_to`` (the config's
    ``tracking.card_dir``, unset by default) also writes a copy into that folder.
    """
    with tempfile.TemporaryDirectory(prefix="card-") as folder:
        card = write_model_card(run_id, version=version, output_dir=folder)
        if card is not None:
            mlflow.log_artifact(str(card), "model_card")
    if copy_to:
        write_model_card(run_id, version=version, output_dir=copy_to)


def write_model_card(
    run_id: str, version: str | None, output_dir: str | Path, template: str | Path = CARD_TEMPLATE
) -> Path | None:
    """Write ``<output_dir>/<name>-v<version>.md`` (or ``-run-<run>``) from a run's logged figures."""
    template = Path(template)
    if not template.exists():
        log.warning("no model card template at %s: card not written", template)
        return None
    client = MlflowClient()
    run = client.get_run(run_id)
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    try:
        summary = json.loads(
            Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data/summary.json")).read_text(
                encoding="utf-8"
            )
        )
    except (MlflowException, OSError):
        summary = {}
    try:
        table = pd.read_csv(
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="evaluation/per_offence.csv")
        )
    except (MlflowException, OSError):
        table = pd.DataFrame()

    def fmt(key: str) -> str:
        return f"{metrics[key]:.3f}" if key in metrics else "n/a"

    per_offence = "(no held-out evaluation)"
    if not table.empty:
        lines = ["| offence | offences P | R | F1 | n | missed P | R | F1 | n |", "|---" * 9 + "|"]
        for label in LABELS:
            o = table[(table.task == "offences") & (table.offence == label)].iloc[0]
            m = table[(table.task == "missed") & (table.offence == label)].iloc[0]
            lines.append(
                f"| {label} | {o.precision:.2f} | {o.recall:.2f} | {o.f1:.2f} | {o.support} | "
                f"{m.precision:.2f} | {m.recall:.2f} | {m.f1:.2f} | {m.support} |"
            )
        per_offence = "\n".join(lines)
    name = tags.get("model_name", DEFAULT_MODEL_NAME)
    values = {
        "name": name,
        "version": version or "unregistered",
        "run_id": run_id,
        "kind": tags.get("kind", "?"),
        "trained_at": datetime.fromtimestamp(run.info.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": tags.get("git_commit", "unknown"),
        "config_file": tags.get("config_file", "?"),
        "data_sha256": tags.get("data_sha256", "?"),
        "sources": "\n".join(f"- `{k}`: {v} labelled incidents" for k, v in summary.get("sources", {}).items())
        or "- (not recorded)",
        "n_incidents": summary.get("incidents", "?"),
        "n_train": summary.get("train", "?"),
        "n_test": summary.get("test", "?"),
        "n_test_corpus": summary.get("test_from_corpus", "?"),
        "params": "\n".join(f"- `{k}`: {v}" for k, v in sorted(params.items()) if k.startswith("params."))
        or "- (defaults)",
        "per_offence": per_offence,
        "train_seconds": fmt("train_seconds"),
        **{
            key: fmt(key)
            for key in KEY_METRICS
            + ["test_corpus_missed_micro_f1", "test_corpus_incident_recall", "test_relationship_accuracy"]
        },
    }
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / (f"{name}-v{version}.md" if version else f"{name}-run-{run_id[:8]}.md")
    if path.exists() and run_id not in path.read_text(encoding="utf-8"):
        # Another tracking store's version of the same number (a fresh mlruns.db starts at v1
        # again): keep that card, name this one by its run as well.
        path = path.with_name(f"{path.stem}-run-{run_id[:8]}.md")
        log.warning("a card for %s v%s from another run exists: writing %s", name, version, path)
    path.write_text(text, encoding="utf-8")
    return path
