"""Correcting the model on the incident page (issue 12.11): facts, roles, missed offences, wrong spans."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from secondary_crimes.queue import corrections
from secondary_crimes.queue.models import AuditEvent, Correction, Incident

PAGE = "/incidents/SC2400263"
NARRATIVE = "Redness to neck noted"


def _rows(app) -> list[Correction]:
    with app.state.db.session() as session:
        return list(session.scalars(select(Correction).order_by(Correction.id)))


def _audited(app, action: str) -> list[dict]:
    with app.state.db.session() as session:
        return [e.detail for e in session.scalars(select(AuditEvent).where(AuditEvent.action == action))]


def _text(app, field: str = "officer_narrative") -> str:
    with app.state.db.session() as session:
        return getattr(session.scalar(select(Incident).where(Incident.incident_id == "SC2400263")), field)


def _post(browser, path: str, version: int = 0, **data):
    form = {"incident_id": "SC2400263", "version": str(version), "back": "/queue", **data}
    return browser.post(path, form, csrf_from=PAGE, follow_redirects=False)


def test_facts_are_corrected_versioned_audited_and_shown(app, alice) -> None:
    page = alice.get(PAGE).text
    assert 'id="correct-facts"' in page and '<option value="intimate_partner">' in page
    response = _post(alice, "/corrections/facts", domestic="true", relationship="intimate_partner",
                     reporter="third_party_public", note="she is his partner, a neighbour called")
    assert response.status_code == 303 and response.headers["location"].startswith(PAGE)
    rows = _rows(app)  # domestic was already "yes": only what changed is kept
    assert [(r.kind, r.value, r.incident_version) for r in rows] == [
        ("relationship", "intimate_partner", 1), ("reporter", "third_party_public", 1)]
    assert [d["kind"] for d in _audited(app, "correct")] == ["relationship", "reporter"]
    page = alice.get(PAGE).text
    assert 'data-fact="relationship">intimate partner <small class="corrected">' in page
    assert "relationship is intimate partner" in page and "she is his partner" in page  # the history
    assert 'name="version" value="1"' in page
    assert _post(alice, "/corrections/facts", 1, domestic="true", relationship="intimate_partner",
                 reporter="third_party_public").status_code == 400  # nothing changed


def test_unknown_fact_values_are_refused(app, alice) -> None:
    response = _post(alice, "/corrections/facts", relationship="lodger")
    assert response.status_code == 400 and "unknown relationship" in response.text
    assert _rows(app) == [] and _audited(app, "correct_rejected")


def test_a_stale_correction_is_a_conflict_not_an_overwrite(app, alice, bob) -> None:
    assert _post(alice, "/corrections/facts", relationship="intimate_partner").status_code == 303
    response = _post(bob, "/corrections/facts", relationship="stranger")  # bob loaded version 0
    assert response.status_code == 409
    assert "alice corrected it (relationship is intimate partner)" in response.text
    assert "NOT saved" in response.text
    assert [r.value for r in _rows(app)] == ["intimate_partner"]
    assert _audited(app, "correct_conflict")
    span = {"offence": "stalking", "field": "call_log", "start": "0", "end": "5"}
    for path, data in [("/corrections/role", {"person": "0", "role": "witness"}), ("/corrections/offence", span)]:
        assert _post(bob, path, **data).status_code == 409


def test_a_persons_role_is_corrected(app, alice) -> None:
    assert _post(alice, "/corrections/role", person="1", role="witness").status_code == 303
    assert [(r.kind, r.person, r.value, r.text) for r in _rows(app)] == [("role", 1, "witness", "Jason PLATT")]
    assert "Jason PLATT is the witness" in alice.get(PAGE).text
    assert _post(alice, "/corrections/role", 1, person="5", role="victim").status_code == 400  # no such person
    assert _post(alice, "/corrections/role", 1, person="0", role="boss").status_code == 400  # not a role


def test_a_missed_offence_is_added_with_its_selected_span(app, alice) -> None:
    start = _text(app).index(NARRATIVE)
    response = _post(alice, "/corrections/offence", offence="assault_with_injury", field="officer_narrative",
                     start=str(start), end=str(start + len(NARRATIVE)), note="ABH: visible redness")
    assert response.status_code == 303
    (row,) = _rows(app)
    assert (row.kind, row.offence, row.field, row.text) == ("offence", "assault_with_injury", "officer_narrative",
                                                            NARRATIVE)
    page = alice.get(PAGE).text
    mark = 'data-offences="assault_with_injury" title="Evidence: Assault with injury (ABH or worse)"'
    assert f"{mark}>{NARRATIVE}</mark>" in page
    assert f"missed Assault with injury (ABH or worse): “{NARRATIVE}”" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"field": "officer_narrative", "start": "150", "end": "9999"}, "is not within the officer narrative"),
        ({"field": "officer_narrative", "start": "20", "end": "20"}, "is not within"),
        ({"field": "call_log", "start": "5", "end": "6"}, "only white space"),
        ({"field": "closing_code", "start": "0", "end": "3"}, "unknown text field"),
        ({"field": "call_log", "start": "0", "end": "5", "offence": "common_assault"}, "is flagged already"),
        ({"field": "call_log", "start": "0", "end": "5", "offence": "burglary_of_a_kite"}, "unknown offence"),
    ],
)
def test_a_missed_offence_with_a_bad_span_is_refused(app, alice, data: dict, message: str) -> None:
    response = _post(alice, "/corrections/offence", **{"offence": "assault_with_injury", **data})
    assert response.status_code == 400 and message in response.text
    assert _rows(app) == []


def test_negative_offsets_are_a_bad_request(app, alice) -> None:
    response = _post(alice, "/corrections/offence", offence="stalking", field="call_log", start="-1", end="4")
    assert response.status_code == 422 and _rows(app) == []


def test_a_model_span_is_marked_wrong(app, alice) -> None:
    page = alice.get(PAGE).text
    assert page.count('class="correct inline wrong-span"') == 3
    span = {"offence": "common_assault", "field": "call_log", "start": "73", "end": "97"}
    assert _post(alice, "/corrections/wrong-span", **span).status_code == 303
    (row,) = _rows(app)
    assert (row.kind, row.offence, row.text) == ("wrong_span", "common_assault", "pushed her into the wall")
    page = alice.get(PAGE).text
    assert page.count('class="correct inline wrong-span"') == 2 and "marked wrong" in page
    assert _post(alice, "/corrections/wrong-span", 1, **span).status_code == 400  # already marked
    moved = {**span, "start": "74", "end": "97"}
    response = _post(alice, "/corrections/wrong-span", 1, **moved)
    assert response.status_code == 400 and "no such evidence span" in response.text


def test_corrections_need_a_csrf_token_and_a_login(app, alice, anon) -> None:
    data = {"incident_id": "SC2400263", "version": "0", "relationship": "stranger", "csrf_token": "forged"}
    assert alice.client.post("/corrections/facts", data=data).status_code == 403
    assert [d["method"] for d in _audited(app, "refused")] == ["POST"]
    response = anon.client.post("/corrections/facts", data=data, follow_redirects=False)
    assert response.status_code in (303, 403)
    assert _rows(app) == []


def test_corrections_are_append_only_in_the_database(app, alice) -> None:
    assert _post(alice, "/corrections/facts", relationship="stranger").status_code == 303
    database = app.state.db
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(update(Correction).values(value="family"))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(delete(Correction))
    if database.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
            connection.execute(text("TRUNCATE corrections"))
    with pytest.raises(PermissionError), database.session() as session:
        session.delete(session.scalars(select(Correction)).one())
        session.flush()
    assert [r.value for r in _rows(app)] == ["stranger"]


def test_the_role_choices_are_the_extractors() -> None:
    from secondary_crimes.extract.components import ROLE_PRIORITY
    from secondary_crimes.extract.types import PERSON_ROLES

    assert set(ROLE_PRIORITY) == set(PERSON_ROLES)  # every role the extractor gives is offered
    assert (*PERSON_ROLES, "other") == corrections.PERSON_ROLES
