"""Assemble labelled training data from the sources a training config names."""

from __future__ import annotations

import glob
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from secondary_crimes.classify.base import UNKNOWN
from secondary_crimes.digests import digest_rows
from secondary_crimes.reader import load_gold
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS, load_taxonomy

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
    # Evidence digests (``digests``): each corpus incident also trains as the sentences that state
    # its offences, alone, at this fraction of its weight; 0 adds none.
    digest_weight: float = 0.0
    # Train every model with an offence that a present one covers (``covered_unknown``) as unknown,
    # not absent; False keeps the labels as written.
    covered_unknown: bool = False

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
SYNTHETIC_GROUP = "synthetic"  # the group of every generated incident


@dataclass
class Dataset:
    incidents: list[GoldIncident]
    sources: dict[str, int]
    weights: np.ndarray | None = None  # one per incident; None: all 1
    # One per incident: where it came from ("corpus:<file stem>", "sample", "extra", "synthetic");
    # a corpus file is one force's writing, the unit that out-of-source predictions hold out.
    groups: list[str] | None = None
    # How each duplicate incident id was settled ("<source that trains> over <source dropped>": count),
    # and per source the partial records (auditors' decisions on some offences, no complete record
    # under them) that train on the offences decided only: the rest are UNKNOWN in ``Y``.
    resolved: dict[str, int] = field(default_factory=dict)
    partial: dict[str, int] = field(default_factory=dict)

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
                       [self.groups[i] for i in index], dict(self.resolved), dict(self.partial))

    @property
    def corpus_groups(self) -> list[str]:
        """The distinct corpus files, in order of first appearance."""
        return list(dict.fromkeys(g for g in self.groups if g.startswith(CORPUS_GROUP)))

    @property
    def Y(self) -> np.ndarray:
        """The training target: 1 present, 0 absent, ``UNKNOWN`` where an incident's labels do
        not decide the offence (``known_offences``)."""
        return target_matrix(self.incidents)

    @property
    def complete(self) -> np.ndarray:
        """The rows whose every offence is decided (what an evaluation can score)."""
        return np.array([incident.complete for incident in self.incidents], dtype=bool)

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for incident in sorted(self.incidents, key=lambda i: i.incident_id):
            digest.update(_record_json(incident).encode("utf-8"))
        return digest.hexdigest()

    def with_digests(self, weight: float) -> Dataset:
        """These rows plus the evidence digest of each corpus incident at ``weight`` times its
        weight, in its incident's group (``digests``); the same dataset when ``weight`` is 0."""
        if weight < 0:
            raise ValueError(f"data.digest_weight must be 0 or more, not {weight}")
        if not weight:
            return self
        rows, groups, weights = digest_rows(self.incidents, self.groups, self.weights, weight=weight,
                                            group_prefix=CORPUS_GROUP)
        return Dataset(self.incidents + rows, dict(self.sources, digests=len(rows)),
                       np.concatenate([self.weights, weights]), self.groups + groups,
                       dict(self.resolved), dict(self.partial))

    def summary(self) -> list[str]:
        """Lines saying which source won each duplicate incident id, and which train on some offences."""
        return summary_lines(self.resolved, self.partial)


def summary_lines(resolved: dict[str, int], partial: dict[str, int]) -> list[str]:
    """``Dataset.summary`` from its two counts (as a bundle's ``metadata["data"]`` keeps them)."""
    lines = [f"{count} incident(s) labelled by {rule}" for rule, count in resolved.items()]
    lines += [f"{count} incident(s) of {source} train on the offences auditors decided only: "
              "no other source labels them all" for source, count in partial.items()]
    return lines


def _record_json(incident: GoldIncident) -> str:
    """The record as hashed: ``known_offences`` only when set, so complete data hashes as before it existed."""
    return incident.model_dump_json(exclude={"known_offences"} if incident.known_offences is None else None)


def content_hash(incidents: Sequence[GoldIncident]) -> str:
    """The SHA-256 of these incidents (order-free), as ``Dataset.content_hash``."""
    return Dataset(list(incidents), {}).content_hash()


def label_matrix(incidents: list[GoldIncident], attribute: str = "offences") -> np.ndarray:
    """Binary matrix (n x labels) of a gold list attribute."""
    Y = np.zeros((len(incidents), len(LABELS)), dtype=int)
    index = {label: j for j, label in enumerate(LABELS)}
    for i, incident in enumerate(incidents):
        for label in getattr(incident, attribute) or []:
            Y[i, index[label]] = 1
    return Y


def target_matrix(incidents: list[GoldIncident]) -> np.ndarray:
    """``label_matrix`` of the offences with ``UNKNOWN`` in each offence outside an incident's
    ``known_offences`` (where set): the models' training target."""
    Y = label_matrix(incidents)
    for i, incident in enumerate(incidents):
        if incident.known_offences is not None:
            known = set(incident.known_offences)
            Y[i, [j for j, label in enumerate(LABELS) if label not in known]] = UNKNOWN
    return Y


