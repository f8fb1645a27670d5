"""The attribute model's relationship cues in context: relationship and domestic features only."""

from __future__ import annotations

import numpy as np

from secondary_crimes.classify.attributes import AttributeModel
from secondary_crimes.extract.types import Extraction
from secondary_crimes.records import GoldIncident


def _data(n: int = 40):
    """The same words in every text; only where the "mum" cue stands tells the caller's own mother
    (a stranger did it) from a mother who did it."""
    incidents, extractions = [], []
    for i in range(n):
        hers = i % 2 == 0
        incidents.append(GoldIncident(incident_id=f"T-{i}", call_log="Caller reports her mum was pushed.",
                                      relationship="stranger" if hers else "family",
                                      reporter="victim" if i % 4 < 2 else "witness", domestic=not hers))
        contexts = ["family", "family w=mum", "family caller"] if hers else ["family", "family w=mum", "family ind"]
        extractions.append(Extraction(incident_id=f"T-{i}", relationship="family", reporter="victim",
                                      domestic=True, cue_contexts=contexts))
    return incidents, extractions


def _accuracy(calls, incidents, k: int, name: str) -> float:
    return float(np.mean([c[k] == getattr(i, name) for c, i in zip(calls, incidents, strict=True)]))


def test_contexts_tell_the_callers_family_from_the_suspects():
    incidents, extractions = _data()
    blind = AttributeModel(min_rows=10).fit(incidents, extractions).predict(incidents, extractions)
    model = AttributeModel(min_rows=10, context_weight=1.0).fit(incidents, extractions)
    calls = model.predict(incidents, extractions)
    assert _accuracy(blind, incidents, 0, "relationship") <= 0.5
    assert _accuracy(calls, incidents, 0, "relationship") == 1.0
    assert _accuracy(calls, incidents, 2, "domestic") == 1.0
    shared = model._matrix(incidents, extractions).shape[1]
    assert model.models_["relationship"].coef_.shape[1] == shared + len(model.contexts_.vocabulary_)
    assert model.models_["reporter"].coef_.shape[1] == shared + 2  # the reporter reads no contexts


def test_a_model_fitted_before_contexts_still_predicts():
    incidents, extractions = _data()
    model = AttributeModel(min_rows=10).fit(incidents, extractions)
    del model.contexts_  # as unpickled from before the contexts existed
    assert len(model.predict(incidents, extractions)) == len(incidents)
