"""`secondary-crimes score --link-store URL|queue`: the option, not the link_store setting, chooses the
person store of the linking pass (SQLite and PostgreSQL), for the local engine and Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from secondary_crimes.cli import app
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.models import LinkIncident
from secondary_crimes.score import ScoreSummary


def _stored(url: str) -> list[str]:
    database = Database(url)
    try:
        with database.session() as session:
            return sorted(session.scalars(select(LinkIncident.incident_id)))
    finally:
        database.dispose()


@pytest.fixture()
def source(tmp_path: Path, batch) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(i.model_dump(mode="json")) + "\n" for i in batch), encoding="utf-8")
    return path


@pytest.fixture()
def setting_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The link_store setting (its environment variable) names another database, which must stay unused."""
    path = tmp_path / "setting-store.db"
    monkeypatch.setenv("SECONDARY_CRIMES_LINK_STORE", f"sqlite:///{path}")
    return path


def test_the_option_chooses_the_store_over_the_setting(db_url, model_dir, source, setting_store, tmp_path) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["score", str(source), "--out", str(out), "--model", str(model_dir),
                                      "--quiet", "--link", "--link-store", db_url])
    assert result.exit_code == 0, result.output
    assert _stored(db_url) == sorted(i["incident_id"] for i in map(json.loads, source.read_text().splitlines()))
    assert not setting_store.exists()
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text())
    assert manifest["link"]["stored_incidents"] == 7 and manifest["link"]["series"] == 1
    records = {r["incident_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["T-103"]["linked"] == ["T-101", "T-102"]

    none = tmp_path / "none.jsonl"  # '' turns the store off whatever the setting says
    result = CliRunner().invoke(app, ["score", str(source), "--out", str(none), "--model", str(model_dir),
                                      "--quiet", "--link", "--link-store", ""])
    assert result.exit_code == 0, result.output
    assert "stored_incidents" not in json.loads((tmp_path / "none.jsonl.manifest.json").read_text())["link"]
    assert not setting_store.exists()


def test_the_option_reaches_the_spark_engine(source, tmp_path, monkeypatch) -> None:
    from secondary_crimes.engines import spark

    seen = {}

    def fake_score_spark(*args, **kwargs) -> ScoreSummary:
        seen.update(kwargs)
        return ScoreSummary(scored=7, engine="spark")

    monkeypatch.setattr(spark, "score_spark", fake_score_spark)
    result = CliRunner().invoke(app, ["score", str(source), "--out", str(tmp_path / "out.jsonl"), "--engine",
                                      "spark", "--link-store", "queue"])
    assert result.exit_code == 0, result.output
    assert seen["link_store"] == "queue"
    assert CliRunner().invoke(app, ["score", "--help"], env={"COLUMNS": "200"}).output.count("--link-store") == 1


def test_without_the_option_the_setting_still_chooses(model_dir, source, setting_store, tmp_path) -> None:
    result = CliRunner().invoke(app, ["score", str(source), "--out", str(tmp_path / "out.jsonl"), "--model",
                                      str(model_dir), "--quiet", "--link"])
    assert result.exit_code == 0, result.output
    assert setting_store.exists() and len(_stored(f"sqlite:///{setting_store}")) == 7
