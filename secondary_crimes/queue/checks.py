"""Check items (issue 13): at each load, a sample of the incidents the model did not flag.

The queue otherwise shows auditors only what the model flagged, so its misses are never seen and
a recording rate worked out from the queue alone is biased. Each ``queue load`` therefore also
queues, among the file's incidents with no ``missed`` offence (the *frame*):

- a **random** part: ``n_random`` incidents drawn uniformly without replacement from the frame.
  Each frame incident gets a pseudo-random number, SHA-256 of ``"{seed}:{incident_id}"``, and the
  ``n`` lowest are taken (bottom-k sampling: a simple random sample whose draw does not depend on
  the order of the file or on the other incidents in it). Each item records its inclusion
  probability ``n / N``, so decided random items estimate the share of unflagged incidents holding
  a missed offence without bias (:func:`estimate`; weights ``1 / inclusion_probability``);
- an **uncertain** part: of the rest of the frame, the ``n_uncertain`` whose review priority (the
  scored record's chance that at least one unrecorded offence is present) has the highest binary
  entropy, i.e. lies nearest 0.5: uncertainty sampling, the incidents a label teaches the model
  most about. These are chosen, not drawn (no inclusion probability): they find misses and make
  training labels, but never enter the estimate. An incident with priority 0 or 1 is never
  uncertain. (A scored record carries per-offence probabilities only at or above their
  thresholds, so an unflagged incident's only score is its review priority.)

Plain hashlib and numpy do it: no active-learning library (small-text, modAL) is needed, since
the model's probabilities are already in the scored file (no classifier to query) and neither
library records inclusion probabilities or draws reproducibly per incident.

A check item is a :class:`~secondary_crimes.queue.models.Flag` of kind ``"check"`` whose offence is
``CHECK_OFFENCE``: auditors claim, decide and second-check it as a flag, recording an offence they
find missed or "no crime" (queue/export.py turns an undisputed "no crime" on a check into a
negative for every offence the recorded crimes do not cover). One check item per incident at most
(the flags' unique index): reloading a file, or a file that shares incidents with an earlier one,
never queues one twice, and the same seed and file queue the same incidents.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from secondary_crimes.batching import batched
from secondary_crimes.queue import config
from secondary_crimes.queue.models import CHECK_OFFENCE, DECIDED, Flag, Incident, utcnow
from secondary_crimes.taxonomy import LABELS

assert CHECK_OFFENCE not in LABELS, "a check item's offence must not be an offence label"

RANDOM = "random"
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class CheckSettings:
    """How many check items a load queues, and the seed of the random part."""

    random: int = 0
    uncertain: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.random < 0 or self.uncertain < 0:
            raise ValueError("the numbers of check items cannot be negative")

    @classmethod
    def from_settings(cls) -> CheckSettings:
        """Settings queue_check_random, queue_check_uncertain and queue_check_seed."""
        return cls(int(config.setting("queue_check_random", 0) or 0),
                   int(config.setting("queue_check_uncertain", 0) or 0),
                   int(config.setting("queue_check_seed", 0) or 0))


@dataclass(frozen=True)
class Candidate:
    """An incident of the loaded file with no missed offence."""

    incident_id: str
    review_priority: float
    model_version: str


@dataclass(frozen=True)
class Selected:
    candidate: Candidate
    reason: str  # RANDOM or UNCERTAIN
    inclusion_probability: float | None  # the random part's n / N; None for the uncertain part
    frame: int  # N: unflagged incidents in the load


def draw(seed: int, incident_id: str) -> float:
    """The incident's pseudo-random number in [0, 1): the same for the same seed, whatever else is loaded."""
    digest = hashlib.sha256(f"{seed}:{incident_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def entropy(p: np.ndarray) -> np.ndarray:
    """Binary entropy in bits; 0 at p = 0 and p = 1."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h, nan=0.0)


def select_checks(candidates: Iterable[Candidate], settings: CheckSettings) -> list[Selected]:
    """The random part (bottom-k of the seeded draws) then the uncertain part; a pure function of
    the candidates (their ids and priorities) and ``settings``."""
    frame = list({c.incident_id: c for c in candidates}.values())
    size = len(frame)
    if not size:
        return []
    draws = {c.incident_id: draw(settings.seed, c.incident_id) for c in frame}
    by_draw = sorted(frame, key=lambda c: (draws[c.incident_id], c.incident_id))
    n = min(settings.random, size)
    chosen = [Selected(c, RANDOM, n / size, size) for c in by_draw[:n]]
    rest = by_draw[n:]
    if settings.uncertain and rest:
        h = entropy([c.review_priority for c in rest])
        order = sorted(range(len(rest)), key=lambda i: (-h[i], draws[rest[i].incident_id]))
        chosen += [Selected(rest[i], UNCERTAIN, None, size) for i in order[: settings.uncertain] if h[i] > 0]
    return chosen


def _reason(item: Selected) -> str:
    priority = item.candidate.review_priority
    if item.reason == RANDOM:
        n = round(item.inclusion_probability * item.frame)
        return (f"Check item: drawn at random, {n} of the {item.frame} incidents this load did not flag "
                f"(review priority {priority:.2f}). Read the whole incident: record any offence that "
                "should have been recorded and was not, or 'no crime' if nothing was missed.")
    return (f"Check item: the model was unsure (review priority {priority:.2f}, the chance of an unrecorded "
            "offence; not flagged). Record any offence that should have been recorded and was not, "
            "or 'no crime' if nothing was missed.")


@dataclass
class CheckReport:
    frame: int = 0  # unflagged incidents in the load
    random: int = 0  # random check items added
    uncertain: int = 0  # uncertain check items added
    kept: int = 0  # selected, already check items (a reload): left as they were


def queue_checks(session: Session, candidates: Sequence[Candidate], settings: CheckSettings) -> CheckReport:
    """Add the check items ``select_checks`` chooses that are not check items already (the caller commits)."""
    report = CheckReport(frame=len({c.incident_id for c in candidates}))
    selected = select_checks(candidates, settings)
    now = utcnow()
    for chunk in batched(selected, 500):
        ids = [item.candidate.incident_id for item in chunk]
        incidents = {row.incident_id: row
                     for row in session.scalars(select(Incident).where(Incident.incident_id.in_(ids)))}
        existing = set(session.scalars(
            select(Incident.incident_id).join(Flag, Flag.incident_pk == Incident.id)
            .where(Incident.incident_id.in_(ids), Flag.offence == CHECK_OFFENCE)
        ))
        for item in chunk:
            incident = incidents[item.candidate.incident_id]
            if incident.incident_id in existing:
                report.kept += 1
                continue
            session.add(Flag(
                incident_pk=incident.id, offence=CHECK_OFFENCE, kind="check", check_reason=item.reason,
                inclusion_probability=item.inclusion_probability, probability=item.candidate.review_priority,
                threshold=None, reason=_reason(item), evidence=[], model_version=item.candidate.model_version,
                review_priority=incident.review_priority, status="open", active=True, version=0,
                created_at=now, updated_at=now,
            ))
            if item.reason == RANDOM:
                report.random += 1
            else:
                report.uncertain += 1
        session.flush()
    return report


@dataclass
class Estimate:
    """From the decided random check items: the share of unflagged incidents with a missed offence."""

    queued: int  # random check items
    decided: int  # of them with a final decision ("recorded" or "no crime")
    missed: int  # of those, recorded: an offence was missed
    rate: float | None  # the weighted (Hajek) share: sum(missed / p) / sum(1 / p) over decided items

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        if self.rate is None:
            return f"{self.queued} random check item(s), none decided yet: no estimate"
        return (f"{self.decided} of {self.queued} random check item(s) decided, {self.missed} with a missed "
                f"offence: an estimated {self.rate:.1%} of the incidents the model did not flag hold one")


def estimate(session: Session) -> Estimate:
    """Weighted by 1 / inclusion probability, so frames sampled at different rates pool correctly.

    Only the random part counts; a "no crime" whose reason says the offence belongs elsewhere
    (a duplicate, transferred, recorded elsewhere) counts as no miss here. Items not yet decided
    are left out: the estimate assumes they are missing at random (auditors work the check items
    in any order, not by what they hold).
    """
    rows = session.execute(
        select(Flag.id, Flag.status, Flag.inclusion_probability)
        .where(Flag.offence == CHECK_OFFENCE, Flag.check_reason == RANDOM)
    ).all()
    decided = [(flag_id, status, p) for flag_id, status, p in rows if status in DECIDED and p]
    if not decided:
        return Estimate(len(rows), 0, 0, None)
    weights = np.array([1.0 / p for _, _, p in decided])
    missed = np.array([status == "recorded" for _, status, _ in decided], dtype=float)
    return Estimate(len(rows), len(decided), int(missed.sum()), float((weights * missed).sum() / weights.sum()))
