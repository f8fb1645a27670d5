"""The attribute model's ``synthetic_weight``: generated rows count for less, labelled writing for more."""

from __future__ import annotations

import numpy as np
import pytest

from secondary_crimes.classify.attributes import AttributeModel
from secondary_crimes.extract.types import Extraction
from secondary_crimes.records import GoldIncident, Incident
from secondary_crimes.training_data import CORPUS_GROUP, SYNTHETIC_GROUP

FELLA = "Caller states her fella hit her at the house."


def _rows() -> tuple[list[GoldIncident], list[Extraction], list[str]]:
    """Labelled writing calls "her fella" a partner; more generated rows, written the same way, call him an
    acquaintance (a template's mistake). Both sources agree on the stranger outside the shop, and the
    labelled writing has acquaintances of its own (``class_weight="balanced"`` weighs classes by their
    weighted counts, so a class only the generated rows had would be weighed back up)."""
    plan = ([(FELLA, "intimate_partner", CORPUS_GROUP + "a")] * 10
            + [("Caller states her boyfriend hit her at the house.", "intimate_partner", CORPUS_GROUP + "a")] * 20
            + [("Caller states a friend from work hit her at the pub.", "acquaintance", CORPUS_GROUP + "a")] * 30
            + [("Caller reports a man outside the shop hit her.", "stranger", CORPUS_GROUP + "a")] * 10
            + [(FELLA, "acquaintance", SYNTHETIC_GROUP)] * 30
            + [("Caller reports a man outside the shop hit her.", "stranger", SYNTHETIC_GROUP)] * 10)
    incidents = [GoldIncident(incident_id=f"T-{i}", call_log=text, relationship=relationship, reporter="victim")
                 for i, (text, relationship, _) in enumerate(plan)]
    extractions = [Extraction(incident_id=row.incident_id) for row in incidents]
    return incidents, extractions, [group for _, _, group in plan]


def _call(model: AttributeModel) -> str:
    unseen = [Incident(incident_id="u", call_log=FELLA)]
    return model.predict(unseen, [Extraction(incident_id="u")])[0][0]


def test_generated_rows_outvote_labelled_writing_at_full_weight_and_not_when_scaled_down():
    incidents, extractions, groups = _rows()
    assert _call(AttributeModel(min_rows=10).fit(incidents, extractions, groups=groups)) == "acquaintance"
    scaled = AttributeModel(min_rows=10, synthetic_weight=0.05).fit(incidents, extractions, groups=groups)
    assert _call(scaled) == "intimate_partner"


def test_the_weight_is_the_same_as_scaling_sample_weight_by_hand():
    incidents, extractions, groups = _rows()
    weights = np.linspace(0.5, 1.5, len(incidents))
    scaled = AttributeModel(min_rows=10, synthetic_weight=0.2).fit(incidents, extractions, weights, groups)
    by_hand = np.where(np.asarray(groups) == SYNTHETIC_GROUP, weights * 0.2, weights)
    manual = AttributeModel(min_rows=10).fit(incidents, extractions, by_hand)
    np.testing.assert_allclose(scaled.models_["relationship"].coef_, manual.models_["relationship"].coef_)


def test_without_groups_every_row_keeps_its_weight():
    incidents, extractions, _ = _rows()
    plain = AttributeModel(min_rows=10).fit(incidents, extractions)
    ignored = AttributeModel(min_rows=10, synthetic_weight=0.05).fit(incidents, extractions)
    np.testing.assert_allclose(ignored.models_["relationship"].coef_, plain.models_["relationship"].coef_)


def test_groups_must_match_the_incidents():
    incidents, extractions, groups = _rows()
    with pytest.raises(ValueError, match="groups"):
        AttributeModel(min_rows=10, synthetic_weight=0.2).fit(incidents, extractions, groups=groups[:-1])


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_the_weight_must_be_positive(weight):
    incidents, extractions, groups = _rows()
    with pytest.raises(ValueError, match="synthetic_weight"):
        AttributeModel(min_rows=10, synthetic_weight=weight).fit(incidents, extractions, groups=groups)
