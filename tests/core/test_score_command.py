"""`secondary-crimes score` is the one scoring entry point: every option reaches the engine it is for."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secondary_crimes.cli import app
from secondary_crimes.score import ScoreSummary


@pytest.fixture()
def spark_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """A stand-in for the Spark engine (no Spark needed) that records how it was called."""
    calls: list[dict] = []

    def score_spark(input_path, output_path, model=None, **options):
        calls.append({"input": input_path, "output": output_path, "model": model, **options})
        return ScoreSummary(scored=3, input_records=3, engine="spark")

    engine = types.ModuleType("secondary_crimes.engines.spark")
    engine.score_spark = score_spark
    monkeypatch.setitem(sys.modules, "secondary_crimes.engines.spark", engine)
    return calls


def test_spark_options_reach_the_spark_engine(spark_calls, tmp_path: Path):
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(source), "--out", str(tmp_path / "out.parquet"), "--engine",
                                      "spark", "--master", "local[8]", "--batch-size", "16", "--no-link", "-q",
                                      "--link-store", "queue"])
    assert result.exit_code == 0, result.output
    assert spark_calls == [{"input": source, "output": tmp_path / "out.parquet", "model": None, "master": "local[8]",
                            "batch_size": 16, "progress": False, "trust_unhashed": None, "link": False,
                            "link_store": "queue"}]
    assert result.stdout.startswith("scored 3 incidents")


def test_the_master_defaults_to_two_local_cores(spark_calls, tmp_path: Path):
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    CliRunner().invoke(app, ["score", str(source), "--out", str(tmp_path / "out.jsonl"), "--engine", "spark"])
    assert spark_calls[0]["master"] == "local[2]"


def test_there_is_no_second_scoring_script():
    assert importlib.util.find_spec("secondary_crimes.score_main") is None
