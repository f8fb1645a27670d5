"""Courses of conduct in the queue (issue 14.3): a series' timeline, one decision for the series, roles,
the audit log; the person store seen only by supervisors (issue 14.5). SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from secondary_crimes.queue.export import export_file
from secondary_crimes.queue.load import LoadError, load_file
from secondary_crimes.queue.models import (
    AuditEvent,
    Decision,
    LinkIncident,
    LinkParty,
    LinkPerson,
    Series,
    SeriesDecision,
    SeriesFlag,
)

DATA = Path(__file__).parent / "data"
RUN1 = DATA / "scored_series_run1.jsonl"  # T-101, T-201, T-102: a stalking series of two so far
RUN2 = DATA / "scored_series_run2.jsonl"  # T-103, scored later, linked to both through the person store
PAGE = "/series/series-T-101"


def _load(app, *paths: Path) -> None:
    with app.state.db.session() as session:
        for path in paths:
            load_file(session, path)


def _series(app) -> tuple[Series, list[tuple]]:
    """The series and its flags' (offence, status, active, occasions, version)."""
    with app.state.db.session() as session:
        row = session.scalar(select(Series).where(Series.series_id == "series-T-101"))
        return row, [(f.offence, f.status, f.active, f.occasions, f.version) for f in row.flags]


def _audited(app, action: str) -> list[AuditEvent]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _decide(browser, version: int = 0, flag_id: int = 1, **form):
    data = {"version": str(version), "action": "record", "offence": "stalking", "note": "", **form}
    return browser.post(f"/series-flags/{flag_id}/decision", data, csrf_from=PAGE, follow_redirects=False)


def test_a_series_grows_as_later_runs_are_loaded(app) -> None:
    _load(app, RUN1)
    row, flags = _series(app)
    assert row.incident_ids == ["T-101", "T-102"] and flags == [("stalking", "open", True, 2, 0)]
    _load(app, RUN2)
    row, flags = _series(app)
    assert row.incident_ids == ["T-101", "T-102", "T-103"] and flags == [("stalking", "open", True, 3, 0)]
    assert (row.first_reported_at.date().isoformat(), row.last_reported_at.date().isoformat()) == (
        "2024-01-05", "2024-02-02")
    _load(app, RUN1, RUN2)  # an earlier run again does not shrink it; the same file twice changes nothing
    again, again_flags = _series(app)
    assert (again.incident_ids, again.updated_at, again_flags) == (row.incident_ids, row.updated_at, flags)
    assert [(e.detail["series_added"], e.detail["series_updated"]) for e in _audited(app, "load_series")] == [
        (1, 0), (0, 1)]


def test_a_decided_series_flag_reopens_when_a_later_load_adds_incidents(app, alice, bob, tmp_path) -> None:
    _load(app, RUN1)  # T-101, T-102
    assert _decide(alice, note="two visits").status_code == 303
    assert _series(app)[1] == [("stalking", "recorded", True, 2, 1)]
    _load(app, RUN1)  # the same incidents again: the decision stands
    assert _series(app)[1] == [("stalking", "recorded", True, 2, 1)] and not _audited(app, "reopen_series_flag")
    _load(app, RUN2)  # T-103 joins the series
    assert _series(app)[1] == [("stalking", "open", True, 3, 2)]  # a new version, open
    (event,) = _audited(app, "reopen_series_flag")
    assert event.username.startswith("cli:") and event.target == "series_flag:1"
    assert (event.detail["previous_status"], event.detail["decision_id"], event.detail["decided_incidents"],
            event.detail["added_incidents"], event.detail["version"]) == (
        "recorded", 1, ["T-101", "T-102"], ["T-103"], 2)
    assert _audited(app, "load_series")[-1].detail["flags_reopened"] == 1
    with app.state.db.session() as session:  # the earlier decision is kept
        (kept,) = session.scalars(select(SeriesDecision))
        assert (kept.action, kept.incident_ids, kept.note) == ("record", ["T-101", "T-102"], "two visits")
    page = alice.get(PAGE).text
    assert "Reopened: T-103 joined the series after the last decision (made on 2 incidents)" in page
    assert "two visits" in page and 'data-series="series-T-101"' in alice.get("/series").text.split(
        'id="open-series"')[1].split("</table>")[0]
    assert 'data-series-decision="1"' in alice.get("/history").text
    stale = _decide(bob, version=1)  # a form loaded before the reopening
    assert stale.status_code == 409
    # Until decided again, the export keeps the earlier decision for the incidents it was made on.
    records, _ = _export(app, tmp_path)
    assert list(records) == ["T-102"]
    assert _decide(bob, version=2, note="three visits").status_code == 303
    assert _series(app)[1] == [("stalking", "recorded", True, 3, 3)]
    assert sorted(_export(app, tmp_path)[0]) == ["T-102", "T-103"]


