"""Relationship, reporter and domestic, learned from gold labels with the extraction's calls as features.

The extraction's rules (``extract.extractor``) read the relationship and the reporter from
listed cue words; a force that writes "her fella", "baby father" or "call from school nurse"
in its own way defeats a list. ``AttributeModel`` learns each attribute from the labelled
incidents instead, by a multinomial logistic regression over

- word 1-2 grams of the whole text (who is named, and how), and separately of the opening of
  the call log (who is calling);
- the extraction's cue scores and its rule-based calls, one-hot, so the patterns still count;
- which offences the extraction found affirmed indicators of (``offence_features``, scaled by
  ``offence_weight``): 111 of the corpus's 114 "none" relationships are incidents with no
  offence, so whether there is one tells "none" from the rest. Leave-one-file-out
  (``training/attributes_by_source.py --offence-weight W``): relationship 0.743 (W=0) -> 0.755
  (W=1) / 0.753 (W=3), domestic 0.916 -> 0.918 / 0.910, reporter 0.749 -> 0.747 / 0.743;
- for the reporter only, the caller cues (``extract/patterns/caller_cues.jsonl``: the caller tells
  of someone other than themselves, "caller reports a male ...", "RP re daughter", "not seen for
  3 days"; scaled by ``caller_weight``): reporter 0.747 -> 0.769 leave-one-file-out
  (``--caller-weight 0`` / 1), relationship and domestic unchanged (same matrix).

The generated incidents outnumber the labelled ones about five to one, and their people are
written from a handful of templates; ``synthetic_weight`` scales their weight here (only here:
the offence classifiers keep it), so the calls are learned mostly from real writing. It needs
the rows' ``groups`` (``Dataset.groups``; without them every row keeps its weight). The
balanced class weights are computed on the weighted counts, so it shifts each class towards
its labelled rows rather than shrinking a class the generated rows hold alone.
Leave-one-file-out (``training/attributes_by_source.py --synthetic-weight W``): relationship
0.771 (W=1) -> 0.778 / 0.775 / 0.769 (W=0.1 / 0.2 / 0.3), reporter 0.769 -> 0.792 / 0.788 /
0.788, domestic 0.927 -> 0.929 / 0.933 / 0.935; W=0 (labelled rows only) loses relationship
(0.743).

For the relationship (and domestic) only, each relationship cue in its context
(``Extraction.cue_contexts``: the cue word, the words either side, whether it stands in the
opening, in a sentence with an offence or the suspect, inside a who-called cue), counted,
log1p, scaled by ``context_weight``: "her mum" in "ringing for her mum" is the caller's family,
"her husband punched her" the pair's. Leave-one-file-out (``--context-weight W``): relationship
0.765 (W=0) -> 0.767 / 0.771 / 0.722 (W=0.5 / 1 / 2), domestic 0.922 -> 0.933 / 0.929 / 0.922,
reporter unchanged (it does not read them).

Domestic is learned the same way, with the relationship's probabilities as extra features
(a husband is domestic; a mother reporting her child's teacher is not). A fitted model
needs ``min_rows`` labelled incidents and two classes per attribute; otherwise the rules stand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from secondary_crimes.extract.extractor import DOMESTIC_RELATIONSHIPS, RELATIONSHIPS, REPORTERS
from secondary_crimes.extract.types import Extraction
from secondary_crimes.privacy.placeholders import placeholder_text
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.text import model_text
from secondary_crimes.training_data import SYNTHETIC_GROUP

CUE_NAMES = (
    [f"relationship:{r}" for r in RELATIONSHIPS[:-1]] + [f"reporter:{r}" for r in REPORTERS] + ["reporter:no_call_log"]
)
# Whether the caller tells of someone other than themselves (extract/patterns/caller_cues.jsonl: "caller
# reports a male ...", "RP re daughter", "not seen for 3 days"): reporter features only, so relationship and
# domestic are fitted on the same matrix as before. A model fitted before these cues existed has no
# ``caller_cues_`` and is read without them.
CALLER_CUE_NAMES = ("reporter:other_person", "reporter:welfare")
OPENING_CHARS = 240


def opening(incident: Incident) -> str:
    """The first words of the call log (or of the narrative when there is none): who is calling."""
    text = incident.call_log.strip() or (incident.officer_narrative or "").strip()
    return text[:OPENING_CHARS]


def offence_features(extractions: Sequence[Extraction]) -> np.ndarray:
    """Whether the extraction found an affirmed indicator of each offence, and how many in all:
    an incident with no offence in it has no relationship ("none") far more often than one with."""
    index = {label: j for j, label in enumerate(LABELS)}
    out = np.zeros((len(extractions), len(LABELS) + 2))
    for i, e in enumerate(extractions):
        affirmed = [indicator for indicator in e.indicators if indicator.affirmed and indicator.offences]
        for indicator in affirmed:
            for label in indicator.offences:
                out[i, index[label]] = 1.0
        out[i, -2] = np.log1p(len(affirmed))
        out[i, -1] = float(not affirmed)
    return out


def rule_features(extractions: Sequence[Extraction]) -> np.ndarray:
    """Cue scores (log1p) and the rules' relationship, reporter and domestic calls, one-hot."""
    rows = []
    for e in extractions:
        cues = [np.log1p(e.cues.get(name, 0.0)) for name in CUE_NAMES]
        relationship = [float(e.relationship == r) for r in RELATIONSHIPS]
        reporter = [float(e.reporter == r) for r in REPORTERS]
        rows.append(cues + relationship + reporter + [float(bool(e.domestic))])
    return np.asarray(rows, dtype=float).reshape(len(extractions), -1)


