"""The attribute model's caller cues: reporter features only, and models fitted before them still predict."""

from __future__ import annotations

import numpy as np

from secondary_crimes.classify.attributes import AttributeModel
from secondary_crimes.extract.types import Extraction
from secondary_crimes.records import GoldIncident


def _data(n: int = 40):
    incidents, extractions = [], []
    for i in range(n):
        other = i % 2 == 0
        text = "Caller reports a male outside the shop." if other else "Caller states her partner hit her."
        incidents.append(GoldIncident(incident_id=f"T-{i}", call_log=text, relationship="stranger" if other else
                                  "intimate_partner", reporter="third_party_public" if other else "victim",
                                  domestic=not other))
        extractions.append(Extraction(incident_id=f"T-{i}", relationship="none", reporter="victim", domestic=False,
                                      cues={"reporter:other_person": 1.0} if other else {"reporter:victim": 2.0}))
    return incidents, extractions


def test_caller_cues_feed_the_reporter_only():
    incidents, extractions = _data()
    model = AttributeModel(min_rows=10).fit(incidents, extractions)
    shared = model._matrix(incidents, extractions).shape[1]
    assert model.models_["relationship"].coef_.shape[1] == shared
    assert model.models_["reporter"].coef_.shape[1] == shared + 2
    calls = model.predict(incidents, extractions)
    assert [c[1] for c in calls] == [i.reporter for i in incidents]


def test_a_model_fitted_without_caller_cues_still_predicts():
    incidents, extractions = _data()
    model = AttributeModel(min_rows=10, caller_weight=0.0).fit(incidents, extractions)
    assert model.models_["reporter"].coef_.shape[1] == model._matrix(incidents, extractions).shape[1]
    del model.caller_cues_  # as unpickled from before the caller cues existed
    calls = model.predict(incidents, extractions)
    assert len(calls) == len(incidents) and all(isinstance(c[1], str) for c in calls)
    assert np.mean([c[1] == i.reporter for c, i in zip(calls, incidents, strict=True)]) > 0.9
