"""The person store: a series split across two scoring runs is one series (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from secondary_crimes.link.run import link_batch
from secondary_crimes.link.store import PersonStore, store_url
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.models import AuditEvent, LinkIncident, LinkKey, LinkParty, LinkPerson
from secondary_crimes.score_link import link_scored

try:
    from tests.link.conftest import ASHBY_OTHER, NOISE_1, NOISE_2, PLATT_1, PLATT_2, PLATT_3, PLATT_OTHER
except ImportError:  # `pytest` puts tests/link itself on sys.path
    from conftest import ASHBY_OTHER, NOISE_1, NOISE_2, PLATT_1, PLATT_2, PLATT_3, PLATT_OTHER

FIRST = [PLATT_1, ASHBY_OTHER, NOISE_1, PLATT_2]
SECOND = [PLATT_OTHER, NOISE_2, PLATT_3]


def _link(db_url: str, batch, extractions):
    with PersonStore(db_url) as store:
        return link_batch(batch, [extractions[i.incident_id] for i in batch], store=store)


def _counts(db_url: str) -> dict[str, int]:
    database = Database(db_url)
    try:
        with database.session() as session:
            return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                    for model in (LinkIncident, LinkParty, LinkPerson, LinkKey)}
    finally:
        database.dispose()


def test_a_series_split_across_two_runs_is_linked(db_url, extractions, linked) -> None:
    one = _link(db_url, FIRST, extractions)
    assert one.linked["T-102"] == ["T-101"] and one.stored["earlier_incidents"] == 0
    two = _link(db_url, SECOND, extractions)
    assert two.linked["T-103"] == ["T-101", "T-102"]  # both from the first run
    assert two.record("T-202")["linked"] == two.record("T-302")["linked"] == []  # the other PLATT, the noise
    assert two.stored["earlier_incidents"] >= 2 and two.stored["stored_incidents"] == 3
    (flag,) = two.flags["T-103"]
    assert flag.series_id == one.series[0].series_id == "series-T-101"
    assert [e["incident_id"] for e in flag.evidence] == ["T-101", "T-102", "T-103"]
    assert set(two.flags) <= {i.incident_id for i in SECOND}  # only this run's incidents are annotated
    # The same as linking all seven incidents at once.
    assert two.record("T-103") == linked.record("T-103")

    database = Database(db_url)
    try:
        with database.session() as session:
            rows = {row.incident_id: row for row in session.scalars(select(LinkIncident))}
            assert {i for i, row in rows.items() if row.series_id == "series-T-101"} == {"T-101", "T-102", "T-103"}
            kerry = {p.incident.incident_id: p.person for p in session.scalars(select(LinkParty))
                     if (p.forename, p.surname) == ("kerry", "ashby")}
            people = {person.person_id for person in kerry.values()}
            assert set(kerry) == {"T-101", "T-102", "T-103"} and len(people) == 1  # one pseudonymous person
            person = kerry["T-103"]
            assert person.person_id.startswith("P-") and "ashby" not in person.person_id.lower()
            assert (person.first_seen.date().isoformat(), person.last_seen.date().isoformat()) == (
                "2024-01-05", "2024-02-02")
            events = [(e.action, e.username.startswith("cli:")) for e in session.scalars(
                select(AuditEvent).order_by(AuditEvent.id))]
            assert events == [("link_store_read", True), ("link_store_write", True)] * 2
    finally:
        database.dispose()


def test_linking_a_run_again_changes_nothing(db_url, extractions) -> None:
    _link(db_url, FIRST, extractions)
    two = _link(db_url, SECOND, extractions)
    counts = _counts(db_url)
    again = _link(db_url, SECOND, extractions)  # a resumed run links its output again
    assert again.record("T-103") == two.record("T-103") and _counts(db_url) == counts


def test_the_score_pass_uses_the_store_setting(tmp_path: Path, db_url, monkeypatch) -> None:
    """`score`'s linking pass (score_link.link_scored) with env SECONDARY_CRIMES_LINK_STORE."""
    monkeypatch.setenv("SECONDARY_CRIMES_LINK_STORE", db_url)
    assert store_url() == db_url and store_url("") is None
    outputs = []
    for n, batch in enumerate((FIRST, SECOND)):
        path = tmp_path / f"run{n}.jsonl"
        rows = [{"incident_id": i.incident_id, "incident": i.model_dump(mode="json"), "offences": []} for i in batch]
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        counts = link_scored(path, path, max_evidence=3)
        outputs.append({r["incident_id"]: r for r in map(json.loads, path.read_text().splitlines())})
    assert counts["stored_incidents"] == 3 and counts["series"] == 1 and counts["missed_conduct_flags"] == 1
    assert outputs[1]["T-103"]["linked"] == ["T-101", "T-102"]
    assert "person" not in json.dumps(outputs[1]).lower()  # no person ids or store rows in scored output


def test_the_store_setting(monkeypatch, settings_env) -> None:
    monkeypatch.delenv("SECONDARY_CRIMES_LINK_STORE", raising=False)
    assert store_url() is None  # off by default: nothing is stored unless asked
    settings_env(link_store="queue", queue_database_url="sqlite:///elsewhere.db")
    assert store_url() == "sqlite:///elsewhere.db"  # the queue's database


def test_the_store_is_a_setting_a_user_file_can_turn_on(monkeypatch, tmp_path) -> None:
    from secondary_crimes.settings import ENV_FILE, get_settings

    monkeypatch.delenv("SECONDARY_CRIMES_LINK_STORE", raising=False)
    path = tmp_path / "mine.yaml"
    path.write_text(f"link_store: sqlite:///{tmp_path / 'people.db'}\n", encoding="utf-8")
    monkeypatch.setenv(ENV_FILE, str(path))
    get_settings.cache_clear()
    try:
        assert store_url() == f"sqlite:///{tmp_path / 'people.db'}"
    finally:
        get_settings.cache_clear()
