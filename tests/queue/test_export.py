"""Export: what auditors decided, in the corpus format, and nothing the model guessed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from secondary_crimes.queue import auth, corrections, decisions
from secondary_crimes.queue.cli import queue_app
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.export import export_file
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import Flag, Incident, User
from secondary_crimes.records import GoldIncident

SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"


def _decide(database: Database, plan: list[tuple[tuple[str, str], str, dict]]) -> dict[tuple[str, str], int]:
    """Load the scored file, decide as ``plan`` says (as alice); returns the decisions' ids."""
    with database.session() as session:
        load_file(session, SCORED_V1)
        user, _ = auth.create_user(session, "alice", "auditor", "a-long-password")
    with database.session() as session:
        flags = {(f.incident.incident_id, f.offence): f.id for f in session.scalars(select(Flag))}
    made = {}
    with database.session() as session:
        for key, action, extra in plan:
            made[key] = decisions.decide(session, user, flags[key], version=0, action=action, **extra).id
    return made


PLAN = [
    (("SC2400263", "non_fatal_strangulation"), "record", {"note": "hands round the neck"}),
    (("SC2400263", "common_assault"), "no_crime", {"reason_code": "covered_by_recorded_crime"}),
    # an added offence: the auditor records harassment as stalking
    (("SC2400311", "harassment"), "record", {"offence": "stalking"}),
    # SC2400311 malicious_communications left open: unknown, the stalking decision still exported
    (("SC2400402", "assault_with_injury"), "record", {}),
    (("SC2400517", "criminal_damage"), "more_info", {"note": "ask the school"}),
]


def _export(database: Database, out: Path):
    with database.session() as session:
        return export_file(session, out)


