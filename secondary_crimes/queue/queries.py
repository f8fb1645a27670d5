"""The queue: incidents with open flags in review-priority order, filtered, counted and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, ScalarSelect, Select, Text, cast, distinct, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.queue import claims
from secondary_crimes.queue.models import DECIDED, STATUSES, Flag, Incident

PAGE_SIZE = 50
STATUS_FILTERS = ("open", "more_info", "recorded", "no_crime", "decided", "all")
DEFAULTS = (("page", 1), ("status", "open"), ("sort", "priority"), ("mine", False))
"""Query-string values left out of links (they are what an absent parameter means)."""
SORTS = ("priority", "incident", "flags", "reported", "opening_code", "domestic", "reporter", "model")


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Optional = BeforeValidator(_blank_to_none)
# Reported dates the filters accept (beyond them the date arithmetic overflows).
ReportedDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]


class QueueFilters(BaseModel):
    """The queue page's query string; blank fields mean 'any'."""

    model_config = ConfigDict(extra="ignore")

    offence: Annotated[str | None, Optional] = None
    domestic: Annotated[bool | None, Optional] = None
    reporter: Annotated[str | None, Optional] = None
    date_from: Annotated[ReportedDate | None, Optional] = None
    date_to: Annotated[ReportedDate | None, Optional] = None
    status: Annotated[str, BeforeValidator(lambda v: _blank_to_none(v) or "open")] = "open"
    model_version: Annotated[str | None, Optional] = None
    q: Annotated[str | None, Optional, Field(max_length=200)] = None
    sort: Annotated[Literal[*SORTS], BeforeValidator(lambda v: _blank_to_none(v) or "priority")] = "priority"
    dir: Annotated[Literal["asc", "desc"] | None, Optional] = None
    mine: Annotated[bool, BeforeValidator(lambda v: _blank_to_none(v) or False)] = False
    page: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _ordered_dates(self) -> QueueFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self

    def query_string(self, **changes: Any) -> str:
        values = {**self.model_dump(), **changes}
        return urlencode(
            {
                k: ("true" if v is True else "false" if v is False else v)
                for k, v in values.items()
                if v not in (None, "") and (k, v) not in DEFAULTS
            }
        )


def _flag_conditions(filters: QueueFilters, *, with_status: bool = True) -> list[Any]:
    """Conditions on one of the incident's flags (all met by the same flag)."""
    conditions: list[Any] = [Flag.incident_pk == Incident.id]
    if filters.offence:
        conditions.append(Flag.offence == filters.offence)
    if filters.model_version:
        conditions.append(Flag.model_version == filters.model_version)
    if with_status:
        status = filters.status
        if status == "open":
            conditions += [Flag.status == "open", Flag.active.is_(True)]
        elif status == "decided":
            conditions.append(Flag.status.in_(DECIDED))
        elif status in STATUSES:
            conditions.append(Flag.status == status)
    return conditions


def _incident_conditions(filters: QueueFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.domestic is not None:
        conditions.append(Incident.domestic == filters.domestic)
    if filters.reporter:
        conditions.append(Incident.reporter == filters.reporter)
    if filters.date_from:
        conditions.append(Incident.reported_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        conditions.append(Incident.reported_at < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    if filters.q and filters.q.strip():
        conditions.append(search_condition(filters.q))
    return conditions


def search_condition(text: str) -> ColumnElement[bool]:
    """Incidents whose id, people's names or texts hold ``text`` (case-insensitive, a bound parameter)."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    columns = (Incident.incident_id, cast(Incident.people, Text), Incident.call_log, Incident.officer_narrative)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def flag_count() -> ScalarSelect[int]:
    return select(func.count(Flag.id)).where(Flag.incident_pk == Incident.id).scalar_subquery()


# The columns the queue sorts by (a whitelist: the query string names one of these keys).
SORT_COLUMNS: dict[str, Any] = {
    "priority": Incident.review_priority,
    "incident": Incident.incident_id,
    "flags": flag_count,
    "reported": Incident.reported_at,
    "opening_code": Incident.opening_code,
    "domestic": Incident.domestic,
    "reporter": Incident.reporter,
    "model": Incident.model_version,
}


def queue_order(filters: QueueFilters) -> tuple[Any, ...]:
    """ORDER BY for the chosen column and direction (priority high-first by default), ties by id."""
    column = SORT_COLUMNS[filters.sort]
    column = column() if callable(column) else column
    descending = (filters.dir or ("desc" if filters.sort == "priority" else "asc")) == "desc"
    return ((column.desc() if descending else column.asc()).nulls_last(), Incident.id)


def _filtered(query: Select, filters: QueueFilters, viewer: int | None = None) -> Select:
    """``query`` over incidents: those matching the filters with a flag that matches them too.

    For a ``viewer`` (a user id), ``mine`` keeps the incidents they hold a claim on; otherwise the
    open queue leaves out those someone else holds.
    """
    query = query.where(*_incident_conditions(filters), exists().where(*_flag_conditions(filters)))
    if viewer is not None and filters.mine:
        query = query.where(claims.held_by(viewer))
    elif viewer is not None and filters.status == "open":
        query = query.where(~claims.held_by_others(viewer))
    return query


@dataclass
class QueuePage:
    incidents: list[Incident]
    holds: dict[int, claims.Hold]
    total: int
    counts: dict[str, int]
    page: int
    pages: int
    model_versions: list[str]


def status_counts(session: Session, filters: QueueFilters) -> dict[str, int]:
    """Per flag status, how many incidents (matching the filters) have a flag in it."""
    counts = dict.fromkeys(STATUSES, 0)
    query = select(Flag.status, func.count(distinct(Flag.incident_pk))).where(
        Flag.active.is_(True) | (Flag.status != "open"), *_flag_conditions(filters, with_status=False)[1:]
    )
    if incident_conditions := _incident_conditions(filters):  # join only when a filter needs it
        query = query.join(Flag.incident).where(*incident_conditions)
    query = query.group_by(Flag.status)
    for status, count in session.execute(query):
        counts[status] = count
    return counts


def queue_page(
    session: Session, filters: QueueFilters, page_size: int | None = None, viewer: int | None = None
) -> QueuePage:
    """One page of incidents in the chosen order, each with all its flags and its live claim."""
    page_size = page_size or PAGE_SIZE
    total = session.scalar(_filtered(select(func.count(Incident.id)), filters, viewer)) or 0
    pages = max(1, -(-total // page_size))
    page = min(filters.page, pages)
    rows = session.scalars(
        _filtered(select(Incident), filters, viewer)
        .options(selectinload(Incident.flags))
        .order_by(*queue_order(filters))
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    versions = list(session.scalars(select(Flag.model_version).distinct().order_by(Flag.model_version)))
    holds = claims.holds(session, [incident.id for incident in rows])
    return QueuePage(list(rows), holds, total, status_counts(session, filters), page, pages, versions)
