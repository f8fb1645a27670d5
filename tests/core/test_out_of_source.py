"""Out-of-source predictions, the source stack and thresholds chosen on them (cheap baseline members)."""

from __future__ import annotations

import numpy as np
import pytest

from secondary_crimes.classify.ensemble import EnsembleModel, stack_features
from secondary_crimes.classify.out_of_source import held_rows, out_of_source_proba, source_folds
from secondary_crimes.classify.stack import LogitStack
from secondary_crimes.classify.thresholds import choose_thresholds
from secondary_crimes.recording_rules import says_already_recorded
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import Dataset, synthetic

CHEAP = {"max_features": 1500}
MEMBERS = [{"kind": "baseline", "params": {"C": 4.0, **CHEAP}}, {"kind": "baseline", "params": {"C": 0.3, **CHEAP}}]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """120 synthetic incidents: 60 'background', then three 'forces' of 20 each."""
    rows = synthetic(120, seed=21)
    groups = ["synthetic"] * 60 + ["corpus:alpha"] * 20 + ["corpus:bravo"] * 20 + ["corpus:charlie"] * 20
    return Dataset(rows, {"test": 120}, None, groups)


@pytest.fixture()
def fits(monkeypatch):
    """The ids of every set of incidents a model was fitted on (the real fit still runs)."""
    from secondary_crimes.classify.baseline import BaselineModel

    seen: list[set[str]] = []
    real = BaselineModel.fit

    def spy(self, X, Y, sample_weight=None, groups=None):
        seen.append({row.incident_id for row in X})
        return real(self, X, Y, sample_weight=sample_weight, groups=groups)

    monkeypatch.setattr(BaselineModel, "fit", spy)
    return seen


def test_source_folds_deal_whole_files_round_robin():
    groups = ["synthetic", "corpus:a", "corpus:b", "corpus:c", "corpus:d", "corpus:e", "sample"]
    assert source_folds(groups) == [["corpus:a"], ["corpus:b"], ["corpus:c"], ["corpus:d"], ["corpus:e"]]
    assert source_folds(groups, 2) == [["corpus:a", "corpus:c", "corpus:e"], ["corpus:b", "corpus:d"]]
    assert source_folds(["synthetic"]) == []


def test_each_file_is_scored_by_a_model_that_never_saw_it(dataset, fits):
    X, Y = dataset.incidents, dataset.Y
    proba = out_of_source_proba("baseline", CHEAP, X, Y, None, dataset.groups)
    assert np.isnan(proba[:60]).all()  # background rows are never held out
    assert list(held_rows(proba)) == list(range(60, 120))
    assert len(fits) == 3
    for number, trained_on in enumerate(fits):
        held = {row.incident_id for row in X[60 + 20 * number: 80 + 20 * number]}
        assert not held & trained_on and len(trained_on) == 100


def test_logit_stack_learns_to_trust_the_informative_member():
    rng = np.random.default_rng(0)
    Y = (rng.random((400, 4)) < 0.3).astype(int)
    informative = np.clip(np.where(Y == 1, 0.8, 0.2) + rng.normal(0, 0.1, Y.shape), 0.01, 0.99)
    noise = rng.random(Y.shape)
    stack = LogitStack().fit([informative, noise], Y)
    assert stack.member_weights[0] > 1.0 > abs(stack.member_weights[1])
    proba = stack.predict_proba([informative, noise])
    assert proba.shape == Y.shape and ((proba[Y == 1]).mean() > 0.6 > 0.3 > (proba[Y == 0]).mean())


def test_logit_stack_learns_that_an_incident_level_feature_lowers_every_offence():
    rng = np.random.default_rng(1)
    member = rng.random((600, 3))
    contrary = (rng.random(600) < 0.3).astype(float)[:, None]
    Y = ((member > 0.5) & (contrary == 0)).astype(int)
    stack = LogitStack().fit([member], Y, extra=contrary)
    assert stack.extra_weights.shape == (1,) and stack.extra_weights[0] < -1.0
    high = np.full((2, 3), 0.9)
    proba = stack.predict_proba([high], np.array([[0.0], [1.0]]))
    assert proba[0].min() > proba[1].max()


def _account(number: int, call_log: str) -> Incident:
    return Incident.model_validate({"incident_id": f"L-{number}", "reported_at": "2024-01-01T10:00:00",
                                   "closed_at": "2024-01-02T10:00:00", "opening_code": "", "closing_code": "",
                                   "call_log": call_log, "officer_narrative": "", "recorded_crimes": []})


def test_stack_features_measure_length_and_read_the_extraction():
    """``log_words`` is log(1 + words) less log(100); an attribute name is read from the real extraction."""
    short = _account(1, "He hit her.")
    long = _account(2, " ".join(["The caller rang back later about the parking outside."] * 12))
    contrary = _account(3, "She says he pushed her. Pub CCTV confirms his account.")
    features = stack_features([short, long, contrary], ["log_words", "contrary_evidence"])
    np.testing.assert_allclose(features[:, 0], np.log1p([3, 108, 10]) - np.log(100))
    assert list(features[:, 1]) == [0.0, 0.0, 1.0]
    assert features.shape == (3, 2) and stack_features([short], []).shape == (1, 0)
    with pytest.raises(ValueError, match="'log_word' is neither a text measure"):
        stack_features([short], ["log_word"])


