"""An ensemble of offence models: averaged or stacked calibrated probabilities.

Members are given by kind and params (``[{"kind": "hybrid", "params": {...}}, {"kind":
"transformer", ...}]``) and built through the registry. ``method``:

- ``average``: a (weighted) mean of the members' calibrated probabilities; members fit on all
  the data.
- ``stacking``: members fit on all but a ``selection_fraction`` drawn with ``random_state``; on that part, one
  logistic regression per offence over the members' logits (labels with too few positives
  there fall back to the average).
- ``select`` (default): as stacking, and then whichever of {each member alone, the average,
  the stack} has the best pooled average precision on the selection part (the stack scored
  by cross-validation there) becomes the combination. ``selection_scores_`` says how each
  scored, and ``combination_`` (``"average"``, ``"stacking"``, ``"source_stack"`` or
  ``"member"``) with ``member_index_`` (which member, when one alone won; else None) say what
  won, so "keep whichever wins on held-out data" is a fitted fact, not a guess. ``chosen_`` is
  the same as one label for logs (``"member0:baseline"``, ``"stacking"``, ...); nothing reads it back.
- ``source_stack``: each member scores every corpus file from a fit without that file
  (``groups`` say which rows are which file), and one ``LogitStack`` (shared weights per
  member, an intercept per offence) is fitted on those out-of-source probabilities, so the
  combination and its calibration are what holds on a force's writing the members never saw.
  The same stack, cross-fitted file by file, gives ``oof_proba_`` for choosing thresholds.
  ``stack_features`` adds incident-level features from the extraction (``contrary_evidence``:
  credible evidence to the contrary, which lowers every offence by one fitted weight) or from the
  text (``log_words``: how long the account is; a long log's max over more sentences runs higher,
  so its fitted weight is negative and a one-line account is not held to a long log's bar;
  ``already_recorded``: the account says its offence is already recorded under another reference).
  Members then fit on all the data. Without two corpus files it falls back to ``average``.
  ``source_folds`` deals the files into at most that many folds (fewer member fits).

With ``refit=True`` the members the chosen combination uses are refit on all the data after
the choice (only the winner when one member alone wins). Members the choice does not use are
not asked to predict.
Relationship, reporter, domestic and people come from one member (``explain_with``: by default
the hybrid, else the transformer, else the first); evidence for the offences that the
*combined* probabilities flag comes from ``evidence_with`` (by default the sentence model, whose
evidence is the sentence that states the offence, else the explaining member).

``callbacks`` go to the members that take them (the transformer's epoch callbacks). A model
pickled before issue 15 (``seed``, and the combination as the string ``chosen_``) loads with
``random_state``, ``combination_`` and ``member_index_`` derived from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from secondary_crimes.classify.base import Analysis, OffenceModel, known_mask
from secondary_crimes.classify.out_of_source import corpus_groups, held_rows, out_of_source_proba, source_folds
from secondary_crimes.classify.stack import LogitStack
from secondary_crimes.records import Incident

DEFAULT_MEMBERS = ({"kind": "baseline", "params": {}}, {"kind": "transformer", "params": {}})
_EXPLAINER_PREFERENCE = ("hybrid", "transformer")
_EVIDENCE_PREFERENCE = ("sentence", "hybrid", "transformer")
Combination = Literal["average", "stacking", "source_stack", "member"]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _pooled_ap(Y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    known = known_mask(Y).ravel()
    y = np.asarray(Y).ravel()[known]
    if not y.any() or y.all():
        return float("nan")
    return float(average_precision_score(y, np.asarray(proba).ravel()[known]))


class _Stack:
    """Per-offence logistic regression over member logits; the average where a label can't support it."""

    def __init__(self, min_positives: int = 3, C: float = 1.0):
        self.min_positives = min_positives
        self.C = C

    def fit(self, member_proba: list[np.ndarray], Y: np.ndarray) -> _Stack:
        from sklearn.linear_model import LogisticRegression

        self.models_: list = []
        known = known_mask(Y)
        for j in range(Y.shape[1]):
            rows = np.flatnonzero(known[:, j])
            y = Y[rows, j].astype(int)
            positives = int(y.sum())
            if positives >= self.min_positives and len(y) - positives >= self.min_positives:
                features = np.column_stack([_logit(p[rows, j]) for p in member_proba])
                self.models_.append(LogisticRegression(C=self.C).fit(features, y))
            else:
                self.models_.append(None)
        return self

    def predict_proba(self, member_proba: list[np.ndarray]) -> np.ndarray:
        average = np.mean(member_proba, axis=0)
        out = average.copy()
        for j, model in enumerate(self.models_):
            if model is not None:
                features = np.column_stack([_logit(p[:, j]) for p in member_proba])
                out[:, j] = model.predict_proba(features)[:, 1]
        return out


