"""The progress dashboard (issue 12.13): per auditor, per offence, confirmation rate, agreement."""

from __future__ import annotations

import re

from sqlalchemy import select

from secondary_crimes.queue.models import AuditEvent, Flag, Incident


def flag_id(app, incident: str, offence: str) -> int:
    with app.state.db.session() as session:
        return session.scalar(
            select(Flag.id).join(Flag.incident).where(Flag.offence == offence, Incident.incident_id == incident)
        )


def cells(page: str, table: str, key: str, value: str) -> list[str]:
    body = re.search(rf'<table class="queue" id="{table}">.*?</table>', page, re.S)[0]
    row = re.search(rf'<tr data-{key}="{value}">(.*?)</tr>', body, re.S)[1]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_dashboard_counts_decisions_confirmation_and_agreement(app, alice, bob, sue) -> None:
    before = sue.get("/dashboard").text
    assert cells(before, "by-auditor", "auditor", "alice") == ["alice", "0", "0", "0", "0", "0", "0"]
    assert cells(before, "by-offence", "offence", "harassment") == [
        "Harassment", "1", "0", "0", "0", "0", "0", "—",
    ]
    strangle = flag_id(app, "SC2400263", "non_fatal_strangulation")
    assault = flag_id(app, "SC2400263", "common_assault")
    harassment = flag_id(app, "SC2400311", "harassment")
    alice.post(f"/flags/{strangle}/decision", {"version": 0, "action": "record"})
    alice.post(f"/flags/{assault}/decision", {"version": 0, "action": "record", "offence": "assault_with_injury"})
    bob.post(f"/flags/{harassment}/decision", {"version": 0, "action": "more_info"})
    rejected = {"version": 1, "action": "no_crime", "reason_code": "evidence_to_contrary"}
    bob.post(f"/flags/{harassment}/decision", rejected)
    page = sue.get("/supervisor").text
    for decision in re.findall(r'action="/decisions/(\d+)/review"', page):
        agree = "no" if decision == "4" else "yes"  # bob's "no crime" is disputed
        sue.post(f"/decisions/{decision}/review", {"agree": agree}, csrf_from="/supervisor")
    page = sue.get("/dashboard").text
    assert cells(page, "by-auditor", "auditor", "alice") == ["alice", "2", "0", "0", "2", "0", "0"]
    assert cells(page, "by-auditor", "auditor", "bob") == ["bob", "1", "0", "0", "2", "0", "0"]  # one superseded
    assert cells(page, "by-offence", "offence", "non_fatal_strangulation")[1:] == ["0", "0", "1", "1", "0", "0", "100%"]
    assert cells(page, "by-offence", "offence", "common_assault")[1:] == ["0", "0", "1", "0", "1", "0", "0%"]
    assert cells(page, "by-offence", "offence", "harassment")[1:] == ["0", "0", "1", "0", "0", "1", "0%"]
    assert "Non-fatal strangulation or suffocation" in page
    agreement = re.search(r'<table class="queue" id="agreement">.*?</table>', page, re.S)[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", agreement))
    assert "alice 2 2 100%" in text and "bob 2 1 50%" in text and "All 4 3 75%" in text


def test_dashboard_is_for_supervisors_and_its_views_are_logged(app, alice, sue) -> None:
    assert alice.get("/dashboard").status_code == 403
    assert sue.get("/dashboard").status_code == 200
    with app.state.db.session() as session:
        events = session.execute(
            select(AuditEvent.username, AuditEvent.action)
            .where(AuditEvent.target == "/dashboard")
            .order_by(AuditEvent.id)
        ).all()
    assert events == [("alice", "refused"), ("sue", "view")]
    assert 'href="/dashboard"' in sue.get("/queue").text and 'href="/dashboard"' not in alice.get("/queue").text
