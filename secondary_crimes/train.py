"""Train a model kind from a config file: thresholds from out-of-fold predictions, then a final fit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails
from sklearn.model_selection import KFold

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.classify.out_of_source import corpus_groups, held_rows, out_of_source_proba
from secondary_crimes.classify.registry import KINDS, build_model
from secondary_crimes.classify.thresholds import Rule, choose_thresholds
from secondary_crimes.digests import is_digest, origin_id
from secondary_crimes.records import GoldIncident
from secondary_crimes.training_data import DataConfig, Dataset, assemble, covered_unknown

log = logging.getLogger(__name__)


class TrainConfigError(ValueError):
    """A training config that does not load: the message names the file and the key."""


STRICT = ConfigDict(extra="forbid")  # an unknown key is an error, not silently ignored
Fraction = Annotated[float, Field(gt=0, lt=1)]


@dataclass(config=STRICT)
class TrackingOptions:
    """A training config's ``tracking:`` section, used by ``secondary_crimes.tracking`` (``--track``)."""

    experiment: str = "secondary-crimes"  # the MLflow experiment the run goes in
    # Held out of training altogether (seeded); the run's test_* figures. 0: no test split.
    test_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.2
    register: bool = True  # register the model under the config's ``name``
    uri: str | None = None  # tracking store; MLFLOW_TRACKING_URI wins; None: sqlite:///mlruns.db
    card_dir: str | None = None  # also copy the model card here (it is always a run artifact)


@dataclass(config=STRICT)
class TrainConfig:
    """A training config (``training/*.yaml``): which model, on what data, how thresholds are chosen.

    Typed with pydantic: an unknown key, a model kind or strategy not in the list, or a value of
    the wrong type is refused when the config is made or read (``from_file`` names the file).
    """

    kind: Literal[*KINDS] = "baseline"  # a model kind of classify.registry
    name: str = "secondary-crimes"
    params: dict[str, Any] = field(default_factory=dict)  # the model kind's own parameters
    data: DataConfig = field(default_factory=DataConfig)
    threshold_folds: Annotated[int, Field(ge=2)] = 5
    # "oof": thresholds on out-of-fold probabilities (threshold_folds fits), then a fit on all.
    # "holdout": one fit on all but a seeded holdout_fraction, thresholds on that holdout, and a
    # refit on everything only when refit_after_holdout (the transformer: 1 fine-tune, not 6).
    # "by_source": thresholds on out-of-source probabilities of the corpus (each file scored by
    # a model fitted without it, or the model's own ``oof_proba_``), then a fit on all; "oof"
    # when fewer than two corpus files are present (a fresh machine).
    threshold_strategy: Literal["oof", "holdout", "by_source"] = "oof"
    # "per_offence" thresholds, or one "shared" by every offence (for calibrated probabilities).
    threshold_scope: Literal["per_offence", "shared"] = "per_offence"
    # "best": the threshold with the highest held-out F1; "lowest_within_se" / "middle_within_se": the
    # lowest / the median of those within one bootstrap standard error of it (classify.thresholds).
    threshold_rule: Rule = "best"
    holdout_fraction: Fraction = 0.2
    refit_after_holdout: bool = False
    min_positives: Annotated[int, Field(ge=0)] = 3
    seed: int = 13
    output: str = "models/default"
    tracking: TrackingOptions = field(default_factory=TrackingOptions)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """The config in a YAML file; ``TrainConfigError`` names the file and every bad key."""
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise TrainConfigError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from None
        try:
            return TypeAdapter(cls).validate_python(raw or {})
        except ValidationError as error:
            raise TrainConfigError(f"{path}: " + "; ".join(map(_problem, error.errors()))) from None


def _problem(error: ErrorDetails) -> str:
    """One validation error as ``key.path: what is wrong``."""
    key = ".".join(str(part) for part in error["loc"]) or "(the file)"
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"unknown key {key!r}"
    return f"{key}: {error['msg']} (got {error['input']!r})"


def origin_split(X: Sequence[GoldIncident], split: Callable[[np.ndarray], Any]):
    """``split`` (train and test indices over an array) applied to the incidents' origins, so an
    incident and its evidence digest (``digests``) always fall on the same side; with no digests
    the origins are the rows themselves and the split is ``split`` over the rows."""
    origins = [origin_id(incident.incident_id) for incident in X]
    unique = list(dict.fromkeys(origins))
    rows_of: dict[str, list[int]] = {}
    for row, origin in enumerate(origins):
        rows_of.setdefault(origin, []).append(row)
    for train_index, test_index in split(np.arange(len(unique))):
        yield tuple(np.array([row for k in index for row in rows_of[unique[k]]], dtype=int)
                    for index in (train_index, test_index))


def real_rows(X: Sequence[GoldIncident]) -> np.ndarray:
    """Which rows are whole incidents (not evidence digests): thresholds are chosen on these only,
    so they hold for the incidents a force scores, not for the digests' short, plain accounts."""
    return np.array([not is_digest(incident.incident_id) for incident in X], dtype=bool)


