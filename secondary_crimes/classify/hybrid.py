"""The hybrid model: spaCy extraction (indicators with their context) joined with TF-IDF text features.

Features per incident: the baseline's TF-IDF word and character n-grams, and from the
extraction, for each offence the counts of affirmed, negated, hypothetical, historical,
other-person and second-hand indicators, affirmed counts per indicator kind, the
relationship, reporter and domestic calls, weapon / alcohol / children / conflict flags and
the largest contact count. One calibrated logistic regression per offence reads them all,
so "no injuries" and "worried he might" count against an offence instead of for it.

Evidence for a flagged offence is the affirmed indicator spans that support it (what an
auditor highlights), falling back to the sentences that score highest when there are none.
Relationship, reporter and domestic come from the extraction's rules, or, with
``attribute_model="learned"``, from ``AttributeModel`` (text n-grams plus the rules' cues and
calls, trained on the gold fields).

The spaCy pipeline is never pickled: the ``Extractor`` drops it and rebuilds it lazily.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from secondary_crimes.classify.attributes import AttributeModel
from secondary_crimes.classify.base import Analysis, OffenceModel
from secondary_crimes.classify.baseline import text_features
from secondary_crimes.classify.calibrated import PerLabelCalibrated, linear_classifier
from secondary_crimes.extract.components import read_kinds
from secondary_crimes.extract.extractor import RELATIONSHIPS, REPORTERS, Extractor
from secondary_crimes.extract.types import Extraction
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS

CONTEXTS = ("affirmed", "negated", "hypothetical", "historical", "other_person")
ATTRIBUTES = ("weapon", "alcohol", "children_present", "child", "conflict")


def indicator_feature_names() -> list[str]:
    kinds = sorted(read_kinds("indicator_kinds.jsonl"))
    names = [f"{label}:{context}" for label in LABELS for context in CONTEXTS]
    names += [f"{label}:reported" for label in LABELS]
    names += [f"{label}:any_affirmed" for label in LABELS]
    names += [f"kind:{kind}" for kind in kinds]
    names += [f"relationship={r}" for r in RELATIONSHIPS] + [f"reporter={r}" for r in REPORTERS]
    names += ["domestic"] + [f"attribute:{a}" for a in ATTRIBUTES] + ["contact_count"]
    return names


def indicator_features(extractions: Sequence[Extraction]) -> np.ndarray:
    """Dense (n x features) matrix of the extraction, in ``indicator_feature_names`` order."""
    names = indicator_feature_names()
    index = {name: j for j, name in enumerate(names)}
    X = np.zeros((len(extractions), len(names)))
    for i, extraction in enumerate(extractions):
        counts = np.zeros(len(names))
        contact = 0.0
        for indicator in extraction.indicators:
            context = indicator.context
            for label in indicator.offences:
                counts[index[f"{label}:{context}"]] += 1
                if indicator.reported and indicator.affirmed:
                    counts[index[f"{label}:reported"]] += 1
                if indicator.affirmed:
                    counts[index[f"{label}:any_affirmed"]] = 1
            if indicator.affirmed and f"kind:{indicator.kind}" in index:
                counts[index[f"kind:{indicator.kind}"]] += 1
            if indicator.kind == "contact_count" and indicator.affirmed and indicator.value:
                contact = max(contact, indicator.value)
        X[i] = np.log1p(counts)
        if extraction.relationship in RELATIONSHIPS:
            X[i, index[f"relationship={extraction.relationship}"]] = 1
        if extraction.reporter in REPORTERS:
            X[i, index[f"reporter={extraction.reporter}"]] = 1
        X[i, index["domestic"]] = float(bool(extraction.domestic))
        for attribute in ATTRIBUTES:
            X[i, index[f"attribute:{attribute}"]] = float(bool(extraction.attributes.get(attribute)))
        X[i, index["contact_count"]] = np.log1p(contact)
    return X


class HybridModel(OffenceModel):
    """TF-IDF text features plus extraction features, one calibrated LR per offence."""

    kind = "hybrid"

    def __init__(
        self,
        C: float = 4.0,
        max_features: int = 50000,
        calibration: str = "sigmoid",
        indicator_weight: float = 1.0,
        use_text: bool = True,
        context_damping: float = 1.0,
        attribute_model: str = "rules",
        attribute_params: dict | None = None,
        spacy_model: str | None = None,
        n_process: int = 1,
    ):
        self.C = C
        self.max_features = max_features
        self.calibration = calibration
        self.indicator_weight = indicator_weight
        self.use_text = use_text
        self.context_damping = context_damping
        self.attribute_model = attribute_model
        self.attribute_params = attribute_params
        self.spacy_model = spacy_model
        self.n_process = n_process

    # -- extraction ---------------------------------------------------------------------

    @property
    def extractor(self) -> Extractor:
        if getattr(self, "_extractor", None) is None:
            self._extractor = Extractor(self.spacy_model, n_process=self.n_process)
        return self._extractor

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_extractor", None)  # holds the spaCy pipeline: rebuilt lazily after loading
        return state

    def extract(self, X: Sequence[Incident]) -> list[Extraction]:
        return self.extractor.extract(list(X))

    def _matrix(self, X: Sequence[Incident], extractions: list[Extraction], *, fit: bool = False):
        dense = indicator_features(extractions) * self.indicator_weight
        parts = [sparse.csr_matrix(dense)]
        if self.use_text:
            text = self.features_.fit_transform(X) if fit else self.features_.transform(X)
            parts.insert(0, text)
        return sparse.hstack(parts, format="csr")

    # -- the contract -------------------------------------------------------------------

    def fit(self, X: Sequence[Incident], Y: np.ndarray, sample_weight: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> HybridModel:
        X = list(X)
        extractions = self.extract(X)
        self.features_ = text_features(self.max_features) if self.use_text else None
        features = self._matrix(X, extractions, fit=True)
        self.classifier_ = PerLabelCalibrated(
            linear_classifier(self.C), method=self.calibration
        )
        self.classifier_.fit(features, Y, sample_weight=sample_weight)
        self.attributes_ = None
        if self.attribute_model == "learned":
            self.attributes_ = AttributeModel(**(self.attribute_params or {})).fit(X, extractions, sample_weight,
                                                                                 groups)
        elif self.attribute_model != "rules":
            raise ValueError(f"attribute_model must be 'rules' or 'learned', not {self.attribute_model!r}")
        return self

    def _proba(self, X: Sequence[Incident], extractions: list[Extraction]) -> np.ndarray:
        proba = self.classifier_.predict_proba(self._matrix(X, extractions))
        if self.context_damping < 1.0:
            proba = proba.copy()
            for i, extraction in enumerate(extractions):
                for j, label in enumerate(self.labels):
                    mentions = [ind for ind in extraction.indicators if label in ind.offences]
                    if mentions and not any(ind.affirmed for ind in mentions):
                        proba[i, j] *= self.context_damping
        return proba

    def predict_proba(self, X: Sequence[Incident]) -> np.ndarray:
        X = list(X)
        if not X:
            return np.zeros((0, len(self.labels)))
        return self._proba(X, self.extract(X))

    def attributes(self, X: Sequence[Incident], extractions: Sequence[Extraction]
                   ) -> list[tuple[str | None, str | None, bool | None]]:
        """(relationship, reporter, domestic) per incident: the learned model's, or the rules'."""
        learned = getattr(self, "attributes_", None)
        if learned is not None:
            return learned.predict(X, extractions)
        return [(e.relationship, e.reporter, e.domestic) for e in extractions]

    def analyse(self, X: Sequence[Incident], thresholds: np.ndarray | None = None) -> list[Analysis]:
        X = list(X)
        if not X:
            return []
        extractions = self.extract(X)
        proba = self._proba(X, extractions)
        out, fallback = [], []
        for incident, extraction, row, (relationship, reporter, domestic) in zip(
            X, extractions, proba, self.attributes(X, extractions), strict=True
        ):
            analysis = Analysis(
                probabilities=row,
                domestic=domestic,
                relationship=relationship,
                reporter=reporter,
                people=list(extraction.people),
            )
            if thresholds is not None:
                flagged = np.flatnonzero(row >= thresholds)
                missing = []
                for j in flagged:
                    spans = extraction.evidence(self.labels[j])
                    if spans:
                        analysis.evidence[self.labels[j]] = spans[: self.max_evidence]
                    else:
                        missing.append(j)
                if missing:
                    fallback.append((incident, analysis, np.array(missing)))
            out.append(analysis)
        self.add_sentence_evidence(fallback)
        return out
