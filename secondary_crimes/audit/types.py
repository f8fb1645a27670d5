"""Plain data passed between sampling, the queue adapter and the estimators."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from secondary_crimes.taxonomy import load_taxonomy

NO_OFFENCE = "no_offence_indicated"
"""The stratum of incidents with no predicted and no recorded offence."""


@lru_cache(maxsize=1)
def offence_groups() -> tuple[str, ...]:
    """The Home Office offence groups of the taxonomy, in first-seen file order."""
    return tuple(dict.fromkeys(o.group for o in load_taxonomy().offences.values()))


def group_of(label: str) -> str:
    return load_taxonomy().offences[label].group


def count_by_group(labels: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(offence_groups(), 0)
    for label in labels:
        out[group_of(label)] += 1
    return out


@dataclass(frozen=True)
class FlagOutcome:
    """One flag (a predicted, unrecorded offence) and what the auditor decided about it."""

    offence: str
    probability: float
    decision: str  # recorded | no_crime | more_info | open


@dataclass(frozen=True)
class AuditDecision:
    """An auditor's finding on one sampled incident.

    ``confirmed``: every offence that should have been recorded at the incident (those that
    were recorded included). ``recorded_crimes``: what the force recorded. ``complete``:
    whether every flag on the incident has a final decision; incomplete incidents are left
    out of the estimate (treated as not yet reviewed).
    """

    incident_id: str
    confirmed: tuple[str, ...]
    recorded_crimes: tuple[str, ...] = ()
    complete: bool = True
    flags: tuple[FlagOutcome, ...] = ()

    def counts(self, group: str | None = None) -> tuple[int, int]:
        """(recorded, should have been recorded) crime counts, overall or within one group."""
        covered = load_taxonomy().covered(self.recorded_crimes)
        confirmed = [c for c in dict.fromkeys(self.confirmed) if group is None or group_of(c) == group]
        return sum(1 for c in confirmed if c in covered), len(confirmed)

    @property
    def unrecorded(self) -> tuple[str, ...]:
        covered = load_taxonomy().covered(self.recorded_crimes)
        return tuple(c for c in dict.fromkeys(self.confirmed) if c not in covered)


@dataclass(frozen=True)
class SampleUnit:
    """One sampled incident: its stratum, design weight and the model's view of it."""

    incident_id: str
    stratum: str
    weight: float
    kind: str = "random"  # random | priority
    review_priority: float = 0.0
    # Auxiliary variables known for every incident in the population, by offence group:
    # crimes recorded, and the model's expected number of unrecorded offences (the sum of
    # the probabilities of its ``missed`` entries).
    recorded: dict[str, int] = field(default_factory=dict)
    predicted_missed: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "stratum": self.stratum,
            "weight": self.weight,
            "kind": self.kind,
            "review_priority": self.review_priority,
            "recorded": self.recorded,
            "predicted_missed": self.predicted_missed,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SampleUnit:
        return cls(
            incident_id=raw["incident_id"],
            stratum=raw["stratum"],
            weight=float(raw["weight"]),
            kind=raw.get("kind", "random"),
            review_priority=float(raw.get("review_priority", 0.0)),
            recorded={k: int(v) for k, v in (raw.get("recorded") or {}).items()},
            predicted_missed={k: float(v) for k, v in (raw.get("predicted_missed") or {}).items()},
        )
