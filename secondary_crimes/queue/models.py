"""The review-queue store: SQLAlchemy 2 ORM models.

The schema itself is created by the Alembic migrations in ``migrations/``; a test checks that
these models and the migrations agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm import relationship as related  # "relationship" is also a column here


def utcnow() -> datetime:
    """Naive UTC now (stored without a zone, the same on SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


ROLES = ("auditor", "supervisor", "admin")
"""Roles in increasing power: each role can do everything the ones before it can."""

# Flag status: open (nobody has decided), more_info (an auditor asked for more information),
# recorded (the offence should have been recorded), no_crime (it should not).
STATUSES = ("open", "more_info", "recorded", "no_crime")
FLAG_KINDS = ("flag", "check")
CHECK_OFFENCE = "check"  # the offence column of a check item (never an offence label)
CHECK_REASONS = ("random", "uncertain")
DECIDED = ("recorded", "no_crime")
ACTIONS = {"record": "recorded", "no_crime": "no_crime", "more_info": "more_info"}

# The fixed list of reasons for a "no crime" decision.
NO_CRIME_REASONS = {
    "evidence_to_contrary": "Credible evidence to the contrary",
    "no_offence_disclosed": "No offence disclosed",
    "already_recorded_elsewhere": "Already recorded elsewhere (another incident or force)",
    "covered_by_recorded_crime": "Covered by a crime recorded at this incident",
    "not_a_crime_in_law": "The conduct is not a notifiable offence",
    "transferred": "Transferred to another force or agency to record",
    "duplicate": "Duplicate: the same report as another incident",
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Every session cookie carries the generation it was issued at; bumping it (logout, a new
    # password, deactivation) ends every session of this user, copied cookies included.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def can(self, role: str) -> bool:
        """Whether this user holds ``role`` or a more powerful one."""
        return ROLES.index(self.role) >= ROLES.index(role)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_review_priority", "review_priority"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_domestic", "domestic"),
        Index("ix_incidents_reporter", "reporter"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), unique=True)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    opening_code: Mapped[str] = mapped_column(String(128), default="")
    closing_code: Mapped[str] = mapped_column(String(128), default="")
    call_log: Mapped[str] = mapped_column(Text)
    officer_narrative: Mapped[str] = mapped_column(Text, default="")
    recorded_crimes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # From the latest scoring.
    model_version: Mapped[str] = mapped_column(String(128))
    review_priority: Mapped[float] = mapped_column(Float, default=0.0)
    domestic: Mapped[bool | None] = mapped_column(Boolean)
    relationship: Mapped[str | None] = mapped_column(String(32))
    reporter: Mapped[str | None] = mapped_column(String(32))
    people: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scored_offences: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rule_flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    loaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Bumped by every correction (as Flag.version by every decision): a stale correction is a conflict.
    correction_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    flags: Mapped[list[Flag]] = related(back_populates="incident", order_by="Flag.id")
    corrections: Mapped[list[Correction]] = related(back_populates="incident", order_by="Correction.id")


class Flag(Base):
    """One offence the model says was reported but not recorded (a ``missed`` entry)."""

    __tablename__ = "flags"
    __table_args__ = (
        UniqueConstraint("incident_pk", "offence", name="uq_flags_incident_offence"),
        Index("ix_flags_status_active", "status", "active"),
        # The queue's order: walking this index needs no sort for the open queue.
        Index("ix_flags_queue_order", "status", "active", "review_priority", "probability", "id"),
        Index("ix_flags_offence", "offence"),
        Index("ix_flags_model_version", "model_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_pk: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    offence: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    model_version: Mapped[str] = mapped_column(String(128))
    # The incident's review priority, copied here so the queue sorts on one indexed table.
    review_priority: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # False once a re-scoring no longer flags it (kept only when someone decided it).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by every decision: a decision names the version it was made against, so the
    # second of two concurrent decisions is refused instead of silently overwriting.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # "flag": an offence the model flagged; "check": a check item (queue/checks.py), an incident the
    # model did not flag, sampled at load so that misses are found; its offence is CHECK_OFFENCE.
    kind: Mapped[str] = mapped_column(String(16), default="flag", server_default="flag")
    # A check item's: why it was selected ("random" or "uncertain") and, for the random part, its
    # inclusion probability (the sample's size over the unflagged incidents of its load).
    check_reason: Mapped[str | None] = mapped_column(String(16))
    inclusion_probability: Mapped[float | None] = mapped_column(Float)

    incident: Mapped[Incident] = related(back_populates="flags")
    decisions: Mapped[list[Decision]] = related(back_populates="flag", order_by="Decision.id")

    @property
    def latest_decision(self) -> Decision | None:
        return self.decisions[-1] if self.decisions else None


class Decision(Base):
    """An auditor's decision on a flag. Decisions are never updated: a new one supersedes."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_flag_id", "flag_id"),
        Index("ix_decisions_user_id", "user_id"),
        Index("ix_decisions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))  # record | no_crime | more_info
    offence: Mapped[str | None] = mapped_column(String(64))  # the offence to record
    reason_code: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    flag_version: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(128))
    probability: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    flag: Mapped[Flag] = related(back_populates="decisions")
    user: Mapped[User] = related()
    reviews: Mapped[list[Review]] = related(back_populates="decision", order_by="Review.id")


class Review(Base):
    """A supervisor's second check of someone else's decision; one per decision."""

    __tablename__ = "reviews"
    __table_args__ = (Index("uq_reviews_decision_id", "decision_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="RESTRICT"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agree: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    decision: Mapped[Decision] = related(back_populates="reviews")
    reviewer: Mapped[User] = related()


class Claim(Base):
    """An auditor's hold on an incident until ``expires_at``: others' open queue leaves it out.

    One row per incident (a unique index), so two auditors cannot hold it at once; an expired
    claim is replaced by the next one. Who claimed, assigned and released what is in the audit log.
    """

    __tablename__ = "claims"
    __table_args__ = (
        Index("uq_claims_incident_pk", "incident_pk", unique=True),
        Index("ix_claims_user_expires", "user_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_pk: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User] = related(foreign_keys=[user_id])


# What an auditor can correct on an incident (corrections.py).
CORRECTION_KINDS = ("domestic", "relationship", "reporter", "role", "offence", "wrong_span")


class Correction(Base):
    """An auditor's correction of the model on an incident. Never updated: a later one supersedes.

    ``domestic``/``relationship``/``reporter``: ``value`` (domestic "true"/"false", "" unknown);
    ``role``: ``person`` (index in ``people``, ``text`` their name) gets role ``value``;
    ``offence``: ``offence`` was missed, its evidence the span ``field``/``start``/``end``/``text``;
    ``wrong_span``: that span is not evidence of ``offence``.
    """

    __tablename__ = "corrections"
    __table_args__ = (
        Index("ix_corrections_incident_pk", "incident_pk"),
        Index("ix_corrections_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_pk: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(String(64))
    person: Mapped[int | None] = mapped_column(Integer)
    offence: Mapped[str | None] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(32))
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    incident_version: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    incident: Mapped[Incident] = related(back_populates="corrections")
    user: Mapped[User] = related()


class AuditEvent(Base):
    """Append-only: who did what, when. The database refuses updates and deletes."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_username", "username"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives accounts
    username: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))  # the web client's; none from the CLI
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(512), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Series(Base):
    """A course of conduct (issue 14): incidents about the same victim and perpetrator, from scored
    output's ``course_of_conduct`` (queue/series.py). ``incident_ids`` oldest first."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[str] = mapped_column(String(96), unique=True)
    incident_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_reported_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_reported_at: Mapped[datetime | None] = mapped_column(DateTime)
    model_version: Mapped[str] = mapped_column(String(128))
    loaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    flags: Mapped[list[SeriesFlag]] = related(back_populates="series", order_by="SeriesFlag.id")


class SeriesFlag(Base):
    """A course-of-conduct offence a series supports and its latest incident's crimes do not cover.

    Decided once for the whole series (``SeriesDecision``); ``version`` as ``Flag.version``.
    ``evidence``: per incident of the series, oldest first, its id, time and supporting spans.
    """

    __tablename__ = "series_flags"
    __table_args__ = (
        UniqueConstraint("series_pk", "offence", name="uq_series_flags_series_offence"),
        Index("ix_series_flags_status_active", "status", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    offence: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    incident_id: Mapped[str] = mapped_column(String(64))  # the incident whose flag this is (the series' latest)
    occasions: Mapped[int] = mapped_column(Integer)  # incidents of the series up to it
    # The incidents the linking pass flagged with this offence for the series (each an incident whose
    # scored ``course_of_conduct`` holds it, missed or not), as loaded so far: export's labels (0011).
    carried_by: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(16), default="open")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    series: Mapped[Series] = related(back_populates="flags")
    decisions: Mapped[list[SeriesDecision]] = related(back_populates="flag", order_by="SeriesDecision.id")

    @property
    def latest_decision(self) -> SeriesDecision | None:
        return self.decisions[-1] if self.decisions else None


class SeriesDecision(Base):
    """An auditor's one decision on a series flag, for the whole series. Append-only, as ``Decision``."""

    __tablename__ = "series_decisions"
    __table_args__ = (
        Index("ix_series_decisions_flag_id", "series_flag_id"),
        Index("ix_series_decisions_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_flag_id: Mapped[int] = mapped_column(ForeignKey("series_flags.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))  # record | no_crime | more_info
    offence: Mapped[str | None] = mapped_column(String(64))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    flag_version: Mapped[int] = mapped_column(Integer)
    incident_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # the series as it stood when decided
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    flag: Mapped[SeriesFlag] = related(back_populates="decisions")
    user: Mapped[User] = related()
    reviews: Mapped[list[SeriesReview]] = related(back_populates="decision", order_by="SeriesReview.id")


class SeriesReview(Base):
    """A supervisor's second check of someone else's series decision; one per decision. Append-only."""

    __tablename__ = "series_reviews"
    __table_args__ = (Index("uq_series_reviews_decision_id", "series_decision_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_decision_id: Mapped[int] = mapped_column(ForeignKey("series_decisions.id", ondelete="RESTRICT"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agree: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    decision: Mapped[SeriesDecision] = related(back_populates="reviews")
    reviewer: Mapped[User] = related()


# The person store (secondary_crimes/link/store.py): people resolved across scoring runs, so a later
# batch's incidents link to earlier ones. It holds identifiers (names, phones, DOBs, addresses,
# vehicles, accounts): read only by the linking pass and by supervisors' audit-logged pages.


class LinkIncident(Base):
    """An incident the linking pass has seen: what a later batch needs to link to it and flag the series."""

    __tablename__ = "link_incidents"
    __table_args__ = (
        Index("ix_link_incidents_reported_at", "reported_at"),
        Index("ix_link_incidents_series_id", "series_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), unique=True)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime)  # as written, its zone dropped (as series.py)
    series_id: Mapped[str | None] = mapped_column(String(96))
    recorded_crimes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # reported_at as written, relationship, affirmed indicators (kind, offences, span), model offences.
    occasion: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    parties: Mapped[list[LinkParty]] = related(back_populates="incident", order_by="LinkParty.position",
                                               cascade="all, delete-orphan")


class LinkPerson(Base):
    """A resolved person: a pseudonymous id (random, not derived from who they are) and when seen."""

    __tablename__ = "link_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(String(32), unique=True)
    first_seen: Mapped[datetime | None] = mapped_column(DateTime)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LinkParty(Base):
    """One party of a stored incident (link/identifiers.py ``Party``) and the person it resolved to."""

    __tablename__ = "link_parties"
    __table_args__ = (
        UniqueConstraint("incident_pk", "position", name="uq_link_parties_incident_position"),
        Index("ix_link_parties_person_pk", "person_pk"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_pk: Mapped[int] = mapped_column(ForeignKey("link_incidents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # Party.index
    person_pk: Mapped[int | None] = mapped_column(ForeignKey("link_people.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    forename: Mapped[str] = mapped_column(String(64), default="")
    surname: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(16), default="other")
    relation: Mapped[str | None] = mapped_column(String(32))
    perpetrator: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text, default="")
    identifiers: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # phones, dobs, addresses, ...

    incident: Mapped[LinkIncident] = related(back_populates="parties")
    person: Mapped[LinkPerson | None] = related()


class LinkKey(Base):
    """A blocking key of a stored incident (SHA-256 of it): a later batch looks up only incidents that share one."""

    __tablename__ = "link_keys"
    __table_args__ = (Index("uq_link_keys_key_incident", "key_hash", "incident_pk", unique=True),
                      Index("ix_link_keys_incident_pk", "incident_pk"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    incident_pk: Mapped[int] = mapped_column(ForeignKey("link_incidents.id", ondelete="CASCADE"))


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
@event.listens_for(Correction, "before_update")
@event.listens_for(Correction, "before_delete")
@event.listens_for(SeriesDecision, "before_update")
@event.listens_for(SeriesDecision, "before_delete")
@event.listens_for(SeriesReview, "before_update")
@event.listens_for(SeriesReview, "before_delete")
def _append_only(mapper, connection, target) -> None:
    raise PermissionError(f"{target.__tablename__} is append-only")
