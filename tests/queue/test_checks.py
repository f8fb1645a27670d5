"""Check items (issue 13): a seeded random and an uncertainty-ranked sample of unflagged incidents."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from secondary_crimes.audit.queue_adapter import decisions_from_queue
from secondary_crimes.queue import auth, decisions
from secondary_crimes.queue.app import create_app
from secondary_crimes.queue.checks import Candidate, CheckSettings, entropy, estimate, select_checks
from secondary_crimes.queue.cli import queue_app
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.export import export_file
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import CHECK_OFFENCE, Flag, Incident
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS

SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"
TEMPLATE = json.loads(SCORED_V1.read_text(encoding="utf-8").splitlines()[0])
FLAGGED = 10
UNFLAGGED = 50


def _record(number: int, priority: float, *, flagged: bool = False, recorded: list[str] | None = None) -> dict:
    record = copy.deepcopy(TEMPLATE)
    record["incident_id"] = f"CHK{number:04d}"
    record["review_priority"] = priority
    if not flagged:
        record["offences"], record["missed"] = [], []
    record["incident"]["recorded_crimes"] = recorded or []
    return record


def _priorities() -> list[float]:
    """The unflagged incidents' review priorities: 0.00, 0.02, ..., 0.98 (0.50 the most uncertain)."""
    return [round(i / UNFLAGGED, 2) for i in range(UNFLAGGED)]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def scored(tmp_path: Path) -> Path:
    records = [_record(i, 0.9, flagged=True) for i in range(FLAGGED)]
    records += [_record(FLAGGED + i, p) for i, p in enumerate(_priorities())]
    return _write(tmp_path / "scored.jsonl", records)


SETTINGS = CheckSettings(random=8, uncertain=5, seed=3)
PASSWORD = "correct-horse-battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _checks(database: Database) -> dict[str, tuple[int, str, float | None, float]]:
    """incident id -> (flag id, why selected, inclusion probability, probability) of every check item."""
    with database.session() as session:
        rows = session.execute(
            select(Incident.incident_id, Flag.id, Flag.check_reason, Flag.inclusion_probability, Flag.probability)
            .join(Flag.incident).where(Flag.kind == "check")
        ).all()
    return {incident_id: (flag_id, why, p, prob) for incident_id, flag_id, why, p, prob in rows}


def test_load_queues_random_and_uncertain_check_items(database: Database, scored: Path) -> None:
    with database.session() as session:
        report = load_file(session, scored, checks=SETTINGS)
    assert (report.unflagged, report.checks_random, report.checks_uncertain, report.checks_kept) == (50, 8, 5, 0)
    assert (report.flags_added, report.incidents_added) == (FLAGGED * 2, FLAGGED + UNFLAGGED)
    checks = _checks(database)
    assert len(checks) == 13
    assert all(int(incident_id[3:]) >= FLAGGED for incident_id in checks)  # never a flagged incident
    reasons = Counter(why for _, why, _, _ in checks.values())
    assert reasons == {"random": 8, "uncertain": 5}
    # The random part records its inclusion probability n / N; the uncertain part has none.
    assert [p for _, why, p, _ in checks.values() if why == "random"] == pytest.approx([8 / 50] * 8)
    assert {p for _, why, p, _ in checks.values() if why == "uncertain"} == {None}
    with database.session() as session:
        flag = session.get(Flag, next(iter(checks.values()))[0])
        assert (flag.offence, flag.status, flag.active, flag.threshold, flag.evidence) == (CHECK_OFFENCE, "open",
                                                                                          True, None, [])
        assert "Check item" in flag.reason


def test_uncertain_part_is_the_rest_nearest_one_half(database: Database, scored: Path) -> None:
    with database.session() as session:
        load_file(session, scored, checks=SETTINGS)
    checks = _checks(database)
    random_ids = {i for i, (_, why, _, _) in checks.items() if why == "random"}
    uncertain = sorted(prob for _, why, _, prob in checks.values() if why == "uncertain")
    rest = [p for i, p in zip(range(FLAGGED, FLAGGED + UNFLAGGED), _priorities(), strict=True)
            if f"CHK{i:04d}" not in random_ids]
    expected = sorted(sorted(rest, key=lambda p: abs(p - 0.5))[:5])
    assert uncertain == pytest.approx(expected)
    assert max(abs(p - 0.5) for p in uncertain) <= 0.1


def test_reload_is_idempotent_and_the_seed_reproduces_the_sample(db_url: str, scored: Path, tmp_path: Path) -> None:
    database = Database(db_url)
    try:
        with database.session() as session:
            load_file(session, scored, checks=SETTINGS)
        first = _checks(database)
        with database.session() as session:
            again = load_file(session, scored, checks=SETTINGS)
        assert (again.checks_random, again.checks_uncertain, again.checks_kept) == (0, 0, 13)
        assert (again.incidents_unchanged, again.flags_updated) == (FLAGGED + UNFLAGGED, 0)
        assert _checks(database) == first
        # The file in another order, into a fresh SQLite database: the same incidents.
        lines = scored.read_text(encoding="utf-8").splitlines()
        shuffled = tmp_path / "shuffled.jsonl"
        shuffled.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
        other = Database(f"sqlite:///{tmp_path / 'other.db'}")
        with other.session() as session:
            load_file(session, shuffled, checks=SETTINGS)
        assert {i: v[1:] for i, v in _checks(other).items()} == {i: v[1:] for i, v in first.items()}
        other.dispose()
    finally:
        database.dispose()


