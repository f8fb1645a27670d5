"""Series flags (courses of conduct, issue 14) in the queue page `/queue`: its counts, its offence filter's
"Series (course of conduct)" kind and the other filters, each series row leading to its page, roles and the
audit log; the series page's way back to the queue. SQLite and PostgreSQL (``db_url`` through ``app``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from secondary_crimes.queue import queries
from secondary_crimes.queue.checks import CheckSettings
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import AuditEvent

DATA = Path(__file__).parent / "data"
RUN1 = DATA / "scored_series_run1.jsonl"  # T-101, T-201, T-102: a stalking series of two so far
RUN2 = DATA / "scored_series_run2.jsonl"  # T-103: the series' third incident
SERIES = "series-T-101"
INCIDENT_ROW = re.compile(r'<tr data-href="[^"]*" data-incident="([^"]+)" data-flags="([\d ]*)">')
SERIES_ROW = re.compile(r'<tr data-href="([^"]*)" data-series="([^"]+)" data-series-flags="([\d ]*)">(.*?)</tr>', re.S)
COUNT = re.compile(r'<a class="count (\w+)[^"]*" href="[^"]*" data-status="\w+"\s+title="[^"]*">\s*<b>(\d+)</b>'
                   r'[^<]*(?:<small class="series-count" data-series-count="(\d+)">)?')


def _load(app, *paths: Path) -> None:
    """Load scored files without check items, so that the incidents in the queue are scored_v1's only."""
    with app.state.db.session() as session:
        for path in paths:
            load_file(session, path, checks=CheckSettings())


def _incident_rows(page: str) -> list[tuple[str, str]]:
    return INCIDENT_ROW.findall(page)


def _series_rows(page: str) -> dict[str, tuple[str, str]]:
    """Series id: (its row's link, the row's text without tags)."""
    return {series: (href.replace("&amp;", "&"), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cells)).strip())
            for href, series, _, cells in SERIES_ROW.findall(page)}


def _counts(page: str) -> dict[str, tuple[int, int | None]]:
    """Per status chip: (its bold count, its series count when it shows one)."""
    return {status: (int(bold), int(series) if series else None) for status, bold, series in COUNT.findall(page)}


def _views(app, username: str) -> list[str]:
    with app.state.db.session() as session:
        return list(session.scalars(select(AuditEvent.target).where(
            AuditEvent.action == "view", AuditEvent.username == username).order_by(AuditEvent.id)))


def _decide(browser, *, version: int = 0, back: str | None = None, **form):
    data = {"version": str(version), "action": "record", "offence": "stalking", "note": "", **form}
    if back is not None:
        data["back"] = back
    return browser.post("/series-flags/1/decision", data, csrf_from=f"/series/{SERIES}", follow_redirects=False)


def test_series_flags_show_in_the_queue_beside_unchanged_incidents(app, alice) -> None:
    before = alice.get("/queue").text
    assert '<option value="series" >Series (course of conduct)</option>' in before
    assert 'id="series-queue"' not in before and "series-count" not in before and not _series_rows(before)
    _load(app, RUN1, RUN2)
    after = alice.get("/queue").text
    # The incidents' rows and counts are what they were; each status chip adds its series, if any.
    assert _incident_rows(after) == _incident_rows(before) and len(_incident_rows(after)) == 4
    assert re.search(r'<b id="total">4</b>', after) and re.search(r"<b>4</b> open", after)
    assert _counts(before) == {"open": (4, None), "more_info": (0, None), "recorded": (0, None),
                               "no_crime": (0, None)}
    assert _counts(after) == {**_counts(before), "open": (4, 1)}
    assert "+ 1 series</small>" in after
    # Below the incidents: the series, its row linking to its page with the way back.
    section = re.search(r'<section class="series-section" id="series-queue".*?</section>', after, re.S)[0]
    assert re.search(r'<b id="series-total">1</b>', section) and 'id="all-series"' not in section
    (href, text), = _series_rows(section).values()
    assert list(_series_rows(section)) == [SERIES] and href == f"/series/{SERIES}?back=/queue"
    assert text.startswith(f"{SERIES} 3 ") and "Stalking open" in text and "series-test-v1" in text
    assert after.index('id="total"') < after.index('id="series-queue"')  # the incidents come first
    page = alice.get(href)
    assert page.status_code == 200 and '<a id="back" href="/queue">&larr; queue</a>' in page.text
    assert 'name="back" value="/queue"' in page.text and 'class="card flag-card series-flag selected"' in page.text
    assert _views(app, "alice")[-2:] == ["/queue", f"/series/{SERIES}?back=/queue"]


