"""Upsert scored output (``secondary-crimes score`` JSON Lines) into the review queue.

Loading the same file twice changes nothing. A re-score updates incidents and flags
(probabilities, evidence, model version) but never a decision or a flag's status. A flag
the new scoring no longer raises is deleted if nobody decided it, and otherwise kept,
marked inactive, with its decisions.

Each load also queues check items (queue/checks.py): a seeded random sample and the most
uncertain of the file's incidents with no missed offence. A re-score leaves check items as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.batching import batched
from secondary_crimes.queue import audit_log
from secondary_crimes.queue.checks import Candidate, CheckSettings, queue_checks
from secondary_crimes.queue.models import CHECK_OFFENCE, Flag, Incident, User, utcnow
from secondary_crimes.records import Incident as InputIncident
from secondary_crimes.scored import ScoredIncident, ScoredOffence

CHUNK = 500
MAX_ID = 64  # incidents.incident_id
MAX_VERSION = 128  # incidents.model_version / flags.model_version
MAX_CODE = 128  # incidents.opening_code / closing_code
MAX_PROBLEMS = 20  # bad lines reported by one load
MAX_FIELD_PROBLEMS = 3  # problems reported per bad line


class LoadError(ValueError):
    """A scored record that cannot be loaded; names the file, line, incident and field."""


class QueuedIncident(ScoredIncident):
    """A scored record (secondary_crimes/scored.py) that also fits the queue: an id that fits its
    column and can be a step of a link's path, a model version and codes that fit their columns."""

    @field_validator("incident_id")
    @classmethod
    def _linkable(cls, value: str) -> str:
        if len(value) > MAX_ID:
            raise ValueError(f"at most {MAX_ID} characters (the queue's incident ids)")
        if value.strip() in (".", ".."):
            raise ValueError("'.' and '..' cannot be incident ids (they are path steps in a link)")
        return value

    @field_validator("model_version")
    @classmethod
    def _fits(cls, value: str) -> str:
        if len(value) > MAX_VERSION:
            raise ValueError(f"at most {MAX_VERSION} characters")
        return value

    def input_incident(self) -> InputIncident:
        incident = super().input_incident()
        for name in ("opening_code", "closing_code"):
            if len(getattr(incident, name)) > MAX_CODE:
                raise LoadError(f"incident.{name}: at most {MAX_CODE} characters")
        return incident


@dataclass
class LoadReport:
    incidents_added: int = 0
    incidents_updated: int = 0
    incidents_unchanged: int = 0
    flags_added: int = 0
    flags_updated: int = 0
    flags_removed: int = 0
    flags_retired: int = 0
    unflagged: int = 0  # incidents of the file with no missed offence: the check items' frame
    checks_random: int = 0  # check items added
    checks_uncertain: int = 0
    checks_kept: int = 0  # chosen again, already check items
    model_versions: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["model_versions"] = sorted(self.model_versions)
        return out

    def __str__(self) -> str:
        return (
            f"incidents: {self.incidents_added} added, {self.incidents_updated} updated, "
            f"{self.incidents_unchanged} unchanged; flags: {self.flags_added} added, "
            f"{self.flags_updated} updated, {self.flags_removed} removed (undecided), "
            f"{self.flags_retired} kept inactive (decided); check items: {self.checks_random} random and "
            f"{self.checks_uncertain} uncertain added of {self.unflagged} unflagged, {self.checks_kept} already queued"
        )


def _parse(line: bytes, number: int) -> tuple[QueuedIncident, InputIncident] | None:
    """One line checked (None if blank); a problem raises :class:`LoadError` saying what and where."""
    try:
        text = line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise LoadError(f"not UTF-8: byte 0x{line[error.start]:02x} at column {error.start + 1}") from None
    if not text.strip():
        return None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(f"not JSON: {error.msg} (column {error.colno})") from None
    incident_id = raw.get("incident_id") if isinstance(raw, dict) else None
    try:
        scored = QueuedIncident.model_validate(raw)
        return scored, scored.input_incident()
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or '(record)'}: {problem['msg']}"
            for problem in error.errors()[:MAX_FIELD_PROBLEMS]
        ]
        raise LoadError(f"incident {incident_id}: {'; '.join(problems)}") from None
    except LoadError as error:
        raise LoadError(f"incident {incident_id}: {error}") from None


def read_scored(path: Path) -> Iterator[tuple[QueuedIncident, InputIncident]]:
    """Parse and check every line; bad lines raise one :class:`LoadError` naming each of them.

    Records stop being yielded at the first bad line, but checking goes on (up to MAX_PROBLEMS
    bad lines) so that one load reports every problem; the caller's transaction is rolled back.
    """
    problems: list[str] = []
    first_line: dict[str, int] = {}
    with Path(path).open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = _parse(line, number)
                if record is not None:
                    incident_id = record[0].incident_id
                    if incident_id in first_line:
                        raise LoadError(
                            f"incident {incident_id}: also on line {first_line[incident_id]} "
                            "(one record per incident in a file)"
                        )
                    first_line[incident_id] = number
            except LoadError as error:
                problems.append(f"{path}, line {number}: {error}")
                if len(problems) >= MAX_PROBLEMS:
                    problems.append(f"(stopped after {MAX_PROBLEMS} bad lines)")
                    break
                continue
            if record is not None and not problems:
                yield record
    if problems:
        raise LoadError("\n".join(problems))


