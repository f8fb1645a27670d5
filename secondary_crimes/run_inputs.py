"""A tracked run's inputs: the training and test sets as MLflow datasets, and the auditors' export as an artifact.

``log_datasets`` calls ``mlflow.log_input`` for the training and held-out test sets: a frame of
incident ids, sources, weights and labels (no text: MLflow keeps a dataset's schema, profile,
digest and source, never its rows), the content hash as digest and tag, the config as source.
``log_extra_files`` logs each ``data.extra`` file (``queue export`` overwrites it, so the run
keeps the version it trained on) pseudonymised, with the raw file's SHA-256 and its digest as
an input.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from secondary_crimes.privacy import pseudonymise_incident
from secondary_crimes.reader import load_gold
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.training_data import Dataset, content_hash, expand_patterns, label_matrix

DIGEST_CHARS = 32  # MLflow stores a dataset digest of at most 36 characters; the full hash is a tag


def dataset_frame(
    incidents: Sequence[GoldIncident], sources: Sequence[str] | None = None, weights: Sequence[float] | None = None
) -> pd.DataFrame:
    """One row per incident: id, source, weight, one 0/1 column per offence and the missed offences."""
    offences = label_matrix(list(incidents))
    frame = pd.DataFrame(
        {
            "incident_id": [i.incident_id for i in incidents],
            "source": list(sources) if sources is not None else ["unknown"] * len(incidents),
            "weight": np.asarray(weights if weights is not None else np.ones(len(incidents)), dtype=float),
        }
    )
    for j, label in enumerate(LABELS):
        frame[label] = offences[:, j].astype(int) if len(incidents) else pd.Series(dtype=int)
    frame["missed"] = [";".join(i.missed or []) for i in incidents]
    return frame


def _log(frame: pd.DataFrame, name: str, sha256: str, source: str, context: str, tags: dict[str, str]) -> None:
    dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=sha256[:DIGEST_CHARS])
    mlflow.log_input(dataset, context=context, tags={"sha256": sha256, **tags})


def log_datasets(
    dataset: Dataset, train_set: Dataset, test_set: Sequence[GoldIncident], name: str, config_path: str | Path
) -> None:
    """``mlflow.log_input`` of the training set (context ``training``) and the held-out test set (``testing``)."""
    source = str(Path(config_path).resolve())
    group_of = dict(zip((i.incident_id for i in dataset.incidents), dataset.groups, strict=True))
    sources = json.dumps(dataset.sources)
    _log(dataset_frame(train_set.incidents, train_set.groups, train_set.weights), f"{name}-train",
         train_set.content_hash(), source, "training", {"sources": sources})
    if test_set:
        _log(dataset_frame(test_set, [group_of.get(i.incident_id, "unknown") for i in test_set]), f"{name}-test",
             content_hash(test_set), source, "testing", {"sources": sources})


def log_extra_files(patterns: Sequence[str], *, extraction: bool = True) -> list[dict[str, object]]:
    """Log each auditors' export named by ``data.extra``, pseudonymised, under ``data/extra/``; return its manifest.

    The manifest (``data/extra/manifest.json``) gives each file's path, raw SHA-256, incidents read
    and lines rejected; each file is also an input dataset (context ``training``, tag ``extra``).
    """
    manifest: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="extra-") as folder:
        for path in expand_patterns(list(patterns)):
            raw = path.read_bytes()
            sha256 = hashlib.sha256(raw).hexdigest()
            incidents, rejects = load_gold(path)
            rows = [pseudonymise_incident(incident, extraction=extraction) for incident in incidents]
            target = Path(folder) / path.name
            target.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
            mlflow.log_artifact(str(target), "data/extra")
            _log(dataset_frame(incidents, ["extra"] * len(incidents)), f"extra:{path.stem}", sha256,
                 str(path.resolve()), "training", {"extra": "true"})
            manifest.append({"path": str(path), "sha256": sha256, "incidents": len(incidents),
                             "rejected_lines": len(rejects), "artifact": f"data/extra/{path.name}"})
    if manifest:
        mlflow.log_dict(manifest, "data/extra/manifest.json")
    return manifest