def test_the_series_kind_lists_series_only_and_counts_undecided_and_decided_ones(app, alice, bob) -> None:
    _load(app, RUN1, RUN2)
    page = alice.get("/queue?offence=series").text
    assert '<option value="series" selected>Series (course of conduct)</option>' in page
    assert not _incident_rows(page) and 'id="total"' not in page and 'id="bulk"' not in page
    assert list(_series_rows(page)) == [SERIES] and re.search(r'<b id="series-total">1</b>', page)
    assert _counts(page) == {"open": (1, 1), "more_info": (0, 0), "recorded": (0, 0), "no_crime": (0, 0)}
    # "More information" is not a decision: the series still counts as undecided, under more info.
    back = "/queue?offence=series"
    response = _decide(alice, back=back, action="more_info", note="ask the officer")
    assert response.status_code == 303 and response.headers["location"] == back  # nothing open: back to the queue
    page = alice.get(back).text
    assert not _series_rows(page) and "No series here." in page
    assert _counts(page)["open"] == (0, 0) and _counts(page)["more_info"] == (1, 1)
    assert list(_series_rows(alice.get(back + "&status=more_info").text)) == [SERIES]
    # Decided: under recorded, decided and all, and beside the incidents of those statuses.
    assert _decide(bob, version=1, back="/queue").status_code == 303
    for status in ("recorded", "decided", "all"):
        assert list(_series_rows(alice.get(f"{back}&status={status}").text)) == [SERIES], status
    assert not _series_rows(alice.get(f"{back}&status=no_crime").text)
    mixed = alice.get("/queue?status=recorded").text
    assert _counts(mixed)["recorded"] == (0, 1) and list(_series_rows(mixed)) == [SERIES]
    assert "Stalking recorded" in _series_rows(mixed)[SERIES][1]
    open_queue = alice.get("/queue").text  # nothing open in a series: no series in the open queue
    assert _counts(open_queue)["open"] == (4, None) and _counts(open_queue)["recorded"] == (0, 1)
    assert 'id="series-queue"' not in open_queue


SERIES_FILTER_CASES = [
    ("offence=stalking", True),
    ("offence=harassment", False),  # the incidents' harassment flag is listed; no series has one
    ("offence=check", False),  # check items are incidents
    ("q=series-T-101", True),
    ("q=t-102", True),  # one of its incidents' ids
    ("q=Wren+Close", True),  # the text of the incident its flag is on (T-103)
    ("q=nothing+like+this", False),
    ("model_version=series-test-v1", True),
    ("model_version=baseline-20261123T1130", False),
    ("date_from=2024-02-02", True),  # dates, domestic and reporter: those of the flag's incident, T-103
    ("date_to=2024-02-01", False),
    ("domestic=true", False),
    ("reporter=victim", False),
    ("mine=true", False),  # claims hold incidents, not series
    ("status=no_crime", False),
    ("offence=&q=&model_version=&date_from=&date_to=&domestic=&reporter=&status=", True),
]


@pytest.mark.parametrize(("query", "listed"), SERIES_FILTER_CASES, ids=[q for q, _ in SERIES_FILTER_CASES])
def test_the_filters_apply_to_series_flags(app, alice, query: str, listed: bool) -> None:
    _load(app, RUN1, RUN2)
    expected = [SERIES] if listed else []
    mixed = alice.get(f"/queue?{query}")
    assert mixed.status_code == 200
    assert list(_series_rows(mixed.text)) == expected
    status = parse_qs(query).get("status", ["open"])[0]  # the counts are per status, whatever the filter's
    assert (_counts(mixed.text)[status][1] or 0) == len(expected)
    if "offence=" not in query:  # the series kind with the same filters
        only = alice.get(f"/queue?offence=series&{query}").text
        assert list(_series_rows(only)) == expected
        assert re.search(rf'<b id="series-total">{len(expected)}</b>', only)


def test_the_filter_forms_blank_search_is_no_search(app, alice) -> None:
    """The filter form sends every field: a blank search (q=) is none, not a server error; a long one is a 422."""
    _load(app, RUN1, RUN2)
    form = "q=&offence=&domestic=&reporter=&date_from=&date_to=&status=open&model_version=&sort=priority"
    page = alice.get(f"/queue?{form}")
    assert page.status_code == 200 and len(_incident_rows(page.text)) == 4 and list(_series_rows(page.text)) == [SERIES]
    assert alice.get("/queue?q=" + "x" * 201).status_code == 422


