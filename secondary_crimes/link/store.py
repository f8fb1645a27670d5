"""The person store: people and identifiers resolved across scoring runs, in the queue's database (issue 14.1).

Linking one batch (``run.link_batch``) cannot see an earlier batch. With a store it first asks
for the **earlier incidents** that share a blocking key with the batch (a full name, an identifier
or two name words: ``resolve.own_keys`` and ``resolve.incident_keys``), reported within
``link_window_days`` of it, and the rest of their stored series. Their parties, as identified when
they were stored, and their occasions (affirmed indicators, relationship, the model's offences)
join the batch for resolution, series and course-of-conduct flags, so a series split across runs
is one series. A key held by more than ``link_max_block_size`` stored incidents is not looked up
(as within a batch), so what is read stays bounded however large the store grows.

Then the batch is stored: its incidents (a re-scored incident replaces its earlier self), their
parties with the person each resolved to, their blocking keys (SHA-256 of each key) and series ids.
People get pseudonymous ids (random, nothing derived from who they are); a cluster that joins
earlier people keeps the oldest one's id. Existing people are merged, never split.

The store holds identifiers (names, phones, DOBs, addresses, vehicles, accounts) beside the queue's
incident texts, so the same database protects them. Every read and write by the linking pass is in
the queue's audit log (``link_store_read``, ``link_store_write``, from the command line); in the web
app only supervisors and admins see it, each view logged (queue/routers/series.py). Nothing of it
goes into scored output beyond ``linked`` and the flags, nor into ``queue export``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.batching import batched
from secondary_crimes.extract.types import Extraction, Indicator, Span
from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.identifiers import Parties, Party
from secondary_crimes.link.resolve import ARRAY_COLUMNS, NAME_COLUMNS, NameCounts, Resolution, incident_keys, own_keys
from secondary_crimes.link.series import Series
from secondary_crimes.queue import audit_log
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.models import LinkIncident, LinkKey, LinkParty, LinkPerson, utcnow
from secondary_crimes.records import Incident

CHUNK = 500
TARGET = "person-store"  # the audit log's target for the store's events


def store_url(explicit: str | None = None) -> str | None:
    """The store's database: ``explicit``, else env ``SECONDARY_CRIMES_LINK_STORE`` (the queue's
    ``config.setting("link_store")``): empty for none, ``queue`` for the queue's database
    (``queue_database_url``), else a database URL. Off by default: nothing is stored unless asked."""
    from secondary_crimes.queue import config
    from secondary_crimes.queue.db import default_url

    value = explicit if explicit is not None else config.setting("link_store")
    if not value:
        return None
    return default_url() if str(value).strip() == "queue" else str(value)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def blocking_keys(parties: Parties) -> set[str]:
    """Every key an incident can be blocked on: its parties' own keys and the incident's keys."""
    keys = set(incident_keys(parties))
    for party in parties.parties:
        keys.update(own_keys(party))
    return keys


def _naive(when: datetime | None) -> datetime | None:
    """The time as written, its zone dropped (as ``series`` compares times)."""
    return when.replace(tzinfo=None) if when is not None else None


def occasion(incident: Incident, extraction: Extraction, offences: Iterable[str] = ()) -> dict[str, Any]:
    """What ``conduct`` needs of an incident once its text is gone: time, relationship, affirmed
    indicators (kind, offences, span) and the offences the model found."""
    return {
        "reported_at": incident.reported_at.isoformat() if incident.reported_at else None,
        "relationship": extraction.relationship,
        "indicators": [{"kind": i.kind, "offences": list(i.offences), "span": i.span.to_dict()}
                       for i in extraction.affirmed()],
        "model_offences": list(dict.fromkeys(offences)),
    }


def _incident(row: LinkIncident) -> Incident:
    return Incident(incident_id=row.incident_id, reported_at=row.occasion.get("reported_at"), call_log="",
                    recorded_crimes=list(row.recorded_crimes or []))


def _extraction(row: LinkIncident) -> Extraction:
    indicators = [Indicator(kind=i["kind"], offences=tuple(i["offences"]), span=Span(**i["span"]))
                  for i in row.occasion.get("indicators") or []]
    return Extraction(row.incident_id, indicators=indicators, relationship=row.occasion.get("relationship"))


def _party(row: LinkParty, incident_id: str) -> Party:
    ids = row.identifiers or {}
    return Party(incident_id, row.position, kind=row.kind, forename=row.forename, surname=row.surname, role=row.role,
                 relation=row.relation, perpetrator=row.perpetrator, text=row.text,
                 **{column: tuple(ids.get(column) or ()) for column in ARRAY_COLUMNS})


@dataclass
class Earlier:
    """The stored incidents a batch is linked with: parties, occasions, series and people."""

    parties: list[Parties] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    extractions: dict[str, Extraction] = field(default_factory=dict)
    model_offences: dict[str, list[str]] = field(default_factory=dict)
    series_of: dict[str, str] = field(default_factory=dict)  # incident id -> its stored series id
    person_of: dict[str, int] = field(default_factory=dict)  # party uid -> link_people.id
    # How often the store writes the names of the batch and of these incidents (all stored incidents but
    # the batch's own), for the term-frequency adjustment.
    names: NameCounts = field(default_factory=NameCounts)


def with_stored_series(series: Sequence[Series], everyone: Sequence[Parties],
                       stored: Mapping[str, str]) -> list[Series]:
    """``series`` joined where the store holds their incidents in one series: a link found in an
    earlier run stays when this run, with other blocking, would not find it again."""
    if not stored:
        return list(series)
    position = {p.incident_id: n for n, p in enumerate(everyone)}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    for one in series:
        for incident_id in one.incident_ids[1:]:
            union(one.incident_ids[0], incident_id)
    first_of: dict[str, str] = {}
    for incident_id, series_id in stored.items():
        if incident_id in position:
            union(first_of.setdefault(series_id, incident_id), incident_id)
    groups: dict[str, list[str]] = defaultdict(list)
    for incident_id in parent:
        groups[find(incident_id)].append(incident_id)
    by_members = {frozenset(one.incident_ids): one for one in series}

    def when(incident_id: str) -> tuple:
        reported = _naive(everyone[position[incident_id]].reported_at)
        return (reported is None, reported or datetime.min, position[incident_id])

    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        kept = by_members.get(frozenset(members))
        if kept is not None:
            out.append(kept)
            continue
        ids = sorted(members, key=when)
        links = [link for one in series if one.incident_ids[0] in members for link in one.links]
        out.append(Series(f"series-{ids[0]}", ids, links))
    return sorted(out, key=lambda one: when(one.incident_ids[0]))


class PersonStore:
    """The person store in a queue database (migrated on open). ``close()`` when done."""

    def __init__(self, url: str) -> None:
        self.database = Database(url)

    def close(self) -> None:
        self.database.dispose()

    def __enter__(self) -> PersonStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reading ------------------------------------------------------------------------------------

    def earlier(self, batch: Sequence[Parties], config: LinkConfig) -> Earlier:
        """The stored incidents that share a usable blocking key with ``batch`` within the window, and
        the rest of their series (never the batch's own incidents)."""
        own_ids = {p.incident_id for p in batch}
        hashes = sorted({key_hash(k) for p in batch for k in blocking_keys(p)})
        times = [t for t in (_naive(p.reported_at) for p in batch) if t is not None]
        window = timedelta(days=config.window_days)
        earlier = Earlier()
        with self.database.session() as session:
            usable: list[str] = []
            for chunk in batched(hashes, CHUNK):
                counts = session.execute(select(LinkKey.key_hash, func.count()).where(LinkKey.key_hash.in_(chunk))
                                         .group_by(LinkKey.key_hash))
                usable += [h for h, n in counts if n <= config.max_block_size]
            found: set[int] = set()
            for chunk in batched(sorted(usable), CHUNK):
                query = select(LinkKey.incident_pk).join(LinkIncident).where(LinkKey.key_hash.in_(chunk))
                if times:
                    query = query.where(or_(LinkIncident.reported_at.is_(None), LinkIncident.reported_at.between(
                        min(times) - window, max(times) + window)))
                found.update(session.scalars(query))
            rows = self._incidents(session, LinkIncident.id, sorted(found))
            series_ids = sorted({row.series_id for row in rows if row.series_id})
            rows += [row for row in self._incidents(session, LinkIncident.series_id, series_ids)
                     if row.id not in found]
            for row in sorted(rows, key=lambda r: r.id):
                if row.incident_id in own_ids:
                    continue
                incident = _incident(row)
                parties = [_party(p, row.incident_id) for p in row.parties]
                earlier.parties.append(Parties(row.incident_id, incident.reported_at, parties))
                earlier.incidents[row.incident_id] = incident
                earlier.extractions[row.incident_id] = _extraction(row)
                earlier.model_offences[row.incident_id] = list(row.occasion.get("model_offences") or [])
                if row.series_id:
                    earlier.series_of[row.incident_id] = row.series_id
                earlier.person_of.update({f"{row.incident_id}#{p.position}": p.person_pk for p in row.parties
                                          if p.person_pk is not None})
            names = {column: {getattr(p, column) for one in [*batch, *earlier.parties] for p in one.people
                              if getattr(p, column)} for column in NAME_COLUMNS}
            earlier.names = self._name_counts(session, names, own_ids)
            audit_log.record_cli(session, "link_store_read", TARGET, batch=len(batch), keys=len(hashes),
                                 usable_keys=len(usable), earlier_incidents=len(earlier.parties),
                                 series=len(series_ids), name_counts=sum(map(len, names.values())))
        return earlier

    @staticmethod
    def _name_counts(session: Session, names: Mapping[str, Iterable[str]], leave_out: Iterable[str]) -> NameCounts:
        """How many stored people write each of ``names`` (per column: forename, surname) and how many write
        one at all, for the term-frequency adjustment; the stored parties of ``leave_out`` incidents (a
        batch being scored again) are not counted."""
        counts = NameCounts()
        left_out = sorted(set(leave_out))
        for column in NAME_COLUMNS:
            attribute = getattr(LinkParty, column)
            person = (LinkParty.kind == "person") & (attribute != "")
            counts.totals[column] = session.scalar(select(func.count()).where(person)) or 0
            for chunk in batched(sorted(set(names[column])), CHUNK):
                counts.values[column].update(dict(session.execute(
                    select(attribute, func.count()).where(person, attribute.in_(chunk)).group_by(attribute)).all()))
            for chunk in batched(left_out, CHUNK):  # the batch's earlier selves
                own = session.execute(select(attribute, func.count()).join(LinkIncident)
                                      .where(person, LinkIncident.incident_id.in_(chunk)).group_by(attribute))
                for value, n in own:
                    counts.totals[column] -= n
                    if value in counts.values[column]:
                        counts.values[column][value] -= n
        return counts

    @staticmethod
    def _incidents(session: Session, column, values: list) -> list[LinkIncident]:
        out: list[LinkIncident] = []
        for chunk in batched(values, CHUNK):
            out += session.scalars(select(LinkIncident).where(column.in_(chunk))
                                   .options(selectinload(LinkIncident.parties)))
        return out

    # Writing ------------------------------------------------------------------------------------

    def save(self, batch: Sequence[Parties], incidents: Sequence[Incident], extractions: Sequence[Extraction],
             offences: Mapping[str, Sequence[str]], series: Sequence[Series], resolution: Resolution,
             earlier: Earlier) -> dict[str, int]:
        """Store the batch's incidents, parties, keys and people, and every series' id (one transaction)."""
        now = utcnow()
        series_of = {incident_id: one.series_id for one in series for incident_id in one.incident_ids}
        extraction_of = {e.incident_id: e for e in extractions}
        with self.database.session() as session:
            existing = {row.incident_id: row for row in self._incidents(session, LinkIncident.incident_id,
                                                                        [i.incident_id for i in incidents])}
            replaced = [row.id for row in existing.values()]
            # A re-scored incident is stored again; its parties keep the people they had.
            before = {f"{row.incident_id}#{party.position}": party.person_pk for row in existing.values()
                      for party in row.parties if party.person_pk is not None}
            for chunk in batched(replaced, CHUNK):
                session.execute(delete(LinkParty).where(LinkParty.incident_pk.in_(chunk)))
                session.execute(delete(LinkKey).where(LinkKey.incident_pk.in_(chunk)))
            session.expire_all()
            rows: dict[str, LinkIncident] = {}
            for incident in incidents:
                values = {"reported_at": _naive(incident.reported_at), "series_id": series_of.get(incident.incident_id),
                          "recorded_crimes": list(incident.recorded_crimes),
                          "occasion": occasion(incident, extraction_of[incident.incident_id],
                                               offences.get(incident.incident_id, ())),
                          "updated_at": now}
                row = existing.get(incident.incident_id)
                if row is None:
                    row = LinkIncident(incident_id=incident.incident_id, stored_at=now, **values)
                    session.add(row)
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
                rows[incident.incident_id] = row
            session.flush()
            people, new_people = self._people(session, batch, resolution, {**before, **earlier.person_of}, now)
            for parties in batch:
                pk = rows[parties.incident_id].id
                session.add_all(LinkParty(
                    incident_pk=pk, position=p.index, person_pk=people.get(p.uid), kind=p.kind, forename=p.forename,
                    surname=p.surname, role=p.role, relation=p.relation, perpetrator=p.perpetrator, text=p.text,
                    identifiers={c: list(getattr(p, c)) for c in ARRAY_COLUMNS if getattr(p, c)})
                    for p in parties.parties)
                session.add_all(LinkKey(key_hash=h, incident_pk=pk) for h in sorted(map(key_hash,
                                                                                       blocking_keys(parties))))
            session.flush()
            moved = 0
            for incident_id, series_id in series_of.items():  # earlier incidents whose series grew or joined
                if incident_id in earlier.incidents and earlier.series_of.get(incident_id) != series_id:
                    session.execute(update(LinkIncident).where(LinkIncident.incident_id == incident_id)
                                    .values(series_id=series_id, updated_at=now))
                    moved += 1
            self._seen(session, set(people.values()), now)
            orphans = sorted(set(before.values()) - set(people.values()))
            for chunk in batched(orphans, CHUNK):  # people only the replaced parties were
                session.execute(delete(LinkPerson).where(LinkPerson.id.in_(chunk), ~select(LinkParty.id).where(
                    LinkParty.person_pk == LinkPerson.id).exists()))
            counts = {"stored_incidents": len(incidents), "earlier_incidents": len(earlier.parties),
                      "new_people": new_people}
            audit_log.record_cli(session, "link_store_write", TARGET, replaced=len(replaced),
                                 series_updated=moved, **counts)
        return counts

    @staticmethod
    def _people(session: Session, batch: Sequence[Parties], resolution: Resolution, known_of: Mapping[str, int],
                now: datetime) -> tuple[dict[str, int], int]:
        """The person (link_people.id) of each of the batch's resolved parties, given the stored person of
        parties stored before (``known_of``, by uid); returns it and how many people are new."""
        clusters: dict[str, list[str]] = defaultdict(list)
        for uid, root in resolution.person_of.items():
            clusters[root].append(uid)
        own = {p.uid for parties in batch for p in parties.parties}
        out: dict[str, int] = {}
        alias: dict[int, int] = {}  # a person merged into another in this call -> that one

        def current(pk: int) -> int:
            while pk in alias:
                pk = alias[pk]
            return pk

        new = 0
        for uids in clusters.values():
            mine = [uid for uid in uids if uid in own]
            if not mine:
                continue
            known = sorted({current(known_of[uid]) for uid in uids if uid in known_of})
            if known:
                target, merged = known[0], known[1:]
                alias.update(dict.fromkeys(merged, target))
                for chunk in batched(merged, CHUNK):  # one person now: the oldest id stays
                    session.execute(update(LinkParty).where(LinkParty.person_pk.in_(chunk)).values(person_pk=target))
                    session.execute(delete(LinkPerson).where(LinkPerson.id.in_(chunk)))
            else:
                person = LinkPerson(person_id="P-" + secrets.token_hex(8), created_at=now, updated_at=now)
                session.add(person)
                session.flush()
                target, new = person.id, new + 1
            out.update(dict.fromkeys(mine, target))
        return {uid: current(pk) for uid, pk in out.items()}, new

    @staticmethod
    def _seen(session: Session, people: set[int], now: datetime) -> None:
        """first_seen / last_seen of these people from their incidents' times."""
        for chunk in batched(sorted(people), CHUNK):
            spans = session.execute(
                select(LinkParty.person_pk, func.min(LinkIncident.reported_at), func.max(LinkIncident.reported_at))
                .join(LinkIncident, LinkParty.incident_pk == LinkIncident.id)
                .where(LinkParty.person_pk.in_(chunk)).group_by(LinkParty.person_pk))
            for person_pk, first, last in spans:
                session.execute(update(LinkPerson).where(LinkPerson.id == person_pk)
                                .values(first_seen=first, last_seen=last, updated_at=now))


@dataclass
class StoredPerson:
    """A stored person as a supervisor sees them: pseudonymous id, when seen, and how each incident wrote them."""

    person_id: str
    first_seen: datetime | None
    last_seen: datetime | None
    mentions: list[dict[str, Any]]  # incident_id, kind, text, role, relation, identifiers


def people_in(session: Session, incident_ids: Sequence[str]) -> list[StoredPerson]:
    """The stored people who appear in two or more of these incidents (a series' victim and perpetrator),
    with their mentions there. The caller checks the viewer's role and writes the view to the audit log."""
    rows = session.execute(
        select(LinkPerson, LinkParty, LinkIncident.incident_id)
        .join(LinkParty, LinkParty.person_pk == LinkPerson.id)
        .join(LinkIncident, LinkParty.incident_pk == LinkIncident.id)
        .where(LinkIncident.incident_id.in_(list(incident_ids)))
        .order_by(LinkPerson.first_seen, LinkPerson.id, LinkIncident.reported_at, LinkParty.position)
    )
    people: dict[int, StoredPerson] = {}
    incidents: dict[int, set[str]] = defaultdict(set)
    for person, party, incident_id in rows:
        one = people.setdefault(person.id, StoredPerson(person.person_id, person.first_seen, person.last_seen, []))
        one.mentions.append({"incident_id": incident_id, "kind": party.kind, "text": party.text, "role": party.role,
                             "relation": party.relation, "identifiers": party.identifiers or {}})
        incidents[person.id].add(incident_id)
    return [one for pk, one in people.items() if len(incidents[pk]) >= 2]
