"""A simulated scored population with a known true recording rate (for tests and demos).

Each incident has 0..3 true offences (distinct labels, no "greater includes lesser" pairs);
within each offence group *exactly* round(rate_g * n_g) of the population's n_g true offences
are recorded, chosen at random, so the population's true recording rate is known exactly.
A noisy model gives every label a probability (true offences high, others low), and the
scored records follow ``decide``'s output. A perfect auditor confirms exactly the true offences.
Everything is vectorised with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from secondary_crimes.audit.types import NO_OFFENCE, AuditDecision, FlagOutcome, offence_groups
from secondary_crimes.taxonomy import LABELS, load_taxonomy

DEFAULT_RATES = {
    "violence_against_the_person": 0.82,
    "sexual_offences": 0.72,
    "criminal_damage_and_arson": 0.88,
    "public_order_offences": 0.78,
    "miscellaneous_crimes_against_society": 0.90,
    "theft_offences": 0.93,
}
# How often each label is among an incident's offences (relative).
LABEL_WEIGHTS = {
    "common_assault": 10,
    "assault_with_injury": 6,
    "non_fatal_strangulation": 1.5,
    "threats_to_kill": 1.5,
    "harassment": 4,
    "stalking": 1.5,
    "malicious_communications": 3,
    "coercive_control": 2,
    "rape": 0.8,
    "sexual_assault": 1.5,
    "criminal_damage": 5,
    "public_order": 4,
    "breach_of_order": 1.5,
    "theft": 5,
    "burglary": 1.5,
    "child_cruelty": 1,
    "modern_slavery": 0.3,
}
OFFENCE_COUNT_PROBS = (0.45, 0.35, 0.15, 0.05)
CLOSING_NOT_RECORDED = (
    "DOMESTIC - NO CRIME",
    "NO CRIME",
    "ADVICE GIVEN",
    "NO FURTHER POLICE ACTION",
    "REFERRED TO PARTNER AGENCY",
    "CIVIL DISPUTE",
    "RESOLVED BY PHONE",
)
CLOSING_NOT_RECORDED_P = (0.25, 0.1, 0.25, 0.15, 0.1, 0.1, 0.05)


def _label_matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group indicator (L x G), covers (L x L: row covers column), principal rank per label."""
    taxonomy = load_taxonomy()
    groups = offence_groups()
    group = np.zeros((len(LABELS), len(groups)), dtype=bool)
    covers = np.zeros((len(LABELS), len(LABELS)), dtype=bool)
    for i, label in enumerate(LABELS):
        offence = taxonomy.offences[label]
        group[i, groups.index(offence.group)] = True
        for other in offence.covers:
            covers[i, LABELS.index(other)] = True
    order = sorted(range(len(LABELS)), key=lambda i: (taxonomy.offences[LABELS[i]].max_sentence, LABELS[i]))
    rank = np.empty(len(LABELS), dtype=int)
    rank[order] = np.arange(len(LABELS))
    return group, covers, rank


