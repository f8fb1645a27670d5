"""The registered evaluation set: the incidents every version of a model is evaluated on.

The first tracked run of a model name (in a tracking store) draws it: a seeded
``tracking.test_fraction`` of the assembled data. It is registered as a run of its own in the
experiment ``secondary-crimes-evaluation-sets`` (tag ``evaluation_set_for`` = the model name)
holding ``evaluation_set.json`` (the incident ids, their content hash, seed and fraction) and
an MLflow dataset input (context ``evaluation``: ids, sources and labels, no text; digest the
content hash). Every later run of that name reads it back, keeps those incidents out of
training whatever its data, and evaluates on them, so two versions' figures describe the same
incidents; new data goes to training only. A run whose data lacks some of the set's incidents,
or labels them differently, evaluates on what it has and its ``test_split_sha256`` differs from
the set's hash: ``promote`` then refuses to compare it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
import numpy as np
from mlflow.entities import DatasetInput, InputTag, RunStatus
from mlflow.tracking import MlflowClient

from secondary_crimes.records import GoldIncident
from secondary_crimes.run_inputs import DIGEST_CHARS, dataset_frame
from secondary_crimes.tracking.promotion import SET_TAG
from secondary_crimes.tracking.store import ensure_experiment
from secondary_crimes.training_data import Dataset, content_hash

log = logging.getLogger(__name__)

EXPERIMENT = "secondary-crimes-evaluation-sets"
FOR_TAG = "evaluation_set_for"  # on the set's run: the model name it evaluates
SET_RUN_TAG = "evaluation_set_run_id"  # on a training run: the run holding the set
SUPERSEDED_TAG = "superseded_by"  # on a set's run: the run of the set drawn to replace it
ARTIFACT = "evaluation_set.json"


@dataclass(frozen=True)
class EvaluationSet:
    """A registered evaluation set: its incidents' ids, their content hash when drawn, and its run."""

    name: str
    incident_ids: tuple[str, ...]
    sha256: str
    run_id: str
    seed: int | None = None
    fraction: float | None = None

    def split(self, dataset: Dataset) -> tuple[Dataset, list[GoldIncident], list[str]]:
        """The training part (every incident not in the set), the set's incidents found in
        ``dataset`` with every offence decided (in the set's order) and the ids of the rest."""
        wanted = set(self.incident_ids)
        position = {incident.incident_id: i for i, incident in enumerate(dataset.incidents)
                    if incident.complete}
        train = [i for i, incident in enumerate(dataset.incidents) if incident.incident_id not in wanted]
        test = [dataset.incidents[position[i]] for i in self.incident_ids if i in position]
        missing = [i for i in self.incident_ids if i not in position]
        return dataset.subset(train), test, missing

    def matches(self, incidents: list[GoldIncident]) -> bool:
        """Whether ``incidents`` are the set's, unchanged (same ids and content)."""
        return content_hash(incidents) == self.sha256


def draw(dataset: Dataset, fraction: float, seed: int) -> list[str]:
    """A seeded ``fraction`` of the ids of the dataset's incidents whose every offence is decided
    (the held-out split tracking always drew; a partly decided incident cannot be evaluated)."""
    from sklearn.model_selection import train_test_split

    complete = np.flatnonzero(dataset.complete)
    _, test_index = train_test_split(complete, test_size=fraction, random_state=seed, shuffle=True)
    return [dataset.incidents[i].incident_id for i in test_index]


def _client() -> MlflowClient:
    return MlflowClient(mlflow.get_tracking_uri())


def find(name: str) -> EvaluationSet | None:
    """The evaluation set registered for model ``name`` in the configured store, or None.

    Sets replaced by a redraw are skipped; of two registered at once, the first wins.
    """
    runs = sorted(_set_runs(name, finished=True), key=lambda r: (r.info.start_time, r.info.run_id))
    for run in runs:
        if SUPERSEDED_TAG not in run.data.tags:
            return _read(run.info.run_id, name)
    return None


