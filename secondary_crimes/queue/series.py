"""Courses of conduct in the queue (issue 14.3): series from scored output, each flag decided once.

**Loading.** The linking pass gives every incident of a series after the first its
``course_of_conduct`` flags (link/conduct.py): the series id, the earlier incidents (``linked``),
whether the incident's recorded crimes miss the offence, and evidence from every incident so far.
A series in the queue is what its latest flagged incident says: its incidents, oldest first, and
one ``SeriesFlag`` per course-of-conduct offence those crimes do not cover. A file whose latest
incident of a series is an earlier one (an earlier run loaded again) does not shrink it. As for
incident flags (load.py), loading never changes a decision: a flag the series no longer raises is
deleted when nobody decided it and kept, inactive, when someone did. One exception to keeping a
status: a decided flag (recorded or no crime) whose series a later load adds incidents to reopens
(status open, a new version) since it was decided on fewer incidents; its decisions stay, and the
reopening is in the audit log (``reopen_series_flag``).

**Deciding.** An auditor decides a series flag once, for the whole series, with the same actions
and reasons as an incident flag (decisions.checked_form): record, no crime with a reason, or more
information. A decision names the flag version it was made against (compare-and-set, so the second
of two concurrent decisions is a conflict, never an overwrite), is appended to ``series_decisions``
(never updated) with the series' incidents as they stood, and is written to the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.decisions import (
    Conflict,
    DecisionError,
    NotFound,
    advance_version,
)
from secondary_crimes.queue.load import LoadError, set_changed
from secondary_crimes.queue.models import (
    DECIDED,
    Incident,
    Series,
    SeriesDecision,
    SeriesFlag,
    User,
    utcnow,
)
from secondary_crimes.scored import CourseOfConductFlag

MAX_SERIES_ID = 96  # series.series_id
MAX_ID = 64  # incidents.incident_id

__all__ = ["Conflict", "DecisionError", "NotFound", "decide_series", "load_series", "read_series", "timeline"]


@dataclass
class SeriesView:
    """A series as its latest flagged incident in one file sees it."""

    series_id: str
    incident_ids: list[str]  # oldest first, the latest last
    model_version: str
    flags: list[CourseOfConductFlag]  # that incident's course-of-conduct flags for the series
    # Per offence, the file's incidents whose course-of-conduct flags for the series hold it (missed or not).
    carriers: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class SeriesReport:
    series_added: int = 0
    series_updated: int = 0
    flags_added: int = 0
    flags_updated: int = 0
    flags_removed: int = 0
    flags_retired: int = 0
    flags_reopened: int = 0  # decided flags opened again: the series gained incidents since


class SeriesLoadError(LoadError):
    """A course-of-conduct flag that does not fit the queue; names the incident."""


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8-sig") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _checked(raw: Any, incident_id: str) -> CourseOfConductFlag:
    """A course-of-conduct flag (scored.CourseOfConductFlag) whose ids fit the queue's columns."""
    where = f"incident {incident_id}: course_of_conduct"
    try:
        flag = CourseOfConductFlag.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        raise SeriesLoadError(f"{where}.{'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None
    if not 0 < len(flag.series_id) <= MAX_SERIES_ID:
        raise SeriesLoadError(f"{where}: series_id must be 1 to {MAX_SERIES_ID} characters")
    if not all(0 < len(i) <= MAX_ID for i in flag.linked):
        raise SeriesLoadError(f"{where}: linked must be incident ids of at most {MAX_ID} characters")
    return flag


def read_series(path: Path) -> dict[str, SeriesView]:
    """The series of a scored file, each as its latest flagged incident there sees it."""
    out: dict[str, SeriesView] = {}
    carriers: dict[str, dict[str, list[str]]] = {}
    for record in _records(path):
        incident_id = record["incident_id"]
        for raw in record.get("course_of_conduct") or []:
            flag = _checked(raw, incident_id)
            ids = [*flag.linked, incident_id]
            seen = out.get(flag.series_id)
            if seen is None or len(ids) > len(seen.incident_ids):
                seen = out[flag.series_id] = SeriesView(flag.series_id, ids, record["model_version"], [])
            if seen.incident_ids[-1] == incident_id:
                seen.flags.append(flag)
            carried = carriers.setdefault(flag.series_id, {}).setdefault(flag.offence, [])
            if incident_id not in carried:
                carried.append(incident_id)
    for series_id, view in out.items():
        view.carriers = carriers.get(series_id, {})
    return out


def _carried_by(existing: list[str], view: SeriesView, offence: str) -> list[str]:
    """The incidents known to carry ``offence`` for the series: those loaded before and this file's, in
    the series' order (a re-load never forgets one)."""
    known = set(existing) | set(view.carriers.get(offence, []))
    order = {incident_id: n for n, incident_id in enumerate(view.incident_ids)}
    return sorted(known, key=lambda incident_id: (order.get(incident_id, len(order)), incident_id))


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=None)  # the time as written (display only)


