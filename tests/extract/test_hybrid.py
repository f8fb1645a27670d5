"""HybridModel on a tiny handwritten set: fit, predict, evidence, negation, pickling without spaCy."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from secondary_crimes.classify.hybrid import HybridModel, indicator_feature_names, indicator_features
from secondary_crimes.records import GoldIncident, Incident
from secondary_crimes.taxonomy import LABELS

POSITIVE = [
    "F caller states her partner punched her in the face.",
    "IP says he pushed her into the wardrobe.",
    "Caller states ex slapped her across the face.",
    "He grabbed her by the wrists and shoved her onto the sofa.",
    "RP states male kicked her in the leg outside the shop.",
    "Victim says her husband hit her with his fist.",
]
NEGATIVE = [
    "F caller states partner did not hit her, just an argument.",
    "IP denies being pushed, no assault, verbal argument only.",
    "Caller is worried he might hit her if he comes back.",
    "No violence, no threats, caller wants advice about child contact.",
    "RP reports lost wallet in town, no offences disclosed.",
    "Neighbour complaint about noise, no aggression reported.",
]


def incidents() -> tuple[list[GoldIncident], np.ndarray]:
    rows, Y = [], []
    for i, text in enumerate(POSITIVE + NEGATIVE):
        positive = i < len(POSITIVE)
        rows.append(
            GoldIncident(
                incident_id=f"H-{i}",
                call_log=text,
                offences=["common_assault"] if positive else [],
                relationship="intimate_partner" if positive else "none",
                reporter="victim",
            )
        )
        Y.append([int(positive and label == "common_assault") for label in LABELS])
    return rows, np.array(Y)


@pytest.fixture(scope="module")
def fitted():
    rows, Y = incidents()
    return HybridModel(C=1.0, max_features=2000).fit(rows, Y), rows


def test_feature_names_match_matrix(extractor):
    rows, _ = incidents()
    X = indicator_features(extractor.extract(rows[:2]))
    assert X.shape == (2, len(indicator_feature_names()))


def test_fit_predict(fitted):
    model, rows = fitted
    proba = model.predict_proba(rows)
    assert proba.shape == (len(rows), len(LABELS))
    j = LABELS.index("common_assault")
    assert proba[: len(POSITIVE), j].mean() > proba[len(POSITIVE) :, j].mean()


def test_negated_and_hypothetical_rank_below_affirmed(fitted):
    model, _ = fitted
    j = LABELS.index("common_assault")
    texts = [
        "Caller states her partner punched her.",
        "Caller states her partner did not punch her.",
        "Caller is worried her partner might punch her.",
    ]
    proba = model.predict_proba([Incident(incident_id=f"N-{i}", call_log=t) for i, t in enumerate(texts)])[:, j]
    assert proba[0] > proba[1] and proba[0] > proba[2]


def test_analyse_evidence_is_indicator_spans(fitted):
    model, _ = fitted
    incident = Incident(
        incident_id="A-1",
        call_log="2200 F caller states partner punched her.",
        officer_narrative="IP states no injuries. He also pushed her.",
    )
    thresholds = np.full(len(LABELS), 1.1)
    thresholds[LABELS.index("common_assault")] = 0.0
    (analysis,) = model.analyse([incident], thresholds)
    spans = analysis.evidence["common_assault"]
    assert [s.text for s in spans] == ["punched", "pushed her"]
    for span in spans:
        assert incident.text(span.field)[span.start : span.end] == span.text
    assert analysis.relationship == "intimate_partner" and analysis.domestic is True
    assert analysis.reporter == "victim"
    assert analysis.people


def test_pickle_round_trip_without_spacy(fitted, tmp_path):
    model, rows = fitted
    model.predict_proba(rows[:1])  # make sure the pipeline is built before pickling
    joblib.dump(model, tmp_path / "model.joblib")
    assert b"spacy.lang" not in (tmp_path / "model.joblib").read_bytes()
    loaded = joblib.load(tmp_path / "model.joblib")
    assert getattr(loaded, "_extractor", None) is None
    np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(rows))


def test_learned_attributes(extractor):
    rows, Y = incidents()
    rows = [row.model_copy(update={"incident_id": f"{row.incident_id}-{copy}",
                                   "domestic": row.relationship == "intimate_partner"})
            for copy in range(2) for row in rows]
    Y = np.vstack([Y, Y])
    model = HybridModel(C=1.0, max_features=2000, attribute_model="learned").fit(rows, Y)
    # one reporter class only: the rules' call stands for the reporter
    assert set(model.attributes_.models_) == {"relationship", "domestic"}
    unseen = [Incident(incident_id="u1", call_log="Caller states her husband punched her in the face."),
              Incident(incident_id="u2", call_log="RP reports lost keys in the park, no offences.")]
    calls = model.attributes(unseen, extractor.extract(unseen))
    assert calls[0] == ("intimate_partner", "victim", True)
    assert calls[1][0] == "none" and calls[1][2] is False


def test_unknown_attribute_model_is_an_error():
    rows, Y = incidents()
    with pytest.raises(ValueError, match="attribute_model"):
        HybridModel(max_features=2000, attribute_model="magic").fit(rows, Y)


def test_offence_features_say_whether_any_offence_is_affirmed(extractor):
    from secondary_crimes.classify.attributes import offence_features

    rows = [Incident(incident_id="a", call_log="Caller states her husband punched her in the face."),
            Incident(incident_id="b", call_log="Caller states he did not punch her. Lost keys in the park."),
            Incident(incident_id="c", call_log="RP reports lost keys in the park, no offences.")]
    features = offence_features(extractor.extract(rows))
    assert features.shape == (3, len(LABELS) + 2)
    assert features[0, :len(LABELS)].sum() >= 1 and features[0, -1] == 0.0  # an affirmed punch
    assert features[1, :len(LABELS)].sum() == 0 and features[1, -1] == 1.0  # the punch is negated
    assert features[2, -1] == 1.0 and features[2, -2] == 0.0


@pytest.mark.parametrize("offence_weight", [0.0, 1.0])
def test_learned_attributes_with_and_without_offence_features(extractor, offence_weight):
    rows, Y = incidents()
    rows = [row.model_copy(update={"incident_id": f"{row.incident_id}-{copy}",
                                   "domestic": row.relationship == "intimate_partner"})
            for copy in range(2) for row in rows]
    model = HybridModel(C=1.0, max_features=2000, attribute_model="learned",
                        attribute_params={"offence_weight": offence_weight}).fit(rows, np.vstack([Y, Y]))
    width = model.attributes_._matrix(rows[:1], extractor.extract(rows[:1])).shape[1]
    base = HybridModel(C=1.0, max_features=2000, attribute_model="learned",
                       attribute_params={"offence_weight": 0.0}).fit(rows, np.vstack([Y, Y]))
    assert width - base.attributes_._matrix(rows[:1], extractor.extract(rows[:1])).shape[1] == (
        (len(LABELS) + 2) if offence_weight else 0)
    unseen = [Incident(incident_id="u1", call_log="Caller states her husband punched her in the face.")]
    assert model.attributes(unseen, extractor.extract(unseen))[0][0] == "intimate_partner"


def test_the_hybrid_hands_its_groups_to_the_attribute_model(extractor):
    """``attribute_params: {synthetic_weight: W}`` in a config reaches the attribute model with the
    rows' groups: its fit equals an ``AttributeModel`` fitted with those rows' weights scaled by hand."""
    from secondary_crimes.classify.attributes import AttributeModel
    from secondary_crimes.training_data import CORPUS_GROUP, SYNTHETIC_GROUP

    rows, Y = incidents()
    rows = [row.model_copy(update={"incident_id": f"{row.incident_id}-{copy}",
                                   "domestic": row.relationship == "intimate_partner"})
            for copy in range(2) for row in rows]
    Y = np.vstack([Y, Y])
    groups = [SYNTHETIC_GROUP if k % 3 == 0 else CORPUS_GROUP + "a" for k in range(len(rows))]
    model = HybridModel(C=1.0, max_features=2000, attribute_model="learned",
                        attribute_params={"synthetic_weight": 0.25}).fit(rows, Y, groups=groups)
    weights = np.where(np.asarray(groups) == SYNTHETIC_GROUP, 0.25, 1.0)
    by_hand = AttributeModel().fit(rows, extractor.extract(rows), weights)
    unweighted = AttributeModel().fit(rows, extractor.extract(rows))
    fitted = model.attributes_.models_["relationship"].coef_
    np.testing.assert_allclose(fitted, by_hand.models_["relationship"].coef_)
    assert not np.allclose(fitted, unweighted.models_["relationship"].coef_)