def log_words(incident: Incident) -> float:
    """How long the account is: log(1 + words) of the text the models read, less log(100) (a typical log).

    A stack input: the sentence member's max over more sentences runs higher by chance, and a long
    log names more offences in passing, so the same member probabilities mean less in a long log."""
    from secondary_crimes.text import model_text

    return float(np.log1p(len(model_text(incident).split())) - np.log(100.0))


def already_recorded(incident: Incident) -> float:
    """1 when the account says its offence is already recorded under another reference (an update on
    an existing crime: ``recording_rules.says_already_recorded``), else 0. A stack input: the account
    names the offence, and it is not one to record again."""
    from secondary_crimes.recording_rules import says_already_recorded

    return float(says_already_recorded(incident))


# Stack inputs computed from the incident itself, not read from the extraction's attributes.
TEXT_MEASURES: dict[str, Callable[[Incident], float]] = {"log_words": log_words,
                                                         "already_recorded": already_recorded}


def stack_features(X: Sequence[Incident], names: Sequence[str]) -> np.ndarray:
    """(incidents x names) incident-level inputs of a ``LogitStack``: a text measure
    (``TEXT_MEASURES``: ``log_words``, ``already_recorded``) or else 0/1 from the extraction's attributes (e.g.
    ``contrary_evidence``). Cached: the hybrid's extraction is reused."""
    from secondary_crimes.extract.extractor import extract

    X = list(X)
    attributes = [name for name in names if name not in TEXT_MEASURES]
    extractions = extract(X) if attributes else [None] * len(X)
    for name in attributes:
        if extractions and name not in extractions[0].attributes:
            raise ValueError(f"stack feature {name!r} is neither a text measure ({', '.join(TEXT_MEASURES)}) "
                             f"nor an extraction attribute ({', '.join(sorted(extractions[0].attributes))})")
    return np.array([[TEXT_MEASURES[name](x) if name in TEXT_MEASURES else float(bool(e.attributes.get(name)))
                      for name in names] for x, e in zip(X, extractions, strict=True)],
                    dtype=float).reshape(len(X), len(names))