@dataclass
class SimulatedPopulation:
    truth: np.ndarray  # N x L bool: offences that should have been recorded
    recorded: np.ndarray  # N x L bool: recorded (a subset of truth)
    probabilities: np.ndarray  # N x L model probabilities
    thresholds: np.ndarray  # L
    rates: dict[str, float]  # the recording rate set per group
    seed: int

    @cached_property
    def ids(self) -> list[str]:
        return [f"SIM-{self.seed}-{i:06d}" for i in range(len(self.truth))]

    @cached_property
    def _matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _label_matrices()

    @cached_property
    def covered(self) -> np.ndarray:
        _, covers, _ = self._matrices
        out = self.recorded.copy()
        for i in np.flatnonzero(covers.any(axis=1)):
            out[:, covers[i]] |= self.recorded[:, [i]]
        return out

    @cached_property
    def predicted(self) -> np.ndarray:
        return self.probabilities >= self.thresholds

    @cached_property
    def missed(self) -> np.ndarray:
        return self.predicted & ~self.covered

    @cached_property
    def strata(self) -> np.ndarray:
        _, _, rank = self._matrices
        mask = self.predicted | self.recorded
        principal = np.argmax(np.where(mask, rank + 1, 0), axis=1)
        groups = np.array(offence_groups(), dtype=object)
        group_index = np.argmax(self._matrices[0][principal], axis=1)
        return np.where(mask.any(axis=1), groups[group_index], NO_OFFENCE).astype(str)

    @cached_property
    def review_priority(self) -> np.ndarray:
        return 1.0 - np.prod(np.where(self.covered, 1.0, 1.0 - self.probabilities), axis=1)

    def _group_mask(self, group: str | None) -> np.ndarray:
        if group is None:
            return np.ones(len(LABELS), dtype=bool)
        return self._matrices[0][:, offence_groups().index(group)]

    def counts(self, group: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per incident: (recorded true offences, true offences), overall or within a group."""
        cols = self._group_mask(group)
        return (self.truth & self.covered)[:, cols].sum(axis=1), self.truth[:, cols].sum(axis=1)

    def auxiliary(self, group: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per incident: (recorded count, recorded + model's expected unrecorded) for the difference estimator."""
        cols = self._group_mask(group)
        r = self.recorded[:, cols].sum(axis=1).astype(float)
        m = np.where(self.missed, self.probabilities, 0.0)[:, cols].sum(axis=1)
        return r, r + m

    def true_rate(self, group: str | None = None) -> float:
        y, x = self.counts(group)
        return float(y.sum() / x.sum()) if x.sum() else float("nan")

    @property
    def population_sizes(self) -> dict[str, int]:
        names, counts = np.unique(self.strata.astype(str), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True)}

    # ---------------------------------------------------------------- record form

    def decision(self, i: int) -> AuditDecision:
        flags = tuple(
            FlagOutcome(LABELS[j], float(self.probabilities[i, j]), "recorded" if self.truth[i, j] else "no_crime")
            for j in np.flatnonzero(self.missed[i])
        )
        return AuditDecision(
            self.ids[i],
            tuple(LABELS[j] for j in np.flatnonzero(self.truth[i])),
            tuple(LABELS[j] for j in np.flatnonzero(self.recorded[i])),
            True,
            flags,
        )

    def decisions(self, ids: list[str] | None = None) -> dict[str, AuditDecision]:
        index = {incident_id: i for i, incident_id in enumerate(self.ids)}
        wanted = self.ids if ids is None else ids
        return {incident_id: self.decision(index[incident_id]) for incident_id in wanted}

    def scored_records(self) -> list[dict[str, Any]]:
        """The population as ``score`` output lines (short made-up texts, no evidence spans)."""
        rng = np.random.default_rng(self.seed + 1)
        taxonomy = load_taxonomy()
        out = []
        for i, incident_id in enumerate(self.ids):
            recorded = [LABELS[j] for j in np.flatnonzero(self.recorded[i])]
            offences, missed = [], []
            for j in np.argsort(-self.probabilities[i], kind="stable"):
                if not self.predicted[i, j]:
                    break
                entry = {
                    "offence": LABELS[j],
                    "probability": round(float(self.probabilities[i, j]), 4),
                    "threshold": float(self.thresholds[j]),
                    "reason": f"{taxonomy.offences[LABELS[j]].name}: simulated",
                    "evidence": [],
                }
                offences.append(entry)
                if self.missed[i, j]:
                    missed.append(entry)
            narrative = "Officers attended and spoke with the parties."
            if self.truth[i].any() and not recorded and rng.random() < 0.3:
                narrative += " IP did not want to make a complaint."
            closing = "CRIME RECORDED"
            if not recorded:
                closing = str(rng.choice(CLOSING_NOT_RECORDED, p=CLOSING_NOT_RECORDED_P))
            reporter = "third_party_professional" if rng.random() < 0.08 else "victim"
            hour = int(rng.integers(0, 24))
            crime_recorded_at = None
            if recorded:
                delay = float(rng.exponential(8.0))
                crime_recorded_at = (
                    np.datetime64(f"2024-03-01T{hour:02d}:00") + np.timedelta64(int(delay * 60), "m")
                ).astype(str)
            out.append(
                {
                    "incident_id": incident_id,
                    "model_version": "simulated",
                    "offences": offences,
                    "missed": missed,
                    "review_priority": round(float(self.review_priority[i]), 4),
                    "domestic": None,
                    "relationship": None,
                    "reporter": reporter,
                    "people": [],
                    "incident": {
                        "reported_at": f"2024-03-01T{hour:02d}:00:00",
                        "closed_at": None,
                        "opening_code": "SIMULATED",
                        "closing_code": closing,
                        "call_log": f"{hour:02d}00 simulated call.",
                        "officer_narrative": narrative,
                        "recorded_crimes": recorded,
                        "crime_recorded_at": crime_recorded_at,
                    },
                }
            )
        return out


def simulate_population(
    n: int, seed: int, rates: dict[str, float] | None = None, *, model_noise: float = 1.0
) -> SimulatedPopulation:
    """A population of ``n`` incidents whose true recording rate per group is exactly ``rates``."""
    rates = {**DEFAULT_RATES, **(rates or {})}
    rng = np.random.default_rng(seed)
    group, covers, rank = _label_matrices()
    L = len(LABELS)
    weights = np.array([LABEL_WEIGHTS.get(label, 1.0) for label in LABELS])
    k = rng.choice(len(OFFENCE_COUNT_PROBS), size=n, p=OFFENCE_COUNT_PROBS)
    keys = np.log(weights) + rng.gumbel(size=(n, L))  # Gumbel top-k: k distinct labels by weight
    order = np.argsort(-keys, axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(L)[None, :].repeat(n, axis=0), axis=1)
    truth = ranks < k[:, None]
    for i in np.argsort(-rank):  # drop labels a more serious drawn label covers
        truth[truth[:, i]] &= ~covers[i]
    recorded = np.zeros_like(truth)
    groups = offence_groups()
    for g, name in enumerate(groups):
        cells = np.flatnonzero((truth & group[:, g][None, :]).ravel())
        chosen = rng.choice(cells, size=int(round(rates[name] * len(cells))), replace=False)
        recorded.ravel()[chosen] = True
    # The model: true offences mostly high, others mostly low; a few false positives.
    probabilities = 1.0 - rng.random((n, L)) ** (1.0 / 40.0)  # Beta(1, 40): mostly near 0
    false_positive = ~truth & (rng.random((n, L)) < 0.03)
    probabilities[false_positive] = rng.beta(2.0, 4.0, size=int(false_positive.sum()))
    probabilities[truth] = rng.beta(5.0 / model_noise, 1.6 * model_noise, size=int(truth.sum()))
    thresholds = np.full(L, 0.5)
    return SimulatedPopulation(truth, recorded, probabilities, thresholds, rates, seed)
