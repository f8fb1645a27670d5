"""Export: decided incidents in the corpus format, accepted by GoldIncident."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from secondary_crimes.queue import auth, decisions
from secondary_crimes.queue.cli import queue_app
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.export import export_file
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import Flag, User
from secondary_crimes.records import GoldIncident

SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"


def _decide_all(database: Database) -> None:
    with database.session() as session:
        load_file(session, SCORED_V1)
        user, _ = auth.create_user(session, "alice", "auditor", "a-long-password")
    with database.session() as session:
        flags = {(f.incident.incident_id, f.offence): f.id for f in session.scalars(select(Flag))}
    plan = [
        (("SC2400263", "non_fatal_strangulation"), "record", {"note": "hands round the neck"}),
        (("SC2400263", "common_assault"), "no_crime", {"reason_code": "covered_by_recorded_crime"}),
        # adjusted offence: the auditor records harassment as stalking
        (("SC2400311", "harassment"), "record", {"offence": "stalking"}),
        # SC2400311 malicious_communications left open: that incident must not be exported
        (("SC2400402", "assault_with_injury"), "record", {}),
        (("SC2400517", "criminal_damage"), "more_info", {"note": "ask the school"}),
    ]
    with database.session() as session:
        for key, action, extra in plan:
            decisions.decide(session, user, flags[key], version=0, action=action, **extra)


def test_export_writes_decided_incidents_as_gold(database: Database, tmp_path: Path) -> None:
    _decide_all(database)
    out = tmp_path / "labels.jsonl"
    with database.session() as session:
        assert export_file(session, out) == 2
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["incident_id"] for r in records] == ["SC2400263", "SC2400402"]
    for record in records:
        gold = GoldIncident.model_validate(record)
        assert gold.has_gold
        for label, quote in gold.evidence.items():
            assert quote in gold.call_log or quote in gold.officer_narrative, (label, quote)
    first, second = records
    assert first["offences"] == ["non_fatal_strangulation"] and first["missed"] == ["non_fatal_strangulation"]
    assert first["evidence"]["non_fatal_strangulation"] == "grabbed her by the throat"
    assert first["domestic"] is True and first["relationship"] == "ex_partner" and first["reporter"] == "victim"
    assert "hands round the neck" in first["rationale"] and "Covered by a crime recorded" in first["rationale"]
    assert first["reported_at"] == "2024-01-02T03:20:00"
    assert second["recorded_crimes"] == ["criminal_damage"]
    assert second["offences"] == ["criminal_damage", "assault_with_injury"]
    assert second["missed"] == ["assault_with_injury"]
    assert second["evidence"]["criminal_damage"] == second["call_log"][:80].strip()  # no span: call log start
    assert second["domestic"] is None and second["relationship"] is None


def test_export_cli_and_adjusted_offence(db_url: str, tmp_path: Path) -> None:
    database = Database(db_url)
    try:
        _decide_all(database)
        with database.session() as session:
            flag = session.scalar(select(Flag).where(Flag.offence == "malicious_communications"))
            decisions.decide(
                session, session.get(User, 1), flag.id, version=0, action="no_crime", reason_code="no_offence_disclosed"
            )
    finally:
        database.dispose()
    out = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(queue_app, ["export", "--out", str(out), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "wrote 3 decided incident(s)" in result.output
    records = {r["incident_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    stalking = records["SC2400311"]
    assert stalking["offences"] == ["stalking"] and stalking["missed"] == ["stalking"]
    GoldIncident.model_validate(stalking)
