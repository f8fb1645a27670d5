"""The queue: open flags in review-priority order, filtered, counted and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.queue.models import DECIDED, STATUSES, Flag, Incident

PAGE_SIZE = 50
STATUS_FILTERS = ("open", "more_info", "recorded", "no_crime", "decided", "all")


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
                if v not in (None, "") and (k, v) not in (("page", 1), ("status", "open"))
            }
        )


def _needs_incident(filters: QueueFilters) -> bool:
    return filters.domestic is not None or bool(filters.reporter or filters.date_from or filters.date_to)


def _filtered(query: Select, filters: QueueFilters, *, with_status: bool = True) -> Select:
    """``query`` over flags with the filters applied (joining incidents only when a filter needs them)."""
    if _needs_incident(filters):
        query = query.join(Flag.incident)
    if filters.offence:
        query = query.where(Flag.offence == filters.offence)
    if filters.domestic is not None:
        query = query.where(Incident.domestic == filters.domestic)
    if filters.reporter:
        query = query.where(Incident.reporter == filters.reporter)
    if filters.date_from:
        query = query.where(Incident.reported_at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        query = query.where(Incident.reported_at < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    if filters.model_version:
        query = query.where(Flag.model_version == filters.model_version)
    if with_status:
        status = filters.status
        if status == "open":
            query = query.where(Flag.status == "open", Flag.active.is_(True))
        elif status == "decided":
            query = query.where(Flag.status.in_(DECIDED))
        elif status in STATUSES:
            query = query.where(Flag.status == status)
    return query


QUEUE_ORDER = (Flag.review_priority.desc(), Flag.probability.desc(), Flag.id)


@dataclass
class QueuePage:
    flags: list[Flag]
    total: int
    counts: dict[str, int]
    page: int
    pages: int
    model_versions: list[str]


def queue_page(session: Session, filters: QueueFilters, page_size: int | None = None) -> QueuePage:
    page_size = page_size or PAGE_SIZE
    total = session.scalar(_filtered(select(func.count(Flag.id)), filters)) or 0
    pages = max(1, -(-total // page_size))
    page = min(filters.page, pages)
    rows = session.scalars(
        _filtered(select(Flag), filters)
        .options(selectinload(Flag.incident))
        .order_by(*QUEUE_ORDER)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    counts = dict.fromkeys(STATUSES, 0)
    count_query = _filtered(
        select(Flag.status, func.count(Flag.id)).where(Flag.active.is_(True) | (Flag.status != "open")),
        filters,
        with_status=False,
    ).group_by(Flag.status)
    for status, count in session.execute(count_query):
        counts[status] = count
    versions = list(session.scalars(select(Flag.model_version).distinct().order_by(Flag.model_version)))
    return QueuePage(list(rows), total, counts, page, pages, versions)
