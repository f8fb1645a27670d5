"""Find and sort (issue 12.12): search, sortable columns, bulk 'no crime: duplicate', London times, names."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from secondary_crimes.queue.display import london
from secondary_crimes.queue.models import AuditEvent, Decision, Flag, Incident

ROW = re.compile(r'<tr data-href="[^"]*" data-incident="([^"]+)" data-flags="[\d ]*">')


def incidents(html: str) -> list[str]:
    return ROW.findall(html)


def total(html: str) -> int:
    return int(re.search(r'<b id="total">(\d+)</b>', html).group(1))


def flag_id(app, incident: str, offence: str) -> int:
    with app.state.db.session() as session:
        return session.scalar(
            select(Flag.id).join(Flag.incident).where(Flag.offence == offence, Incident.incident_id == incident)
        )


def audit(app, action: str) -> list[AuditEvent]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=SC2400311", ["SC2400311"]),
        ("q=sc24003", ["SC2400311"]),
        ("q=jason+platt", ["SC2400263"]),  # a person's name (people and texts)
        ("q=Anita", ["SC2400311"]),
        ("q=by+the+throat", ["SC2400263"]),  # a phrase in the call log
        ("q=%25", []),  # LIKE wildcards are literal
        ("q=_", []),
        ("q=%27%3B+DROP+TABLE+incidents%3B--", []),  # a bound parameter, not SQL
        ("q=throat&domestic=false", []),  # combined with the filters
    ],
)
def test_search_by_id_name_or_phrase(alice, query: str, expected: list[str]) -> None:
    response = alice.get(f"/queue?{query}")
    assert response.status_code == 200, query
    assert incidents(response.text) == expected, query
    assert total(alice.get("/queue").text) == 4  # the table is still there


def test_sort_by_any_column_both_ways(alice) -> None:
    assert incidents(alice.get("/queue?sort=priority").text) == ["SC2400263", "SC2400311", "SC2400402", "SC2400517"]
    assert incidents(alice.get("/queue?sort=priority&dir=asc").text) == [
        "SC2400517", "SC2400402", "SC2400311", "SC2400263",
    ]
    assert incidents(alice.get("/queue?sort=incident&dir=desc").text) == [
        "SC2400517", "SC2400402", "SC2400311", "SC2400263",
    ]
    assert incidents(alice.get("/queue?sort=flags&dir=desc").text)[2:] == ["SC2400402", "SC2400517"]
    for key in ("reported", "opening_code", "domestic", "reporter", "model"):
        for direction in ("asc", "desc"):
            page = alice.get(f"/queue?sort={key}&dir={direction}")
            assert page.status_code == 200 and sorted(incidents(page.text)) == [
                "SC2400263", "SC2400311", "SC2400402", "SC2400517",
            ]
    page = alice.get("/queue?sort=incident&offence=harassment").text
    assert 'href="/queue?offence=harassment&amp;sort=incident&amp;dir=desc"' in page  # the header toggles
    for bad in ("sort=call_log", "sort=id;drop", "dir=sideways"):
        assert alice.get(f"/queue?{bad}").status_code == 422, bad  # only whitelisted columns


def test_bulk_duplicate_decides_each_open_flag_and_is_audited(app, alice) -> None:
    open_flag = flag_id(app, "SC2400311", "harassment")
    alice.post(f"/flags/{open_flag}/decision", {"version": 0, "action": "record"})
    response = alice.client.post(
        "/queue/duplicates",
        data={
            "csrf_token": alice.csrf("/queue"),
            "incident": ["SC2400263", "SC2400311", "SC2400402"],
            "note": "repeat of SC2400100",
            "back": "/queue?sort=incident",
        },
    )
    assert response.status_code == 200 and response.url.query == b"sort=incident"
    assert "No crime (duplicate): 4 flags on 3 incident(s)" in response.text
    assert incidents(response.text) == ["SC2400517"]
    with app.state.db.session() as session:
        made = session.execute(
            select(Flag.offence, Decision.action, Decision.reason_code, Decision.note)
            .join(Decision.flag)
            .where(Decision.reason_code == "duplicate")
            .order_by(Flag.id)
        ).all()
        assert len(made) == 4 and {row[1:] for row in made} == {("no_crime", "duplicate", "repeat of SC2400100")}
        assert session.get(Flag, open_flag).status == "recorded"  # a decided flag is left as it was
    assert len(audit(app, "decide")) == 5  # each bulk decision is logged like a single one
    [bulk] = audit(app, "bulk_no_crime")
    assert bulk.username == "alice" and bulk.detail["incidents"] == ["SC2400263", "SC2400311", "SC2400402"]
    assert "Duplicate: the same report as another incident" in alice.get("/history").text


def test_bulk_duplicate_needs_the_csrf_token_and_a_selection(app, alice) -> None:
    refused = alice.client.post("/queue/duplicates", data={"incident": ["SC2400263"], "csrf_token": "forged"})
    assert refused.status_code == 403
    assert [e.target for e in audit(app, "refused")] == ["/queue/duplicates"]
    assert alice.post("/queue/duplicates", {}).status_code == 400
    with app.state.db.session() as session:
        assert session.scalars(select(Decision)).all() == []


def test_times_are_shown_in_london_with_the_zone(app, alice) -> None:
    assert london(datetime(2024, 7, 3, 13, 5)) == "03 Jul 2024 14:05 BST"
    assert london(datetime(2024, 1, 3, 13, 5)) == "03 Jan 2024 13:05 GMT"
    target = flag_id(app, "SC2400402", "assault_with_injury")
    alice.post(f"/flags/{target}/decision", {"version": 0, "action": "record"})
    with app.state.db.session() as session:
        made = session.scalar(select(Decision.created_at))
        reported = session.scalar(select(Incident.reported_at).where(Incident.incident_id == "SC2400402"))
    assert london(made) in alice.get("/history").text
    assert re.search(r"\d\d \w{3} \d{4} \d\d:\d\d (GMT|BST)", alice.get("/incidents/SC2400402").text)
    assert f"{reported:%d %b %Y %H:%M} GMT" in alice.get("/queue?status=all").text  # wall-clock, winter


def test_offence_names_not_labels_in_messages_and_history(app, alice, bob) -> None:
    target = flag_id(app, "SC2400263", "common_assault")
    form = {"version": 0, "action": "record", "offence": "assault_with_injury"}
    saved = alice.post(f"/flags/{target}/decision", form)
    assert "Saved: SC2400263 Common assault (battery) — record as Assault with injury (ABH or worse)." in saved.text
    conflict = bob.post(f"/flags/{target}/decision", {"version": 0, "action": "more_info"})
    assert conflict.status_code == 409 and "Common assault (battery) — record as Assault with injury" in conflict.text
    history = alice.get("/history").text
    assert "Common assault (battery)" in history and "Assault with injury (ABH or worse)" in history
    assert "common_assault" not in re.sub(r"<[^>]+>", "", history)