def set_changed(obj: Any, values: dict[str, Any]) -> bool:
    """Set on ``obj`` each of ``values`` that differs; whether any did."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _flag_values(entry: ScoredOffence, model_version: str) -> dict[str, Any]:
    return {
        "probability": entry.probability,
        "threshold": entry.threshold,
        "reason": entry.reason or "",
        "evidence": [span.model_dump() for span in entry.evidence],
        "model_version": model_version,
    }


def _incident_values(scored: QueuedIncident, incident: InputIncident) -> dict[str, Any]:
    return {
        "reported_at": incident.reported_at,
        "closed_at": incident.closed_at,
        "opening_code": incident.opening_code,
        "closing_code": incident.closing_code,
        "call_log": incident.call_log,
        "officer_narrative": incident.officer_narrative,
        "recorded_crimes": list(incident.recorded_crimes),
        "model_version": scored.model_version,
        "review_priority": float(scored.review_priority),
        "domestic": scored.domestic,
        "relationship": scored.relationship,
        "reporter": scored.reporter,
        "people": [person.model_dump(exclude_unset=True) for person in scored.people or []],
        "scored_offences": [entry.model_dump() for entry in scored.offences],
        "rule_flags": [flag.model_dump(exclude_unset=True) for flag in scored.rule_flags],
    }


def upsert(
    session: Session, records: Iterable[tuple[QueuedIncident, InputIncident]], report: LoadReport | None = None
) -> LoadReport:
    """Upsert parsed records into ``session`` (the caller commits)."""
    report = report or LoadReport()
    now = utcnow()
    for chunk in batched(records, CHUNK):
        ids = {scored.incident_id for scored, _ in chunk}
        existing = {
            row.incident_id: row
            for row in session.scalars(
                select(Incident)
                .where(Incident.incident_id.in_(ids))
                .options(selectinload(Incident.flags).selectinload(Flag.decisions))
            )
        }
        for scored, incident in chunk:
            report.model_versions.add(scored.model_version)
            values = _incident_values(scored, incident)
            row = existing.get(scored.incident_id)
            if row is None:
                row = Incident(incident_id=scored.incident_id, loaded_at=now, updated_at=now, **values)
                row.flags = []
                session.add(row)
                existing[scored.incident_id] = row
                report.incidents_added += 1
                changed = False
            else:
                changed = set_changed(row, values)
            by_offence = {flag.offence: flag for flag in row.flags if flag.offence != CHECK_OFFENCE}
            for check in row.flags:
                if check.offence == CHECK_OFFENCE:  # a check item is the sample's: only its sort key follows
                    check.review_priority = float(scored.review_priority)
            wanted = {entry.offence: entry for entry in scored.missed}
            for offence, entry in wanted.items():
                flag = by_offence.get(offence)
                flag_values = {
                    **_flag_values(entry, scored.model_version),
                    "active": True,
                    "review_priority": float(scored.review_priority),
                }
                if flag is None:
                    row.flags.append(
                        Flag(offence=offence, created_at=now, updated_at=now, status="open", version=0, **flag_values)
                    )
                    report.flags_added += 1
                    changed = True
                elif set_changed(flag, flag_values):
                    flag.updated_at = now
                    report.flags_updated += 1
                    changed = True
            for offence, flag in by_offence.items():
                if offence in wanted:
                    continue
                if flag.decisions or flag.status != "open":
                    flag.review_priority = float(scored.review_priority)
                    if flag.active:
                        flag.active = False
                        flag.updated_at = now
                        report.flags_retired += 1
                        changed = True
                else:
                    row.flags.remove(flag)
                    session.delete(flag)
                    report.flags_removed += 1
                    changed = True
            if row.id is not None:
                if changed:
                    row.updated_at = now
                    report.incidents_updated += 1
                else:
                    report.incidents_unchanged += 1
        session.flush()
    return report


def _unflagged(records: Iterable[tuple[QueuedIncident, InputIncident]],
               out: list[Candidate]) -> Iterator[tuple[QueuedIncident, InputIncident]]:
    """``records`` as they are, noting in ``out`` those with no missed offence."""
    for scored, incident in records:
        if not scored.missed:
            out.append(Candidate(scored.incident_id, float(scored.review_priority), scored.model_version))
        yield scored, incident


def load_file(session: Session, path: Path, *, user: User | None = None,
              checks: CheckSettings | None = None) -> LoadReport:
    """Load one scored JSON Lines file in a single transaction (the caller commits).

    ``checks``: how many check items to queue (default: the queue_check_* settings).
    """
    candidates: list[Candidate] = []
    report = upsert(session, _unflagged(read_scored(Path(path)), candidates))
    checked = queue_checks(session, candidates, checks if checks is not None else CheckSettings.from_settings())
    report.unflagged, report.checks_random = checked.frame, checked.random
    report.checks_uncertain, report.checks_kept = checked.uncertain, checked.kept
    where = str(Path(path).resolve())
    if user is None:
        audit_log.record_cli(session, "load", where, **report.as_dict())
    else:
        audit_log.record(session, user, "load", where, **report.as_dict())
    from secondary_crimes.queue.series import load_series  # courses of conduct (issue 14.3)

    load_series(session, Path(path), user=user)
    return report