def _flag_values(flag: CourseOfConductFlag, view: SeriesView) -> dict[str, Any]:
    return {"reason": flag.reason, "evidence": [e.model_dump(mode="json") for e in flag.evidence],
            "incident_id": view.incident_ids[-1], "occasions": len(view.incident_ids), "active": True}


def load_series(session: Session, path: Path, *, user: User | None = None) -> SeriesReport:
    """Upsert the series of a scored file into the queue (the caller commits; the same file twice changes nothing)."""
    report = SeriesReport()
    now = utcnow()
    reopened: list[tuple[SeriesFlag, str, list[str]]] = []  # (flag, the status it had, the incidents added)
    for view in read_series(path).values():
        row = session.scalar(select(Series).where(Series.series_id == view.series_id)
                             .options(selectinload(Series.flags).selectinload(SeriesFlag.decisions)))
        if row is not None and len(view.incident_ids) < len(row.incident_ids):
            continue  # an earlier part of a series already loaded in full
        times = [_when(e.reported_at) for f in view.flags for e in f.evidence]
        times = [t for t in times if t is not None]
        added = [i for i in view.incident_ids if row is not None and i not in row.incident_ids]
        values = {"incident_ids": view.incident_ids, "model_version": view.model_version[:128],
                  "first_reported_at": min(times, default=None), "last_reported_at": max(times, default=None)}
        if row is None:
            row = Series(series_id=view.series_id, loaded_at=now, updated_at=now, **values)
            row.flags = []
            session.add(row)
            report.series_added += 1
        elif set_changed(row, values):
            row.updated_at = now
            report.series_updated += 1
        wanted = {flag.offence: flag for flag in view.flags if flag.missed}
        by_offence = {flag.offence: flag for flag in row.flags}
        for offence, flag in wanted.items():
            existing = by_offence.get(offence)
            values = {**_flag_values(flag, view),
                      "carried_by": _carried_by(existing.carried_by if existing is not None else [], view, offence)}
            if existing is None:
                row.flags.append(SeriesFlag(offence=offence, status="open", version=0, created_at=now, updated_at=now,
                                            **values))
                report.flags_added += 1
            elif set_changed(existing, values):
                existing.updated_at = now
                report.flags_updated += 1
            if existing is not None and added and existing.status in DECIDED:
                # Decided on fewer incidents than the series now has: to be decided again. A new version
                # (in SQL, so a decision made against the old one is a conflict); decisions are kept.
                reopened.append((existing, existing.status, added))
                existing.status, existing.version, existing.updated_at = "open", SeriesFlag.version + 1, now
                report.flags_reopened += 1
        for offence, existing in by_offence.items():
            if offence in wanted:
                continue
            if existing.decisions or existing.status != "open":
                if existing.active:
                    existing.active, existing.updated_at = False, now
                    report.flags_retired += 1
            else:
                row.flags.remove(existing)
                session.delete(existing)
                report.flags_removed += 1
        session.flush()
    if not any(report.__dict__.values()):
        return report  # no series in the file, or nothing changed
    where = str(Path(path).resolve())

    def log(action: str, target: str, **detail: Any) -> None:
        if user is None:
            audit_log.record_cli(session, action, target, **detail)
        else:
            audit_log.record(session, user, action, target, **detail)

    log("load_series", where, **report.__dict__)
    for flag, status, added in reopened:
        latest = flag.latest_decision
        log("reopen_series_flag", f"series_flag:{flag.id}", series=flag.series.series_id, flag_offence=flag.offence,
            previous_status=status, decision_id=latest.id if latest else None,
            decided_incidents=list(latest.incident_ids) if latest else [], added_incidents=added,
            version=flag.version, file=where)
    return report


