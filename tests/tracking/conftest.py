"""Fixtures shared by the tracking tests: an empty MLflow store of this test's own in tmp_path."""

from __future__ import annotations

import pytest


@pytest.fixture()
def store(tmp_path, monkeypatch):
    """An MLflow client on a new SQLite store (artifacts beside it); the previous tracking URI comes back after."""
    import mlflow

    from secondary_crimes import tracking

    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    monkeypatch.setenv("SECONDARY_CRIMES_ARTIFACTS", str(tmp_path / "mlartifacts"))
    tracking.configure()
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(previous)
