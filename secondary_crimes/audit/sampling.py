"""Audit sampling: a seeded stratified random sample of scored incidents, and a priority sample.

Strata are offence groups: an incident's stratum is the Home Office group of its principal
(most serious) offence among those the model predicts and those recorded, or
``no_offence_indicated`` when there are none (those incidents are sampled too: a crime the
model missed can only be found there). Allocation is proportional to stratum size with a
minimum per stratum (two, so that every stratum's variance can be estimated); each sampled
incident carries its inclusion weight N_h / n_h.

The priority sample is the ``priority_size`` incidents with the highest review priority among
those not in the random sample. It goes to the review queue too, but estimation uses only the
random sample.

Output: ``sample.json`` (name, seed, design, strata with population and sample sizes, every
sampled unit with stratum, weight and auxiliary model values, population auxiliary totals and
a population summary for the report) and ``sample.jsonl`` (the scored records of the sampled
incidents, each with a ``"sample"`` key, for ``queue load``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from secondary_crimes.audit.types import NO_OFFENCE, SampleUnit, group_of, offence_groups
from secondary_crimes.recording_rules import check_scored_record
from secondary_crimes.taxonomy import load_taxonomy

SAMPLE_FILE = "sample.json"
SAMPLE_RECORDS = "sample.jsonl"
MIN_PER_STRATUM = 2


# ------------------------------------------------------------------------ strata and allocation


def stratum_of(predicted: Iterable[str], recorded: Iterable[str]) -> str:
    """The group of the principal offence among predicted and recorded labels."""
    principal = load_taxonomy().principal(set(predicted) | set(recorded))
    return group_of(principal) if principal else NO_OFFENCE


def allocate(population_sizes: Mapping[str, int], size: int, *, minimum: int = MIN_PER_STRATUM) -> dict[str, int]:
    """Proportional allocation (largest remainder), at least ``minimum`` per stratum (or all of it)."""
    names = [name for name, N in population_sizes.items() if N > 0]
    N = np.array([population_sizes[name] for name in names], dtype=float)
    total = int(N.sum())
    size = min(int(size), total)
    if size <= 0 or not names:
        return dict.fromkeys(population_sizes, 0)
    floor = np.minimum(N, minimum)
    if floor.sum() >= size:  # too small a sample for the minimum everywhere: largest strata first
        alloc = np.zeros(len(N))
        for i in np.argsort(-N, kind="stable")[:size]:
            alloc[i] = 1
        return {name: int(alloc[names.index(name)]) if name in names else 0 for name in population_sizes}
    alloc = floor.copy()
    remaining = size - int(alloc.sum())
    while remaining > 0:  # the rest in proportion to N_h, capped at each stratum's size
        room = N - alloc
        share = np.where(room > 0, N, 0.0)
        ideal = remaining * share / share.sum()
        whole = np.minimum(np.floor(ideal), room)
        if whole.sum() > 0:
            alloc += whole
            remaining -= int(whole.sum())
            continue
        for i in np.argsort(-(ideal - np.floor(ideal)), kind="stable"):  # largest remainders
            if remaining and room[i] > 0:
                alloc[i] += 1
                remaining -= 1
    return {name: int(alloc[names.index(name)]) if name in names else 0 for name in population_sizes}


def draw_stratified(strata: np.ndarray, allocation: Mapping[str, int], rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified simple random sample without replacement (sorted)."""
    chosen = []
    for name, n in allocation.items():
        members = np.flatnonzero(strata == name)
        if n > 0:
            chosen.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=int)


# ------------------------------------------------------------------------ scored records


@dataclass
class _Row:
    incident_id: str
    stratum: str
    review_priority: float
    recorded: dict[str, int]
    predicted_missed: dict[str, float]


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not JSON: {error.msg}") from None