def test_the_timeline_lists_the_incidents_in_date_order_with_their_evidence(app, alice) -> None:
    _load(app, RUN2, RUN1)  # loaded out of order
    page = alice.get(PAGE)
    assert page.status_code == 200
    assert re.findall(r'data-incident="([^"]+)"', page.text) == ["T-101", "T-102", "T-103"]
    for quote in ("30 texts", "turned up at her door", "sat outside"):
        assert f"<q>{quote}</q>" in page.text
    assert '<mark class="ev' in page.text and ">sat outside</mark>" in page.text  # highlighted in its call log
    assert "one decision for the whole series" in page.text and 'action="/series-flags/1/decision"' in page.text
    assert "People in this series" not in page.text  # the person store's link: supervisors only
    assert [e.target for e in _audited(app, "view") if e.username == "alice"][-1] == PAGE
    listing = alice.get("/series")
    assert 'data-series="series-T-101"' in listing.text and "Stalking" in listing.text


def test_an_auditor_decides_the_series_once(app, alice, bob) -> None:
    _load(app, RUN1, RUN2)
    response = _decide(alice, note="three visits, one course of conduct")
    assert response.status_code == 303 and response.headers["location"] == PAGE
    with app.state.db.session() as session:
        (decision,) = session.scalars(select(SeriesDecision))
        assert (decision.action, decision.offence, decision.flag_version) == ("record", "stalking", 1)
        assert decision.incident_ids == ["T-101", "T-102", "T-103"]
        assert session.scalar(select(func.count()).select_from(Decision)) == 0  # not one per incident
    assert _series(app)[1] == [("stalking", "recorded", True, 3, 1)]
    (event,) = _audited(app, "decide_series")
    assert event.username == "alice" and event.target == "series_flag:1"
    assert event.detail["series"] == "series-T-101" and event.detail["incidents"] == ["T-101", "T-102", "T-103"]
    page = alice.get(PAGE).text
    assert "Saved for the whole series series-T-101: Stalking" in page and "three visits" in page

    stale = _decide(bob, action="no_crime", reason_code="duplicate")  # bob loaded version 0
    assert stale.status_code == 409 and "alice decided this flag" in stale.text and "NOT saved" in stale.text
    assert _audited(app, "decide_series_conflict")[0].username == "bob"
    refused = _decide(bob, version=1, action="no_crime")  # no reason given
    assert refused.status_code == 400 and "choose a reason" in refused.text
    assert _audited(app, "decide_series_rejected")
    again = _decide(bob, version=1, action="no_crime", reason_code="duplicate")  # a later decision supersedes
    assert again.status_code == 303 and _series(app)[1] == [("stalking", "no_crime", True, 3, 2)]
    _load(app, RUN2)  # a re-load never changes a decision or a status
    assert _series(app)[1] == [("stalking", "no_crime", True, 3, 2)]


def test_the_incident_page_and_the_navigation_lead_to_the_series(app, alice) -> None:
    _load(app, RUN1, RUN2)
    page = alice.get("/incidents/T-102").text
    (link,) = re.findall(r'<p class="series-link" data-series="([^"]+)">(.*?)</p>', page, re.S)
    assert link[0] == "series-T-101" and 'href="/series/series-T-101"' in link[1]
    assert "3 incidents, this one 2 of them" in link[1] and "Stalking" in link[1] and "open" in link[1]
    assert 'class="series-link"' not in alice.get("/incidents/T-201").text  # the other ASHBY: in no series
    assert 'href="/series"' in alice.get("/queue").text  # the navigation bar
    listing = alice.get("/series").text
    opened = re.search(r'<table class="queue series-list" id="open-series">.*?</table>', listing, re.S)[0]
    assert 'data-series="series-T-101"' in opened and 'id="other-series"' not in listing
    assert _decide(alice).status_code == 303
    listing = alice.get("/series").text
    assert "No series has an open flag." in listing
    decided = re.search(r'<table class="queue series-list" id="other-series">.*?</table>', listing, re.S)[0]
    assert 'data-series="series-T-101"' in decided and "recorded" in decided


def test_deciding_needs_a_session_and_the_forms_token(app, anon, alice) -> None:
    _load(app, RUN1, RUN2)
    assert anon.get(PAGE, follow_redirects=False).headers["location"].startswith("/login")
    forged = alice.client.post("/series-flags/1/decision", data={"version": "0", "action": "record"})
    assert forged.status_code == 403 and _series(app)[1][0][1] == "open"


