"""Helpers the tracking tests share (tests/tracking): an MLflow store of a test's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mlflow_store(root: Path, **settings: str) -> Iterator:
    """An MLflow client on a new SQLite store in ``root`` (artifacts beside it), with any other
    ``SECONDARY_CRIMES_*`` settings given; the environment and the previous tracking URI come back after."""
    import mlflow

    from secondary_crimes import tracking

    previous = mlflow.get_tracking_uri()
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlruns.db'}")
    patch.setenv("SECONDARY_CRIMES_ARTIFACTS", str(root / "mlartifacts"))
    for name, value in settings.items():
        patch.setenv(f"SECONDARY_CRIMES_{name.upper()}", value)
    tracking.configure()
    try:
        yield mlflow.MlflowClient()
    finally:
        patch.undo()
        mlflow.set_tracking_uri(previous)  # later tests see the store they had before
