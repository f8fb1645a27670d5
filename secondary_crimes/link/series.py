"""Series: incidents linked because the same victim and the same perpetrator are in both.

Two incidents link when their parties can be paired, each party at most once, with at least
``min_parties`` pairs of at least ``min_party_bits`` each and ``min_evidence_bits`` in all, at
least one pair on the perpetrator's side (a suspect, an ex or partner, their vehicle or account),
and they were reported at most ``window_days`` apart. Pairs come from the resolver (splink's
evidence), and from the incident around a description: "her ex" here and an ex-partner there,
when another pair already ties the two incidents together ("Hannah" and "Hannah WHITLOCK").
Series are the connected groups of linked incidents; an incident's ``linked`` is the earlier
incidents of its series. Only incident pairs that share a blocking key are ever looked at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.identifiers import Parties, Party
from secondary_crimes.link.resolve import Resolution


@dataclass(frozen=True)
class PartyMatch:
    """One party of one incident paired with one of another, and the evidence for it."""

    a: Party
    b: Party
    bits: float
    how: str  # "resolved" (splink) or "relationship" ("her ex" and an ex-partner)

    def to_dict(self) -> dict:
        return {"a": self.a.text or self.a.relation, "b": self.b.text or self.b.relation,
                "bits": round(self.bits, 1), "how": self.how}


@dataclass(frozen=True)
class Link:
    """Two incidents of one course of conduct (``a`` reported first)."""

    a: str
    b: str
    bits: float
    matches: tuple[PartyMatch, ...]


@dataclass
class Series:
    """Linked incidents, oldest first, with the links that join them."""

    series_id: str
    incident_ids: list[str]
    links: list[Link] = field(default_factory=list)


def _when(parties: Parties, order: int) -> tuple[datetime | float, int]:
    return (parties.reported_at.replace(tzinfo=None) if parties.reported_at else float("inf"), order)


def _within(a: Parties, b: Parties, days: float) -> bool:
    """Reported at most ``days`` apart (an incident with no time is within any window)."""
    if a.reported_at is None or b.reported_at is None:
        return True
    gap = a.reported_at.replace(tzinfo=None) - b.reported_at.replace(tzinfo=None)
    return abs(gap.total_seconds()) <= days * 86400


def _relationship_matches(a: Parties, b: Parties, config: LinkConfig) -> list[PartyMatch]:
    """"Her ex" in one incident and an ex-partner (named or not) in the other."""
    out = []
    for x in a.people:
        for y in b.people:
            if x.relation and x.relation == y.relation and not (x.named and y.named):
                out.append(PartyMatch(x, y, config.alias_bits, "relationship"))
    return out


def match(a: Parties, b: Parties, resolution: Resolution, config: LinkConfig) -> Link | None:
    """The link between two incidents, or None when the evidence does not reach the thresholds."""
    candidates = []
    for x in a.parties:
        for y in b.parties:
            bits = resolution.evidence(x, y)
            if bits is not None and bits >= config.min_party_bits:
                candidates.append(PartyMatch(x, y, bits, "resolved"))
    if not candidates:
        return None
    candidates += [m for m in _relationship_matches(a, b, config) if m.bits >= config.min_party_bits]
    used_a: set[int] = set()
    used_b: set[int] = set()
    chosen: list[PartyMatch] = []
    for m in sorted(candidates, key=lambda m: (-m.bits, m.a.index, m.b.index)):  # greedy, strongest first
        if m.a.index not in used_a and m.b.index not in used_b:
            chosen.append(m)
            used_a.add(m.a.index)
            used_b.add(m.b.index)
    total = sum(m.bits for m in chosen)
    # When both incidents say who did it, the perpetrator must be one of the pairs (two relatives
    # who are victims of different people are not a course of conduct).
    said = all(any(p.perpetrator_side for p in side.parties) for side in (a, b))
    perpetrator = not said or any(m.a.perpetrator_side or m.b.perpetrator_side for m in chosen)
    if len(chosen) < config.min_parties or total < config.min_evidence_bits or not perpetrator:
        return None
    return Link(a.incident_id, b.incident_id, total, tuple(chosen))


def candidate_pairs(batch: Sequence[Parties], resolution: Resolution) -> set[tuple[int, int]]:
    """Incident pairs (positions in ``batch``) with at least one blocked pair of parties."""
    position = {parties.incident_id: i for i, parties in enumerate(batch)}
    out = set()
    for a, b in resolution.bits:
        i, j = position[a.rsplit("#", 1)[0]], position[b.rsplit("#", 1)[0]]
        if i != j:
            out.add((min(i, j), max(i, j)))
    return out


def link_series(batch: Sequence[Parties], resolution: Resolution, config: LinkConfig | None = None) -> list[Series]:
    """Group a batch's incidents into series (only groups of two or more), oldest incident first."""
    config = config or LinkConfig.from_settings()
    order = sorted(range(len(batch)), key=lambda i: _when(batch[i], i))
    rank = {i: r for r, i in enumerate(order)}
    links: list[Link] = []
    for i, j in sorted(candidate_pairs(batch, resolution)):
        first, second = (i, j) if rank[i] < rank[j] else (j, i)
        if not _within(batch[first], batch[second], config.window_days):
            continue
        link = match(batch[first], batch[second], resolution, config)
        if link is not None:
            links.append(link)
    parent = list(range(len(batch)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    position = {parties.incident_id: i for i, parties in enumerate(batch)}
    for link in links:
        ra, rb = find(position[link.a]), find(position[link.b])
        if ra != rb:
            parent[max(ra, rb, key=rank.get)] = min(ra, rb, key=rank.get)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in order:
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        ids = [batch[i].incident_id for i in members]
        member_set = set(ids)
        out.append(Series(f"series-{ids[0]}", ids, [lk for lk in links if lk.a in member_set]))
    return sorted(out, key=lambda s: rank[position[s.incident_ids[0]]])


def linked_ids(series: Sequence[Series]) -> dict[str, list[str]]:
    """For each incident in a series, the earlier incidents of its series (oldest first)."""
    out: dict[str, list[str]] = {}
    for one in series:
        for n, incident_id in enumerate(one.incident_ids):
            out[incident_id] = one.incident_ids[:n]
    return out
