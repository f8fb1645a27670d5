"""Cross-validation on a labelled corpus: each fold's model never sees that fold's incidents.

Every fold trains on the config's other sources (synthetic, sample, extra labels) plus the
other folds of the corpus, chooses thresholds on its own out-of-fold predictions, and scores
the held-out fold. The scored folds are then evaluated together.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from secondary_crimes.evaluate import evaluate
from secondary_crimes.records import GoldIncident
from secondary_crimes.score import score_incidents
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import DataConfig, Dataset, assemble, read_labelled

log = logging.getLogger(__name__)


def _background(data: DataConfig, corpus: list[GoldIncident]) -> Dataset:
    """The config's other sources (synthetic, sample, extra), less any incident of the corpus."""
    background = assemble(data, include_corpus=False)
    held_ids = {incident.incident_id for incident in corpus}
    keep = [i for i, row in enumerate(background.incidents) if row.incident_id not in held_ids]
    return Dataset([background.incidents[i] for i in keep], background.sources, background.weights[keep])


def cross_validate(config: TrainConfig, corpus_patterns: list[str], *, folds: int = 5,
                   seed: int = 0) -> tuple[list[GoldIncident], list[dict]]:
    """Out-of-fold scored records for every labelled incident of the corpus files."""
    corpus, _ = read_labelled(corpus_patterns)
    if len(corpus) < folds:
        raise ValueError(f"{corpus_patterns}: {len(corpus)} labelled incidents, fewer than {folds} folds")
    background = _background(config.data, corpus)
    background_rows, background_weights = background.incidents, background.weights
    corpus_weight = config.data.weight("corpus")
    scored: list[dict] = []
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (train_index, test_index) in enumerate(splitter.split(np.arange(len(corpus))), 1):
        train_rows = background_rows + [corpus[i] for i in train_index]
        sources = dict(background.sources, corpus_folds=len(train_index))
        weights = np.concatenate([background_weights, np.full(len(train_index), corpus_weight)])
        bundle = fit_bundle(config, Dataset(train_rows, sources, weights))
        test_rows = [corpus[i] for i in test_index]
        scored.extend(score_incidents(test_rows, bundle))
        log.info("fold %d/%d scored %d incidents", number, folds, len(test_rows))
    return corpus, scored


def score_unseen(config: TrainConfig, corpus_patterns: list[str], *,
                 synthetic_seeds: Sequence[int]) -> tuple[list[GoldIncident], dict[int, list[dict]]]:
    """Score every corpus incident with models that saw none of the corpus, one per synthetic seed.

    A stand-in for another force's writing: the models learn from the synthetic incidents,
    the hand-written samples and any extra labels only, so the corpus's style, phrasing and
    templates are all new to them. Each seed draws a different synthetic set, which shows how
    much of a figure is the draw rather than the method.
    """
    corpus, _ = read_labelled(corpus_patterns)
    if not corpus:
        raise ValueError(f"{corpus_patterns}: no labelled incidents to score")
    scored: dict[int, list[dict]] = {}
    for seed in synthetic_seeds:
        data = dataclasses.replace(config.data, synthetic_seed=int(seed))
        bundle = fit_bundle(dataclasses.replace(config, data=data), _background(data, corpus))
        scored[int(seed)] = score_incidents(corpus, bundle)
        log.info("synthetic seed %d: scored %d unseen corpus incidents", seed, len(corpus))
    return corpus, scored


HEADLINE = (("missed", "micro", "precision"), ("missed", "micro", "recall"), ("missed", "micro", "f1"),
            ("missed", "macro", "f1"), ("offences", "micro", "f1"),
            ("incident_level", "precision"), ("incident_level", "recall"),
            ("incident_level", "priority_average_precision"))


def headline(report: dict[str, Any]) -> dict[str, float | None]:
    """The summary figures of one evaluation report, keyed like ``missed.micro.f1``."""
    figures: dict[str, float | None] = {}
    for path in HEADLINE:
        value: Any = report
        for key in path:
            value = value[key]
        figures[".".join(path)] = value
    return figures


def summarise_seeds(gold: list[GoldIncident], scored: dict[int, list[dict]]) -> dict[str, Any]:
    """Per-seed headline figures and their mean and standard deviation across seeds."""
    per_seed = {seed: headline(evaluate(gold, records)) for seed, records in scored.items()}
    summary: dict[str, Any] = {"per_seed": per_seed, "mean": {}, "sd": {}}
    for key in per_seed[next(iter(per_seed))]:
        values = np.array([figures[key] for figures in per_seed.values() if figures[key] is not None], float)
        summary["mean"][key] = float(values.mean()) if values.size else None
        summary["sd"][key] = float(values.std(ddof=1)) if values.size > 1 else None
    return summary
