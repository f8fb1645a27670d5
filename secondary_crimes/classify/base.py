"""The contract every offence model obeys, so the scorer never asks which it has.

A model is a scikit-learn estimator over a sequence of ``Incident``s with a multi-label
target ``Y`` (n_incidents x n_labels, columns in ``taxonomy.LABELS`` order): 1 the offence is
present, 0 absent, ``UNKNOWN`` (-1, scikit-learn's mark for an unlabelled sample) nobody decided
it, as when auditors decided only some of an incident's offences. Every fit leaves unknown cells
out of what it learns (``known_mask``) and learns from the incident's known offences:

- ``fit(X, Y, sample_weight=None, groups=None)`` learns (``sample_weight``: one weight per
  incident, so hand-labelled incidents can count for more than synthetic ones; ``groups``: where
  each incident came from, ``corpus:<file>`` for one force's writing, for models that hold
  data out by source; others ignore it);
- a model that already made honest held-out predictions of its own training rows while
  fitting (as a stack fitted on out-of-source predictions does) exposes them as
  ``oof_proba_`` (n x L, NaN rows where it held nothing out), like scikit-learn's
  ``oob_decision_function_``, so training need not refit it to choose thresholds;
- ``predict_proba(X)`` returns calibrated probabilities (n x L);
- ``analyse(X)`` returns one ``Analysis`` per incident: the probabilities plus what the
  model can say about them (evidence spans per offence, relationship, reporter, domestic,
  people). The default explains a linear text model by scoring each sentence alone.

As scikit-learn estimators, models take their settings as constructor parameters stored
unchanged (so ``get_params``, ``set_params`` and ``sklearn.base.clone`` work), call their seed
``random_state``, and keep what fitting learns in attributes ending in ``_``. A model pickled
before ``seed`` was renamed ``random_state`` loads with its seed as ``random_state``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator

from secondary_crimes.extract.types import Person, Span
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.text import sentences

UNKNOWN = -1  # a target cell nobody decided


def known_mask(Y: np.ndarray) -> np.ndarray:
    """Where ``Y`` is decided (True) rather than ``UNKNOWN``."""
    return np.asarray(Y) != UNKNOWN


def positives(Y: np.ndarray) -> np.ndarray:
    """The positive cells of ``Y`` (an unknown cell is not one) as 0/1 ints."""
    return (np.asarray(Y) == 1).astype(int)


@dataclass
class Analysis:
    """A model's reading of one incident."""

    probabilities: np.ndarray  # (n_labels,)
    evidence: dict[str, list[Span]] = field(default_factory=dict)
    domestic: bool | None = None
    relationship: str | None = None
    reporter: str | None = None
    people: list[Person] = field(default_factory=list)


class OffenceModel(BaseEstimator):
    """Base class: subclasses implement ``fit`` and ``predict_proba``."""

    labels: list[str] = LABELS
    # How many sentences to keep as evidence for one offence.
    max_evidence: int = 3

    def __setstate__(self, state: dict) -> None:
        """Load a pickle, also one made by an older version: ``seed`` (renamed ``random_state`` in
        issue 15) becomes ``random_state``, and a parameter added since takes its default."""
        state = dict(state)
        if "seed" in state and "random_state" not in state:
            state["random_state"] = state.pop("seed")
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if name != "self" and name not in state and parameter.default is not inspect.Parameter.empty:
                state[name] = parameter.default
        super().__setstate__(state)

    def fit(self, X: Sequence[Incident], Y: np.ndarray, sample_weight: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> OffenceModel:
        raise NotImplementedError

    def predict_proba(self, X: Sequence[Incident]) -> np.ndarray:
        raise NotImplementedError

    def analyse(self, X: Sequence[Incident], thresholds: np.ndarray | None = None) -> list[Analysis]:
        """Probabilities and sentence-level evidence for offences at or above ``thresholds``."""
        proba = self.predict_proba(X)
        out = [Analysis(probabilities=row) for row in proba]
        if thresholds is not None:
            self.add_sentence_evidence([(incident, analysis, np.flatnonzero(analysis.probabilities >= thresholds))
                                        for incident, analysis in zip(X, out, strict=True)])
        return out

    def add_sentence_evidence(self, requests: Sequence[tuple[Incident, Analysis, np.ndarray]]) -> None:
        """For each (incident, analysis, label indices): the sentences that alone score highest
        for each label become its evidence (a linear model's why).

        All sentences of all requests are scored in one ``predict_proba`` call: per-incident
        calls made this the slowest stage of scoring.
        """
        requests = [(incident, analysis, labels) for incident, analysis, labels in requests if len(labels)]
        per_request = [list(sentences(incident)) for incident, _, _ in requests]
        pseudo = [Incident(incident_id=f"{incident.incident_id}#{i}", call_log=span.text)
                  for (incident, _, _), spans in zip(requests, per_request, strict=True)
                  for i, span in enumerate(spans)]
        if not pseudo:
            return
        proba = self.predict_proba(pseudo)
        offset = 0
        for (_, analysis, labels), spans in zip(requests, per_request, strict=True):
            block = proba[offset: offset + len(spans)]
            offset += len(spans)
            if not spans:
                continue
            for j in labels:
                column = block[:, j]
                order = np.argsort(-column, kind="stable")
                best = column[order[0]]
                chosen = [spans[i] for i in order[: self.max_evidence] if column[i] >= 0.5 * best]
                analysis.evidence[self.labels[j]] = sorted(chosen, key=lambda s: (s.field != "call_log", s.start))
