"""Sample weights: hand-labelled incidents can count for more than synthetic ones, in fits and thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from secondary_crimes.classify.baseline import BaselineModel
from secondary_crimes.classify.thresholds import best_threshold
from secondary_crimes.records import GoldIncident
from secondary_crimes.synthetic.generator import iter_incidents
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.training_data import DataConfig, assemble, label_matrix

from .conftest import SAMPLE


def test_weighted_threshold_follows_the_heavy_incidents():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.25, 0.22])
    assert best_threshold(y, p) == pytest.approx(0.71)  # unweighted: 0.71..0.80 give F1 0.8; nearest 0.5
    heavy = np.array([1, 1, 1, 1, 10, 1])  # the 0.25 positive is worth ten: catching it is worth two FPs
    assert best_threshold(y, p, sample_weight=heavy) == pytest.approx(0.25)


def test_assemble_gives_each_source_its_weight():
    config = DataConfig(corpus=[], sample=[str(SAMPLE)], synthetic_n=20, synthetic_seed=1,
                        weights={"sample": 4.0})
    dataset = assemble(config)
    sample_ids = {i.incident_id for i in dataset.incidents if i.incident_id.startswith("SMP-")}
    assert len(sample_ids) == 30 and len(dataset.incidents) == 50
    for incident, weight in zip(dataset.incidents, dataset.weights, strict=True):
        assert weight == (4.0 if incident.incident_id in sample_ids else 1.0)


@pytest.mark.parametrize(("weights", "message"), [({"corpse": 2.0}, "unknown source kinds"),
                                                  ({"sample": 0.0}, "must be positive")])
def test_bad_weights_are_named(weights, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(weights=weights).weight("sample")


def test_a_weighted_fit_leans_towards_the_heavy_incidents():
    from sklearn.metrics import roc_auc_score

    texts = [GoldIncident.model_validate(r) for r in iter_incidents(150, seed=4)]
    Y = label_matrix(texts)
    j = LABELS.index("common_assault")
    assert 10 < Y[:, j].sum() < 140
    # The same texts twice: once with their labels, once (other ids) with the label flipped.
    copies = [t.model_copy(update={"incident_id": t.incident_id + "-flipped"}) for t in texts]
    train = texts + copies
    labels = np.vstack([Y, Y])
    labels[len(texts):, j] = 1 - Y[:, j]
    true_heavy = np.r_[np.full(len(texts), 30.0), np.ones(len(texts))]

    def auc(weights: np.ndarray) -> float:
        model = BaselineModel(max_features=2000).fit(train, labels, sample_weight=weights)
        return roc_auc_score(Y[:, j], model.predict_proba(texts)[:, j])

    towards_true, towards_flipped = auc(true_heavy), auc(true_heavy[::-1])
    assert towards_true > 0.8 and towards_flipped < 0.4  # seen: 0.96 and 0.23
    assert towards_flipped < auc(np.ones(len(train))) < towards_true  # equal weights: in between
