"""The offence taxonomy, read from ``resources/offences.yaml``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import yaml

from secondary_crimes.settings import resource_path


@dataclass(frozen=True)
class Offence:
    label: str
    name: str
    group: str
    max_sentence: float
    covers: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    offences: dict[str, Offence]
    relationships: tuple[str, ...]
    reporters: tuple[str, ...]
    domestic_relationships: frozenset[str]

    @property
    def labels(self) -> list[str]:
        """The offence labels in file order (the column order of every model)."""
        return list(self.offences)

    def covered(self, recorded: Iterable[str]) -> set[str]:
        """Every label that the recorded crimes account for: themselves and what they cover."""
        out: set[str] = set()
        for label in recorded:
            out.add(label)
            out.update(self.offences[label].covers)
        return out

    def unrecorded(self, flagged: Iterable[str], recorded: Iterable[str],
                   probabilities: Mapping[str, float] | None = None) -> list[str]:
        """The ``flagged`` labels still to be recorded: those the ``recorded`` crimes do not account
        for (``covered``), less those another flagged label covers. The counting rules record the
        principal crime: a flagged assault with injury accounts for the common assault of the same
        blow, a flagged burglary for its theft.

        With ``probabilities`` (label to the model's probability), a flag is absorbed only by a
        covering flag the model is at least as sure of: a near-certain malicious communication is
        not hidden behind a doubtful harassment, since if the harassment is rejected nothing of the
        account is left to record."""
        flagged = list(flagged)
        covered = self.covered(recorded)
        return [label for label in flagged
                if label not in covered and self.absorbing(label, flagged, probabilities) is None]

    def absorbing(self, label: str, flagged: Iterable[str],
                  probabilities: Mapping[str, float] | None = None) -> str | None:
        """The first of ``flagged`` that covers ``label`` and, given ``probabilities``, is at least as
        probable (the principal crime that accounts for it), or None."""
        for other in flagged:
            if label in self.offences[other].covers and (
                    probabilities is None or probabilities[other] >= probabilities[label]):
                return other
        return None

    def principal(self, labels: Iterable[str]) -> str | None:
        """The most serious label (highest maximum sentence), or None when empty."""
        labels = list(labels)
        if not labels:
            return None
        return max(labels, key=lambda label: (self.offences[label].max_sentence, label))


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """Load and check the packaged taxonomy."""
    raw = yaml.safe_load(resource_path("offences.yaml").read_text(encoding="utf-8"))
    offences = {
        label: Offence(label, spec["name"], spec["group"], float(spec["max_sentence"]),
                       tuple(spec.get("covers", [])))
        for label, spec in raw["offences"].items()
    }
    for offence in offences.values():
        unknown = set(offence.covers) - set(offences)
        if unknown:
            raise ValueError(f"offences.yaml: {offence.label} covers unknown labels {sorted(unknown)}")
    domestic = frozenset(raw["domestic_relationships"])
    if not domestic <= set(raw["relationships"]):
        unknown_relationships = sorted(domestic - set(raw["relationships"]))
        raise ValueError(f"offences.yaml: unknown domestic relationships {unknown_relationships}")
    return Taxonomy(offences, tuple(raw["relationships"]), tuple(raw["reporters"]), domestic)


LABELS: list[str] = load_taxonomy().labels