def _store_people(app) -> None:
    """What the linking pass stores (link/store.py), written here directly: one person in two incidents."""
    with app.state.db.session() as session:
        person = LinkPerson(person_id="P-0123456789abcdef")
        session.add(person)
        for incident_id, when in (("T-101", "2024-01-05T21:10:00"), ("T-103", "2024-02-02T20:40:00")):
            row = LinkIncident(incident_id=incident_id, recorded_crimes=[], occasion={"reported_at": when},
                               series_id="series-T-101")
            row.parties = [LinkParty(position=0, person=person, kind="person", forename="kerry", surname="ashby",
                                     role="victim", perpetrator=False, text="Kerry ASHBY",
                                     identifiers={"phones": ["07700900555"]})]
            session.add(row)


def test_the_person_store_is_for_supervisors_and_every_view_is_logged(app, alice, sue) -> None:
    _load(app, RUN1, RUN2)
    _store_people(app)
    path = "/series-people/series-T-101"
    refused = alice.get(path)
    assert refused.status_code == 403 and "07700900555" not in refused.text
    assert [(e.username, e.target) for e in _audited(app, "refused")] == [("alice", path)]
    assert 'id="people"' in sue.get(PAGE).text
    page = sue.get(path)
    assert page.status_code == 200 and "P-0123456789abcdef" in page.text and "07700900555" in page.text
    assert ("sue", path) in [(e.username, e.target) for e in _audited(app, "view")]


def test_series_decisions_are_append_only_and_exported_without_series_or_people(app, alice, tmp_path) -> None:
    _load(app, RUN1, RUN2)
    _store_people(app)
    assert _decide(alice).status_code == 303
    with pytest.raises(DBAPIError, match="append-only"), app.state.db.engine.begin() as connection:
        connection.execute(text("UPDATE series_decisions SET note = 'rewritten'"))
    with pytest.raises(DBAPIError, match="append-only"), app.state.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM series_decisions"))
    out = tmp_path / "labels.jsonl"
    with app.state.db.session() as session:
        export_file(session, out)
        assert session.scalar(select(func.count()).select_from(SeriesFlag)) == 1
    exported = out.read_text(encoding="utf-8")
    assert "series" not in exported and "P-0123456789abcdef" not in exported and "07700900555" not in exported
    assert sorted(json.loads(line)["incident_id"] for line in exported.splitlines()) == ["T-102", "T-103"]


