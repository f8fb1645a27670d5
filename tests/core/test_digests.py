"""Evidence digests: a labelled incident cut to the sentences that state its offences."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from secondary_crimes.digests import DIGEST_SUFFIX, evidence_digest, origin_id
from secondary_crimes.records import GoldIncident
from secondary_crimes.train import origin_split
from secondary_crimes.training_data import CORPUS_GROUP, Dataset


def _incident(incident_id: str = "TST-1", **fields) -> GoldIncident:
    row = {
        "incident_id": incident_id,
        "reported_at": "2024-03-01T21:00:00",
        "closed_at": "2024-03-02T09:00:00",
        "opening_code": "DOMESTIC INCIDENT",
        "closing_code": "DOMESTIC - NO CRIME",
        "call_log": "21:02 Caller Ms Lena HART at home. Verbal argument with her partner about money.\n"
                    "21:04 She says he pushed her into the kitchen door. No injuries.\n"
                    "21:05 Children asleep upstairs.",
        "officer_narrative": "Attended. Both calm. He later sent her 30 texts calling her worthless. "
                             "Words of advice given.",
        "recorded_crimes": [],
        "offences": ["common_assault", "harassment"],
        "missed": ["common_assault", "harassment"],
        "domestic": True,
        "relationship": "intimate_partner",
        "reporter": "victim",
        "evidence": {"common_assault": "he pushed her into the kitchen door",
                     "harassment": "sent her 30 texts calling her worthless"},
        "rationale": "push and repeated messages",
    }
    return GoldIncident(**(row | fields))


def test_a_digest_is_the_evidence_sentences_alone_with_the_same_offences():
    digest = evidence_digest(_incident(recorded_crimes=["harassment"], missed=["common_assault"]))
    assert digest is not None
    assert digest.incident_id == "TST-1" + DIGEST_SUFFIX and origin_id(digest.incident_id) == "TST-1"
    assert digest.call_log == ("21:04 She says he pushed her into the kitchen door. "
                               "He later sent her 30 texts calling her worthless.")
    assert digest.officer_narrative == "" and digest.opening_code == ""
    assert digest.offences == ["common_assault", "harassment"]
    assert digest.missed == ["common_assault"]  # what was recorded stays recorded
    # who called and how they are related are cut with the other sentences: unknown, not guessed
    assert (digest.relationship, digest.reporter, digest.domestic) == (None, None, None)


def test_an_incident_with_nothing_to_record_gives_its_opening_sentences_and_nothing_to_record():
    digest = evidence_digest(_incident(offences=[], missed=[], evidence={}))
    assert digest is not None
    assert digest.call_log == ("21:02 Caller Ms Lena HART at home. "
                               "Verbal argument with her partner about money.")
    assert digest.offences == [] and digest.missed == []


@pytest.mark.parametrize("fields", [
    {"evidence": {"common_assault": "he pushed her into the kitchen door"}},  # no quote for harassment
    {"evidence": {"common_assault": "he pushed her down the stairs",  # a quote not in the text
                  "harassment": "sent her 30 texts calling her worthless"}},
    {"known_offences": ["common_assault", "harassment"]},  # an auditors' partial record
])
def test_no_digest_when_its_labels_would_not_hold(fields):
    assert evidence_digest(_incident(**fields)) is None


def test_only_corpus_incidents_get_digests_in_their_own_group_at_a_fraction_of_their_weight():
    rows = [_incident("A-1"), _incident("B-1"), _incident("SYN-1")]
    dataset = Dataset(rows, {"corpus:a": 1}, np.array([2.0, 1.0, 1.0]),
                      [f"{CORPUS_GROUP}a", f"{CORPUS_GROUP}b", "synthetic"])
    assert dataset.with_digests(0.0) is dataset
    with pytest.raises(ValueError, match="digest_weight"):
        dataset.with_digests(-1.0)
    out = dataset.with_digests(0.5)
    assert [r.incident_id for r in out.incidents] == ["A-1", "B-1", "SYN-1", "A-1#digest", "B-1#digest"]
    assert out.groups[3:] == [f"{CORPUS_GROUP}a", f"{CORPUS_GROUP}b"]
    assert out.weights.tolist() == [2.0, 1.0, 1.0, 1.0, 0.5]
    assert out.sources["digests"] == 2
    assert out.Y[3].tolist() == out.Y[0].tolist()


def test_folds_keep_an_incident_and_its_digest_together_and_are_unchanged_without_digests():
    rows = [_incident(f"I-{k}") for k in range(10)]
    folds = KFold(n_splits=5, shuffle=True, random_state=3)
    plain = list(origin_split(rows, folds.split))
    for (train, test), (expected_train, expected_test) in zip(plain, folds.split(np.arange(10)), strict=True):
        assert train.tolist() == expected_train.tolist() and test.tolist() == expected_test.tolist()
    with_digests = rows + [evidence_digest(row) for row in rows]
    for train, test in origin_split(with_digests, folds.split):
        held = {origin_id(with_digests[i].incident_id) for i in test}
        assert not held & {origin_id(with_digests[i].incident_id) for i in train}
        assert len(test) == 2 * len(held)  # each held incident with its digest


@pytest.mark.parametrize("strategy", ["oof", "holdout"])
def test_digests_train_the_model_but_thresholds_are_chosen_on_whole_incidents(strategy, monkeypatch):
    from secondary_crimes import train as train_module
    from secondary_crimes.train import TrainConfig, fit_bundle
    from secondary_crimes.training_data import synthetic

    rows = synthetic(40, seed=5)
    dataset = Dataset(rows, {"corpus:a": 20, "corpus:b": 20}, None,
                      [f"{CORPUS_GROUP}{'a' if k % 2 else 'b'}" for k in range(len(rows))])
    config = TrainConfig(kind="baseline", params={"C": 4.0}, threshold_strategy=strategy, threshold_folds=3,
                         holdout_fraction=0.25, min_positives=1, seed=3, data={"digest_weight": 0.5})
    chosen_on: list[int] = []
    real_choose = train_module.choose_thresholds

    def spy(Y, proba, **kwargs):
        chosen_on.append(len(Y))
        return real_choose(Y, proba, **kwargs)

    monkeypatch.setattr(train_module, "choose_thresholds", spy)
    bundle = fit_bundle(config, dataset)
    assert bundle.metadata["data"]["sources"]["digests"] == 40
    assert bundle.metadata["data"]["incidents"] == 80  # every incident and its digest trained
    assert chosen_on == [40 if strategy == "oof" else 10]  # the whole incidents only (holdout: a quarter)
