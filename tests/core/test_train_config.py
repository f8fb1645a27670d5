"""Training configs are typed: every shipped config loads, an unknown key or choice is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from secondary_crimes.cli import app
from secondary_crimes.train import TrackingOptions, TrainConfig, TrainConfigError
from secondary_crimes.training_data import DataConfig

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training").glob("*.yaml"))


def test_there_are_configs_to_check():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_every_shipped_config_loads(path: Path):
    config = TrainConfig.from_file(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config.kind == raw["kind"] and config.output == raw["output"]
    assert isinstance(config.data, DataConfig) and isinstance(config.tracking, TrackingOptions)
    assert config.data.corpus == raw["data"]["corpus"]
    for key, value in (raw.get("tracking") or {}).items():
        assert getattr(config.tracking, key) == value


def write(tmp_path: Path, **changes) -> Path:
    raw = {"kind": "baseline", "data": {"corpus": [], "sample": [], "synthetic_n": 10}, **changes}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"threshold_fold": 3}, "unknown key 'threshold_fold'"),
        ({"data": {"corpus": [], "synthetic": 10}}, "unknown key 'data.synthetic'"),
        ({"tracking": {"experiment": "x", "test_fracton": 0.1}}, "unknown key 'tracking.test_fracton'"),
        ({"kind": "baselin"}, "kind: Input should be 'baseline', 'hybrid'"),
        ({"threshold_strategy": "out_of_fold"}, "threshold_strategy: Input should be 'oof', 'holdout' or 'by_source'"),
        ({"threshold_scope": "global"}, "threshold_scope: Input should be 'per_offence' or 'shared'"),
        ({"holdout_fraction": 1.5}, "holdout_fraction: Input should be less than 1"),
        ({"tracking": {"register": "perhaps"}}, "tracking.register: Input should be a valid boolean"),
    ],
)
def test_a_bad_key_or_value_is_named_with_its_file(tmp_path: Path, changes: dict, named: str):
    path = write(tmp_path, **changes)
    with pytest.raises(TrainConfigError) as error:
        TrainConfig.from_file(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and named in message
    assert "\n" not in message


def test_the_cli_reports_a_bad_config_in_one_line(tmp_path: Path):
    path = write(tmp_path, seeds=3)
    result = CliRunner().invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {path}: unknown key 'seeds'"


def test_configs_made_in_code_are_checked_too_and_copy_as_dataclasses():
    config = TrainConfig(kind="hybrid", params={"C": 2.0}, threshold_folds=3, tracking={"test_fraction": 0.1})
    assert config.tracking == TrackingOptions(test_fraction=0.1)
    assert dataclasses.replace(config, seed=2).seed == 2  # crossval copies configs this way
    assert dataclasses.asdict(config)["tracking"]["experiment"] == "secondary-crimes"  # tracking logs this
    with pytest.raises(ValueError, match="threshold_scope"):
        TrainConfig(threshold_scope="global")
    with pytest.raises(ValueError, match="unexpected keyword|Unexpected keyword"):
        TrainConfig(thresholds=3)
