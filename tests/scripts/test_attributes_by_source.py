"""training/attributes_by_source.py reads the AttributeModel's parameters from the config it is given."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_helpers import load_script

from secondary_crimes.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training" / "attributes_by_source.py"


script = load_script(SCRIPT, "attributes_by_source")


def test_the_default_ensembles_hybrid_member_gives_its_attribute_params():
    config = TrainConfig.from_file(ROOT / "training" / "default.yaml")
    factor = script.attribute_params(config)["synthetic_weight"]
    assert factor == 0.67
    # the factor multiplies data.weights.synthetic: generated rows weigh 0.2 in the attribute model
    assert config.data.weight("synthetic") * factor == pytest.approx(0.2, abs=0.005)


def test_a_hybrid_config_gives_its_own_and_a_config_without_a_hybrid_gives_none():
    hybrid = TrainConfig.from_file(ROOT / "training" / "hybrid.yaml")
    hybrid.params["attribute_params"] = {"caller_weight": 0.5}
    assert script.attribute_params(hybrid) == {"caller_weight": 0.5}
    assert script.attribute_params(TrainConfig.from_file(ROOT / "training" / "baseline.yaml")) == {}