def out_of_fold_proba(config: TrainConfig, X: list[GoldIncident], Y: np.ndarray,
                      weights: np.ndarray | None = None, callbacks: Sequence[Callable] | None = None) -> np.ndarray:
    """Each incident's probabilities from a model that did not see it."""
    proba = np.zeros(Y.shape, dtype=float)
    weights = np.ones(len(X)) if weights is None else weights
    folds = KFold(n_splits=config.threshold_folds, shuffle=True, random_state=config.seed)
    for train_index, test_index in origin_split(X, folds.split):
        model = build_model(config.kind, config.params, callbacks=callbacks)
        model.fit([X[i] for i in train_index], Y[train_index], sample_weight=weights[train_index])
        proba[test_index] = model.predict_proba([X[i] for i in test_index])
    return proba


def holdout_fit(config: TrainConfig, X: list[GoldIncident], Y: np.ndarray,
                weights: np.ndarray | None = None, callbacks: Sequence[Callable] | None = None):
    """One fit on all but a seeded holdout; thresholds on the holdout's probabilities."""
    from sklearn.model_selection import train_test_split

    weights = np.ones(len(X)) if weights is None else weights
    ((train_index, held_index),) = origin_split(X, lambda origins: [train_test_split(
        origins, test_size=config.holdout_fraction, random_state=config.seed, shuffle=True)])
    held_index = held_index[real_rows(X)[held_index]]  # thresholds on whole incidents, not digests
    model = build_model(config.kind, config.params, callbacks=callbacks)
    model.fit([X[i] for i in train_index], Y[train_index], sample_weight=weights[train_index])
    proba = model.predict_proba([X[i] for i in held_index])
    thresholds = choose_thresholds(Y[held_index], proba, min_positives=config.min_positives,
                                   sample_weight=weights[held_index], shared=config.threshold_scope == "shared",
                                   rule=config.threshold_rule)
    if config.refit_after_holdout:
        model = build_model(config.kind, config.params, callbacks=callbacks).fit(X, Y, sample_weight=weights)
    return model, thresholds


def fit_bundle(config: TrainConfig, dataset: Dataset, *, callbacks: Sequence[Callable] | None = None) -> ModelBundle:
    """Choose thresholds on held-out probabilities (``threshold_strategy``), then the final fit.

    ``callbacks``: epoch callbacks for every fit of a kind that trains in epochs
    (``classify.registry.build_model``; MLflow tracking logs epochs this way)."""
    dataset = dataset.with_digests(config.data.digest_weight)
    X, Y, weights, groups = dataset.incidents, dataset.Y, dataset.weights, dataset.groups
    if config.data.covered_unknown:
        Y = covered_unknown(Y)
    log.info("training %s on %d incidents from %s", config.kind, len(X), dataset.sources)
    for line in dataset.summary():
        log.info("training data: %s", line)
    if config.threshold_scope not in ("per_offence", "shared"):
        raise ValueError(f"threshold_scope must be 'per_offence' or 'shared', not {config.threshold_scope!r}")
    choose = {"min_positives": config.min_positives, "shared": config.threshold_scope == "shared",
              "rule": config.threshold_rule}
    strategy = config.threshold_strategy
    if strategy == "by_source" and len(corpus_groups(groups)) < 2:
        log.warning("threshold_strategy by_source needs two corpus files or more, found %d: using oof",
                    len(corpus_groups(groups)))
        strategy = "oof"
    if strategy == "holdout":
        model, thresholds = holdout_fit(config, X, Y, weights, callbacks)
    elif strategy == "oof":
        oof = out_of_fold_proba(config, X, Y, weights, callbacks)
        rows = real_rows(X)
        thresholds = choose_thresholds(Y[rows], oof[rows], sample_weight=weights[rows], **choose)
        model = build_model(config.kind, config.params, callbacks=callbacks).fit(X, Y, sample_weight=weights,
                                                                                 groups=groups)
    elif strategy == "by_source":
        model = build_model(config.kind, config.params, callbacks=callbacks).fit(X, Y, sample_weight=weights,
                                                                                 groups=groups)
        held = getattr(model, "oof_proba_", None)
        if held is None:
            held = out_of_source_proba(config.kind, config.params, X, Y, weights, groups, callbacks=callbacks)
        rows = held_rows(held)
        rows = rows[real_rows(X)[rows]]  # thresholds on whole incidents, not digests
        thresholds = choose_thresholds(Y[rows], held[rows], sample_weight=weights[rows], **choose)
    else:
        raise ValueError(f"threshold_strategy must be 'oof', 'holdout' or 'by_source', not {strategy!r}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    metadata = {
        "trained_at": stamp,
        "params": config.params,
        "threshold_strategy": strategy,
        "threshold_scope": config.threshold_scope,
        "threshold_rule": config.threshold_rule,
        "data": {"sources": dataset.sources, "incidents": len(X), "sha256": dataset.content_hash(),
                 "resolved": dict(dataset.resolved), "partial": dict(dataset.partial),
                 "weights": dict(config.data.weights), "covered_unknown": config.data.covered_unknown,
                 "positives": dict(zip(model.labels, map(int, (Y == 1).sum(axis=0)), strict=True))},
    }
    return ModelBundle(model, thresholds, f"{config.kind}-{stamp}", config.kind, metadata)


def train(config: TrainConfig, output: str | Path | None = None) -> tuple[ModelBundle, Path]:
    """Assemble data, fit, save; returns the bundle and where it was saved."""
    dataset = assemble(config.data)
    if not dataset.incidents:
        raise ValueError("no labelled training data found: check the config's data sources")
    bundle = fit_bundle(config, dataset)
    path = bundle.save(output or config.output)
    return bundle, path
