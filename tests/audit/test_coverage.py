"""The 95% intervals cover the known true recording rate in at least 93 of 100 repetitions.

Each repetition simulates a fresh population of 10,000 scored incidents whose true recording
rate is set exactly per offence group (so the overall true rate is known), draws the
stratified audit sample with the real sampling code, and estimates with the real estimators.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from secondary_crimes.audit.estimate import difference_ratio, estimate_audit, stratified_ratio
from secondary_crimes.audit.sampling import allocate, draw_stratified
from secondary_crimes.audit.simulate import simulate_population
from secondary_crimes.audit.types import SampleUnit, offence_groups

REPETITIONS = 100
POPULATION = 10_000
SAMPLE = 800


def _repetition(seed: int) -> dict[str, float]:
    pop = simulate_population(POPULATION, seed)
    sizes = pop.population_sizes
    index = draw_stratified(pop.strata, allocate(sizes, SAMPLE), np.random.default_rng(1_000 + seed))
    strata = pop.strata[index]
    out: dict[str, float] = {}
    for group in (None, "violence_against_the_person"):
        y, x = pop.counts(group)
        a_y, a_x = pop.auxiliary(group)
        truth = pop.true_rate(group)
        ratio = stratified_ratio(y[index], x[index], strata, sizes)
        totals_y = {h: float(a_y[pop.strata == h].sum()) for h in sizes}
        totals_x = {h: float(a_x[pop.strata == h].sum()) for h in sizes}
        assisted = difference_ratio(y[index], x[index], a_y[index], a_x[index], strata, sizes, totals_y, totals_x)
        key = "overall" if group is None else "violence"
        out[f"{key}_ratio"] = ratio.low <= truth <= ratio.high
        out[f"{key}_assisted"] = assisted.low <= truth <= assisted.high
        out[f"{key}_ratio_half_width"] = ratio.half_width
        out[f"{key}_assisted_half_width"] = assisted.half_width
        out[f"{key}_truth"] = truth
    return out


@pytest.fixture(scope="module")
def repetitions() -> list[dict[str, float]]:
    started = time.process_time()  # CPU time: the machine may be shared
    results = [_repetition(seed) for seed in range(REPETITIONS)]
    elapsed = time.process_time() - started
    assert elapsed < 15, f"coverage simulation took {elapsed:.1f} s of CPU"
    return results


def _covered(results: list[dict[str, float]], key: str) -> int:
    return int(sum(bool(r[key]) for r in results))


def test_known_true_rate_is_set_exactly():
    pop = simulate_population(POPULATION, 7)
    for group, rate in pop.rates.items():
        y, x = pop.counts(group)
        assert abs(y.sum() / x.sum() - rate) <= 0.5 / x.sum() + 1e-12


def test_stratified_ratio_interval_covers_true_rate(repetitions):
    covered = _covered(repetitions, "overall_ratio")
    print(
        f"stratified ratio: {covered}/{REPETITIONS} intervals cover the true rate; mean half-width "
        f"{np.mean([r['overall_ratio_half_width'] for r in repetitions]):.4f}"
    )
    assert covered >= 93


def test_model_assisted_interval_covers_true_rate(repetitions):
    covered = _covered(repetitions, "overall_assisted")
    print(
        f"model-assisted: {covered}/{REPETITIONS}; mean half-width "
        f"{np.mean([r['overall_assisted_half_width'] for r in repetitions]):.4f}"
    )
    assert covered >= 93
    # The model's information buys precision.
    assert np.mean([r["overall_assisted_half_width"] for r in repetitions]) < np.mean(
        [r["overall_ratio_half_width"] for r in repetitions]
    )


def test_group_interval_covers_true_rate(repetitions):
    """A domain (offence group) estimate: violence against the person."""
    covered = _covered(repetitions, "violence_ratio")
    print(f"violence group: {covered}/{REPETITIONS}")
    assert covered >= 90


def test_estimate_audit_matches_array_estimators():
    """The record-level entry point gives the same numbers as the array estimators."""
    seed = 3
    pop = simulate_population(5_000, seed)
    sizes = pop.population_sizes
    index = draw_stratified(pop.strata, allocate(sizes, 400), np.random.default_rng(seed))
    a_y, a_x = pop.auxiliary()
    units = []
    for i in index:
        recorded = {g: int(pop.auxiliary(g)[0][i]) for g in offence_groups()}
        missed = {g: float(pop.auxiliary(g)[1][i] - pop.auxiliary(g)[0][i]) for g in offence_groups()}
        units.append(SampleUnit(pop.ids[i], str(pop.strata[i]), 1.0, "random", 0.0, recorded, missed))
    aux_totals = {
        h: {
            g: {
                "recorded": float(pop.auxiliary(g)[0][pop.strata == h].sum()),
                "predicted_missed": float((pop.auxiliary(g)[1] - pop.auxiliary(g)[0])[pop.strata == h].sum()),
            }
            for g in offence_groups()
        }
        for h in sizes
    }
    result = estimate_audit(
        units, pop.decisions([pop.ids[i] for i in index]), sizes, volume=50_000, auxiliary_totals=aux_totals
    )
    y, x = pop.counts()
    strata = pop.strata[index]
    direct = stratified_ratio(y[index], x[index], strata, sizes)
    assert result["overall"]["recording_rate"]["estimate"] == pytest.approx(direct.estimate)
    assert result["overall"]["recording_rate"]["low"] == pytest.approx(direct.low)
    totals_y = {h: float(a_y[pop.strata == h].sum()) for h in sizes}
    totals_x = {h: float(a_x[pop.strata == h].sum()) for h in sizes}
    assisted = difference_ratio(y[index], x[index], a_y[index], a_x[index], strata, sizes, totals_y, totals_x)
    assert result["overall"]["model_assisted_recording_rate"]["estimate"] == pytest.approx(assisted.estimate)
    # Unrecorded per year = volume x estimated unrecorded per incident.
    per_incident = result["overall"]["unrecorded_per_incident"]["estimate"]
    assert result["overall"]["unrecorded_per_year"]["estimate"] == pytest.approx(50_000 * per_incident)
    true_per_incident = (x - y).sum() / len(x)
    low, high = (
        result["overall"]["unrecorded_per_incident"]["low"],
        result["overall"]["unrecorded_per_incident"]["high"],
    )
    assert low < per_incident < high and abs(per_incident - true_per_incident) < 3 * (high - low)
    assert set(result["groups"]) == set(offence_groups())
