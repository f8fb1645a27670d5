"""End to end in headless Chromium: log in, claim, incident queue, highlights, corrections, keyboard decisions,
dashboard, export."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from secondary_crimes.queue import auth
from secondary_crimes.queue.app import create_app
from secondary_crimes.queue.cli import queue_app
from secondary_crimes.queue.load import load_file
from secondary_crimes.records import GoldIncident

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(os.environ.get("TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))
SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"
PASSWORD = "browser-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def server(sqlite_url: str) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port, over a loaded SQLite file."""
    app = create_app(sqlite_url, secret_key="browser-test-" + "k" * 32, secure_cookies=False)
    with app.state.db.session() as session:
        load_file(session, SCORED_V1)
        auth.create_user(session, "alice", "auditor", PASSWORD)
        auth.create_user(session, "sue", "supervisor", PASSWORD)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.db.dispose()


@pytest.fixture
def browser(chromium_path: str):
    """Headless Chromium (the system's), closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def watched_page(browser) -> tuple:
    """A new page and the list its console errors and uncaught exceptions are appended to."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def log_in(page, server: str, username: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/queue")


def select_text(page, box: str, phrase: str) -> None:
    """Drag the mouse over ``phrase`` in the text box ``box``, as an auditor selects it."""
    rects = page.evaluate(
        """([box, phrase]) => {
          const element = document.getElementById(box);
          element.scrollIntoView({ block: "center" });
          const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.data.indexOf(phrase);
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + phrase.length);
            const all = range.getClientRects(), first = all[0], last = all[all.length - 1];
            return [first.left, first.top + first.height / 2, last.right, last.top + last.height / 2];
          }
          return null;
        }""",
        [box, phrase],
    )
    assert rects, f"{phrase!r} not in #{box}"
    left, top, right, bottom = rects
    page.mouse.move(left + 1, top)
    page.mouse.down()
    page.mouse.move(right - 1, bottom, steps=8)
    page.mouse.up()


