"""The loop end to end on tiny data: load scored incidents, decide (a correction, an added offence),
export, retrain with the export, and the retrained model differs where the auditor corrected it."""

from __future__ import annotations

import json
from pathlib import Path

from test_export import PLAN, SCORED_V1, _correct, _decide, _export

from secondary_crimes.classify.base import UNKNOWN
from secondary_crimes.queue.db import Database
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import DataConfig, assemble


def _incident(incident_id: str) -> Incident:
    for line in SCORED_V1.read_text(encoding="utf-8").splitlines():
        scored = json.loads(line)
        if scored["incident_id"] == incident_id:
            return Incident.model_validate({"incident_id": incident_id, **scored["incident"]})
    raise KeyError(incident_id)


def _exported(sqlite_url: str, tmp_path: Path) -> Path:
    database = Database(sqlite_url)
    try:
        _decide(database, PLAN)  # records stalking for SC2400311's harassment flag
        _correct(database)  # adds assault_with_injury to SC2400263, with its evidence span
        labels = tmp_path / "labels.jsonl"
        _export(database, labels)
    finally:
        database.dispose()
    return labels


def test_partly_decided_incidents_train_on_the_offences_decided(sqlite_url: str, tmp_path: Path) -> None:
    labels = _exported(sqlite_url, tmp_path)
    data = DataConfig(corpus=[], sample=[], extra=[str(labels)], synthetic_n=50, synthetic_seed=3)
    dataset = assemble(data)
    # decisions on some offences only (three flags' incidents and one with facts corrected):
    # trained on those offences, the rest unknown, and the data summary says so
    assert dataset.partial == {str(labels): 4}
    assert any(str(labels) in line and "4" in line for line in dataset.summary())
    row = [incident.incident_id for incident in dataset.incidents].index("SC2400263")
    target = dict(zip(LABELS, dataset.Y[row], strict=True))
    assert target["assault_with_injury"] == 1  # the offence the auditor added
    assert UNKNOWN in target.values() and 0 < sum(value != UNKNOWN for value in target.values()) < len(LABELS)


def test_the_retrained_model_differs_where_the_auditor_corrected_it(sqlite_url: str, tmp_path: Path) -> None:
    labels = _exported(sqlite_url, tmp_path)

    def retrain(extra: list[str]):
        data = DataConfig(corpus=[], sample=[], extra=extra, synthetic_n=300, synthetic_seed=3)
        return fit_bundle(TrainConfig(kind="baseline", data=data, threshold_folds=3), assemble(data))

    before, after = retrain([]), retrain([str(labels)])
    strangled, stalked = _incident("SC2400263"), _incident("SC2400311")
    p_before = before.model.predict_proba([strangled, stalked])
    p_after = after.model.predict_proba([strangled, stalked])
    injury, stalking = LABELS.index("assault_with_injury"), LABELS.index("stalking")
    assert p_after[0, injury] > p_before[0, injury] + 0.05  # the offence the auditor added
    assert p_after[1, stalking] > p_before[1, stalking] + 0.05  # harassment recorded as stalking
    assert after.metadata != before.metadata
