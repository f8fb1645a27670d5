"""Loading scored output: idempotent upserts, re-scores that never touch decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from secondary_crimes.queue import auth, decisions, load
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.load import LoadError, load_file
from secondary_crimes.queue.models import AuditEvent, Decision, Flag, Incident

DATA = Path(__file__).parent / "data"
SCORED_V1 = DATA / "scored_v1.jsonl"
SCORED_V2 = DATA / "scored_v2.jsonl"


def _flags(database: Database) -> dict[tuple[str, str], Flag]:
    with database.session() as session:
        rows = session.scalars(select(Flag).join(Flag.incident)).all()
        return {(flag.incident.incident_id, flag.offence): flag for flag in rows}


def _counts(database: Database) -> tuple[int, int, int]:
    with database.session() as session:
        return (
            session.scalar(select(func.count(Incident.id))),
            session.scalar(select(func.count(Flag.id))),
            session.scalar(select(func.count(Decision.id))),
        )


def test_loading_twice_adds_nothing(database: Database) -> None:
    with database.session() as session:
        first = load_file(session, SCORED_V1)
    assert (first.incidents_added, first.flags_added) == (4, 6)
    before = _flags(database)
    with database.session() as session:
        second = load_file(session, SCORED_V1)
    assert (second.incidents_added, second.incidents_updated, second.incidents_unchanged) == (0, 0, 4)
    assert (second.flags_added, second.flags_updated, second.flags_removed) == (0, 0, 0)
    assert _counts(database) == (4, 6, 0)
    after = _flags(database)
    assert {k: (f.id, f.updated_at) for k, f in before.items()} == {k: (f.id, f.updated_at) for k, f in after.items()}


def test_rescore_updates_scores_but_never_decisions(database: Database) -> None:
    with database.session() as session:
        load_file(session, SCORED_V1)
        user, _ = auth.create_user(session, "alice", "auditor", "a-long-password")
    flags = _flags(database)
    strangulation = flags[("SC2400263", "non_fatal_strangulation")]
    assault = flags[("SC2400263", "common_assault")]
    with database.session() as session:
        decisions.decide(session, user, strangulation.id, version=0, action="record", note="hands round neck")
        decisions.decide(
            session, user, assault.id, version=0, action="no_crime", reason_code="covered_by_recorded_crime"
        )
    with database.session() as session:
        report = load_file(session, SCORED_V2)
    # common_assault (decided) is dropped by v2 but kept; malicious_communications (undecided) is removed.
    assert (report.flags_retired, report.flags_removed, report.flags_added) == (1, 1, 1)
    after = _flags(database)
    kept = after[("SC2400263", "non_fatal_strangulation")]
    assert kept.model_version == "hybrid-20261201T0900"
    assert kept.probability == pytest.approx(strangulation.probability + 0.03)
    assert kept.status == "recorded" and kept.version == 1 and kept.active
    dropped = after[("SC2400263", "common_assault")]
    assert dropped.status == "no_crime" and not dropped.active and dropped.model_version == "baseline-20261123T1130"
    assert ("SC2400311", "malicious_communications") not in after
    assert after[("SC2400311", "threats_to_kill")].status == "open"
    with database.session() as session:
        notes = session.scalars(select(Decision.note).order_by(Decision.id)).all()
    assert notes == ["hands round neck", ""]
    with database.session() as session:  # v2 again: nothing changes
        again = load_file(session, SCORED_V2)
    assert (again.incidents_unchanged, again.flags_added, again.flags_updated, again.flags_retired) == (4, 0, 0, 0)
    with database.session() as session:  # back to v1: the dropped flag is active again, decision intact
        load_file(session, SCORED_V1)
    restored = _flags(database)[("SC2400263", "common_assault")]
    assert restored.active and restored.status == "no_crime"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["missed"][0].update(offence="jaywalking"), r"line 2: incident SC2400311: missed\.0\.offence"),
        (lambda r: r["incident"].update(recorded_crimes=["nonsense"]), r"line 2: incident SC2400311: recorded_crimes"),
        (lambda r: r.pop("model_version"), r"line 2: incident SC2400311: model_version"),
        (lambda r: r["missed"][0]["evidence"][0].update(field="notes"), r"evidence\.0\.field"),
    ],
)
def test_bad_records_are_named_and_nothing_is_loaded(database: Database, tmp_path: Path, mutate, expected) -> None:
    lines = SCORED_V1.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    mutate(record)
    lines[1] = json.dumps(record)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LoadError, match=expected), database.session() as session:
        load_file(session, bad)
    assert _counts(database) == (0, 0, 0)


def _write(tmp_path: Path, lines: list[str | bytes]) -> Path:
    path = tmp_path / "scored.jsonl"
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.update(rule_flags=["late_recording"]), r"rule_flags\.0: Input should be a valid dictionary"),
        (lambda r: r.update(rule_flags=[{"rule": "late_recording", "reason": 3}]), r"rule_flags\.0\.reason"),
        (lambda r: r.update(rule_flags=[{"rule": "x", "reason": "r", "offences": ["nope"]}]), r"offences\.0"),
        (lambda r: r.update(people=[{"text": "Anita SHAH", "role": ["victim"]}]), r"people\.0\.role"),
        (lambda r: r.update(people=[{"text": "Anita SHAH", "described_as": "IP"}]), r"people\.0\.described_as"),
        (lambda r: r.update(review_priority=float("nan")), r"review_priority: Input should be a finite number"),
        (lambda r: r.update(review_priority=1.5), r"review_priority: Input should be less than or equal to 1"),
        (lambda r: r.update(incident_id="X" * 65), r"incident_id: Value error, at most 64 characters"),
        (lambda r: r.update(incident_id=".."), r"incident_id: Value error, '\.' and '\.\.' cannot be"),
        (lambda r: r["incident"].update(opening_code="C" * 129), r"incident\.opening_code: at most 128"),
    ],
)
def test_bad_scored_fields_are_refused_at_load(database: Database, tmp_path: Path, mutate, expected) -> None:
    lines = SCORED_V1.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    mutate(record)
    lines[1] = json.dumps(record)
    with pytest.raises(LoadError, match=rf"line 2: incident .*{expected}"), database.session() as session:
        load_file(session, _write(tmp_path, lines))
    assert _counts(database) == (0, 0, 0)


def test_every_bad_line_is_named_and_nothing_is_half_loaded(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "CHUNK", 1)  # the good records before the bad ones are flushed
    lines: list[str | bytes] = list(SCORED_V1.read_text(encoding="utf-8").splitlines())
    lines.insert(2, b'{"incident_id": "SC24\xff"}')
    lines.append(lines[0])
    with pytest.raises(LoadError) as raised, database.session() as session:
        load_file(session, _write(tmp_path, lines))
    message = str(raised.value)
    assert "line 3: not UTF-8: byte 0xff at column 22" in message
    assert "line 6: incident SC2400263: also on line 1" in message
    assert _counts(database) == (0, 0, 0)
    with database.session() as session:
        assert session.scalar(select(func.count(AuditEvent.id))) == 0


def test_null_lists_from_spark_load_as_empty(database: Database, tmp_path: Path) -> None:
    record = json.loads(SCORED_V1.read_text(encoding="utf-8").splitlines()[0])
    record["people"] = [{"text": None, "role": "victim", "relationship": None, "described_as": None}]
    record["rule_flags"] = [{"rule": "late_recording", "reason": "late", "offences": None, "evidence": None}]
    with database.session() as session:
        load_file(session, _write(tmp_path, [json.dumps(record)]))
    with database.session() as session:
        incident = session.scalar(select(Incident))
        assert incident.people == [{"text": None, "role": "victim", "relationship": None, "described_as": []}]
        assert incident.rule_flags == [{"rule": "late_recording", "reason": "late", "offences": [], "evidence": []}]


def test_what_decide_writes_loads(database: Database, tmp_path: Path) -> None:
    """decide's pinned sample output (tests/core/data) loads as it is, with every kind of rule flag:
    the queue once refused professional_third_party_nothing_recorded, a rule name over 32 characters."""
    pinned = Path(__file__).parents[1] / "core" / "data" / "decide_sample.jsonl"
    records = [json.loads(line) for line in pinned.read_text(encoding="utf-8").splitlines()]
    with database.session() as session:
        report = load_file(session, pinned)
    assert report.incidents_added == len(records)
    assert report.flags_added == sum(len(record["missed"]) for record in records)
    with database.session() as session:
        stored = {row.incident_id: row for row in session.scalars(select(Incident))}
    for record in records:
        row = stored[record["incident_id"]]
        assert row.rule_flags == record["rule_flags"]
        assert row.people == record["people"]
        assert row.scored_offences == record["offences"]
    assert "professional_third_party_nothing_recorded" in {f["rule"] for r in records for f in r["rule_flags"]}


def _linked(record: dict) -> dict:
    occasion = {"incident_id": "SC2400100", "reported_at": "2023-12-20T22:05:00", "spans": [
        {"field": "call_log", "start": 0, "end": 5, "text": "03:20"}]}
    flag = {"offence": "harassment", "series_id": "series-1", "linked": ["SC2400100"], "missed": True,
            "reason": "Harassment: a course of conduct over 2 incidents", "evidence": [occasion]}
    return {**record, "linked": ["SC2400100"], "course_of_conduct": [flag]}


def test_linked_records_load_and_their_conduct_flags_are_checked(database: Database, tmp_path: Path) -> None:
    lines = SCORED_V1.read_text(encoding="utf-8").splitlines()
    linked = [json.dumps(_linked(json.loads(line))) for line in lines]
    with database.session() as session:
        assert load_file(session, _write(tmp_path, linked)).incidents_added == len(lines)
    record = _linked(json.loads(lines[1]))
    record["course_of_conduct"][0]["offence"] = "nuisance"
    record["course_of_conduct"][0]["evidence"][0]["spans"][0]["field"] = "notes"
    with pytest.raises(LoadError, match=r"line 1: incident SC2400311: course_of_conduct\.0\.offence: Value error, "
                                        r"unknown offence label 'nuisance'; course_of_conduct\.0\.evidence\.0\.spans"
                                        r"\.0\.field"), database.session() as session:
        load_file(session, _write(tmp_path, [json.dumps(record)]))