def test_review_in_chromium(server: str, sqlite_url: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    # A supervisor watches the progress dashboard in a browser of her own.
    supervisor = browser.new_context().new_page()
    log_in(supervisor, server, "sue")
    supervisor.goto(f"{server}/dashboard")
    alice_decided = supervisor.locator('#by-auditor tr[data-auditor="alice"] td.decided')
    expect(alice_decided).to_have_text("0")

    page, errors = watched_page(browser)

    # Log in (the queue redirects to the login page and back).
    page.goto(f"{server}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server}/queue")
    rows = page.locator("table.queue tbody tr[data-href]")
    expect(rows).to_have_count(4)  # one row per incident
    expect(page.locator("#total")).to_have_text("4")

    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "queue_page.png"), full_page=True)

    # Claim a batch of two: the queue shows the claimed incidents, the dashboard counts them.
    page.fill("input[name=count]", "2")
    page.click("#claim")
    expect(page).to_have_url(f"{server}/queue?mine=true")
    expect(page.locator(".flash.ok")).to_contain_text("You hold 2 incident(s)")
    expect(rows).to_have_count(2)
    expect(page.locator("small.claim.mine")).to_have_count(2)
    supervisor.reload()
    expect(supervisor.locator('#by-auditor tr[data-auditor="alice"] td.open')).to_have_text("2")

    # Move with j/k, open with Enter: the top incident, with both its flags.
    expect(rows.nth(0)).to_have_class(re.compile("selected"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("selected"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("selected"))
    expect(rows.nth(0)).to_have_attribute("data-incident", "SC2400263")
    first_flag, second_flag = rows.nth(0).get_attribute("data-flags").split()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/incidents/SC2400263\?back="))
    expect(page.locator(".flag-card")).to_have_count(2)  # both flags on one page

    # The evidence is highlighted, per offence, in both texts.
    marks = page.locator("mark.ev")
    expect(marks).to_have_count(3)
    strangulation = page.locator('#call_log mark[data-offences="non_fatal_strangulation"]')
    expect(strangulation).to_have_text("grabbed her by the throat")
    expect(page.locator('#officer_narrative mark[data-offences="non_fatal_strangulation"]')).to_have_text(
        "put both hands round her neck"
    )
    colours = {marks.nth(i).evaluate("el => getComputedStyle(el).backgroundColor") for i in range(3)}
    assert len(colours) == 2 and "rgba(0, 0, 0, 0)" not in colours, colours
    expect(page.locator(".flag-card.selected")).to_have_attribute("data-flag", first_flag)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "incident_page.png"), full_page=True)

    # Correct the model: the relationship (the model said ex-partner) ...
    facts = page.locator("#correct-facts")
    facts.locator("select[name=relationship]").select_option("intimate_partner")
    facts.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text("Corrected SC2400263: relationship is intimate partner")
    expect(page.locator('dd[data-fact="relationship"]')).to_contain_text("intimate partner")
    # ... and an offence it missed, its evidence selected with the mouse in the narrative.
    select_text(page, "officer_narrative", "Redness to neck noted")
    expect(page.locator("#selected-span")).to_have_text("Redness to neck noted")
    missed = page.locator("#add-offence")
    missed.locator("select[name=offence]").select_option("assault_with_injury")
    missed.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text("missed Assault with injury (ABH or worse)")
    added = page.locator('#officer_narrative mark[data-offences="assault_with_injury"]')
    expect(added).to_have_text("Redness to neck noted")
    expect(page.locator(".corrections-history li")).to_have_count(2)
    expect(page.locator(".flag-card.selected")).to_have_attribute("data-flag", first_flag)

    # r selects "record" and focuses Save; Enter saves; the incident's other flag is next.
    page.keyboard.press("r")
    card = page.locator(f"#flag-{first_flag}")
    expect(card.locator('input[value="record"]')).to_be_checked()
    expect(card.locator("button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/incidents/SC2400263\?back="))
    expect(page.locator(".flash.ok")).to_contain_text("Saved: SC2400263 Non-fatal strangulation")
    expect(page.locator(".flag-card.selected")).to_have_attribute("data-flag", second_flag)

    # The next flag on the same incident: no crime, reason chosen with the keyboard.
    page.keyboard.press("n")
    reason = page.locator(".flag-card.selected select[name=reason_code]")
    expect(reason).to_be_focused()
    reason.select_option("covered_by_recorded_crime")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(f"{server}/queue?mine=true")
    expect(page.locator("#total")).to_have_text("1")
    expect(page.locator('tr[data-incident="SC2400263"]')).to_have_count(0)

    # The dashboard moved: two flags decided by alice, strangulation confirmed.
    supervisor.reload()
    expect(alice_decided).to_have_text("2")
    expect(supervisor.locator('#by-auditor tr[data-auditor="alice"] td.open')).to_have_text("1")
    strangulation = supervisor.locator('#by-offence tr[data-offence="non_fatal_strangulation"]')
    expect(strangulation.locator("td.rate")).to_have_text("100%")
    supervisor.screenshot(path=str(OUTPUT / "dashboard_page.png"), full_page=True)
    assert not errors, errors

    # Export: the incident decided in the browser comes out in the corpus format.
    out = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(queue_app, ["export", "--out", str(out), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["incident_id"] for r in records] == ["SC2400263"]
    gold = GoldIncident.model_validate(records[0])
    assert set(gold.offences) == set(gold.missed) == {"non_fatal_strangulation", "assault_with_injury"}
    assert gold.evidence["assault_with_injury"] == "Redness to neck noted"  # the span selected in Chromium
    assert gold.relationship == "intimate_partner" and gold.domestic is None  # corrected, and not guessed


def test_series_timeline_decided_once_in_chromium(server: str, sqlite_url: str, browser) -> None:
    """A course of conduct scored in two runs: its timeline in date order, one decision for the series."""
    from playwright.sync_api import expect

    from secondary_crimes.queue.db import Database

    database = Database(sqlite_url)
    with database.session() as session:
        for name in ("scored_series_run2.jsonl", "scored_series_run1.jsonl"):  # the later run first
            load_file(session, SCORED_V1.parent / name)
    database.dispose()
    page, errors = watched_page(browser)
    log_in(page, server, "alice")
    page.goto(f"{server}/series")
    page.click('tr[data-series="series-T-101"] a')
    expect(page).to_have_url(f"{server}/series/series-T-101")
    occasions = page.locator("article.occasion")
    expect(occasions).to_have_count(3)
    assert occasions.evaluate_all("els => els.map(e => e.dataset.incident)") == ["T-101", "T-102", "T-103"]
    expect(occasions.nth(2).locator("q")).to_have_text("sat outside")
    card = page.locator(".series-flag")
    expect(card).to_have_count(1)
    card.locator('input[value="record"]').check()
    card.locator("textarea[name=note]").fill("one course of conduct")
    card.locator("button[type=submit]").click()
    expect(page.locator(".flash.ok")).to_contain_text("Saved for the whole series series-T-101")
    expect(card.locator(".status")).to_have_text("recorded")
    expect(card.locator("ol.decisions li")).to_have_count(1)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "series_page.png"), full_page=True)
    assert not errors, errors


