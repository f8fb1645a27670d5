"""Page response times of the review queue with 10,000 incidents (real app over HTTP).

    python benchmarks/queue_pages.py [--incidents 10000] [--db URL] [--repeat 20]

Loads synthetic scored output (1-3 flags per incident) through the real loader, decides one flag
in ten and second-checks some of those decisions (for the dashboard), has another auditor claim
a batch, logs in as a supervisor, then times the incident-level queue (first and a deep page,
filtered, searched, sorted), the incident page and the progress dashboard with the Starlette
TestClient. ``--db`` takes a PostgreSQL URL (use an empty schema: the script adds to it).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from secondary_crimes.queue import auth, claims, decisions
from secondary_crimes.queue.app import create_app
from secondary_crimes.queue.load import load_file
from secondary_crimes.queue.models import Flag
from secondary_crimes.taxonomy import load_taxonomy

CALL = (
    "{t} IP {name} calling from home. States her ex-partner {susp} pushed her into the wall and "
    "grabbed her by the throat. Susp left before police arrival. IP does not want to make a complaint."
)
NARRATIVE = "Attended. IP stated {susp} put both hands round her neck. Redness noted. Words of advice. NFA."


def synthetic(path: Path, incidents: int, seed: int = 7) -> int:
    """Write scored JSON Lines for ``incidents`` incidents with 1-3 missed offences each; returns the flags."""
    rng = random.Random(seed)
    labels = load_taxonomy().labels
    reporters = list(load_taxonomy().reporters)
    start = datetime(2024, 1, 1)
    written, number = 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while number < incidents:
            number += 1
            call = CALL.format(
                t=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                name=f"Kerry HALL{number}",
                susp=f"Jason PLATT{number}",
            )
            narrative = NARRATIVE.format(susp=f"Jason PLATT{number}")
            count = rng.choice([1, 1, 2, 3])
            missed = []
            for offence in rng.sample(labels, count):
                quote = "grabbed her by the throat" if rng.random() < 0.5 else "pushed her into the wall"
                at = call.index(quote)
                missed.append(
                    {
                        "offence": offence,
                        "probability": round(rng.uniform(0.3, 0.99), 4),
                        "threshold": 0.4,
                        "reason": "synthetic",
                        "evidence": [{"field": "call_log", "start": at, "end": at + len(quote), "text": quote}],
                    }
                )
            written += count
            reported = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
            handle.write(
                json.dumps(
                    {
                        "incident_id": f"BM{number:06d}",
                        "model_version": rng.choice(["baseline-1", "hybrid-2"]),
                        "offences": missed,
                        "missed": missed,
                        "review_priority": round(rng.random(), 4),
                        "domestic": rng.choice([True, False, None]),
                        "relationship": "ex_partner",
                        "reporter": rng.choice(reporters),
                        "people": [{"text": f"Jason PLATT{number}", "role": "suspect"}],
                        "incident": {
                            "reported_at": reported.isoformat(),
                            "closed_at": (reported + timedelta(hours=5)).isoformat(),
                            "opening_code": "DOMESTIC INCIDENT",
                            "closing_code": "ADVICE GIVEN",
                            "call_log": call,
                            "officer_narrative": narrative,
                            "recorded_crimes": [],
                        },
                    }
                )
                + "\n"
            )
    return written


def decide_some(app, every: int = 10) -> int:
    """One flag in ``every`` decided by two auditors; a third of those second-checked."""
    with app.state.db.session() as session:
        auditors = [auth.create_user(session, name, "auditor", "bench-password")[0] for name in ("amy", "ben")]
        checker, _ = auth.create_user(session, "sam", "supervisor", "bench-password")
        made = []
        for n, flag_id in enumerate(session.scalars(select(Flag.id).order_by(Flag.id)).all()[::every]):
            action = {"action": "record"} if n % 3 else {"action": "no_crime", "reason_code": "no_offence_disclosed"}
            made.append(decisions.decide(session, auditors[n % 2], flag_id, version=0, **action).id)
        for n, decision_id in enumerate(made[::3]):
            decisions.review(session, checker, decision_id, agree=n % 5 != 0)
        claims.claim(session, auditors[0], 50, 120)
    return len(made)

def timed(client: TestClient, path: str, repeat: int) -> tuple[float, float, float, int]:
    client.get(path)  # warm
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], max(samples), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="queue_bench_"))
    url = args.db or f"sqlite:///{workdir / 'queue.db'}"
    scored = workdir / "scored.jsonl"
    flags = synthetic(scored, args.incidents)
    app = create_app(url, secret_key="bench-" + "k" * 32, secure_cookies=False)
    t0 = time.perf_counter()
    with app.state.db.session() as session:
        report = load_file(session, scored)
    app.state.db.analyze()  # as `queue load` does
    load_s = time.perf_counter() - t0
    decided = decide_some(app)
    app.state.db.analyze()
    with app.state.db.session() as session:
        auth.create_user(session, "bench", "supervisor", "bench-password")
    with TestClient(app) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "bench", "password": "bench-password", "csrf_token": token})
        first = re.search(r'<tr data-href="([^"]+)"', client.get("/queue").text).group(1).replace("&amp;", "&")
        pages = [
            ("queue, first page (50 incidents)", "/queue"),
            ("queue, page 100", "/queue?page=100"),
            ("queue filtered: offence", "/queue?offence=common_assault"),
            ("queue filtered: domestic+reporter", "/queue?domestic=true&reporter=victim"),
            ("queue filtered: dates+model", "/queue?date_from=2024-03-01&date_to=2024-05-31&model_version=hybrid-2"),
            ("queue, all statuses", "/queue?status=all"),
            ("queue search: incident id", "/queue?q=BM0042"),
            ("queue search: name", "/queue?q=kerry+hall77"),
            ("queue search: phrase, all statuses", "/queue?q=by+the+throat&status=all"),
            ("queue sorted: reported, newest first", "/queue?sort=reported&dir=desc"),
            ("queue sorted: flags, page 50", "/queue?sort=flags&dir=desc&page=50"),
            ("queue: decided", "/queue?status=decided"),
            ("incident page", first),
            ("progress dashboard", "/dashboard"),
        ]
        print(
            f"{args.incidents} incidents, {flags} flags, {decided} decided; load {load_s:.1f} s ({report}); "
            f"{url.split(':')[0]}; {args.repeat} requests each\n"
        )
        print("| page | median ms | p95 ms | max ms | bytes |\n|---|---:|---:|---:|---:|")
        for name, path in pages:
            median, p95, worst, size = timed(client, path, args.repeat)
            print(f"| {name} | {median:.1f} | {p95:.1f} | {worst:.1f} | {size:,} |")
    app.state.db.dispose()


if __name__ == "__main__":
    main()
