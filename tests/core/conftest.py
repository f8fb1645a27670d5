"""Fixtures for the core contract: a tiny real baseline model trained once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import DataConfig, assemble

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_incidents.jsonl"


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    return TrainConfig(kind="baseline", data=DataConfig(corpus=[], sample=[str(SAMPLE)], synthetic_n=300,
                                                        synthetic_seed=3), threshold_folds=3, seed=1)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_config: TrainConfig) -> ModelBundle:
    return fit_bundle(tiny_config, assemble(tiny_config.data))


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bundle.save(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture()
def sample_rows() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