def _row(record: dict[str, Any]) -> _Row:
    incident = record.get("incident") or {}
    recorded = list(dict.fromkeys(incident.get("recorded_crimes") or []))
    predicted = [entry["offence"] for entry in record.get("offences") or []]
    rec_by_group = dict.fromkeys(offence_groups(), 0)
    for label in recorded:
        rec_by_group[group_of(label)] += 1
    missed_by_group = dict.fromkeys(offence_groups(), 0.0)
    for entry in record.get("missed") or []:
        missed_by_group[group_of(entry["offence"])] += float(entry.get("probability", 0.0))
    return _Row(
        str(record["incident_id"]),
        stratum_of(predicted, recorded),
        float(record.get("review_priority") or 0.0),
        rec_by_group,
        missed_by_group,
    )


@dataclass
class PopulationSummary:
    """Counts over every scored incident, for the report."""

    incidents: int = 0
    flags_by_offence: Counter = field(default_factory=Counter)
    flags_by_closing_code: Counter = field(default_factory=Counter)
    incidents_flagged: int = 0
    flags_by_offence_and_closing_code: dict[str, Counter] = field(default_factory=dict)
    rule_flags: Counter = field(default_factory=Counter)
    rule_flags_by_closing_code: dict[str, Counter] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        self.incidents += 1
        code = (record.get("incident") or {}).get("closing_code") or "(none)"
        missed = record.get("missed") or []
        if missed:
            self.incidents_flagged += 1
        for entry in missed:
            self.flags_by_offence[entry["offence"]] += 1
            self.flags_by_closing_code[code] += 1
            self.flags_by_offence_and_closing_code.setdefault(entry["offence"], Counter())[code] += 1
        flags = record.get("rule_flags")
        if flags is None:
            try:
                flags = check_scored_record(record)
            except (ValueError, KeyError):
                flags = []
        for flag in flags:
            self.rule_flags[flag["rule"]] += 1
            self.rule_flags_by_closing_code.setdefault(flag["rule"], Counter())[code] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "incidents_flagged": self.incidents_flagged,
            "flags_by_offence": dict(self.flags_by_offence.most_common()),
            "flags_by_closing_code": dict(self.flags_by_closing_code.most_common()),
            "flags_by_offence_and_closing_code": {
                k: dict(v.most_common()) for k, v in self.flags_by_offence_and_closing_code.items()
            },
            "rule_flags": dict(self.rule_flags.most_common()),
            "rule_flags_by_closing_code": {
                k: dict(v.most_common()) for k, v in self.rule_flags_by_closing_code.items()
            },
        }


# ------------------------------------------------------------------------ the sample