def test_series_keyboard_shortcuts_in_chromium(server: str, browser, sqlite_url: str) -> None:
    """From the queue's series rows to a series page and back, with the incident page's shortcuts."""
    from playwright.sync_api import expect

    from secondary_crimes.queue.checks import CheckSettings
    from secondary_crimes.queue.db import Database

    database = Database(sqlite_url)
    with database.session() as session:
        for name in ("scored_series_run1.jsonl", "scored_series_run2.jsonl"):
            load_file(session, SCORED_V1.parent / name, checks=CheckSettings())
    database.dispose()
    page, errors = watched_page(browser)
    log_in(page, server, "alice")

    # The open queue: its incidents, then the series; j moves past the incidents onto the series row.
    rows = page.locator("table.queue tbody tr[data-href]")
    expect(rows).to_have_count(5)
    expect(page.locator(".count.open .series-count")).to_have_text("+ 1 series")
    for _ in range(4):
        page.keyboard.press("j")
    expect(rows.nth(4)).to_have_class(re.compile("selected"))
    expect(rows.nth(4)).to_have_attribute("data-series", "series-T-101")

    # The series kind of the offence filter: series only; Enter opens the selected one.
    page.goto(f"{server}/queue?offence=series")
    expect(rows).to_have_count(1)
    expect(page.locator("#series-total")).to_have_text("1")
    expect(rows.nth(0)).to_have_class(re.compile("selected"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/series/series-T-101\?back=/queue%3Foffence%3Dseries$"))
    card = page.locator(".flag-card.selected")
    expect(card).to_have_attribute("data-flag", "1")

    # ? shows the help; u goes back to the queue page it came from.
    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#help")).to_be_hidden()
    page.keyboard.press("u")
    expect(page).to_have_url(f"{server}/queue?offence=series")
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(r"/series/series-T-101\?back="))

    # n: no crime, the reason focused and required; Esc leaves it; r: record, Save focused; Enter saves
    # for the whole series, and with nothing open left it is back to the queue.
    page.keyboard.press("n")
    reason = card.locator("select[name=reason_code]")
    expect(card.locator('input[value="no_crime"]')).to_be_checked()
    expect(reason).to_be_focused()
    assert reason.evaluate("el => el.required")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(card.locator('input[value="record"]')).to_be_checked()
    expect(card.locator("button[type=submit]")).to_be_focused()
    assert not reason.evaluate("el => el.required")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server}/queue?offence=series")
    expect(page.locator(".flash.ok")).to_contain_text("Saved for the whole series series-T-101: Stalking")
    expect(page.locator("#series-total")).to_have_text("0")
    expect(page.locator(".count.recorded .series-count")).to_have_attribute("data-series-count", "1")

    # m on the decided series: more information, the note focused; Ctrl+Enter saves from the note.
    page.goto(f"{server}/series/series-T-101")
    page.keyboard.press("m")
    note = page.locator(".flag-card.selected textarea[name=note]")
    expect(note).to_be_focused()
    note.type("ask the officer in the case")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(f"{server}/series/series-T-101")
    expect(page.locator(".flag-card.selected .status")).to_have_text("more info")
    expect(page.locator(".flag-card.selected ol.decisions li")).to_have_count(2)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "series_keyboard.png"), full_page=True)
    assert not errors, errors
