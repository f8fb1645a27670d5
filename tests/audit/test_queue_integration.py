"""End to end with the real review queue: sample -> `queue load` -> auditors decide -> estimate -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
queue_load = pytest.importorskip("secondary_crimes.queue.load")

from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from secondary_crimes.audit.cli import audit_app  # noqa: E402
from secondary_crimes.audit.estimate import estimate_audit  # noqa: E402
from secondary_crimes.audit.queue_adapter import decisions_from_queue  # noqa: E402
from secondary_crimes.audit.sampling import SAMPLE_RECORDS, read_sample, write_sample  # noqa: E402
from secondary_crimes.audit.simulate import simulate_population  # noqa: E402
from secondary_crimes.queue import auth  # noqa: E402
from secondary_crimes.queue.checks import CheckSettings  # noqa: E402
from secondary_crimes.queue.db import Database  # noqa: E402
from secondary_crimes.queue.decisions import decide  # noqa: E402
from secondary_crimes.queue.models import Decision, Flag  # noqa: E402
from secondary_crimes.taxonomy import LABELS  # noqa: E402


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_sample_load_decide_estimate_report(tmp_path: Path):
    population = simulate_population(2_000, 5)
    scored = tmp_path / "scored.jsonl"
    scored.write_text("".join(json.dumps(r) + "\n" for r in population.scored_records()), encoding="utf-8")
    sample = write_sample(scored, tmp_path / "sample", size=150, priority_size=20, seed=9, name="q-audit")

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    database = Database(url)
    with database.session() as session:
        # No check items (queue/checks.py): the audit sample is the random sample already.
        report = queue_load.load_file(session, tmp_path / "sample" / SAMPLE_RECORDS, checks=CheckSettings())
        assert report.incidents_added == len(sample.units)
        user, _ = auth.create_user(session, "auditor1", "auditor", "a-long-enough-password")

    index = {incident_id: i for i, incident_id in enumerate(population.ids)}
    left_open = None
    with database.session() as session:
        flags = session.scalars(select(Flag).order_by(Flag.id)).all()
        assert flags, "the sample should carry flags"
        for flag in flags:
            incident_id = flag.incident.incident_id
            if (
                left_open is None
                and sample.units[0].incident_id != incident_id
                and any(u.incident_id == incident_id and u.kind == "random" for u in sample.units)
            ):
                left_open = incident_id  # this incident stays undecided
                continue
            if incident_id == left_open:
                continue
            true = population.truth[index[incident_id], LABELS.index(flag.offence)]
            if true:
                decide(session, user, flag.id, version=flag.version, action="record")
            else:
                decide(
                    session, user, flag.id, version=flag.version, action="no_crime", reason_code="no_offence_disclosed"
                )
    with database.session() as session:
        decisions_before = session.scalar(select(func.count()).select_from(Decision))
    database.dispose()

    ids = [u.incident_id for u in sample.units]
    found = decisions_from_queue(url, ids)
    assert set(found) == set(ids)
    assert not found[left_open].complete
    for incident_id, finding in found.items():
        if incident_id == left_open:
            continue
        i = index[incident_id]
        expected = {
            LABELS[j]
            for j in range(len(LABELS))
            if population.recorded[i, j] or (population.missed[i, j] and population.truth[i, j])
        }
        assert set(finding.confirmed) == expected
        assert finding.complete

    # The adapter is read-only.
    database = Database(url, migrate_schema=False)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == decisions_before
    database.dispose()

    result = estimate_audit(sample.units, found, sample.population_sizes, auxiliary_totals=sample.auxiliary_totals)
    assert result["audited"] == len(sample.random_units()) - 1
    rate = result["overall"]["recording_rate"]
    assert 0.5 < rate["estimate"] < 1 and rate["low"] < rate["estimate"] < rate["high"]

    runner = CliRunner()
    out = tmp_path / "report.html"
    cli = runner.invoke(
        audit_app,
        [
            "report",
            "--sample",
            str(tmp_path / "sample" / "sample.json"),
            "--db",
            url,
            "--volume",
            "50000",
            "--out",
            str(out),
        ],
    )
    assert cli.exit_code == 0, cli.output
    figures = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert figures["estimates"]["overall"]["recording_rate"]["estimate"] == pytest.approx(rate["estimate"])
    assert figures["flags"]["priority_sample"]["decided"] > 0
    assert read_sample(tmp_path / "sample").name == "q-audit"


def test_decisions_from_queue_reclassified_offence(tmp_path: Path):
    """An auditor who records a different offence than the flag's: that offence is confirmed."""
    population = simulate_population(500, 8)
    scored = tmp_path / "scored.jsonl"
    records = [r for r in population.scored_records() if r["missed"]][:3]
    scored.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    database = Database(url)
    with database.session() as session:
        queue_load.load_file(session, scored)
        user, _ = auth.create_user(session, "a2", "auditor", "a-long-enough-password")
    with database.session() as session:
        flag = session.scalars(select(Flag).order_by(Flag.id)).first()
        decide(session, user, flag.id, version=flag.version, action="record", offence="public_order")
        target = flag.incident.incident_id
    database.dispose()
    found = decisions_from_queue(url, [target, "not-in-queue"])
    assert set(found) == {target}
    assert "public_order" in found[target].confirmed
