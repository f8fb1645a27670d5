"""Audit sampling: reproducible, stratified, weighted, and marked for the queue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from secondary_crimes.audit.sampling import (
    NO_OFFENCE,
    SAMPLE_FILE,
    SAMPLE_RECORDS,
    allocate,
    draw_sample,
    read_sample,
    stratum_of,
    write_sample,
)
from secondary_crimes.audit.simulate import simulate_population


@pytest.fixture(scope="module")
def population():
    return simulate_population(3_000, 11)


@pytest.fixture(scope="module")
def scored_file(tmp_path_factory, population) -> Path:
    path = tmp_path_factory.mktemp("scored") / "scored.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for record in population.scored_records():
            handle.write(json.dumps(record) + "\n")
    return path


def test_stratum_of_uses_principal_offence_group():
    assert stratum_of(["common_assault"], ["theft"]) == "theft_offences"  # theft 7y > battery 0.5y
    assert stratum_of(["rape", "common_assault"], []) == "sexual_offences"
    assert stratum_of([], []) == NO_OFFENCE


def test_simulated_strata_match_stratum_of(population):
    records = population.scored_records()[:300]
    for record, stratum in zip(records, population.strata[:300], strict=True):
        predicted = [e["offence"] for e in record["offences"]]
        assert stratum_of(predicted, record["incident"]["recorded_crimes"]) == stratum


def test_allocation():
    alloc = allocate({"a": 1_000, "b": 10, "c": 1, "d": 500}, 100)
    assert sum(alloc.values()) == 100
    assert alloc["b"] >= 2 and alloc["c"] == 1  # minimum 2, or the whole stratum
    assert alloc["a"] > alloc["d"] > alloc["b"]
    assert allocate({"a": 5, "b": 3}, 100) == {"a": 5, "b": 3}
    assert sum(allocate({"a": 10, "b": 10, "c": 10}, 2).values()) == 2


def test_same_seed_same_sample_any_input_order(population):
    records = population.scored_records()
    first = draw_sample(records, size=200, priority_size=30, seed=5)
    shuffled = [records[i] for i in np.random.default_rng(0).permutation(len(records))]
    second = draw_sample(shuffled, size=200, priority_size=30, seed=5)
    assert [u.as_dict() for u in first.units] == [u.as_dict() for u in second.units]
    third = draw_sample(records, size=200, priority_size=30, seed=6)
    assert {u.incident_id for u in third.random_units()} != {u.incident_id for u in first.random_units()}


def test_stratified_with_weights(population):
    sample = draw_sample(population.scored_records(), size=300, priority_size=40, seed=1)
    randoms = sample.random_units()
    assert len(randoms) == 300
    assert sample.population_sizes == population.population_sizes
    for stratum, N in sample.population_sizes.items():
        members = [u for u in randoms if u.stratum == stratum]
        assert len(members) == sample.allocation[stratum] >= min(2, N)
        assert all(u.weight == pytest.approx(N / len(members)) for u in members)
    # The weights add up to the population size.
    assert sum(u.weight for u in randoms) == pytest.approx(sum(sample.population_sizes.values()))
    # Roughly proportional: the largest stratum gets the most.
    largest = max(sample.population_sizes, key=sample.population_sizes.get)
    assert sample.allocation[largest] == max(sample.allocation.values())


def test_priority_sample_is_top_priority_outside_the_random_one(population):
    sample = draw_sample(population.scored_records(), size=100, priority_size=25, seed=2)
    priority = sample.priority_units()
    assert len(priority) == 25
    random_ids = {u.incident_id for u in sample.random_units()}
    assert not random_ids & {u.incident_id for u in priority}
    cutoff = min(u.review_priority for u in priority)
    others = [
        p
        for i, p in zip(population.ids, population.review_priority, strict=True)
        if i not in random_ids and i not in {u.incident_id for u in priority}
    ]
    assert max(others) <= cutoff + 1e-4


def test_write_and_read_sample(scored_file, tmp_path):
    sample = write_sample(scored_file, tmp_path / "s", size=120, priority_size=10, seed=3, name="spring-audit")
    raw = json.loads((tmp_path / "s" / SAMPLE_FILE).read_text())
    assert raw["name"] == "spring-audit" and raw["seed"] == 3 and raw["design"]
    assert set(raw["strata"]) == set(sample.population_sizes)
    assert {"population", "sample", "weight"} <= set(next(iter(raw["strata"].values())))
    assert len(raw["units"]) == 130
    assert {"incident_id", "stratum", "weight", "kind"} <= set(raw["units"][0])
    assert raw["population"]["incidents"] == 3_000
    lines = [json.loads(line) for line in (tmp_path / "s" / SAMPLE_RECORDS).read_text().splitlines()]
    assert len(lines) == 130
    kinds = {line["sample"]["kind"] for line in lines}
    assert kinds == {"random", "priority"}
    for line in lines:
        assert line["sample"]["name"] == "spring-audit"
        assert {"stratum", "weight"} <= set(line["sample"])
        assert "offences" in line and "incident" in line  # the scored record is intact
    again = read_sample(tmp_path / "s")
    assert [u.as_dict() for u in again.units] == [u.as_dict() for u in sample.units]
    assert again.auxiliary_totals == json.loads(json.dumps(sample.auxiliary_totals))


def test_duplicate_ids_are_refused(population):
    records = population.scored_records()[:10]
    with pytest.raises(ValueError, match="duplicate"):
        draw_sample(records + records[:1], size=5)
