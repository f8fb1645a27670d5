"""Per-label calibrated binary classifiers for a multi-label target.

scikit-learn's ``OneVsRestClassifier(CalibratedClassifierCV(...))`` fails on labels with
fewer positives than calibration folds, which a 17-label corpus of a few hundred records
always has. This fits one ``CalibratedClassifierCV`` per label with as many folds as the
label can support, and falls back to the label's base rate when it has no positives. Each
label learns from the rows where it is known (``base.UNKNOWN`` cells are left out).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from secondary_crimes.classify.base import known_mask


def linear_classifier(C: float = 4.0, random_state: int = 0) -> LogisticRegression:
    """Balanced logistic regression solved in the dual: fast when features outnumber incidents.
    liblinear visits the samples in a random order: seeded, so the same data fits the same model."""
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", dual=True, max_iter=5000,
                              random_state=random_state)


class PerLabelCalibrated(BaseEstimator, ClassifierMixin):
    """One calibrated copy of ``estimator`` per column of ``Y``."""

    def __init__(self, estimator=None, method: str = "sigmoid", max_folds: int = 3):
        self.estimator = estimator
        self.method = method
        self.max_folds = max_folds

    def _base(self):
        if self.estimator is not None:
            return self.estimator
        return linear_classifier()

    def fit(self, X, Y, sample_weight=None):
        """Fit one calibrated model per column on the rows where it is known; ``sample_weight``
        weights incidents in both the classifier and its calibration."""
        Y = np.asarray(Y)
        known = known_mask(Y)
        self.models_: list = []
        for j in range(Y.shape[1]):
            rows = np.flatnonzero(known[:, j])
            y = Y[rows, j].astype(int)
            every = len(rows) == Y.shape[0]
            x = X if every else X[rows]
            weight = sample_weight if sample_weight is None or every else np.asarray(sample_weight)[rows]
            positives, negatives = int(y.sum()), int(len(y) - y.sum())
            folds = min(self.max_folds, positives, negatives)
            if folds >= 2:
                model = CalibratedClassifierCV(clone(self._base()), method=self.method, cv=folds)
                model.fit(x, y, sample_weight=weight)
                self.models_.append(model)
            elif positives and negatives:
                self.models_.append(clone(self._base()).fit(x, y, sample_weight=weight))
            else:
                self.models_.append(float(positives > 0))
        return self

    def predict_proba(self, X) -> np.ndarray:
        n = X.shape[0] if sparse.issparse(X) or hasattr(X, "shape") else len(X)
        columns = []
        for model in self.models_:
            if isinstance(model, float):
                columns.append(np.full(n, model))
            else:
                columns.append(model.predict_proba(X)[:, 1])
        return np.column_stack(columns)
