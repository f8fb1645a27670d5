"""The supervisors' label-issues page (issue 13): the latest ``label-issues`` run's list, supervisors and
admins only, every view in the audit log. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from secondary_crimes.label_quality import ISSUES_FILE, LabelIssue, write_issues
from secondary_crimes.queue.config import data_dir
from secondary_crimes.queue.models import AuditEvent

PAGE = "/label-issues"


@pytest.fixture(autouse=True)
def data_folder(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue's data folder in the test's own folder (PostgreSQL's would be the user's)."""
    monkeypatch.setenv("SECONDARY_CRIMES_QUEUE_DATA_DIR", str(tmp_path / "queue-data"))


def _issues() -> list[LabelIssue]:
    common = {"run_at": "2024-07-01T10:00:00Z", "method": "baseline, leave one corpus file out"}
    return [
        LabelIssue(rank=1, incident_id="C-900", source="kingsport", labelled_by="corpus", offence="criminal_damage",
                   given=False, suggested=True, probability=0.97, threshold=0.41, quality=0.03,
                   evidence="kicked the door in", evidence_from="model", **common),
        LabelIssue(rank=2, incident_id="SC2400263", source="decisions", labelled_by="auditors", offence="stalking",
                   given=True, suggested=False, probability=0.04, threshold=0.35, quality=0.04, **common),
    ]


def _events(app, action: str) -> list[AuditEvent]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _publish(app) -> None:
    write_issues(data_dir(app.state.db.url) / ISSUES_FILE, _issues())


def test_an_auditor_is_refused(app, alice) -> None:
    _publish(app)
    response = alice.get(PAGE)
    assert response.status_code == 403
    assert "C-900" not in response.text
    assert [(e.username, e.target) for e in _events(app, "refused")] == [("alice", PAGE)]
    assert ("alice", PAGE) not in [(e.username, e.target) for e in _events(app, "view")]


def test_a_supervisor_sees_the_latest_list_and_the_view_is_logged(app, sue, ada) -> None:
    _publish(app)
    response = sue.get(PAGE)
    assert response.status_code == 200
    page = response.text
    assert 'data-incident="C-900" data-offence="criminal_damage"' in page
    assert 'data-incident="SC2400263" data-offence="stalking"' in page
    assert page.index("C-900") < page.index("SC2400263")  # ranked
    assert "kicked the door in" in page and "auditors" in page and "2 doubted label(s)" in page
    assert 'href="/incidents/SC2400263"' in page  # an incident the queue holds is linked
    assert 'href="/incidents/C-900"' not in page  # a corpus incident is not
    assert ada.get(PAGE).status_code == 200
    assert [(e.username, e.target) for e in _events(app, "view") if e.target == PAGE] == [("sue", PAGE), ("ada", PAGE)]


def test_without_a_run_the_page_says_how_to_make_one(app, sue) -> None:
    path = data_dir(app.state.db.url) / ISSUES_FILE
    path.unlink(missing_ok=True)
    response = sue.get(PAGE)
    assert response.status_code == 200 and "No list yet" in response.text
    path.parent.mkdir(parents=True)
    path.write_text("not json\n", encoding="utf-8")
    response = sue.get(PAGE)
    assert response.status_code == 200 and "cannot be read" in response.text and "1: not a label issue" in response.text


def test_the_bar_links_the_page_for_supervisors_only(app, alice, sue) -> None:
    assert 'href="/label-issues"' in sue.get("/queue").text
    assert 'href="/label-issues"' not in alice.get("/queue").text
