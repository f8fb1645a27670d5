"""Threshold rules: the best held-out F1, or the lowest threshold within one bootstrap standard
error of it (the one-standard-error rule towards recall), or the middle of that band."""

from __future__ import annotations

import numpy as np
import pytest

from secondary_crimes.classify.thresholds import GRID, _f_beta, best_threshold, choose_thresholds
from secondary_crimes.train import TrainConfig, TrainConfigError


def _f1_at(y: np.ndarray, p: np.ndarray, t: float) -> float:
    predicted = p >= t
    tp, fp, fn = (predicted & y).sum(), (predicted & ~y).sum(), (~predicted & y).sum()
    return float(_f_beta(np.array([tp]), np.array([fp]), np.array([fn]), 1.0)[0])


def _noisy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives spread over 0.2-1.0, negatives over 0-0.6: F1 is flat over a wide middle band."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    p = np.where(y, rng.uniform(0.2, 1.0, n), rng.uniform(0.0, 0.6, n))
    return y, p


def test_best_is_the_argmax_and_within_se_is_lower_and_statistically_equal():
    y, p = _noisy(400, seed=1)
    best = best_threshold(y, p)
    scores = np.array([_f1_at(y, p, t) for t in GRID])
    assert _f1_at(y, p, best) == pytest.approx(scores.max())
    lowest = best_threshold(y, p, rule="lowest_within_se")
    assert lowest < best
    assert scores.max() - _f1_at(y, p, lowest) < 0.05  # within one standard error of F1 on 400 cells
    # every threshold below the chosen one falls further from the best than the chosen one does
    assert all(_f1_at(y, p, t) < _f1_at(y, p, lowest) for t in GRID if t < lowest - 0.005)


def test_more_data_narrows_the_band():
    """The standard error shrinks with the data: the chosen threshold moves towards the best."""
    small_y, small_p = _noisy(200, seed=2)
    large_y, large_p = _noisy(20000, seed=2)
    gap_small = best_threshold(small_y, small_p) - best_threshold(small_y, small_p, rule="lowest_within_se")
    gap_large = best_threshold(large_y, large_p) - best_threshold(large_y, large_p, rule="lowest_within_se")
    assert gap_large < gap_small


def test_middle_is_the_median_of_the_band():
    y, p = _noisy(400, seed=1)
    lowest, middle = (best_threshold(y, p, rule=rule) for rule in ("lowest_within_se", "middle_within_se"))
    scores = np.array([_f1_at(y, p, t) for t in GRID])
    band = GRID[scores >= _f1_at(y, p, lowest) - 1e-9]  # the band: every threshold at least as good as lowest
    assert lowest < middle <= band.max() and middle == pytest.approx(np.median(band), abs=0.011)
    assert scores.max() - _f1_at(y, p, middle) < 0.05


def test_calibrated_is_half_the_best_f1_and_near_the_argmax_when_probabilities_are_calibrated():
    y, p = _noisy(400, seed=1)
    scores = np.array([_f1_at(y, p, t) for t in GRID])
    assert best_threshold(y, p, rule="calibrated") == pytest.approx(round(scores.max() / 2, 2), abs=0.006)
    rng = np.random.default_rng(4)
    proba = rng.beta(0.6, 1.8, 200_000)  # calibrated: each cell is positive with its own probability
    truth = rng.random(proba.size) < proba
    calibrated, best = (best_threshold(truth, proba, rule=rule) for rule in ("calibrated", "best"))
    assert abs(calibrated - best) <= 0.02  # Lipton et al. 2014: the F1-optimal threshold is F1*/2
    assert _f1_at(truth, proba, best) - _f1_at(truth, proba, calibrated) < 0.002


def test_unknown_rule_is_an_error():
    y, p = _noisy(50, seed=3)
    with pytest.raises(ValueError, match="lowest_within_se"):
        best_threshold(y, p, rule="median")


def test_shared_thresholds_resample_whole_incidents_and_are_reproducible():
    rng = np.random.default_rng(4)
    Y = (rng.random((300, 5)) < 0.2).astype(int)
    proba = np.clip(Y * rng.uniform(0.2, 1.0, Y.shape) + (1 - Y) * rng.uniform(0.0, 0.6, Y.shape), 0, 1)
    first = choose_thresholds(Y, proba, shared=True, rule="lowest_within_se")
    again = choose_thresholds(Y, proba, shared=True, rule="lowest_within_se")
    assert len(set(first)) == 1 and np.array_equal(first, again)
    assert first[0] <= choose_thresholds(Y, proba, shared=True)[0]


def test_the_rule_is_a_typed_config_setting(tmp_path):
    assert TrainConfig().threshold_rule == "best"
    good = tmp_path / "good.yaml"
    good.write_text("kind: baseline\nthreshold_rule: lowest_within_se\n", encoding="utf-8")
    assert TrainConfig.from_file(good).threshold_rule == "lowest_within_se"
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: baseline\nthreshold_rule: median\n", encoding="utf-8")
    with pytest.raises(TrainConfigError, match="threshold_rule"):
        TrainConfig.from_file(bad)