def _records(out: Path) -> dict[str, dict]:
    return {r["incident_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}


def test_export_holds_only_the_auditors_decisions(database: Database, tmp_path: Path) -> None:
    _decide(database, PLAN)
    out = tmp_path / "labels.jsonl"
    summary = _export(database, out)
    assert (summary.incidents, summary.present, summary.absent, summary.disputed) == (3, 3, 1, 0)
    records = _records(out)
    assert sorted(records) == ["SC2400263", "SC2400311", "SC2400402"]  # more_info is not a decision
    for record in records.values():
        gold = GoldIncident.model_validate(record)
        assert gold.has_gold and not gold.complete
        for field in ("domestic", "relationship", "reporter"):  # the model's guesses, never labels
            assert field not in record and getattr(gold, field) is None
        for label, quote in gold.evidence.items():
            assert quote in gold.call_log or quote in gold.officer_narrative, (label, quote)
    first = records["SC2400263"]
    assert first["offences"] == ["non_fatal_strangulation"] and first["missed"] == ["non_fatal_strangulation"]
    assert first["known_offences"] == ["common_assault", "non_fatal_strangulation"]  # rejected = absent
    assert first["evidence"] == {"non_fatal_strangulation": "grabbed her by the throat"}  # the flag's span
    assert "hands round the neck" in first["rationale"] and "Covered by a crime recorded" in first["rationale"]
    assert first["reported_at"] == "2024-01-02T03:20:00"
    added = records["SC2400311"]
    # the added offence has no span: no evidence (never the call log's start); harassment and the
    # open malicious_communications flag stay unknown
    assert added["offences"] == ["stalking"] and added["known_offences"] == ["stalking"]
    assert added["evidence"] == {}
    injury = records["SC2400402"]
    # a recorded crime is input, not a label: criminal_damage is neither present nor absent
    assert injury["recorded_crimes"] == ["criminal_damage"]
    assert injury["offences"] == ["assault_with_injury"] and injury["known_offences"] == ["assault_with_injury"]
    assert injury["evidence"] == {"assault_with_injury": "had a bleeding nose"}


def test_disputed_elsewhere_and_contradictory_decisions_stay_unknown(database: Database, tmp_path: Path) -> None:
    made = _decide(database, [
        # recorded elsewhere: the offence happened, so it is not absent here
        (("SC2400263", "common_assault"), "no_crime", {"reason_code": "already_recorded_elsewhere"}),
        (("SC2400263", "non_fatal_strangulation"), "no_crime", {"reason_code": "transferred"}),
        # one offence decided both ways (harassment recorded as malicious_communications, which is rejected)
        (("SC2400311", "harassment"), "record", {"offence": "malicious_communications"}),
        (("SC2400311", "malicious_communications"), "no_crime", {"reason_code": "no_offence_disclosed"}),
        (("SC2400402", "assault_with_injury"), "record", {}),
        (("SC2400517", "criminal_damage"), "no_crime", {"reason_code": "evidence_to_contrary"}),
    ])
    with database.session() as session:
        supervisor, _ = auth.create_user(session, "sue", "supervisor", "another-long-password")
    with database.session() as session:
        decisions.review(session, session.get(User, supervisor.id), made[("SC2400402", "assault_with_injury")],
                         agree=False, note="no injury described")
    out = tmp_path / "labels.jsonl"
    summary = _export(database, out)
    assert (summary.incidents, summary.disputed) == (1, 1)
    records = _records(out)
    assert list(records) == ["SC2400517"]
    assert records["SC2400517"]["offences"] == [] and records["SC2400517"]["known_offences"] == ["criminal_damage"]


def test_export_cli_says_what_it_wrote(db_url: str, tmp_path: Path) -> None:
    database = Database(db_url)
    try:
        _decide(database, PLAN)
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
    assert "wrote 3 incident(s) with decided offences (3 present, 2 absent; 0 disputed" in result.output
    stalking = _records(out)["SC2400311"]
    assert stalking["offences"] == ["stalking"] and stalking["missed"] == ["stalking"]
    assert stalking["known_offences"] == ["stalking", "malicious_communications"]  # taxonomy order
    GoldIncident.model_validate(stalking)


def test_training_takes_the_export_over_the_corpus_on_what_auditors_decided(sqlite_url: str, tmp_path: Path) -> None:
    from secondary_crimes.training_data import DataConfig, assemble

    database = Database(sqlite_url)
    try:
        _decide(database, PLAN)
        out = tmp_path / "labels.jsonl"
        _export(database, out)
    finally:
        database.dispose()
    corpus_labels = {"SC2400263": ["common_assault", "non_fatal_strangulation"], "SC2400311": ["harassment"],
                     "SC2400402": ["criminal_damage"], "SC2400517": ["criminal_damage"]}
    rows = []
    for line in SCORED_V1.read_text(encoding="utf-8").splitlines():
        scored = json.loads(line)
        offences = corpus_labels[scored["incident_id"]]
        recorded = scored["incident"]["recorded_crimes"]
        rows.append({"incident_id": scored["incident_id"], **scored["incident"], "offences": offences,
                     "missed": [o for o in offences if o not in recorded], "domestic": False})
    corpus = tmp_path / "force.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    dataset = assemble(DataConfig(corpus=[str(corpus)], sample=[], extra=[str(out)], synthetic_n=0))
    labels = {i.incident_id: i.offences for i in dataset.incidents}
    assert labels == {
        "SC2400263": ["non_fatal_strangulation"],  # the rejected common_assault is gone
        "SC2400311": ["harassment", "stalking"],  # harassment was not decided: the corpus's label stays
        "SC2400402": ["assault_with_injury", "criminal_damage"],
        "SC2400517": ["criminal_damage"],  # "more information" is not a decision
    }
    assert dataset.resolved == {f"{out} over {corpus}": 3}
    assert all(i.complete and i.domestic is False for i in dataset.incidents)


def _correct(database: Database) -> None:
    """After PLAN: alice corrects SC2400263 (facts, a role, a missed offence, a wrong span) and SC2400517."""
    with database.session() as session:
        user = session.get(User, 1)
        first = session.scalar(select(Incident).where(Incident.incident_id == "SC2400263"))
        start = first.officer_narrative.index("Redness to neck noted")
        corrections.correct_facts(session, user, first, version=0, note="his partner, a neighbour rang",
                                  values={"relationship": "intimate_partner", "reporter": "third_party_public"})
        corrections.correct_role(session, user, first, version=1, person=1, role="witness")
        corrections.add_offence(session, user, first, version=2, offence="assault_with_injury",
                                field_name="officer_narrative", start=start, end=start + 21, note="redness")
        corrections.mark_wrong(session, user, first, version=3, offence="common_assault", field_name="call_log",
                               start=73, end=97)
        # an incident nobody decided (its flag needs more information): corrected only
        school = session.scalar(select(Incident).where(Incident.incident_id == "SC2400517"))
        corrections.correct_facts(session, user, school, version=0, values={"domestic": "false"})


def test_export_hands_the_auditors_corrections_to_training(database: Database, tmp_path: Path) -> None:
    _decide(database, PLAN)
    _correct(database)
    out = tmp_path / "labels.jsonl"
    summary = _export(database, out)
    assert (summary.incidents, summary.present, summary.absent, summary.corrected) == (4, 4, 1, 2)
    records = _records(out)
    first = records["SC2400263"]
    assert "domestic" not in first  # not corrected: the model's call is not a label
    assert (first["relationship"], first["reporter"]) == ("intimate_partner", "third_party_public")
    assert first["offences"] == ["assault_with_injury", "non_fatal_strangulation"]
    assert first["missed"] == first["offences"]
    assert set(first["known_offences"]) == {"assault_with_injury", "common_assault", "non_fatal_strangulation"}
    assert first["evidence"]["assault_with_injury"] == "Redness to neck noted"  # the span the auditor chose
    assert "assault_with_injury missed by the model: redness" in first["rationale"]
    assert first["wrong_evidence"] == [{"offence": "common_assault", "field": "call_log", "start": 73, "end": 97,
                                        "text": "pushed her into the wall"}]
    assert first["roles"] == [{"person": 1, "text": "Jason PLATT", "role": "witness"}]
    school = records["SC2400517"]  # only a fact corrected: no offence decided
    assert (school["domestic"], school["offences"], school["known_offences"]) == (False, [], [])
    assert "relationship" not in school and "reporter" not in school
    for record in records.values():
        GoldIncident.model_validate(record)


def test_training_takes_the_auditors_corrections(sqlite_url: str, tmp_path: Path) -> None:
    from secondary_crimes.training_data import DataConfig, assemble

    database = Database(sqlite_url)
    try:
        _decide(database, PLAN)
        _correct(database)
        out = tmp_path / "labels.jsonl"
        _export(database, out)
    finally:
        database.dispose()
    rows = []
    for line in SCORED_V1.read_text(encoding="utf-8").splitlines():
        scored = json.loads(line)
        rows.append({"incident_id": scored["incident_id"], **scored["incident"], "offences": ["criminal_damage"],
                     "missed": [], "domestic": True, "relationship": "ex_partner", "reporter": "victim"})
    corpus = tmp_path / "force.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    dataset = assemble(DataConfig(corpus=[str(corpus)], sample=[], extra=[str(out)], synthetic_n=0))
    by_id = {i.incident_id: i for i in dataset.incidents}
    first = by_id["SC2400263"]
    assert (first.domestic, first.relationship, first.reporter) == (True, "intimate_partner", "third_party_public")
    assert set(first.offences) == {"assault_with_injury", "non_fatal_strangulation", "criminal_damage"}
    assert first.evidence["assault_with_injury"] == "Redness to neck noted"
    assert (by_id["SC2400517"].domestic, by_id["SC2400517"].relationship) == (False, "ex_partner")