@dataclass
class Sample:
    """A drawn audit sample: what ``sample.json`` holds."""

    name: str
    seed: int
    units: list[SampleUnit]
    population_sizes: dict[str, int]
    allocation: dict[str, int]
    auxiliary_totals: dict[str, dict[str, dict[str, float]]]
    population: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    created_at: str = ""
    design: str = (
        "stratified simple random sample without replacement by offence group of the principal "
        "predicted or recorded offence; proportional allocation, at least 2 per stratum"
    )

    def random_units(self) -> list[SampleUnit]:
        return [u for u in self.units if u.kind == "random"]

    def priority_units(self) -> list[SampleUnit]:
        return [u for u in self.units if u.kind == "priority"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "design": self.design,
            "source": self.source,
            "created_at": self.created_at,
            "strata": {
                name: {
                    "population": N,
                    "sample": self.allocation.get(name, 0),
                    "weight": (N / self.allocation[name]) if self.allocation.get(name) else None,
                }
                for name, N in self.population_sizes.items()
            },
            "random_size": len(self.random_units()),
            "priority_size": len(self.priority_units()),
            "auxiliary_totals": self.auxiliary_totals,
            "population": self.population,
            "units": [u.as_dict() for u in self.units],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Sample:
        strata = raw["strata"]
        return cls(
            name=raw["name"],
            seed=int(raw["seed"]),
            units=[SampleUnit.from_dict(u) for u in raw["units"]],
            population_sizes={k: int(v["population"]) for k, v in strata.items()},
            allocation={k: int(v["sample"]) for k, v in strata.items()},
            auxiliary_totals=raw.get("auxiliary_totals") or {},
            population=raw.get("population") or {},
            source=raw.get("source", ""),
            created_at=raw.get("created_at", ""),
            design=raw.get("design", cls.design),
        )


def draw_sample(
    records: Iterable[dict[str, Any]],
    *,
    size: int,
    priority_size: int = 0,
    seed: int = 0,
    name: str | None = None,
    minimum: int = MIN_PER_STRATUM,
) -> Sample:
    """Draw the random and priority samples from scored records (any order; ids must be unique)."""
    rows: list[_Row] = []
    summary = PopulationSummary()
    for record in records:
        rows.append(_row(record))
        summary.add(record)
    rows.sort(key=lambda r: r.incident_id)  # the draw does not depend on the input order
    ids = [r.incident_id for r in rows]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, c in Counter(ids).items() if c > 1)[:5]
        raise ValueError(f"duplicate incident ids in the scored records, e.g. {dupes}")
    strata = np.array([r.stratum for r in rows], dtype=object)
    names = [g for g in (*offence_groups(), NO_OFFENCE) if (strata == g).any()]
    population_sizes = {g: int((strata == g).sum()) for g in names}
    allocation = allocate(population_sizes, size, minimum=minimum)
    rng = np.random.default_rng(seed)
    chosen = draw_stratified(strata, allocation, rng)
    units = []
    for i in chosen:
        r = rows[i]
        units.append(
            SampleUnit(
                r.incident_id,
                r.stratum,
                population_sizes[r.stratum] / allocation[r.stratum],
                "random",
                r.review_priority,
                r.recorded,
                r.predicted_missed,
            )
        )
    in_random = set(int(i) for i in chosen)
    rest = [i for i in range(len(rows)) if i not in in_random]
    rest.sort(key=lambda i: (-rows[i].review_priority, rows[i].incident_id))
    for i in rest[: max(0, int(priority_size))]:
        r = rows[i]
        if r.review_priority <= 0:
            break
        units.append(
            SampleUnit(r.incident_id, r.stratum, 1.0, "priority", r.review_priority, r.recorded, r.predicted_missed)
        )
    totals: dict[str, dict[str, dict[str, float]]] = {
        g: {grp: {"recorded": 0.0, "predicted_missed": 0.0} for grp in offence_groups()} for g in names
    }
    for r in rows:
        for grp in offence_groups():
            totals[r.stratum][grp]["recorded"] += r.recorded[grp]
            totals[r.stratum][grp]["predicted_missed"] += r.predicted_missed[grp]
    return Sample(
        name=name or f"audit-seed{seed}",
        seed=int(seed),
        units=units,
        population_sizes=population_sizes,
        allocation=allocation,
        auxiliary_totals=totals,
        population=summary.as_dict(),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def write_sample(
    scored_path: Path, out_dir: Path, *, size: int, priority_size: int = 0, seed: int = 0, name: str | None = None
) -> Sample:
    """Draw from a scored JSON Lines file and write ``sample.json`` and ``sample.jsonl`` in ``out_dir``."""
    scored_path, out_dir = Path(scored_path), Path(out_dir)
    sample = draw_sample(_read_jsonl(scored_path), size=size, priority_size=priority_size, seed=seed, name=name)
    sample.source = str(scored_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SAMPLE_FILE).write_text(json.dumps(sample.as_dict(), indent=1), encoding="utf-8")
    marks = {u.incident_id: u for u in sample.units}
    written = 0
    with (out_dir / SAMPLE_RECORDS).open("w", encoding="utf-8") as handle:
        for record in _read_jsonl(scored_path):
            unit = marks.get(str(record["incident_id"]))
            if unit is None:
                continue
            record = {
                **record,
                "sample": {"name": sample.name, "kind": unit.kind, "stratum": unit.stratum, "weight": unit.weight},
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    if written != len(sample.units):
        raise RuntimeError(f"wrote {written} sampled records, expected {len(sample.units)}")
    return sample


def read_sample(path: Path) -> Sample:
    """Read ``sample.json`` (the file, or the directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / SAMPLE_FILE
    return Sample.from_dict(json.loads(path.read_text(encoding="utf-8")))
