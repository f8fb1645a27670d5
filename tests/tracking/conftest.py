"""Fixtures shared by the tracking tests: an empty MLflow store of this test's own in tmp_path."""

from __future__ import annotations

import pytest
from tracking_helpers import mlflow_store


@pytest.fixture()
def store(tmp_path):
    """An MLflow client on a new SQLite store of this test's own."""
    with mlflow_store(tmp_path) as client:
        yield client
