"""The web app over real HTTP (TestClient) on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from secondary_crimes.queue import queries
from secondary_crimes.queue.app import create_app
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import AuditEvent, Decision, Flag, Incident

ROW = re.compile(r'<tr data-href="[^"]*" data-incident="([^"]+)" data-flags="([\d ]*)">')


def rows(html: str) -> list[tuple[str, list[int]]]:
    """The queue's rows: (incident id, its flag ids), one per incident."""
    return [(incident, [int(f) for f in flags.split()]) for incident, flags in ROW.findall(html)]


def incidents(html: str) -> list[str]:
    return [incident for incident, _ in rows(html)]


def total(html: str) -> int:
    return int(re.search(r'<b id="total">(\d+)</b>', html).group(1))


def flag_id(app, incident: str, offence: str) -> int:
    with app.state.db.session() as session:
        return session.scalar(
            select(Flag.id).join(Flag.incident).where(Flag.offence == offence, Flag.incident.has(incident_id=incident))
        )


def audit(app, action: str) -> list[AuditEvent]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- access -------------------------------------------------------------------------------------


def test_pages_need_a_login_and_remember_where_you_were(anon) -> None:
    response = anon.get("/incidents/SC2400263?flag=1", follow_redirects=False)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/login" and parse_qs(target.query)["next"] == ["/incidents/SC2400263?flag=1"]
    assert (
        anon.client.post(
            "/flags/1/decision", data={"version": 0, "action": "record"}, follow_redirects=False
        ).status_code
        == 403
    )  # no session, no CSRF token


def test_wrong_password_is_refused_and_logged(app, anon) -> None:
    response = anon.login("alice", "not-the-password")
    assert response.status_code == 401 and "wrong password" in response.text
    assert response.url.path == "/login"
    failed = audit(app, "login_failed")
    assert [(e.username, e.user_id) for e in failed] == [("alice", None)]


def test_repeated_failures_lock_the_account_for_a_while(app, anon) -> None:
    for _ in range(5):
        assert anon.login("bob", "guess-guess-guess").status_code == 401
    response = anon.login("bob")  # the right password, but locked
    assert response.status_code == 429 and "Too many failed attempts" in response.text
    assert anon.login("alice").status_code == 200  # other accounts are unaffected
    assert len(audit(app, "login_locked")) == 1