def test_random_part_is_uniform_over_unflagged_incidents() -> None:
    """Over many seeds each unflagged incident is drawn with probability n / N, whatever its priority."""
    frame = [Candidate(f"I{i}", p, "m") for i, p in enumerate([0.01] * 10 + [0.45] * 10)]
    trials, n = 2000, 5
    drawn: Counter[str] = Counter()
    for seed in range(trials):
        chosen = select_checks(frame, CheckSettings(random=n, uncertain=0, seed=seed))
        assert len(chosen) == n and {c.inclusion_probability for c in chosen} == {n / len(frame)}
        drawn.update(c.candidate.incident_id for c in chosen)
    rates = {incident: drawn[incident] / trials for incident in (c.incident_id for c in frame)}
    assert max(abs(rate - n / len(frame)) for rate in rates.values()) < 0.05  # 5 standard errors
    low = sum(rates[f"I{i}"] for i in range(10)) / 10
    assert low == pytest.approx(0.25, abs=0.02)


def test_small_frames_and_certain_priorities() -> None:
    frame = [Candidate("A", 0.0, "m"), Candidate("B", 1.0, "m"), Candidate("C", 0.3, "m")]
    everything = select_checks(frame, CheckSettings(random=10, uncertain=10, seed=1))
    assert len(everything) == 3 and {c.inclusion_probability for c in everything} == {1.0}
    uncertain = select_checks(frame, CheckSettings(random=0, uncertain=10, seed=1))
    assert [c.candidate.incident_id for c in uncertain] == ["C"]  # priority 0 or 1 is never uncertain
    assert select_checks([], CheckSettings(random=5, uncertain=5)) == []
    assert entropy([0.0, 0.5, 1.0]).tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        CheckSettings(random=-1)


def test_a_rescore_never_removes_a_check_item(database: Database, scored: Path, tmp_path: Path) -> None:
    with database.session() as session:
        load_file(session, scored, checks=SETTINGS)
    checks = _checks(database)
    checked = next(iter(checks))
    rescored = [json.loads(line) for line in scored.read_text(encoding="utf-8").splitlines()]
    for record in rescored:
        if record["incident_id"] == checked:  # now flagged
            record["offences"], record["missed"] = TEMPLATE["offences"], TEMPLATE["missed"]
            record["review_priority"] = 0.97
    with database.session() as session:
        report = load_file(session, _write(tmp_path / "rescored.jsonl", rescored), checks=CheckSettings())
    assert (report.flags_added, report.flags_removed, report.checks_random) == (2, 0, 0)
    assert _checks(database) == checks
    with database.session() as session:
        flag = session.get(Flag, checks[checked][0])
        assert flag.review_priority == pytest.approx(0.97)  # sorts with its incident


class _Browser:
    """A client logged in as ``username`` (as conftest's Browser, over this test's own app)."""

    def __init__(self, app, username: str) -> None:
        self.client = TestClient(app, base_url="http://testserver")
        form = {"username": username, "password": PASSWORD, "next": "/queue"}
        response = self.post("/login", form, csrf_from="/login")
        assert response.url.path == "/queue", response.text[:300]

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data: dict, *, csrf_from: str):
        token = CSRF.search(self.client.get(csrf_from).text).group(1)
        return self.client.post(path, data={"csrf_token": token, **data})


def test_check_items_show_in_the_queue_and_are_decided_like_flags(db_url: str, scored: Path) -> None:
    app = create_app(db_url, secret_key="test-secret-" + "x" * 32, secure_cookies=False)
    with app.state.db.session() as session:
        load_file(session, scored, checks=SETTINGS)
        auth.create_user(session, "alice", "auditor", PASSWORD)
    try:
        checks = _checks(app.state.db)
        alice = _Browser(app, "alice")
        page = alice.get("/queue?offence=check").text
        assert 'id="total">13<' in page
        assert page.count('data-check="random"') == 8 and page.count('data-check="uncertain"') == 5
        assert "Check items (not flagged)" in page
        everything = alice.get("/queue").text  # the open queue lists them too, after the flags
        assert f'id="total">{FLAGGED + 13}<' in everything
        incident_id = next(i for i, v in checks.items() if v[1] == "random")
        flag_id = checks[incident_id][0]
        incident_page = alice.get(f"/incidents/{incident_id}").text
        assert "Check item: drawn at random" in incident_page and "1 in 6" in incident_page
        assert "choose the offence" in incident_page
        # Recording with no offence chosen is refused; choosing one records it.
        path = f"/incidents/{incident_id}"
        refused = alice.post(f"/flags/{flag_id}/decision", {"version": 0, "action": "record", "offence": ""},
                             csrf_from=path)
        assert refused.status_code == 400 and "choose the offence that should have been recorded" in refused.text
        saved = alice.post(f"/flags/{flag_id}/decision", {"version": 0, "action": "record", "offence": "harassment"},
                           csrf_from=path)
        assert saved.status_code == 200
        with app.state.db.session() as session:
            flag = session.get(Flag, flag_id)
            assert (flag.status, flag.latest_decision.offence) == ("recorded", "harassment")
        alice.client.close()
    finally:
        app.state.db.dispose()