def test_already_recorded_reads_the_recording_rules_phrases():
    """An update on an existing crime is 1, an account that only mentions a crime reference or a new
    report is 0; the same call as the sexual offence check's (``says_already_recorded``)."""
    accounts = [
        _account(1, "1015 Caller chasing an update on the burglary last week, already recorded under BRK-24-1."),
        _account(2, "ISVA calling re client whose rape report is recorded under CR/24/13307."),
        _account(3, "Social worker re disclosure by YP. Linked to existing crime. Closed."),
        _account(4, "RP says ex smashed her phone, wants a crime ref for the insurance."),
        _account(5, "He hit her. Crime recorded, CR/24/2 issued."),
    ]
    features = stack_features(accounts, ["already_recorded", "log_words"])
    assert list(features[:, 0]) == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert [says_already_recorded(a) for a in accounts] == [True, True, True, False, False]


def test_logit_stack_learns_that_the_same_probability_means_less_in_a_long_log():
    """Member probabilities that run high by chance in long logs: the stack's length slope is negative,
    so a one-line account and a long log with the same member probability are not scored alike."""
    rng = np.random.default_rng(3)
    length = rng.uniform(-1.5, 1.5, 800)
    Y = (rng.random((800, 3)) < 0.3).astype(int)
    member = 1 / (1 + np.exp(-(np.where(Y == 1, 1.0, -1.0) + 1.5 * length[:, None] + rng.normal(0, 0.7, Y.shape))))
    stack = LogitStack().fit([member], Y, extra=length[:, None])
    assert stack.extra_weights[0] < -1.0
    proba = stack.predict_proba([np.full((2, 3), 0.6)], np.array([[-1.5], [1.5]]))
    assert (proba[0] > proba[1]).all()


def test_source_stack_fits_on_out_of_source_predictions_and_exposes_cross_fitted_ones(dataset, fits):
    X, Y = dataset.incidents, dataset.Y
    model = EnsembleModel(members=MEMBERS, method="source_stack").fit(X, Y, groups=dataset.groups)
    assert model.chosen_ == "source_stack" and isinstance(model.stack_, LogitStack)
    assert len(fits) == 2 * 3 + 2  # each member: once per held-out file, then once on everything
    assert np.isnan(model.oof_proba_[:60]).all() and np.isfinite(model.oof_proba_[60:]).all()
    assert set(model.selection_scores_) == {"weight:member0:baseline", "weight:member1:baseline"}
    proba = model.predict_proba(X[:5])
    assert proba.shape == (5, len(LABELS)) and np.all((proba > 0) & (proba < 1))


def test_source_stack_takes_the_length_of_the_account_as_an_input(dataset):
    X, Y = dataset.incidents, dataset.Y
    model = EnsembleModel(members=MEMBERS[:1], method="source_stack", stack_features=["log_words"])
    model.fit(X, Y, groups=dataset.groups)
    assert set(model.selection_scores_) == {"weight:member0:baseline", "weight:log_words"}
    assert model.selection_scores_["weight:log_words"] == model.stack_.extra_weights[0] != 0.0
    assert model.predict_proba([_account(1, "He hit her.")]).shape == (1, len(LABELS))


def test_a_misnamed_stack_feature_fails_before_any_member_is_fitted(dataset, fits):
    model = EnsembleModel(members=MEMBERS[:1], method="source_stack", stack_features=["log_word"])
    with pytest.raises(ValueError, match="'log_word' is neither a text measure"):
        model.fit(dataset.incidents, dataset.Y, groups=dataset.groups)
    assert fits == []


def test_source_stack_without_two_files_averages(dataset):
    X, Y = dataset.incidents, dataset.Y
    model = EnsembleModel(members=MEMBERS, method="source_stack").fit(X, Y)
    assert model.chosen_ == "average" and model.oof_proba_ is None


def test_by_source_thresholds_use_the_models_own_held_out_predictions(dataset, fits, monkeypatch):
    config = TrainConfig(kind="ensemble", params={"members": MEMBERS, "method": "source_stack"},
                         threshold_strategy="by_source", threshold_scope="shared")
    called = []
    monkeypatch.setattr("secondary_crimes.train.out_of_source_proba", lambda *a, **k: called.append(a))
    bundle = fit_bundle(config, dataset)
    assert not called and len(fits) == 8  # no refits: the stack's oof_proba_ chose the thresholds
    rows = held_rows(bundle.model.oof_proba_)
    expected = choose_thresholds(dataset.Y[rows], bundle.model.oof_proba_[rows], shared=True, min_positives=3)
    np.testing.assert_allclose(bundle.thresholds, expected)
    assert len(set(bundle.thresholds)) == 1
    assert bundle.metadata["threshold_strategy"] == "by_source"


def test_by_source_thresholds_refit_a_model_without_its_own(dataset, fits):
    config = TrainConfig(kind="baseline", params=CHEAP, threshold_strategy="by_source")
    fit_bundle(config, dataset)
    assert len(fits) == 1 + 3  # the final fit, and one per held-out file


def test_by_source_falls_back_to_folds_without_a_corpus(dataset, fits):
    rows = dataset.subset(range(60))
    config = TrainConfig(kind="baseline", params=CHEAP, threshold_strategy="by_source", threshold_folds=3)
    bundle = fit_bundle(config, rows)
    assert bundle.metadata["threshold_strategy"] == "oof" and len(fits) == 3 + 1


def test_shared_thresholds_are_one_value_best_for_micro_f1():
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 1]])
    proba = np.array([[0.9, 0.1], [0.7, 0.2], [0.1, 0.6], [0.3, 0.2], [0.2, 0.4], [0.2, 0.65]])
    shared = choose_thresholds(Y, proba, shared=True, min_positives=1)
    assert shared[0] == shared[1] and 0.4 < shared[0] <= 0.6
