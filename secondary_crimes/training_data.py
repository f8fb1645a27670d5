"""Assemble labelled training data from the sources a training config names."""

from __future__ import annotations

import glob
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from secondary_crimes.reader import load_gold
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS

log = logging.getLogger(__name__)


@dataclass
class DataConfig:
    """Where training examples come from. Missing corpus files are skipped, not errors."""

    corpus: list[str] = field(default_factory=lambda: ["../shared/corpus/*.jsonl"])
    synthetic_n: int = 2000
    synthetic_seed: int = 7
    sample: list[str] = field(default_factory=lambda: ["data/sample_incidents.jsonl"])
    extra: list[str] = field(default_factory=list)  # e.g. auditors' decisions from `queue export`
    # How much one incident of each source counts in fitting and in choosing thresholds.
    # Hand-labelled text (corpus, sample, auditors' decisions) outweighs templated synthetic text.
    weights: dict[str, float] = field(default_factory=dict)

    def weight(self, source: str) -> float:
        """The weight of one incident from ``source`` (corpus, sample, extra or synthetic)."""
        if source not in SOURCE_KINDS:
            raise ValueError(f"unknown data source kind {source!r}: expected one of {SOURCE_KINDS}")
        unknown = set(self.weights) - set(SOURCE_KINDS)
        if unknown:
            raise ValueError(f"data.weights: unknown source kinds {sorted(unknown)}: expected {SOURCE_KINDS}")
        value = float(self.weights.get(source, 1.0))
        if value <= 0:
            raise ValueError(f"data.weights.{source} must be positive, not {value}")
        return value


SOURCE_KINDS = ("corpus", "sample", "extra", "synthetic")
CORPUS_GROUP = "corpus:"  # a corpus incident's group is this prefix and its file's stem


@dataclass
class Dataset:
    incidents: list[GoldIncident]
    sources: dict[str, int]
    weights: np.ndarray | None = None  # one per incident; None: all 1
    # One per incident: where it came from ("corpus:<file stem>", "sample", "extra", "synthetic");
    # a corpus file is one force's writing, the unit that out-of-source predictions hold out.
    groups: list[str] | None = None

    def __post_init__(self) -> None:
        if self.weights is None:
            self.weights = np.ones(len(self.incidents))
        self.weights = np.asarray(self.weights, dtype=float)
        if len(self.weights) != len(self.incidents):
            raise ValueError(f"{len(self.incidents)} incidents but {len(self.weights)} weights")
        if self.groups is None:
            self.groups = ["unknown"] * len(self.incidents)
        if len(self.groups) != len(self.incidents):
            raise ValueError(f"{len(self.incidents)} incidents but {len(self.groups)} groups")

    def subset(self, index: Sequence[int] | np.ndarray) -> Dataset:
        """The rows at ``index`` (sources kept as they are)."""
        index = [int(i) for i in index]
        return Dataset([self.incidents[i] for i in index], dict(self.sources), self.weights[index],
                       [self.groups[i] for i in index])

    @property
    def corpus_groups(self) -> list[str]:
        """The distinct corpus files, in order of first appearance."""
        return list(dict.fromkeys(g for g in self.groups if g.startswith(CORPUS_GROUP)))

    @property
    def Y(self) -> np.ndarray:  # noqa: N802
        return label_matrix(self.incidents)

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for incident in sorted(self.incidents, key=lambda i: i.incident_id):
            digest.update(incident.model_dump_json().encode("utf-8"))
        return digest.hexdigest()


def label_matrix(incidents: list[GoldIncident], attribute: str = "offences") -> np.ndarray:
    """Binary matrix (n x labels) of a gold list attribute."""
    Y = np.zeros((len(incidents), len(LABELS)), dtype=int)  # noqa: N806
    index = {label: j for j, label in enumerate(LABELS)}
    for i, incident in enumerate(incidents):
        for label in getattr(incident, attribute) or []:
            Y[i, index[label]] = 1
    return Y


def expand_patterns(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        paths.extend(Path(p) for p in sorted(glob.glob(pattern)))
    return paths


def read_labelled(patterns: list[str]) -> tuple[list[GoldIncident], dict[str, int]]:
    """Every labelled incident from files matching the patterns (unlabelled rows skipped)."""
    incidents: list[GoldIncident] = []
    sources: dict[str, int] = {}
    for path in expand_patterns(patterns):
        rows, rejects = load_gold(path)
        for reject in rejects:
            log.warning("%s:%s: %s: %s (skipped)", reject.source, reject.line, reject.field, reject.reason)
        labelled = [row for row in rows if row.has_gold]
        incidents.extend(labelled)
        sources[str(path)] = len(labelled)
    return incidents, sources


def synthetic(n: int, seed: int) -> list[GoldIncident]:
    from secondary_crimes.synthetic.generator import generate_incidents

    return [GoldIncident.model_validate(row) for row in generate_incidents(n, seed=seed)]


def assemble(config: DataConfig, *, include_corpus: bool = True) -> Dataset:
    """The training set: corpus (when present), sample, extra labels and synthetic incidents.

    Each incident carries its source's weight (``config.weights``); an id seen twice keeps its
    first source.
    """
    incidents: list[GoldIncident] = []
    weights: list[float] = []
    groups: list[str] = []
    sources: dict[str, int] = {}
    kinds = (["corpus"] if include_corpus else []) + ["sample", "extra"]
    for kind in kinds:
        for path in expand_patterns(getattr(config, kind)):
            rows, found = read_labelled([str(path)])
            incidents.extend(rows)
            weights.extend([config.weight(kind)] * len(rows))
            groups.extend([f"{CORPUS_GROUP}{path.stem}" if kind == "corpus" else kind] * len(rows))
            sources.update(found)
    if config.synthetic_n:
        rows = synthetic(config.synthetic_n, config.synthetic_seed)
        incidents.extend(rows)
        weights.extend([config.weight("synthetic")] * len(rows))
        groups.extend(["synthetic"] * len(rows))
        sources[f"synthetic(n={config.synthetic_n}, seed={config.synthetic_seed})"] = len(rows)
    seen: set[str] = set()
    keep = []
    for i, incident in enumerate(incidents):
        if incident.incident_id not in seen:
            seen.add(incident.incident_id)
            keep.append(i)
    return Dataset([incidents[i] for i in keep], sources, np.array([weights[i] for i in keep], dtype=float),
                   [groups[i] for i in keep])