def test_decided_check_items_are_exported_as_labels(db_url: str, tmp_path: Path) -> None:
    records = [_record(1, 0.3), _record(2, 0.4), _record(3, 0.2, recorded=["assault_with_injury"])]
    path = _write(tmp_path / "scored.jsonl", records)
    database = Database(db_url)
    try:
        with database.session() as session:
            load_file(session, path, checks=CheckSettings(random=3, uncertain=0))
            user, _ = auth.create_user(session, "alice", "auditor", PASSWORD)
        checks = _checks(database)
        with database.session() as session:
            decisions.decide(session, user, checks["CHK0001"][0], version=0, action="record", offence="stalking")
            decisions.decide(session, user, checks["CHK0002"][0], version=0, action="no_crime",
                             reason_code="no_offence_disclosed", note="a noise complaint")
            decisions.decide(session, user, checks["CHK0003"][0], version=0, action="no_crime",
                             reason_code="covered_by_recorded_crime")
        with database.session() as session:
            summary = export_file(session, tmp_path / "labels.jsonl")
        exported = {r["incident_id"]: r for r in map(json.loads, (tmp_path / "labels.jsonl").read_text().splitlines())}
        assert summary.incidents == 3
        found = GoldIncident.model_validate(exported["CHK0001"])
        assert (found.offences, found.missed, found.known_offences) == (["stalking"], ["stalking"], ["stalking"])
        # Nothing missed and nothing recorded: a full negative, every offence decided (complete gold).
        negative = GoldIncident.model_validate(exported["CHK0002"])
        assert (negative.offences, negative.known_offences, negative.complete) == ([], None, True)
        assert "nothing missed" in negative.rationale and "a noise complaint" in negative.rationale
        # With a crime recorded, what it covers stays unknown; every other offence is absent.
        covered = GoldIncident.model_validate(exported["CHK0003"])
        assert covered.offences == [] and "assault_with_injury" not in covered.known_offences
        assert len(covered.known_offences) < len(LABELS) - 1 and "stalking" in covered.known_offences
        # The audit's reader counts the found offence, and no check item among the model's flag outcomes.
        findings = decisions_from_queue(db_url, ["CHK0001", "CHK0002"])
        assert findings["CHK0001"].confirmed == ("stalking",) and findings["CHK0001"].complete
        assert findings["CHK0001"].flags == () and findings["CHK0002"].confirmed == ()
    finally:
        database.dispose()


def test_estimate_weights_the_random_part_only(database: Database, scored: Path) -> None:
    with database.session() as session:
        load_file(session, scored, checks=SETTINGS)
        user, _ = auth.create_user(session, "alice", "auditor", PASSWORD)
    assert estimate_rate(database) is None
    checks = _checks(database)
    random_ids = sorted(i for i, v in checks.items() if v[1] == "random")
    uncertain_ids = sorted(i for i, v in checks.items() if v[1] == "uncertain")
    with database.session() as session:
        for incident_id in random_ids[:2]:
            decisions.decide(session, user, checks[incident_id][0], version=0, action="record", offence="harassment")
        for incident_id in random_ids[2:6]:
            decisions.decide(session, user, checks[incident_id][0], version=0, action="no_crime",
                             reason_code="no_offence_disclosed")
        for incident_id in uncertain_ids:  # purposive: never in the estimate
            decisions.decide(session, user, checks[incident_id][0], version=0, action="record", offence="harassment")
    with database.session() as session:
        result = estimate(session)
    assert (result.queued, result.decided, result.missed) == (8, 6, 2)
    assert result.rate == pytest.approx(2 / 6)
    out = CliRunner().invoke(queue_app, ["check-estimate", "--db", database.url])
    assert out.exit_code == 0 and "6 of 8 random check item(s) decided, 2 with a missed offence" in out.output


def estimate_rate(database: Database) -> float | None:
    with database.session() as session:
        return estimate(session).rate


def test_queue_load_command_takes_the_check_options(db_url: str, scored: Path) -> None:
    out = CliRunner().invoke(queue_app, ["load", str(scored), "--db", db_url, "--check-random", "4",
                                         "--check-uncertain", "0", "--check-seed", "9"])
    assert out.exit_code == 0, out.output
    assert "check items: 4 random and 0 uncertain added of 50 unflagged, 0 already queued" in out.output
