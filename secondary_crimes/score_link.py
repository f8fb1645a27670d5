"""The `score` command's linking pass: course of conduct over the whole scored output (issue 14).

Scoring streams in batches and resumes, so one batch never sees the incidents of another.
Linking therefore runs once, after the last batch: it reads the scored records back (each holds
its ``incident``), links them all with ``link.run.link_batch`` (the model's offences count as
indicators) and rewrites the file with ``linked`` and ``course_of_conduct`` added to each record,
through a temporary file and ``os.replace`` (a reader, or a killed run, sees the old file or the
new one). Linking holds every incident, its extraction and its parties in memory: see
``score_link_max_incidents`` in the settings and docs/course_of_conduct.md for the sizes measured.

With a person store (env ``SECONDARY_CRIMES_LINK_STORE``: ``queue`` for the
queue's database or a database URL; ``link/store.py``), the output's incidents also link to those
of earlier runs stored there, and are stored for later runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from secondary_crimes.records import Incident
from secondary_crimes.settings import get_settings


def max_link_incidents() -> int:
    """The most scored incidents the score command links when neither --link nor --no-link is given."""
    return int(get_settings().get("score_link_max_incidents", 50_000))


def should_link(link: bool | None, scored: int) -> bool:
    """``link`` when given; otherwise (None, the default) link files of up to ``max_link_incidents()``."""
    return link if link is not None else scored <= max_link_incidents()


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _incident(record: dict[str, Any]) -> Incident:
    return Incident.model_validate({**record["incident"], "incident_id": record["incident_id"]})


def link_records(incidents: Sequence[Incident], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scored records in memory with ``linked`` and ``course_of_conduct`` added, as `score` links a file
    of this size by default (``should_link``; no person store): what evaluation reads, so a labelled
    file is judged on the flags its output carries. Unchanged when there are too many to link."""
    from secondary_crimes.link.run import annotate, link_batch

    if not should_link(None, len(records)):
        return records
    result = link_batch(incidents, scored=records, max_evidence=int(get_settings()["max_evidence_per_offence"]))
    return annotate(records, result)


def link_scored(source: Path, target: Path, *, max_evidence: int | None = None,
                store: str | None = None) -> dict[str, int]:
    """Link the scored records of ``source`` and write them, annotated, to ``target`` (atomically;
    ``target`` may be ``source``). Returns counts: series, linked incidents, flags, missed flags (and,
    with a person store, stored and earlier incidents and new people). ``store``: the store's database
    URL or ``queue``; None reads env ``SECONDARY_CRIMES_LINK_STORE`` (unset: no store). When blocking
    split a key held by more than ``link_max_block_size`` records, ``blocking_split_keys``,
    ``blocking_neighbourhood_pairs`` and ``blocking_left_out_pairs`` say how much (link.resolve)."""
    from secondary_crimes.link.run import annotate, link_batch
    from secondary_crimes.link.store import PersonStore, store_url
    from secondary_crimes.score import record_line

    incidents, offences = [], []
    for record in _records(source):
        incidents.append(_incident(record))
        offences.append({"incident_id": record["incident_id"], "offences": record.get("offences") or []})
    if max_evidence is None:
        max_evidence = int(get_settings()["max_evidence_per_offence"])
    url = store_url(store)
    if url is None:
        result = link_batch(incidents, scored=offences, max_evidence=max_evidence)
    else:
        with PersonStore(url) as person_store:
            result = link_batch(incidents, scored=offences, max_evidence=max_evidence, store=person_store)
    del incidents, offences
    temporary = target.with_name(f".{target.name}.{os.getpid()}.linking")
    try:
        with temporary.open("wb") as out:
            for record in _records(source):
                out.write(record_line(annotate([record], result)[0]))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    flags = [flag for found in result.flags.values() for flag in found]
    # Blocking that split a common key into time neighbourhoods says so in the manifest (pairs left out).
    blocking = {f"blocking_{name}": count for name, count in result.resolution.blocking.items() if count}
    return {"series": len(result.series), "linked_incidents": sum(bool(ids) for ids in result.linked.values()),
            "conduct_flags": len(flags), "missed_conduct_flags": sum(flag.missed for flag in flags),
            **blocking, **(result.stored or {})}