def _export(app, tmp_path: Path) -> tuple[dict[str, dict], dict]:
    out = tmp_path / "labels.jsonl"
    with app.state.db.session() as session:
        summary = export_file(session, out)
    records = {r["incident_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    return records, summary.__dict__


def test_a_confirmed_series_flag_labels_each_incident_that_carries_the_offence(app, alice, tmp_path) -> None:
    _load(app, RUN1, RUN2)  # T-102 (in run 1) and T-103 (run 2) carry stalking; T-101 starts the series
    assert _series_flag(app).carried_by == ["T-102", "T-103"]
    assert _decide(alice, note="three visits").status_code == 303
    records, summary = _export(app, tmp_path)
    assert sorted(records) == ["T-102", "T-103"]
    for incident_id, quote in (("T-102", "turned up at her door"), ("T-103", "sat outside")):
        record = records[incident_id]
        assert (record["offences"], record["missed"], record["known_offences"]) == (["stalking"], ["stalking"],
                                                                                   ["stalking"])
        assert record["evidence"] == {"stalking": quote}  # the incident's own span
        assert "a course of conduct over 3 incidents" in record["rationale"] and "three visits" in record["rationale"]
    assert (summary["series"], summary["present"], summary["absent"]) == (2, 2, 0)


def test_a_rejected_series_flag_labels_only_the_incidents_known_to_carry_it(app, alice, bob, sue, tmp_path) -> None:
    _load(app, RUN2)  # run 1 never loaded: only T-103 is known to carry stalking
    assert _series_flag(app).carried_by == ["T-103"]
    assert _decide(alice, action="no_crime", reason_code="duplicate").status_code == 303
    assert _export(app, tmp_path)[0] == {}  # "no crime" because it belongs elsewhere: unknown, not absent
    assert _decide(bob, version=1, action="no_crime", reason_code="no_offence_disclosed").status_code == 303
    records, _ = _export(app, tmp_path)
    assert list(records) == ["T-103"]
    assert (records["T-103"]["offences"], records["T-103"]["known_offences"]) == ([], ["stalking"])
    assert sue.post("/series-decisions/2/review", {"agree": "no"}, csrf_from="/supervisor",
                    follow_redirects=False).status_code == 303
    records, summary = _export(app, tmp_path)  # disputed: left out
    assert records == {} and summary["disputed"] == 1


def test_a_series_flag_recorded_as_another_offence_labels_the_flags_incident(app, alice, tmp_path) -> None:
    _load(app, RUN1, RUN2)
    assert _decide(alice, offence="harassment").status_code == 303
    records, _ = _export(app, tmp_path)
    assert list(records) == ["T-103"]  # the series' latest when decided; stalking left unknown
    assert (records["T-103"]["offences"], records["T-103"]["known_offences"]) == (["harassment"], ["harassment"])
    assert records["T-103"]["evidence"] == {}


def _series_flag(app) -> SeriesFlag:
    with app.state.db.session() as session:
        return session.scalar(select(SeriesFlag))


def _cells(page: str, table: str, key: str, value: str) -> list[str]:
    body = re.search(rf'<table class="queue" id="{table}">.*?</table>', page, re.S)[0]
    row = re.search(rf'<tr data-{key}="{value}">(.*?)</tr>', body, re.S)[1]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_series_decisions_in_history_second_check_and_dashboard(app, alice, bob, sue) -> None:
    _load(app, RUN1, RUN2)
    assert _decide(alice, note="three visits").status_code == 303
    mine = alice.get("/history").text
    row = re.search(r'<tr data-series-decision="1">(.*?)</tr>', mine, re.S)[1]
    assert 'href="/series/series-T-101#series-flag-1"' in row and "record Stalking" in row and "three visits" in row
    assert re.search(r'<td class="num"[^>]*>3</td>', row)  # the incidents it was made on
    assert "No series decisions yet." in bob.get("/history").text
    assert 'data-series-decision="1"' in sue.get("/history/alice").text
    assert bob.get("/history/alice").status_code == 403

    page = sue.get("/supervisor").text
    assert 'action="/series-decisions/1/review"' in page and "for 3 incidents (T-101, T-102, T-103)" in page
    path = "/series-decisions/1/review"
    refused = alice.post(path, {"agree": "yes"}, follow_redirects=False)  # an auditor cannot second-check
    assert refused.status_code == 403 and ("alice", path) in [(e.username, e.target) for e in _audited(app, "refused")]
    checked = sue.post(path, {"agree": "no", "note": "one visit was a delivery"}, csrf_from="/supervisor",
                       follow_redirects=False)
    assert checked.status_code == 303
    (event,) = _audited(app, "review_series")
    assert (event.username, event.target, event.detail["agree"], event.detail["auditor"], event.detail["series"]) == (
        "sue", "series_decision:1", False, "alice", "series-T-101")
    again = sue.post(path, {"agree": "yes"}, csrf_from="/supervisor", follow_redirects=False)
    assert again.status_code == 409 and "series decision 1 was already second-checked" in again.text
    assert _audited(app, "review_series_conflict")[0].username == "sue"
    assert 'action="/series-decisions/1/review"' not in sue.get("/supervisor").text  # checked once
    assert "disagreed: one visit was a delivery" in alice.get("/history").text
    with pytest.raises(DBAPIError, match="append-only"), app.state.db.engine.begin() as connection:
        connection.execute(text("UPDATE series_reviews SET agree = true"))

    assert _decide(sue, version=1, action="more_info").status_code == 303  # her own: not hers to check
    own = sue.post("/series-decisions/2/review", {"agree": "yes"}, csrf_from="/supervisor", follow_redirects=False)
    assert own.status_code == 400 and "your own decision" in own.text

    dashboard = sue.get("/dashboard").text
    assert _cells(dashboard, "by-auditor", "auditor", "alice")[5:] == ["0", "1"]  # superseded by sue's
    assert _cells(dashboard, "by-auditor", "auditor", "sue")[5:] == ["0", "1"]  # more information: not decided
    assert _cells(dashboard, "by-series-offence", "offence", "stalking") == [
        "Stalking", "0", "1", "0", "0", "0", "0", "—"]
    agreement = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(
        r'<table class="queue" id="agreement">.*?</table>', dashboard, re.S)[0]))
    assert "alice 1 0 0%" in agreement and "All 1 0 0%" in agreement


def test_a_series_id_too_long_for_the_queue_is_refused_naming_the_incident(app, tmp_path) -> None:
    lines = RUN2.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["course_of_conduct"][0]["series_id"] = "series-" + "x" * 100
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(LoadError, match="incident T-103: course_of_conduct: series_id"), app.state.db.session() as s:
        load_file(s, bad)
    with app.state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Series)) == 0  # the load was rolled back
