"""Combine member models' probabilities with few enough parameters to fit on a few hundred incidents.

A corpus holds 2-10 positives per offence per file: a per-offence stack over-fits. ``LogitStack``
is one logistic regression over every (incident, offence) pair, whose features are the members'
logits for that offence (shared weights: how far to trust each member) and, optionally, a
per-offence intercept (each offence's base rate). It is meant to be fitted on out-of-source
predictions, so its weights and its calibration hold on writing the members never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class LogitStack:
    """P(offence | members' probabilities) by one shared logistic regression; see the module docstring."""

    def __init__(self, C: float = 1.0, per_offence_intercept: bool = True):  # noqa: N803
        self.C = C
        self.per_offence_intercept = per_offence_intercept

    def _features(self, member_proba: Sequence[np.ndarray]) -> np.ndarray:
        n, labels = np.asarray(member_proba[0]).shape
        columns = [logit(p).reshape(-1) for p in member_proba]
        if self.per_offence_intercept:
            columns.extend(np.tile(np.arange(labels) == j, n).astype(float) for j in range(labels))
        return np.column_stack(columns)

    def fit(self, member_proba: Sequence[np.ndarray], Y: np.ndarray,  # noqa: N803
            sample_weight: np.ndarray | None = None) -> LogitStack:
        Y = np.asarray(Y)  # noqa: N806
        weight = None if sample_weight is None else np.repeat(np.asarray(sample_weight, float), Y.shape[1])
        self.n_members_ = len(member_proba)
        self.model_ = LogisticRegression(C=self.C, max_iter=5000)
        self.model_.fit(self._features(member_proba), Y.reshape(-1), sample_weight=weight)
        return self

    def predict_proba(self, member_proba: Sequence[np.ndarray]) -> np.ndarray:
        shape = np.asarray(member_proba[0]).shape
        return self.model_.predict_proba(self._features(member_proba))[:, 1].reshape(shape)

    @property
    def member_weights(self) -> np.ndarray:
        """How much each member's logit counts (the shared slopes)."""
        return self.model_.coef_[0, : self.n_members_]
