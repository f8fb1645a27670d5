"""The MLflow tracking store: where runs, artifacts and the registry live.

``sqlite:///mlruns.db`` with artifacts in ``./mlartifacts`` by default; ``MLFLOW_TRACKING_URI``
(or ``tracking.uri`` in a training config) points at a team server instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:
    from secondary_crimes.train import TrainConfig

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
DEFAULT_ARTIFACTS = "mlartifacts"
DEFAULT_MODEL_NAME = "secondary-crimes"


def tracking_uri(config: TrainConfig | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the config's ``tracking.uri``, else local SQLite."""
    configured = (config.tracking.uri if config else None) or DEFAULT_TRACKING_URI
    return os.environ.get("MLFLOW_TRACKING_URI") or configured


def configure(config: TrainConfig | None = None) -> str:
    uri = tracking_uri(config)
    mlflow.set_tracking_uri(uri)
    return uri


def ensure_experiment(name: str, uri: str) -> str:
    """The experiment's id, creating it (local store: artifacts in ./mlartifacts) when new."""
    client = MlflowClient(uri)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if uri.startswith("sqlite:") or uri.startswith("file:"):
        location = Path(os.environ.get("SECONDARY_CRIMES_ARTIFACTS", DEFAULT_ARTIFACTS)).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)