def caller_features(extractions: Sequence[Extraction]) -> np.ndarray:
    """The caller cues (log1p of their counts in the opening of the call log), one column each."""
    return np.log1p(np.asarray([[e.cues.get(name, 0.0) for name in CALLER_CUE_NAMES] for e in extractions],
                               dtype=float).reshape(len(extractions), len(CALLER_CUE_NAMES)))


def context_counts(extractions: Sequence[Extraction]) -> list[Counter]:
    """Each incident's relationship cues in context (``Extraction.cue_contexts``), counted."""
    return [Counter(getattr(e, "cue_contexts", ()) or ()) for e in extractions]


class AttributeModel:
    """Learned relationship, reporter and domestic calls; see the module docstring."""

    def __init__(self, C: float = 2.0, max_features: int = 20000, rule_weight: float = 1.0,
                 min_rows: int = 20, offence_weight: float = 1.0, caller_weight: float = 1.0,
                 synthetic_weight: float = 1.0, context_weight: float = 0.0):
        self.C = C
        self.max_features = max_features
        self.rule_weight = rule_weight
        self.min_rows = min_rows
        self.offence_weight = offence_weight
        self.caller_weight = caller_weight
        self.synthetic_weight = synthetic_weight
        self.context_weight = context_weight

    def _matrix(self, incidents: Sequence[Incident], extractions: Sequence[Extraction], *, fit: bool = False):
        texts = [model_text(incident) for incident in incidents]
        openings = [opening(incident) for incident in incidents]
        if fit:
            # names, addresses and other identifiers as placeholders (lower-cased): none in the vocabulary
            self.words_ = TfidfVectorizer(preprocessor=placeholder_text, ngram_range=(1, 2), min_df=2,
                                          sublinear_tf=True, max_features=self.max_features)
            self.openings_ = TfidfVectorizer(preprocessor=placeholder_text, ngram_range=(1, 2), min_df=2,
                                             sublinear_tf=True, max_features=self.max_features)
            self.words_.fit(texts)
            self.openings_.fit(openings)
            self.contexts_ = DictVectorizer().fit(context_counts(extractions)) if self.context_weight else None
        parts = [
            self.words_.transform(texts),
            self.openings_.transform(openings),
            sparse.csr_matrix(rule_features(extractions) * self.rule_weight),
        ]
        if getattr(self, "offence_weight", 0.0):
            parts.append(sparse.csr_matrix(offence_features(extractions) * self.offence_weight))
        return sparse.hstack(parts, format="csr")

    def _relationship_matrix(self, matrix, extractions: Sequence[Extraction]):
        """The relationship's (and domestic's) features: the shared matrix plus the relationship cues in
        context (when fitted with them; the reporter reads the shared matrix without them)."""
        if getattr(self, "contexts_", None) is None:
            return matrix
        counts = self.contexts_.transform(context_counts(extractions))
        return sparse.hstack([matrix, counts.log1p() * self.context_weight], format="csr")

    def _reporter_matrix(self, matrix, extractions: Sequence[Extraction]):
        """The reporter's features: the shared matrix plus the caller cues (when fitted with them)."""
        weight = getattr(self, "caller_cues_", 0.0)
        if not weight:
            return matrix
        return sparse.hstack([matrix, sparse.csr_matrix(caller_features(extractions) * weight)], format="csr")

    def fit(self, incidents: Sequence[Incident], extractions: Sequence[Extraction],
            sample_weight: np.ndarray | None = None, groups: Sequence[str] | None = None) -> AttributeModel:
        """Fit each attribute on the incidents that carry its gold value (generated ones, named by
        ``groups``, at ``synthetic_weight`` of their weight)."""
        weights = np.ones(len(incidents)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if not self.synthetic_weight > 0:
            # a class only generated rows carry would get an infinite balanced class weight
            raise ValueError(f"synthetic_weight must be above 0, not {self.synthetic_weight!r}")
        if groups is not None and self.synthetic_weight != 1.0:
            if len(groups) != len(incidents):
                raise ValueError(f"{len(groups)} groups for {len(incidents)} incidents")
            weights = np.where(np.asarray(groups) == SYNTHETIC_GROUP, weights * self.synthetic_weight, weights)
        matrix = self._matrix(incidents, extractions, fit=True)
        self.caller_cues_ = float(getattr(self, "caller_weight", 0.0))
        self.models_: dict[str, LogisticRegression] = {}
        related = self._relationship_matrix(matrix, extractions)
        self._fit_one("relationship", [getattr(i, "relationship", None) for i in incidents], related, weights)
        self._fit_one("reporter", [getattr(i, "reporter", None) for i in incidents],
                      self._reporter_matrix(matrix, extractions), weights)
        if "relationship" in self.models_:
            domestic_matrix = sparse.hstack([related, self.models_["relationship"].predict_proba(related)],
                                            format="csr")
            gold = [getattr(i, "domestic", None) for i in incidents]
            self._fit_one("domestic", [None if g is None else bool(g) for g in gold], domestic_matrix, weights)
        return self

    def _fit_one(self, name: str, gold: list, matrix, weights: np.ndarray) -> None:
        rows = [i for i, value in enumerate(gold) if value is not None]
        if len(rows) < self.min_rows or len({gold[i] for i in rows}) < 2:
            return
        model = LogisticRegression(C=self.C, max_iter=3000, class_weight="balanced")
        model.fit(matrix[rows], [gold[i] for i in rows], sample_weight=weights[rows])
        self.models_[name] = model

    def predict(self, incidents: Sequence[Incident], extractions: Sequence[Extraction]
                ) -> list[tuple[str | None, str | None, bool | None]]:
        """(relationship, reporter, domestic) per incident; the rules' call where nothing was learned."""
        if not len(incidents):
            return []
        matrix = self._matrix(incidents, extractions)
        related = self._relationship_matrix(matrix, extractions)
        relationship = [e.relationship for e in extractions]
        reporter = [e.reporter for e in extractions]
        domestic = [e.domestic for e in extractions]
        if "relationship" in self.models_:
            relationship = list(self.models_["relationship"].predict(related))
        if "reporter" in self.models_:
            reporter = list(self.models_["reporter"].predict(self._reporter_matrix(matrix, extractions)))
        if "domestic" in self.models_:
            domestic_matrix = sparse.hstack([related, self.models_["relationship"].predict_proba(related)],
                                            format="csr")
            domestic = [bool(d) for d in self.models_["domestic"].predict(domestic_matrix)]
        elif "relationship" in self.models_:
            domestic = [r in DOMESTIC_RELATIONSHIPS for r in relationship]
        return [(str(r), str(p), d) for r, p, d in zip(relationship, reporter, domestic, strict=True)]