def _second_series(tmp_path: Path) -> Path:
    """Another stalking series (X-101..X-103), its latest incident a day after T-103."""
    record = json.loads(RUN2.read_text(encoding="utf-8").splitlines()[0])
    record["incident_id"], record["linked"] = "X-103", ["X-101", "X-102"]
    record["incident"]["reported_at"] = "2024-02-03T20:40:00"
    flag = record["course_of_conduct"][0]
    flag["series_id"], flag["linked"] = "series-X-101", ["X-101", "X-102"]
    for entry, (incident_id, when) in zip(flag["evidence"], [("X-101", "2024-01-06T21:10:00"),
                                                             ("X-102", "2024-01-20T23:05:00"),
                                                             ("X-103", "2024-02-03T20:40:00")], strict=True):
        entry["incident_id"], entry["reported_at"] = incident_id, when
    path = tmp_path / "second_series.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def test_series_are_paged_under_their_kind_and_previewed_beside_the_incidents(
    app, alice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(app, RUN1, RUN2, _second_series(tmp_path))
    page = alice.get("/queue").text
    assert list(_series_rows(page)) == ["series-X-101", SERIES]  # the latest incident first
    assert _counts(page)["open"] == (4, 2)
    monkeypatch.setattr(queries, "SERIES_PREVIEW", 1)
    page = alice.get("/queue").text
    assert list(_series_rows(page)) == ["series-X-101"] and re.search(r'<b id="series-total">2</b>', page)
    assert '<a id="all-series" href="/queue?offence=series">list series only</a>' in page
    monkeypatch.setattr(queries, "PAGE_SIZE", 1)
    assert not _series_rows(alice.get("/queue?page=2").text)  # the preview is on the first page only
    first, second = alice.get("/queue?offence=series").text, alice.get("/queue?offence=series&page=2").text
    assert list(_series_rows(first)) == ["series-X-101"] and list(_series_rows(second)) == [SERIES]
    assert 'rel="next" href="/queue?offence=series&amp;page=2"' in first and "page 2 of 2" in second


def test_every_role_reaches_series_from_the_queue_and_each_view_is_logged(app, anon, alice, sue, ada) -> None:
    _load(app, RUN1, RUN2)
    refused = anon.get("/queue?offence=series", follow_redirects=False)
    assert refused.status_code in (302, 303) and refused.headers["location"].startswith("/login")
    for name, browser in (("alice", alice), ("sue", sue), ("ada", ada)):
        listing = browser.get("/queue?offence=series")
        assert listing.status_code == 200 and list(_series_rows(listing.text)) == [SERIES], name
        href = _series_rows(listing.text)[SERIES][0]
        assert href == f"/series/{SERIES}?back=/queue%3Foffence%3Dseries"
        page = browser.get(href)
        assert page.status_code == 200 and 'action="/series-flags/1/decision"' in page.text, name
        assert '<a id="back" href="/queue?offence=series">' in page.text
        assert ('id="people"' in page.text) == (name != "alice")  # the person store: supervisors and admins
        assert _views(app, name)[-2:] == ["/queue?offence=series", href], name


def test_the_series_page_keeps_the_way_back_through_its_decisions(app, alice, bob) -> None:
    _load(app, RUN1, RUN2)
    evil = alice.get(f"/series/{SERIES}?back=https://evil.example/queue").text
    assert '<a id="back" href="/series">&larr; courses of conduct</a>' in evil  # only local queue pages
    assert '<a id="back" href="/series">' in alice.get(f"/series/{SERIES}").text
    stale = _decide(bob, version=7, back="/queue?status=all")  # a conflict keeps the way back
    assert stale.status_code == 409 and '<a id="back" href="/queue?status=all">' in stale.text
    assert 'class="card flag-card series-flag selected" id="series-flag-1"' in stale.text  # the keyboard's card
    refused = _decide(bob, back="/queue?status=all", action="no_crime")  # no reason given
    assert refused.status_code == 400 and 'name="back" value="/queue?status=all"' in refused.text
    saved = _decide(alice, back="/queue?status=all")
    assert saved.status_code == 303 and saved.headers["location"] == "/queue?status=all"
    assert "Saved for the whole series series-T-101" in alice.get("/queue?status=all").text
    again = _decide(bob, version=1, back="https://evil.example/")  # not a queue page: the series page
    assert again.status_code == 303 and again.headers["location"] == f"/series/{SERIES}"
