"""The queue: incidents with open flags in review-priority order, filtered, counted and paged; and the
series (courses of conduct) whose flags match the same filters, counted and listed beside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Text,
    cast,
    distinct,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased, selectinload

from secondary_crimes.queue import claims
from secondary_crimes.queue.models import CHECK_OFFENCE, DECIDED, STATUSES, Flag, Incident, Series, SeriesFlag

PAGE_SIZE = 50
STATUS_FILTERS = ("open", "more_info", "recorded", "no_crime", "decided", "all")
DEFAULTS = (("page", 1), ("status", "open"), ("sort", "priority"), ("mine", False))
"""Query-string values left out of links (they are what an absent parameter means)."""
SORTS = ("priority", "incident", "flags", "reported", "opening_code", "domestic", "reporter", "model")
SERIES_KIND = "series"
"""The offence filter's value that lists series flags only (courses of conduct, decided once per series)."""
SERIES_PREVIEW = 10
"""Series listed below the incidents on the queue's first page (all of them: the ``series`` filter)."""


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
    # The length applies to a search, not to a blank one (None): the filter form always sends q.
    q: Annotated[Annotated[str, Field(max_length=200)] | None, Optional] = None
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


def _status_conditions(flag: type[Flag] | type[SeriesFlag], status: str) -> list[Any]:
    """Conditions on an incident or series flag for the status filter ("all": none)."""
    if status == "open":
        return [flag.status == "open", flag.active.is_(True)]
    if status == "decided":
        return [flag.status.in_(DECIDED)]
    if status in STATUSES:
        return [flag.status == status]
    return []


def _flag_conditions(filters: QueueFilters, *, with_status: bool = True) -> list[Any]:
    """Conditions on one of the incident's flags (all met by the same flag)."""
    conditions: list[Any] = [Flag.incident_pk == Incident.id]
    if filters.offence:
        conditions.append(Flag.offence == filters.offence)
    if filters.model_version:
        conditions.append(Flag.model_version == filters.model_version)
    if with_status:
        conditions += _status_conditions(Flag, filters.status)
    return conditions


def _incident_conditions(filters: QueueFilters, *, search: bool = True) -> list[Any]:
    conditions: list[Any] = []
    if filters.domestic is not None:
        conditions.append(Incident.domestic == filters.domestic)
    if filters.reporter:
        conditions.append(Incident.reporter == filters.reporter)
    if filters.date_from:
        conditions.append(Incident.reported_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        conditions.append(Incident.reported_at < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    if search and filters.q and filters.q.strip():
        conditions.append(search_condition(filters.q))
    return conditions


def _like_pattern(text: str) -> str:
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_condition(text: str) -> ColumnElement[bool]:
    """Incidents whose id, people's names or texts hold ``text`` (case-insensitive, a bound parameter)."""
    pattern = _like_pattern(text)
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


def _series_flag_conditions(filters: QueueFilters, *, with_status: bool = True) -> list[Any]:
    """Conditions on one of a series' flags (all met by the same flag), as ``_flag_conditions``.

    The offence filter's ``series`` value takes every series flag and ``check`` none (check items are
    incidents). The incident filters (domestic, reporter, dates) apply to the incident the flag is on:
    the series' latest, which the same load put in the queue.
    """
    conditions: list[Any] = [SeriesFlag.series_pk == Series.id]
    if filters.offence == CHECK_OFFENCE:
        conditions.append(false())
    elif filters.offence and filters.offence != SERIES_KIND:
        conditions.append(SeriesFlag.offence == filters.offence)
    if with_status:
        conditions += _status_conditions(SeriesFlag, filters.status)
    if incident_conditions := _incident_conditions(filters, search=False):
        conditions.append(exists().where(Incident.incident_id == SeriesFlag.incident_id, *incident_conditions))
    return conditions


def _series_conditions(filters: QueueFilters) -> list[Any]:
    """Conditions on a series: its model version; the search in its id, its incidents' ids and the texts
    of the incident its flags are on. Claims hold incidents, not series: *My claims* lists no series."""
    conditions: list[Any] = []
    if filters.mine:
        conditions.append(false())
    if filters.model_version:
        conditions.append(Series.model_version == filters.model_version)
    if filters.q and filters.q.strip():
        pattern, flag = _like_pattern(filters.q), aliased(SeriesFlag)
        conditions.append(or_(
            Series.series_id.ilike(pattern, escape="\\"),
            cast(Series.incident_ids, Text).ilike(pattern, escape="\\"),
            exists().where(flag.series_pk == Series.id, Incident.incident_id == flag.incident_id,
                           search_condition(filters.q)),
        ))
    return conditions


def _series_filtered(query: Select, filters: QueueFilters) -> Select:
    """``query`` over series: those matching the filters with a flag that matches them too."""
    return query.where(*_series_conditions(filters), exists().where(*_series_flag_conditions(filters)))


def series_counts(session: Session, filters: QueueFilters) -> dict[str, int]:
    """Per flag status, how many series (matching the filters) have a series flag in it."""
    counts = dict.fromkeys(STATUSES, 0)
    query = (
        select(SeriesFlag.status, func.count(distinct(SeriesFlag.series_pk)))
        .join(SeriesFlag.series)
        .where(SeriesFlag.active.is_(True) | (SeriesFlag.status != "open"),
               *_series_flag_conditions(filters, with_status=False)[1:], *_series_conditions(filters))
        .group_by(SeriesFlag.status)
    )
    for status, count in session.execute(query):
        counts[status] = count
    return counts


def _series_rows(session: Session, filters: QueueFilters, limit: int, offset: int = 0) -> list[Series]:
    """Matching series with all their flags, the latest incident first (the sort applies to incidents)."""
    return list(session.scalars(
        _series_filtered(select(Series), filters)
        .options(selectinload(Series.flags))
        .order_by(Series.last_reported_at.desc().nulls_last(), Series.id.desc())
        .limit(limit)
        .offset(offset)
    ))


@dataclass
class QueuePage:
    incidents: list[Incident]
    holds: dict[int, claims.Hold]
    total: int
    counts: dict[str, int]
    page: int
    pages: int
    model_versions: list[str]
    # Series (courses of conduct) matching the filters: this page's rows (the first SERIES_PREVIEW on the
    # first page; a page of them under the ``series`` filter), how many in all, and per flag status.
    series: list[Series] = field(default_factory=list)
    series_total: int = 0
    series_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    series_only: bool = False


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
    """One page of incidents in the chosen order, each with all its flags and its live claim; and the
    series whose flags match the filters (under the ``series`` filter, a page of series and no incident)."""
    page_size = page_size or PAGE_SIZE
    versions = sorted(set(session.scalars(select(Flag.model_version).distinct()))
                      | set(session.scalars(select(Series.model_version).distinct())))
    series_total = session.scalar(_series_filtered(select(func.count(Series.id)), filters)) or 0
    series_counts_ = series_counts(session, filters)
    if filters.offence == SERIES_KIND:
        pages = max(1, -(-series_total // page_size))
        page = min(filters.page, pages)
        rows = _series_rows(session, filters, page_size, (page - 1) * page_size)
        return QueuePage([], {}, 0, dict.fromkeys(STATUSES, 0), page, pages, versions, rows, series_total,
                         series_counts_, series_only=True)
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
    holds = claims.holds(session, [incident.id for incident in rows])
    series = _series_rows(session, filters, SERIES_PREVIEW) if page == 1 and series_total else []
    return QueuePage(list(rows), holds, total, status_counts(session, filters), page, pages, versions, series,
                     series_total, series_counts_)
