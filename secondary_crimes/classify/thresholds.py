"""Per-offence decision thresholds chosen on held-out (out-of-fold) probabilities.

Cells whose gold is ``base.UNKNOWN`` (an offence nobody decided) count neither way.
"""

from __future__ import annotations

import numpy as np

from secondary_crimes.classify.base import known_mask


def best_threshold(y_true: np.ndarray, proba: np.ndarray, *, min_positives: int = 3,
                   default: float = 0.5, beta: float = 1.0, sample_weight: np.ndarray | None = None) -> float:
    """The threshold maximising (weighted) F-beta on held-out probabilities.

    Ties go to the threshold nearest ``default``. A label with fewer than ``min_positives``
    positives has too little evidence to move a threshold, and keeps ``default``.
    ``sample_weight`` counts each incident's true and false positives by its weight.
    """
    known = known_mask(y_true)
    y_true = np.asarray(y_true)[known].astype(bool)
    proba = np.asarray(proba)[known]
    weight = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=float)[known]
    if y_true.sum() < min_positives:
        return default
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    scores = []
    for threshold in grid:
        predicted = proba >= threshold
        tp = float(np.sum(weight[predicted & y_true]))
        fp = float(np.sum(weight[predicted & ~y_true]))
        fn = float(np.sum(weight[~predicted & y_true]))
        denominator = (1 + beta**2) * tp + beta**2 * fn + fp
        scores.append((1 + beta**2) * tp / denominator if denominator else 0.0)
    scores = np.array(scores)
    candidates = grid[scores >= scores.max() - 1e-9]
    return float(candidates[np.argmin(np.abs(candidates - default))])


def choose_thresholds(Y: np.ndarray, proba: np.ndarray, *, shared: bool = False, **kwargs) -> np.ndarray:
    """One threshold per column (``kwargs`` as ``best_threshold``'s, ``sample_weight`` included);
    ``shared``: one threshold for every column, best for micro F-beta over all of them (for
    calibrated probabilities, where a column's few positives would only add noise)."""
    if shared:
        weight = kwargs.pop("sample_weight", None)
        if weight is not None:
            weight = np.repeat(np.asarray(weight, dtype=float), Y.shape[1])
        return np.full(Y.shape[1], best_threshold(Y.reshape(-1), proba.reshape(-1), sample_weight=weight, **kwargs))
    return np.array([best_threshold(Y[:, j], proba[:, j], **kwargs) for j in range(Y.shape[1])])
