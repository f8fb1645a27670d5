"""The baseline: TF-IDF word and character n-grams, calibrated logistic regression per label."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from secondary_crimes.classify.base import OffenceModel
from secondary_crimes.classify.calibrated import PerLabelCalibrated, linear_classifier
from secondary_crimes.privacy.placeholders import placeholder_text
from secondary_crimes.records import Incident
from secondary_crimes.text import model_text


def _texts(incidents: Sequence[Incident]) -> list[str]:
    return [model_text(incident) for incident in incidents]


def text_features(max_features: int = 50000) -> Pipeline:
    """Incidents -> sparse TF-IDF of word 1-2 grams and character 3-5 grams."""
    return Pipeline([("text", FunctionTransformer(_texts)), ("tfidf", ngram_tfidf(max_features))])


def ngram_tfidf(max_features: int = 50000) -> FeatureUnion:
    """Texts (strings) -> sparse TF-IDF of word 1-2 grams and character 3-5 grams.

    Both vectorizers read ``placeholder_text``: lower-cased, people's names and identifiers as
    placeholders (``_person_``, ``_address_``), so the vocabularies hold no name it finds.
    """
    return FeatureUnion([
        ("words", TfidfVectorizer(preprocessor=placeholder_text, ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                  max_features=max_features, token_pattern=r"(?u)\b\w[\w'/]*\b")),
        ("chars", TfidfVectorizer(preprocessor=placeholder_text, analyzer="char_wb", ngram_range=(3, 5), min_df=2,
                                  sublinear_tf=True, max_features=max_features)),
    ])


class BaselineModel(OffenceModel):
    """TF-IDF over the opening code and both texts, one calibrated LR per offence."""

    kind = "baseline"

    def __init__(self, C: float = 4.0, max_features: int = 50000, calibration: str = "sigmoid"):
        self.C = C
        self.max_features = max_features
        self.calibration = calibration

    def fit(self, X: Sequence[Incident], Y: np.ndarray, sample_weight: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> BaselineModel:
        self.features_ = text_features(self.max_features)
        features = self.features_.fit_transform(X)
        self.classifier_ = PerLabelCalibrated(
            linear_classifier(self.C), method=self.calibration)
        self.classifier_.fit(features, Y, sample_weight=sample_weight)
        return self

    def predict_proba(self, X: Sequence[Incident]) -> np.ndarray:
        if not len(X):
            return np.zeros((0, len(self.labels)))
        return self.classifier_.predict_proba(self.features_.transform(X))
