"""Out-of-source predictions: each corpus file scored by a model fitted without it.

A corpus file is one force's writing. Probabilities on a file from a model that never saw it
are what a new force would get, so thresholds and ensemble weights are fitted on them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from secondary_crimes.records import Incident
from secondary_crimes.training_data import CORPUS_GROUP

log = logging.getLogger(__name__)


def corpus_groups(groups: Sequence[str]) -> list[str]:
    """The distinct corpus files among ``groups``, in order of first appearance."""
    return list(dict.fromkeys(g for g in groups if g.startswith(CORPUS_GROUP)))


def source_folds(groups: Sequence[str], max_folds: int | None = None) -> list[list[str]]:
    """The corpus files dealt round-robin into at most ``max_folds`` folds (one file a fold when
    None): each fold holds out whole files, so what it scores is still writing never seen."""
    files = corpus_groups(groups)
    n = len(files) if not max_folds else max(2, min(int(max_folds), len(files)))
    return [files[k::n] for k in range(n)] if files else []


def out_of_source_proba(kind: str, params: dict[str, Any] | None, X: Sequence[Incident], Y: np.ndarray,
                        sample_weight: np.ndarray | None, groups: Sequence[str],
                        max_folds: int | None = None,
                        callbacks: Sequence[Callable[..., Any]] | None = None) -> np.ndarray:
    """(n x labels) probabilities: each corpus incident's from a ``kind`` model fitted on every
    row outside its fold of files (other files, synthetic, samples); NaN outside the corpus.
    ``callbacks``: epoch callbacks for each fit (``registry.build_model``)."""
    from secondary_crimes.classify.registry import build_model

    X, Y, groups = list(X), np.asarray(Y), list(groups)
    weights = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    proba = np.full(Y.shape, np.nan)
    for fold in source_folds(groups, max_folds):
        test = [i for i, g in enumerate(groups) if g in fold]
        train = [i for i, g in enumerate(groups) if g not in fold]
        model = build_model(kind, params, callbacks=callbacks)
        model.fit([X[i] for i in train], Y[train], sample_weight=weights[train], groups=[groups[i] for i in train])
        proba[test] = model.predict_proba([X[i] for i in test])
        log.info("%s: %s scored out of source (%d incidents)", kind, ", ".join(fold), len(test))
    return proba


def held_rows(proba: np.ndarray) -> np.ndarray:
    """The rows of an out-of-source matrix that were held out (no NaN)."""
    return np.flatnonzero(~np.isnan(proba).any(axis=1))
