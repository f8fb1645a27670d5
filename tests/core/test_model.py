"""The baseline model on real data: shapes, calibration range, thresholds, save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest

from secondary_crimes.classify.bundle import ModelBundle, load_bundle
from secondary_crimes.classify.thresholds import best_threshold
from secondary_crimes.reader import load_gold
from secondary_crimes.taxonomy import LABELS

from .conftest import SAMPLE


def test_probabilities_have_one_column_per_offence(tiny_bundle):
    gold, _ = load_gold(SAMPLE)
    proba = tiny_bundle.model.predict_proba(gold)
    assert proba.shape == (len(gold), len(LABELS))
    assert np.all((proba >= 0) & (proba <= 1))
    assert tiny_bundle.thresholds.shape == (len(LABELS),)


def test_model_round_trip_gives_identical_scores(tiny_bundle, tiny_model_dir):
    gold, _ = load_gold(SAMPLE)
    loaded = load_bundle(tiny_model_dir)
    assert loaded.version == tiny_bundle.version and loaded.kind == "baseline"
    np.testing.assert_allclose(loaded.model.predict_proba(gold), tiny_bundle.model.predict_proba(gold))
    np.testing.assert_array_equal(loaded.thresholds, tiny_bundle.thresholds)
    assert loaded.metadata["data"]["incidents"] == tiny_bundle.metadata["data"]["incidents"]


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="secondary-crimes train"):
        ModelBundle.load(tmp_path)


def test_sentence_evidence_spans_point_into_the_text(tiny_bundle):
    gold, _ = load_gold(SAMPLE)
    analyses = tiny_bundle.model.analyse(gold, tiny_bundle.thresholds)
    checked = 0
    for incident, analysis in zip(gold, analyses, strict=True):
        for spans in analysis.evidence.values():
            assert spans
            for span in spans:
                assert incident.text(span.field)[span.start:span.end] == span.text
                checked += 1
    assert checked > 0


def test_the_baseline_learns_the_sample(tiny_bundle):
    """Trained on the sample (and synthetic), it must recover most of the sample's own labels."""
    gold, _ = load_gold(SAMPLE)
    proba = tiny_bundle.model.predict_proba(gold)
    truth = np.array([[label in g.offences for label in LABELS] for g in gold])
    predicted = proba >= tiny_bundle.thresholds
    recall = (predicted & truth).sum() / truth.sum()
    assert recall > 0.6


def test_threshold_maximises_f1_and_defaults_when_labels_are_rare():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.35, 0.3, 0.6, 0.9])
    # 0.21..0.30 all give F1 6/7; the tie goes to the one nearest 0.5
    assert best_threshold(y, p) == pytest.approx(0.30)
    assert best_threshold(np.array([0, 1, 0]), np.array([0.2, 0.9, 0.1])) == 0.5