def load_one(session: Session, series_id: str) -> Series:
    """The series with its flags, their decisions and deciders (NotFound if there is none)."""
    row = session.scalar(
        select(Series).where(Series.series_id == series_id)
        .options(selectinload(Series.flags).selectinload(SeriesFlag.decisions).selectinload(SeriesDecision.user))
    )
    if row is None:
        raise NotFound(f"no series {series_id}")
    return row


def of_incident(session: Session, incident_id: str) -> list[Series]:
    """The series an incident belongs to, with their flags (usually none or one)."""
    # incident_ids is a JSON list: find its quoted id in the stored text, then keep exact members.
    quoted = json.dumps(incident_id).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.scalars(
        select(Series).where(cast(Series.incident_ids, Text).like(f"%{quoted}%", escape="\\"))
        .options(selectinload(Series.flags)).order_by(Series.id)
    )
    return [row for row in rows if incident_id in row.incident_ids]


def open_flags(series: Series) -> list[SeriesFlag]:
    return [flag for flag in series.flags if flag.status == "open" and flag.active]


def listing(session: Session, limit: int = 500) -> list[Series]:
    """Series with an open active flag first, then the rest; latest incident first."""
    rows = list(session.scalars(select(Series).options(selectinload(Series.flags))
                                .order_by(Series.last_reported_at.desc(), Series.id.desc()).limit(limit)))
    return sorted(rows, key=lambda s: not open_flags(s))


@dataclass
class Occasion:
    """One incident of a series on its timeline: the queue's incident (None when not loaded) and, per
    flag offence, the spans that show it there."""

    incident_id: str
    reported_at: str | None
    incident: Incident | None
    spans: dict[str, list[dict[str, Any]]]


def timeline(session: Session, series: Series) -> list[Occasion]:
    """The series' incidents in date order, each with its evidence for every active flag."""
    found = {i.incident_id: i for i in session.scalars(select(Incident).where(
        Incident.incident_id.in_(series.incident_ids)))}
    when: dict[str, str | None] = {}
    spans: dict[str, dict[str, list[dict[str, Any]]]] = {i: {} for i in series.incident_ids}
    for flag in series.flags:
        if not flag.active:
            continue
        for entry in flag.evidence:
            incident_id = entry.get("incident_id")
            if incident_id in spans:
                when.setdefault(incident_id, entry.get("reported_at"))
                spans[incident_id][flag.offence] = list(entry.get("spans") or [])

    def key(incident_id: str) -> tuple:
        incident = found.get(incident_id)
        moment = incident.reported_at if incident and incident.reported_at else _when(when.get(incident_id))
        return (moment is None, (moment.replace(tzinfo=None) if moment else datetime.min),
                series.incident_ids.index(incident_id))

    return [Occasion(i, when.get(i), found.get(i), spans[i]) for i in sorted(series.incident_ids, key=key)]


def decide_series(
    session: Session,
    user: User,
    flag_id: int,
    *,
    version: int,
    action: str,
    offence: str | None = None,
    reason_code: str | None = None,
    note: str = "",
) -> SeriesDecision:
    """Record ``user``'s one decision on a series flag they saw at ``version`` (the caller commits)."""
    flag, offence, reason_code, note = advance_version(session, SeriesFlag, SeriesDecision, flag_id,
                                                       version=version, action=action, offence=offence,
                                                       reason_code=reason_code, note=note)
    decision = SeriesDecision(series_flag_id=flag.id, user_id=user.id, action=action, offence=offence,
                              reason_code=reason_code, note=note, flag_version=flag.version,
                              incident_ids=list(flag.series.incident_ids))
    session.add(decision)
    session.flush()
    audit_log.record(session, user, "decide_series", f"series_flag:{flag.id}", series=flag.series.series_id,
                     incidents=list(flag.series.incident_ids), flag_offence=flag.offence, decision=action,
                     offence=offence, reason_code=reason_code, decision_id=decision.id, version=flag.version)
    return decision


def history(session: Session, user: User, limit: int = 200) -> list[SeriesDecision]:
    """``user``'s series decisions, latest first."""
    return list(session.scalars(
        select(SeriesDecision).where(SeriesDecision.user_id == user.id)
        .options(selectinload(SeriesDecision.flag).selectinload(SeriesFlag.series),
                 selectinload(SeriesDecision.reviews))
        .order_by(SeriesDecision.id.desc()).limit(limit)
    ))