def _set_runs(name: str, *, finished: bool) -> list:
    client = _client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    quoted = name.replace("\\", "\\\\").replace("'", "\\'")
    status = " and attributes.status = 'FINISHED'" if finished else ""
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.{FOR_TAG} = '{quoted}'{status}")
    return [run for run in runs if run.data.tags.get(FOR_TAG) == name]


def _read(run_id: str, name: str) -> EvaluationSet:
    content = mlflow.artifacts.load_dict(f"runs:/{run_id}/{ARTIFACT}")
    return EvaluationSet(
        name=name,
        incident_ids=tuple(content["incident_ids"]),
        sha256=content["sha256"],
        run_id=run_id,
        seed=content.get("seed"),
        fraction=content.get("fraction"),
    )


def register(name: str, dataset: Dataset, fraction: float, seed: int, *, source: str) -> EvaluationSet:
    """Draw a new evaluation set for model ``name`` from ``dataset`` and register it in the store."""
    client = _client()
    ids = draw(dataset, fraction, seed)
    position = {incident.incident_id: i for i, incident in enumerate(dataset.incidents)}
    incidents = [dataset.incidents[position[i]] for i in ids]
    sha256 = content_hash(incidents)
    experiment_id = ensure_experiment(EXPERIMENT, mlflow.get_tracking_uri())
    run = client.create_run(
        experiment_id,
        run_name=f"evaluation-set-{name}",
        tags={FOR_TAG: name, SET_TAG: sha256, "source_config": source},
    )
    run_id = run.info.run_id
    try:
        client.log_dict(
            run_id,
            {
                "model_name": name,
                "sha256": sha256,
                "incidents": len(ids),
                "seed": seed,
                "fraction": fraction,
                "drawn_from": {"sha256": dataset.content_hash(), "incidents": len(dataset.incidents),
                               "sources": dataset.sources},
                "drawn_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "incident_ids": ids,
            },
            ARTIFACT,
        )
        frame = dataset_frame(incidents, [dataset.groups[position[i]] for i in ids])
        entity = mlflow.data.from_pandas(
            frame, source=source, name=f"{name}-evaluation", digest=sha256[:DIGEST_CHARS]
        )._to_mlflow_entity()
        client.log_inputs(
            run_id,
            [DatasetInput(entity, [InputTag("mlflow.data.context", "evaluation"), InputTag("sha256", sha256)])],
        )
        client.log_metric(run_id, "incidents", len(ids))
    except BaseException:
        client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id)
    log.info("registered evaluation set %s for %s: %d incidents (run %s)", sha256[:12], name, len(ids), run_id)
    return EvaluationSet(name, tuple(ids), sha256, run_id, seed, fraction)


def for_training(name: str, dataset: Dataset, fraction: float, seed: int, *, source: str,
                 redraw: bool = False) -> EvaluationSet:
    """The model's registered evaluation set; drawn and registered now when it has none.

    ``redraw`` registers a new one and marks the earlier ones superseded: versions evaluated
    before it no longer compare with later ones (``promote`` says so).
    """
    if redraw:
        drawn = register(name, dataset, fraction, seed, source=source)
        for run in _set_runs(name, finished=False):
            if run.info.run_id != drawn.run_id and SUPERSEDED_TAG not in run.data.tags:
                _client().set_tag(run.info.run_id, SUPERSEDED_TAG, drawn.run_id)
        return drawn
    found = find(name)
    if found is None:
        register(name, dataset, fraction, seed, source=source)
        found = find(name)  # another run may have registered one at the same time: the first one wins
        if found is None:
            raise RuntimeError(f"the evaluation set registered for {name!r} cannot be read back")
    elif found.fraction is not None and abs(found.fraction - fraction) > 1e-9:
        log.info("%s: evaluating on the registered evaluation set (%d incidents, drawn with test_fraction %s), "
                 "not a new %s split", name, len(found.incident_ids), found.fraction, fraction)
    return found