def test_login_requires_csrf_token(anon) -> None:
    anon.get("/login")
    response = anon.client.post("/login", data={"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 403 and "CSRF" in response.text


def test_open_redirects_are_refused(anon) -> None:
    response = anon.client.post(
        "/login",
        data={
            "username": "alice",
            "password": "correct-horse-battery",
            "csrf_token": anon.csrf(),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/queue"


def test_session_cookie_and_security_headers(db_url: str) -> None:
    app = create_app(db_url, secret_key="k" * 40, secure_cookies=True)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            response = client.get("/login")
            cookie = response.headers["set-cookie"].lower()
            assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
            assert response.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["strict-transport-security"].startswith("max-age=")
    finally:
        app.state.db.dispose()


def test_logout_ends_the_session(alice) -> None:
    response = alice.post("/logout", {})
    assert response.url.path == "/login"
    assert alice.get("/queue", follow_redirects=False).status_code == 303


def test_roles(alice, sue, ada) -> None:
    for path in ("/supervisor", "/audit", "/history/bob"):
        assert alice.get(path).status_code == 403, path
    assert sue.get("/supervisor").status_code == 200
    assert sue.get("/history/alice").status_code == 200
    assert sue.get("/audit").status_code == 403
    assert ada.get("/audit").status_code == 200


# --- the queue ----------------------------------------------------------------------------------


def test_queue_orders_by_review_priority_and_counts(alice) -> None:
    page = alice.get("/queue").text
    assert total(page) == 4
    assert incidents(page) == ["SC2400263", "SC2400311", "SC2400402", "SC2400517"]
    assert re.search(r"<b>4</b> open", page)


def test_one_row_per_incident_with_all_its_flags(app, alice) -> None:
    page = alice.get("/queue").text
    strangulation = flag_id(app, "SC2400263", "non_fatal_strangulation")
    assault = flag_id(app, "SC2400263", "common_assault")
    assert dict(rows(page))["SC2400263"] == sorted([strangulation, assault])
    row = re.search(r'<tr [^>]*data-incident="SC2400263".*?</tr>', page, re.S)[0]
    assert "Non-fatal strangulation or suffocation" in row and "Common assault (battery)" in row and ">0.91<" in row
    assert "non_fatal_strangulation</span>" not in row  # names, not labels
    href = re.search(r'data-href="([^"]+)"', row)[1].replace("&amp;", "&")
    assert href.startswith("/incidents/SC2400263?back=") and "flag=" not in href
    incident = alice.get(href).text
    assert incident.count('class="decide"') == 2  # both flags decided on one page
    # Deciding one flag keeps the auditor on the incident; the incident stays in the queue until both are.
    first = alice.post(f"/flags/{strangulation}/decision", {"version": 0, "action": "record", "back": "/queue"})
    assert first.url.path == "/incidents/SC2400263" and "Saved: SC2400263 Non-fatal strangulation" in first.text
    assert "SC2400263" in incidents(alice.get("/queue").text)
    second = alice.post(
        f"/flags/{assault}/decision",
        {"version": 0, "action": "no_crime", "reason_code": "covered_by_recorded_crime", "back": "/queue"},
    )
    assert second.url.path == "/queue" and "SC2400263" not in incidents(second.text) and total(second.text) == 3


FILTER_CASES = [
    ("offence=harassment", {"SC2400311"}),
    ("domestic=true", {"SC2400263", "SC2400517"}),
    ("domestic=false", {"SC2400311"}),
    ("reporter=third_party_professional", {"SC2400517"}),
    ("date_from=2024-01-05&date_to=2024-02-11", {"SC2400311", "SC2400402"}),
    ("date_to=2024-01-02", {"SC2400263"}),
    ("model_version=baseline-20261123T1130", {"SC2400263", "SC2400311", "SC2400402", "SC2400517"}),
    ("model_version=other", set()),
    ("status=recorded", set()),
    (
        "offence=&domestic=&reporter=&date_from=&date_to=&status=&model_version=",
        {"SC2400263", "SC2400311", "SC2400402", "SC2400517"},
    ),
]


def test_queue_filters(alice) -> None:
    for query, expected in FILTER_CASES:
        response = alice.get(f"/queue?{query}")
        assert response.status_code == 200, query
        assert set(incidents(response.text)) == expected, query


def test_bad_filters_get_a_page_not_a_crash(alice) -> None:
    response = alice.get("/queue?date_from=yesterday")
    assert response.status_code == 422 and "date_from" in response.text and "<html" in response.text


def test_queue_pages(alice, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    first, second = alice.get("/queue").text, alice.get("/queue?page=2").text
    assert len(rows(first)) == 3 and len(rows(second)) == 1
    assert not set(incidents(first)) & set(incidents(second))
    assert 'rel="next" href="/queue?page=2"' in first and "page 2 of 2" in second
    assert rows(alice.get("/queue?page=99").text) == rows(second)  # clamped to the last page


def test_incident_page_shows_texts_highlights_people_and_forms(alice) -> None:
    page = alice.get("/incidents/SC2400263").text
    for offence, quote in [
        ("non_fatal_strangulation", "grabbed her by the throat"),
        ("common_assault", "pushed her into the wall"),
        ("non_fatal_strangulation", "put both hands round her neck"),
    ]:
        assert re.search(rf'<mark class="ev h\d+" data-offences="{offence}"[^>]*>{quote}</mark>', page), quote
    assert "Jason PLATT" in page and "suspect" in page and "ex partner" in page
    assert page.count('class="decide"') == 2 and page.count('name="csrf_token"') >= 3
    assert alice.get("/incidents/NOPE").status_code == 404


def test_texts_are_escaped(app, alice) -> None:
    with app.state.db.session() as session:
        incident = session.scalar(select(Incident).where(Incident.incident_id == "SC2400517"))
        incident.officer_narrative = "<script>alert(1)</script>"
    page = alice.get("/incidents/SC2400517").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- decisions ----------------------------------------------------------------------------------


def test_record_leaves_the_queue_and_is_audited(app, alice) -> None:
    target = flag_id(app, "SC2400402", "assault_with_injury")
    response = alice.post(
        f"/flags/{target}/decision",
        {"version": 0, "action": "record", "note": "ABH: nose", "back": "/queue?domestic=false"},
    )
    assert response.url.path == "/queue" and response.url.query == b"domestic=false"
    assert "Saved: SC2400402 Assault with injury (ABH or worse) — record." in response.text
    queue = alice.get("/queue").text
    assert "SC2400402" not in incidents(queue) and total(queue) == 3
    assert incidents(alice.get("/queue?status=recorded").text) == ["SC2400402"]
    decided = audit(app, "decide")
    assert [(e.username, e.target, e.detail["decision"]) for e in decided] == [("alice", f"flag:{target}", "record")]
    views = [e.target for e in audit(app, "view")]
    assert "/queue" in views and "/queue?status=recorded" in views
    history = alice.get("/history").text
    assert "SC2400402" in history and "ABH: nose" in history


def test_no_crime_needs_a_reason_from_the_list(app, alice) -> None:
    target = flag_id(app, "SC2400311", "harassment")
    response = alice.post(f"/flags/{target}/decision", {"version": 0, "action": "no_crime"})
    assert response.status_code == 400 and "choose a reason" in response.text
    assert audit(app, "decide_rejected")[0].detail["reason"] == "choose a reason for 'no crime'"
    response = alice.post(f"/flags/{target}/decision", {"version": 0, "action": "no_crime", "reason_code": "made_up"})
    assert response.status_code == 400
    response = alice.post(
        f"/flags/{target}/decision", {"version": 0, "action": "no_crime", "reason_code": "evidence_to_contrary"}
    )
    assert response.status_code == 200 and response.url.path == "/incidents/SC2400311"  # its other flag is open


def test_more_info_leaves_the_open_queue(app, alice) -> None:
    target = flag_id(app, "SC2400517", "criminal_damage")
    alice.post(f"/flags/{target}/decision", {"version": 0, "action": "more_info", "note": "ask the DSL"})
    assert "SC2400517" not in incidents(alice.get("/queue").text)
    assert rows(alice.get("/queue?status=more_info").text) == [("SC2400517", [target])]


def test_second_decision_on_a_stale_form_is_a_conflict(app, alice, bob) -> None:
    target = flag_id(app, "SC2400263", "common_assault")
    first = alice.post(f"/flags/{target}/decision", {"version": 0, "action": "record"})
    assert first.status_code == 200
    second = bob.post(
        f"/flags/{target}/decision", {"version": 0, "action": "no_crime", "reason_code": "no_offence_disclosed"}
    )
    assert second.status_code == 409
    assert "alice decided this flag" in second.text and "NOT saved" in second.text
    with app.state.db.session() as session:
        assert session.get(Flag, target).status == "recorded"
        assert session.scalar(select(func.count(Decision.id))) == 1
    assert [(e.username, e.target) for e in audit(app, "decide_conflict")] == [("bob", f"flag:{target}")]
    # Bob, having seen Alice's decision (version 1), may deliberately supersede it.
    third = bob.post(
        f"/flags/{target}/decision", {"version": 1, "action": "no_crime", "reason_code": "no_offence_disclosed"}
    )
    assert third.status_code == 200
    with app.state.db.session() as session:
        assert session.get(Flag, target).status == "no_crime"
        assert session.scalar(select(func.count(Decision.id))) == 2


def test_truly_concurrent_decisions_one_wins(app, alice, bob) -> None:
    target = flag_id(app, "SC2400311", "harassment")
    forms = [
        (who, {"csrf_token": who.csrf("/queue"), "version": 0, "action": action, "reason_code": reason})
        for who, action, reason in [(alice, "record", ""), (bob, "no_crime", "no_offence_disclosed")]
    ]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def submit(who, data) -> None:
        barrier.wait()
        results.append(who.client.post(f"/flags/{target}/decision", data=data).status_code)

    threads = [threading.Thread(target=submit, args=form) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409]
    with app.state.db.session() as session:
        assert session.scalar(select(func.count(Decision.id)).where(Decision.flag_id == target)) == 1


# --- second check -------------------------------------------------------------------------------


def test_supervisor_samples_others_decisions_and_records_agreement(app, alice, sue) -> None:
    target = flag_id(app, "SC2400402", "assault_with_injury")
    alice.post(f"/flags/{target}/decision", {"version": 0, "action": "record", "note": "bleeding nose"})
    own = flag_id(app, "SC2400517", "criminal_damage")
    sue.post(f"/flags/{own}/decision", {"version": 0, "action": "record"})
    page = sue.get("/supervisor").text
    decision_ids = [int(x) for x in re.findall(r'action="/decisions/(\d+)/review"', page)]
    assert len(decision_ids) == 1 and "bleeding nose" in page  # only alice's, not sue's own
    response = sue.post(
        f"/decisions/{decision_ids[0]}/review", {"agree": "no", "note": "GBH?"}, csrf_from="/supervisor"
    )
    assert response.status_code == 200 and "disagree" in response.text
    page = sue.get("/supervisor").text
    assert "Nothing to check" in page and re.search(r"alice</a></td><td class=\"num\">1</td><td class=\"num\">0", page)
    assert "disagreed: GBH?" in sue.get("/history/alice").text
    with app.state.db.session() as session:
        own_decision = session.scalar(select(Decision.id).where(Decision.flag_id == own))
    assert sue.post(f"/decisions/{own_decision}/review", {"agree": "yes"}, csrf_from="/supervisor").status_code == 400
    assert alice.post(f"/decisions/{decision_ids[0]}/review", {"agree": "yes"}).status_code == 403
    assert [e.detail["agree"] for e in audit(app, "review")] == [False]


def test_a_flag_withdrawn_by_rescoring_while_open_says_so(app, alice) -> None:
    target = flag_id(app, "SC2400311", "malicious_communications")
    token = alice.csrf(f"/incidents/SC2400311?flag={target}")
    with app.state.db.session() as session:
        load_file(session, Path(__file__).parent / "data" / "scored_v2.jsonl")
    response = alice.client.post(
        f"/flags/{target}/decision", data={"csrf_token": token, "version": 0, "action": "record"}
    )
    assert response.status_code == 404 and "withdrawn" in response.text and "not saved" in response.text


def test_rule_flags_from_scoring_are_shown_on_the_incident_page(app, alice, tmp_path: Path) -> None:
    import json

    scored_v1 = Path(__file__).parent / "data" / "scored_v1.jsonl"
    record = json.loads(scored_v1.read_text(encoding="utf-8").splitlines()[0])
    reason = "Victim's wishes given as the reason for not recording common_assault; they do not remove the duty."
    record["rule_flags"] = [{"rule": "victim_wishes_reason", "reason": reason, "offences": ["common_assault"],
                             "evidence": [{"field": "officer_narrative", "start": 0, "end": 8, "text": "Attended"}]}]
    path = tmp_path / "rescored.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with app.state.db.session() as session:
        load_file(session, path)
        session.commit()
    page = alice.get(f"/incidents/{record['incident_id']}").text
    assert "Recording-rule checks" in page and "victim wishes reason" in page
    assert "duty." in page and "<q>Attended</q>" in page
