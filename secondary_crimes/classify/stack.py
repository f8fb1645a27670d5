"""Combine member models' probabilities with few enough parameters to fit on a few hundred incidents.

A corpus holds 2-10 positives per offence per file: a per-offence stack over-fits. ``LogitStack``
is one logistic regression over every (incident, offence) pair, whose features are the members'
logits for that offence (shared weights: how far to trust each member) and, optionally, a
per-offence intercept (each offence's base rate), and optional incident-level features shared
by every offence (evidence to the contrary lowers them all). It is meant to be fitted on
out-of-source predictions, so its weights and its calibration hold on writing the members
never saw. Pairs whose target is ``base.UNKNOWN`` are left out of the fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from secondary_crimes.classify.base import known_mask


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class LogitStack:
    """P(offence | members' probabilities) by one shared logistic regression; see the module docstring."""

    def __init__(self, C: float = 1.0, per_offence_intercept: bool = True):
        self.C = C
        self.per_offence_intercept = per_offence_intercept

    def _features(self, member_proba: Sequence[np.ndarray], extra: np.ndarray | None) -> np.ndarray:
        n, labels = np.asarray(member_proba[0]).shape
        columns = [logit(p).reshape(-1) for p in member_proba]
        if self.per_offence_intercept:
            columns.extend(np.tile(np.arange(labels) == j, n).astype(float) for j in range(labels))
        if extra is not None:  # incident-level features, the same for each of its offences
            columns.extend(np.repeat(np.asarray(extra, dtype=float)[:, k], labels) for k in range(extra.shape[1]))
        return np.column_stack(columns)

    def fit(self, member_proba: Sequence[np.ndarray], Y: np.ndarray,
            sample_weight: np.ndarray | None = None, extra: np.ndarray | None = None) -> LogitStack:
        """``extra``: optional (incidents x k) incident-level features (e.g. evidence to the contrary)."""
        Y = np.asarray(Y)
        known = known_mask(Y).reshape(-1)
        weight = None if sample_weight is None else np.repeat(np.asarray(sample_weight, float), Y.shape[1])[known]
        self.n_members_ = len(member_proba)
        self.n_extra_ = 0 if extra is None else int(np.asarray(extra).shape[1])
        self.model_ = LogisticRegression(C=self.C, max_iter=5000)
        self.model_.fit(self._features(member_proba, extra)[known], Y.reshape(-1)[known], sample_weight=weight)
        return self

    def predict_proba(self, member_proba: Sequence[np.ndarray], extra: np.ndarray | None = None) -> np.ndarray:
        shape = np.asarray(member_proba[0]).shape
        return self.model_.predict_proba(self._features(member_proba, extra))[:, 1].reshape(shape)

    @property
    def extra_weights(self) -> np.ndarray:
        """The slopes of the incident-level features, in ``extra``'s column order."""
        return self.model_.coef_[0, self.model_.coef_.shape[1] - self.n_extra_:] if self.n_extra_ else np.zeros(0)

    @property
    def member_weights(self) -> np.ndarray:
        """How much each member's logit counts (the shared slopes)."""
        return self.model_.coef_[0, : self.n_members_]