class EnsembleModel(OffenceModel):
    """Combines member models' calibrated probabilities; see the module docstring."""

    kind = "ensemble"

    def __init__(
        self,
        members: Sequence[dict[str, Any]] = DEFAULT_MEMBERS,
        method: str = "select",
        weights: Sequence[float] | None = None,
        selection_fraction: float = 0.25,
        stack_folds: int = 3,
        min_positives: int = 3,
        explain_with: int | None = None,
        evidence_with: int | None = None,
        refit: bool = False,
        stack_C: float = 1.0,  # noqa: N803
        source_folds: int | None = None,
        stack_features: Sequence[str] = (),
        random_state: int = 13,
        callbacks: Sequence[Callable[..., Any]] | None = None,
    ):
        self.members = members
        self.method = method
        self.weights = weights
        self.selection_fraction = selection_fraction
        self.stack_folds = stack_folds
        self.min_positives = min_positives
        self.explain_with = explain_with
        self.evidence_with = evidence_with
        self.refit = refit
        self.stack_C = stack_C
        self.source_folds = source_folds
        self.stack_features = stack_features
        self.random_state = random_state
        self.callbacks = callbacks

    # ----------------------------------------------------------------- fitting
    def _build_members(self) -> list[OffenceModel]:
        from secondary_crimes.classify.registry import build_model

        if not self.members:
            raise ValueError("an ensemble needs at least one member")
        return [build_model(m["kind"], m.get("params") or {}, callbacks=self.callbacks) for m in self.members]

    def _weights(self) -> np.ndarray:
        weights = np.ones(len(self.members)) if self.weights is None else np.asarray(self.weights, float)
        if len(weights) != len(self.members) or weights.sum() <= 0:
            raise ValueError(f"weights {self.weights} do not match {len(self.members)} members")
        return weights / weights.sum()

    def _average(self, member_proba: list[np.ndarray]) -> np.ndarray:
        return np.tensordot(self._weights(), np.stack(member_proba), axes=1)

    def fit(self, X: Sequence[Incident], Y: np.ndarray, sample_weight: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> EnsembleModel:
        X, Y = list(X), np.asarray(Y)
        if self.method not in ("average", "stacking", "select", "source_stack"):
            raise ValueError(f"method must be average, stacking, select or source_stack, not {self.method!r}")
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.members_ = self._build_members()
        self.selection_scores_: dict[str, float] = {}
        self.stack_ = None
        self.oof_proba_ = None
        if self.method == "source_stack" and groups is not None and len(corpus_groups(groups)) >= 2:
            return self._fit_source_stack(X, Y, weights, list(groups))
        if self.method in ("average", "source_stack"):
            for member in self.members_:
                member.fit(X, Y, sample_weight=weights)
            self.combination_, self.member_index_ = "average", None
            return self

        from sklearn.model_selection import KFold, train_test_split

        fit_index, sel_index = train_test_split(
            np.arange(len(X)), test_size=self.selection_fraction, random_state=self.random_state, shuffle=True
        )
        for member in self.members_:
            member.fit([X[i] for i in fit_index], Y[fit_index],
                       sample_weight=None if weights is None else weights[fit_index])
        selection = [X[i] for i in sel_index]
        member_proba = [member.predict_proba(selection) for member in self.members_]
        Y_sel = Y[sel_index]
        self.stack_ = _Stack(self.min_positives).fit(member_proba, Y_sel)
        self.combination_, self.member_index_ = "stacking", None
        if self.method == "select":
            candidates: dict[str, tuple[Combination, int | None]] = {}
            for k, proba in enumerate(member_proba):
                candidates[self._member_label(k)] = ("member", k)
                self.selection_scores_[self._member_label(k)] = _pooled_ap(Y_sel, proba)
            candidates["average"] = ("average", None)
            self.selection_scores_["average"] = _pooled_ap(Y_sel, self._average(member_proba))
            stacked = np.zeros_like(Y_sel, dtype=float)
            folds = KFold(n_splits=max(2, min(self.stack_folds, len(sel_index))), shuffle=True,
                          random_state=self.random_state)
            for train, test in folds.split(sel_index):
                stack = _Stack(self.min_positives).fit([p[train] for p in member_proba], Y_sel[train])
                stacked[test] = stack.predict_proba([p[test] for p in member_proba])
            candidates["stacking"] = ("stacking", None)
            self.selection_scores_["stacking"] = _pooled_ap(Y_sel, stacked)
            scored = {k: v for k, v in self.selection_scores_.items() if np.isfinite(v)}
            self.combination_, self.member_index_ = candidates[max(scored, key=scored.get)] if scored else (
                "average", None)
        if self.refit:  # refit on everything the members the chosen combination uses
            for k in self._used_members():
                self.members_[k].fit(X, Y, sample_weight=weights)
        return self

    def _fit_source_stack(self, X: list[Incident], Y: np.ndarray, weights: np.ndarray | None,
                          groups: list[str]) -> EnsembleModel:
        """Members' out-of-source probabilities -> a LogitStack; cross-fitted ``oof_proba_``; members on all."""
        self._stack_extra(X[:1])  # a misnamed stack feature fails here, not after minutes of member fits
        held = [out_of_source_proba(m["kind"], m.get("params") or {}, X, Y, weights, groups, self.source_folds,
                                    callbacks=self.callbacks) for m in self.members]
        rows = held_rows(np.hstack(held))
        extra = self._stack_extra([X[i] for i in rows])
        weight = None if weights is None else weights[rows]
        self.stack_ = LogitStack(C=self.stack_C).fit([p[rows] for p in held], Y[rows], weight, extra)
        self.oof_proba_ = np.full(Y.shape, np.nan)
        row_groups = np.asarray(groups)[rows]
        for fold in source_folds(groups, self.source_folds):
            inside = np.isin(row_groups, fold)
            fit_part, apply_part = rows[~inside], rows[inside]
            stack = LogitStack(C=self.stack_C).fit([p[fit_part] for p in held], Y[fit_part],
                                                   None if weights is None else weights[fit_part],
                                                   None if extra is None else extra[~inside])
            self.oof_proba_[apply_part] = stack.predict_proba([p[apply_part] for p in held],
                                                              None if extra is None else extra[inside])
        for member in self.members_:
            member.fit(X, Y, sample_weight=weights, groups=groups)
        self.combination_, self.member_index_ = "source_stack", None
        for k, weight in enumerate(self.stack_.member_weights):
            self.selection_scores_[f"weight:{self._member_label(k)}"] = float(weight)
        for name, weight in zip(self.stack_features, self.stack_.extra_weights, strict=True):
            self.selection_scores_[f"weight:{name}"] = float(weight)
        return self

    def _stack_extra(self, X: Sequence[Incident]) -> np.ndarray | None:
        """Incident-level stack features (``stack_features``: text measures such as ``log_words``,
        extraction attributes such as ``contrary_evidence``); None when there are none. Cached: the
        hybrid member's extraction of the same incidents is reused."""
        names = list(getattr(self, "stack_features", ()) or ())
        return stack_features(X, names) if names else None

    def _member_label(self, k: int) -> str:
        """Member ``k`` as named in ``selection_scores_`` and ``chosen_``: ``member<k>:<kind>``."""
        return f"member{k}:{self.members[k]['kind']}"

    def _used_members(self) -> list[int]:
        if self.combination_ == "member":
            return [self.member_index_]
        return list(range(len(self.members_)))

    @property
    def chosen_(self) -> str:
        """What won, as one label for logs and tags (``member<k>:<kind>`` for one member alone, else
        ``combination_``); derived from ``combination_`` and ``member_index_``, never read back."""
        if self.combination_ == "member":
            return self._member_label(self.member_index_)
        return self.combination_

    # ----------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if state.get("callbacks") is not None:  # a closure need not pickle, and a loaded model is not training
            state = {**state, "callbacks": None}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Also load an ensemble pickled before issue 15, whose combination was the string ``chosen_``."""
        state = dict(state)
        chosen = state.pop("chosen_", None)
        if chosen is not None and "combination_" not in state:
            if chosen.startswith("member"):
                state["combination_"] = "member"
                state["member_index_"] = int(chosen.split(":")[0].removeprefix("member"))
            else:
                state["combination_"], state["member_index_"] = chosen, None
        super().__setstate__(state)

    # ----------------------------------------------------------------- predicting
    def _combine(self, member_proba: list[np.ndarray], X: Sequence[Incident]) -> np.ndarray:
        if self.combination_ == "average":
            return self._average(member_proba)
        if self.combination_ == "source_stack":
            return self.stack_.predict_proba(member_proba, self._stack_extra(X))
        if self.combination_ == "stacking":
            return self.stack_.predict_proba(member_proba)
        if self.combination_ == "member":
            return member_proba[self.member_index_]
        raise ValueError(f"unknown combination_ {self.combination_!r}")

    def _member_proba(self, X: Sequence[Incident]) -> list[np.ndarray | None]:
        """Each member's probabilities, computed only for members the chosen combination uses."""
        used = set(self._used_members())
        return [member.predict_proba(X) if k in used else None for k, member in enumerate(self.members_)]

    def predict_proba(self, X: Sequence[Incident]) -> np.ndarray:
        if not len(X):
            return np.zeros((0, len(self.labels)))
        return self._combine(self._member_proba(X), X)

    def _preferred(self, chosen: int | None, preference: tuple[str, ...], default: int) -> int:
        if chosen is not None:
            return int(chosen)
        kinds = [m["kind"] for m in self.members]
        return next((kinds.index(kind) for kind in preference if kind in kinds), default)

    def explainer_index(self) -> int:
        """The member whose relationship, reporter, domestic and people the ensemble reports."""
        return self._preferred(self.explain_with, _EXPLAINER_PREFERENCE, 0)

    def evidence_index(self) -> int:
        """The member asked for the evidence of the combined flags."""
        return self._preferred(getattr(self, "evidence_with", None), _EVIDENCE_PREFERENCE, self.explainer_index())

    def analyse(self, X: Sequence[Incident], thresholds: np.ndarray | None = None) -> list[Analysis]:
        """Combined probabilities; the explaining member's attributes and evidence for combined flags."""
        X = list(X)
        if not X:
            return []
        e = self.explainer_index()
        explained = self.members_[e].analyse(X, None)
        used = set(self._used_members())
        member_proba = [
            np.vstack([a.probabilities for a in explained])
            if k == e
            else (member.predict_proba(X) if k in used else None)
            for k, member in enumerate(self.members_)
        ]
        combined = self._combine(member_proba, X)
        out = [
            Analysis(
                probabilities=combined[i],
                domestic=a.domestic,
                relationship=a.relationship,
                reporter=a.reporter,
                people=list(a.people),
            )
            for i, a in enumerate(explained)
        ]
        if thresholds is None:
            return out
        flags = combined >= np.asarray(thresholds)
        rows = np.flatnonzero(flags.any(axis=1))
        if rows.size:
            # Ask the evidence member for every label any of these incidents has flagged.
            wanted = np.where(flags[rows].any(axis=0), 0.0, np.inf)
            evidence = self.members_[self.evidence_index()].analyse([X[i] for i in rows], wanted)
            for i, analysis in zip(rows, evidence, strict=True):
                keep = {self.labels[j] for j in np.flatnonzero(flags[i])}
                out[i].evidence = {k: v for k, v in analysis.evidence.items() if k in keep}
        return out
