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
from secondary_crimes.score import decide_all, score_incidents
from secondary_crimes.score_link import link_records
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import CORPUS_GROUP, DataConfig, Dataset, assemble, read_labelled

log = logging.getLogger(__name__)


def background_data(data: DataConfig, corpus: list[GoldIncident]) -> Dataset:
    """The config's other sources (synthetic, sample, extra), less any incident of the corpus."""
    background = assemble(data, include_corpus=False)
    held_ids = {incident.incident_id for incident in corpus}
    return background.subset([i for i, row in enumerate(background.incidents) if row.incident_id not in held_ids])


def cross_validate(config: TrainConfig, corpus_patterns: list[str], *, folds: int = 5,
                   seed: int = 0) -> tuple[list[GoldIncident], list[dict]]:
    """Out-of-fold scored records for every labelled incident of the corpus files."""
    corpus, _ = read_labelled(corpus_patterns)
    if len(corpus) < folds:
        raise ValueError(f"{corpus_patterns}: {len(corpus)} labelled incidents, fewer than {folds} folds")
    background = background_data(config.data, corpus)
    background_rows, background_weights = background.incidents, background.weights
    corpus_weight = config.data.weight("corpus")
    scored: list[dict] = []
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (train_index, test_index) in enumerate(splitter.split(np.arange(len(corpus))), 1):
        train_rows = background_rows + [corpus[i] for i in train_index]
        sources = dict(background.sources, corpus_folds=len(train_index))
        weights = np.concatenate([background_weights, np.full(len(train_index), corpus_weight)])
        groups = background.groups + [f"{CORPUS_GROUP}fold" for _ in train_index]
        bundle = fit_bundle(config, Dataset(train_rows, sources, weights, groups))
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
        bundle = fit_bundle(dataclasses.replace(config, data=data), background_data(data, corpus))
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


def read_by_source(corpus_patterns: list[str]) -> dict[str, list[GoldIncident]]:
    """The labelled incidents of each corpus file, keyed by the file's stem (its force or style)."""
    from secondary_crimes.training_data import expand_patterns

    by_source: dict[str, list[GoldIncident]] = {}
    for path in expand_patterns(corpus_patterns):
        rows, _ = read_labelled([str(path)])
        if rows:
            by_source[path.stem] = rows
    if len(by_source) < 2:
        raise ValueError(f"{corpus_patterns}: by-source cross-validation needs at least two labelled files, "
                         f"found {len(by_source)}")
    return by_source


@dataclasses.dataclass
class FoldOutput:
    """What one held-out file's model said: every probability, and the thresholds it chose."""

    probabilities: np.ndarray  # (incidents x labels)
    thresholds: np.ndarray  # (labels,)


def cross_validate_by_source(config: TrainConfig, corpus_patterns: list[str], *,
                             outputs: dict[str, FoldOutput] | None = None,
                             ) -> tuple[dict[str, list[GoldIncident]], dict[str, list[dict]]]:
    """Leave one corpus file out: train on every other file plus the background, score that file.

    Each file is written in its own force's style, so its scores come from a model that never
    saw that style: the nearest stand-in for a new force. Each file's records are then linked as
    `score` links them (``score_link.link_records``), so a ``series_*`` file's course of conduct counts.
    Returns gold and scored records per file; ``outputs``, when given, receives each file's
    ``FoldOutput``.
    """
    by_source = read_by_source(corpus_patterns)
    every = [row for rows in by_source.values() for row in rows]
    background = background_data(config.data, every)
    scored: dict[str, list[dict]] = {}
    for held, test_rows in by_source.items():
        bundle = fit_bundle(config, without_source(background, by_source, held, config.data.weight("corpus")))
        analyses = bundle.model.analyse(test_rows, bundle.thresholds)
        scored[held] = link_records(test_rows, decide_all(test_rows, analyses, bundle))
        if outputs is not None:
            outputs[held] = FoldOutput(np.vstack([a.probabilities for a in analyses]), bundle.thresholds)
        log.info("held out %s: scored %d incidents", held, len(test_rows))
    return by_source, scored


def without_source(background: Dataset, by_source: dict[str, list[GoldIncident]], held: str,
                   corpus_weight: float = 1.0) -> Dataset:
    """The background plus every corpus file but ``held``: what a by-source fold trains on."""
    kept = {source: rows for source, rows in by_source.items() if source != held}
    train_rows = [row for rows in kept.values() for row in rows]
    sources = dict(background.sources, **{f"{CORPUS_GROUP}{s}": len(r) for s, r in kept.items()})
    weights = np.concatenate([background.weights, np.full(len(train_rows), corpus_weight)])
    groups = background.groups + [f"{CORPUS_GROUP}{s}" for s, rows in kept.items() for _ in rows]
    return Dataset(background.incidents + train_rows, sources, weights, groups)


BY_SOURCE_FIGURES = (("missed", "micro", "precision"), ("missed", "micro", "recall"), ("missed", "micro", "f1"),
                     ("offences", "micro", "f1"), ("incident_level", "priority_average_precision"),
                     ("relationship", "accuracy"), ("reporter", "accuracy"))


SERIES_PREFIX = "series_"  # course-of-conduct files: labels that need the linked incidents too


def summarise_by_source(gold: dict[str, list[GoldIncident]], scored: dict[str, list[dict]]) -> dict[str, Any]:
    """Per-file and pooled evaluation reports, and a compact table of their headline figures.

    ``pooled`` covers the single-incident files; a ``series_*`` file's course-of-conduct
    labels need its linked incidents, which one incident's text does not carry (the linking
    pass's flags count: ``score_link.link_records``), so it is shown on its own row and in
    ``pooled_with_series``.
    """
    reports = {source: evaluate(gold[source], scored[source]) for source in gold}
    single = [source for source in gold if not source.startswith(SERIES_PREFIX)] or list(gold)
    reports["pooled"] = evaluate([g for s in single for g in gold[s]], [r for s in single for r in scored[s]])
    if len(single) < len(gold):
        reports["pooled_with_series"] = evaluate([g for rows in gold.values() for g in rows],
                                                 [r for rows in scored.values() for r in rows])
    table: dict[str, dict[str, float | None]] = {}
    for source, report in reports.items():
        row: dict[str, float | None] = {"incidents": float(report["incident_level"]["incidents"])}
        for path in BY_SOURCE_FIGURES:
            value: Any = report
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            row[".".join(path)] = value
        table[source] = row
    return {"table": table, "reports": reports}


def format_by_source(summary: dict[str, Any]) -> str:
    """The by-source table as text, one row per held-out file and the pooled row last."""
    from secondary_crimes.evaluate import format_report

    keys = ["incidents", *(".".join(path) for path in BY_SOURCE_FIGURES)]
    short = {"incidents": "n", "missed.micro.precision": "missed P", "missed.micro.recall": "missed R",
             "missed.micro.f1": "missed F1", "offences.micro.f1": "offences F1",
             "incident_level.priority_average_precision": "priority AP",
             "relationship.accuracy": "relationship", "reporter.accuracy": "reporter"}
    lines = [f"{'held-out file':<22}" + "".join(f"{short[k]:>13}" for k in keys)]
    for source, row in summary["table"].items():
        cells = []
        for key in keys:
            value = row.get(key)
            cells.append("-" if value is None else (f"{value:.0f}" if key == "incidents" else f"{value:.3f}"))
        lines.append(f"{source:<22}" + "".join(f"{cell:>13}" for cell in cells))
    return "\n".join(lines) + "\n\nPooled over every held-out file:" + format_report(summary["reports"]["pooled"])