def covered_unknown(Y: np.ndarray) -> np.ndarray:
    """``Y`` with each offence that a present offence covers (taxonomy ``covers``: assault with
    injury covers common assault) ``UNKNOWN`` where it is absent. The account that states the
    greater act states the lesser one too, and the files differ on listing the lesser one (most
    list only the principal crime), so its absence is the counting convention, not the text."""
    Y = np.array(Y, copy=True)
    taxonomy = load_taxonomy()
    for j, label in enumerate(LABELS):
        rows = np.flatnonzero(Y[:, j] == 1)
        for covered in taxonomy.offences[label].covers:
            c = LABELS.index(covered)
            Y[rows[Y[rows, c] == 0], c] = UNKNOWN
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


@dataclass
class _Row:
    incident: GoldIncident
    weight: float
    group: str
    source: str  # the file, or synthetic(...)
    kind: str  # corpus, sample, extra or synthetic


def _in_order(labels: set[str]) -> list[str]:
    return [label for label in LABELS if label in labels]


def overlay(base: GoldIncident, decided: GoldIncident) -> GoldIncident:
    """``decided``'s labels over ``base``'s: the offences it decides and the attributes it gives;
    the rest from ``base``. A complete ``decided`` replaces ``base``; its input fields always do."""
    if decided.known_offences is None:
        return decided
    known = set(decided.known_offences)
    present = (set(base.offences or []) - known) | set(decided.offences or [])
    offences = _in_order(present)
    evidence = {k: v for k, v in (base.evidence or {}).items() if k in present and k not in known}
    evidence |= decided.evidence or {}
    row = decided.model_dump()
    row.update(
        offences=offences,
        missed=[label for label in offences if label not in decided.recorded_crimes],
        known_offences=None if base.known_offences is None else _in_order(known | set(base.known_offences)),
        evidence=evidence,
        rationale=decided.rationale or base.rationale,
        **{k: getattr(base, k) for k in ("domestic", "relationship", "reporter") if getattr(decided, k) is None},
    )
    return GoldIncident.model_validate(row)


def _settle(earlier: _Row, later: _Row) -> tuple[_Row, str]:
    """Which of two rows with one incident id trains, and the rule that chose it: the auditors'
    decisions (``extra``) over any other source (a later extra file over an earlier one), else the first."""
    if later.kind == "extra" or earlier.kind == "extra":
        decided, base = (later, earlier) if later.kind == "extra" else (earlier, later)
        group = base.group if base.group.startswith(CORPUS_GROUP) else decided.group  # whose writing it is
        row = _Row(overlay(base.incident, decided.incident), decided.weight, group, decided.source, "extra")
        return row, f"{decided.source} over {base.source}"
    return earlier, f"{earlier.source} over {later.source}"


def assemble(config: DataConfig, *, include_corpus: bool = True) -> Dataset:
    """The training set: corpus (when present), sample, extra labels and synthetic incidents.

    Each incident carries its source's weight (``config.weights``). An id seen twice trains once:
    the auditors' decisions (``extra``) override every other source on the offences they decided
    (``overlay``), otherwise the first source is kept; ``Dataset.resolved`` counts each outcome.
    An extra record that decides only some offences and has no complete record under it trains
    on those offences (the others are ``UNKNOWN`` in ``Dataset.Y``), counted in ``Dataset.partial``.
    """
    rows: dict[str, _Row] = {}
    resolved: dict[str, int] = {}
    sources: dict[str, int] = {}

    def add(incidents: list[GoldIncident], kind: str, source: str, group: str) -> None:
        for incident in incidents:
            row = _Row(incident, config.weight(kind), group, source, kind)
            earlier = rows.get(incident.incident_id)
            if earlier is not None:
                row, rule = _settle(earlier, row)
                resolved[rule] = resolved.get(rule, 0) + 1
            rows[incident.incident_id] = row  # an override keeps the first one's place

    kinds = (["corpus"] if include_corpus else []) + ["sample", "extra"]
    for kind in kinds:
        for path in expand_patterns(getattr(config, kind)):
            found, counts = read_labelled([str(path)])
            sources.update(counts)
            add(found, kind, str(path), f"{CORPUS_GROUP}{path.stem}" if kind == "corpus" else kind)
    if config.synthetic_n:
        source = f"synthetic(n={config.synthetic_n}, seed={config.synthetic_seed})"
        found = synthetic(config.synthetic_n, config.synthetic_seed)
        sources[source] = len(found)
        add(found, "synthetic", source, SYNTHETIC_GROUP)
    partial: dict[str, int] = {}
    kept = list(rows.values())
    for row in kept:
        if not row.incident.complete:
            partial[row.source] = partial.get(row.source, 0) + 1
    return Dataset([r.incident for r in kept], sources, np.array([r.weight for r in kept], dtype=float),
                   [r.group for r in kept], resolved, partial)
