"""Assemble labelled training data from the sources a training config names."""

from __future__ import annotations

import glob
import hashlib
import logging
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


@dataclass
class Dataset:
    incidents: list[GoldIncident]
    sources: dict[str, int]

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


def _expand(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        paths.extend(Path(p) for p in sorted(glob.glob(pattern)))
    return paths


def read_labelled(patterns: list[str]) -> tuple[list[GoldIncident], dict[str, int]]:
    """Every labelled incident from files matching the patterns (unlabelled rows skipped)."""
    incidents: list[GoldIncident] = []
    sources: dict[str, int] = {}
    for path in _expand(patterns):
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
    """The training set: corpus (when present), sample, extra labels and synthetic incidents."""
    incidents: list[GoldIncident] = []
    sources: dict[str, int] = {}
    for patterns in ([config.corpus] if include_corpus else []) + [config.sample, config.extra]:
        rows, found = read_labelled(patterns)
        incidents.extend(rows)
        sources.update(found)
    if config.synthetic_n:
        rows = synthetic(config.synthetic_n, config.synthetic_seed)
        incidents.extend(rows)
        sources[f"synthetic(n={config.synthetic_n}, seed={config.synthetic_seed})"] = len(rows)
    seen: set[str] = set()
    unique = []
    for incident in incidents:
        if incident.incident_id not in seen:
            seen.add(incident.incident_id)
            unique.append(incident)
    return Dataset(unique, sources)

