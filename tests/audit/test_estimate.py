"""The estimators on small hand-checkable data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from secondary_crimes.audit.estimate import (
    binned_rates,
    difference_ratio,
    estimate_audit,
    quantile_edges,
    stratified_mean,
    stratified_ratio,
    wilson,
)
from secondary_crimes.audit.types import AuditDecision, FlagOutcome, SampleUnit


def test_single_stratum_mean_is_the_textbook_interval():
    v = np.array([0, 1, 0, 2, 1, 0, 0, 3, 1, 0], float)
    N = 1_000
    est = stratified_mean(v, ["a"] * len(v), {"a": N})
    se = np.sqrt((1 - len(v) / N) * v.var(ddof=1) / len(v))
    t = stats.t.ppf(0.975, len(v) - 1)
    assert est.estimate == pytest.approx(v.mean())
    assert est.se == pytest.approx(se)
    assert est.low == pytest.approx(v.mean() - t * se)
    assert est.df == len(v) - 1


def test_stratified_ratio_by_hand():
    # Two strata; y = recorded crimes, x = crimes that should have been recorded.
    y = np.array([1, 0, 2, 1, 1, 1, 0, 1], float)
    x = np.array([1, 1, 2, 1, 1, 2, 1, 1], float)
    strata = ["a"] * 4 + ["b"] * 4
    sizes = {"a": 100, "b": 300}
    est = stratified_ratio(y, x, strata, sizes)
    Y = 100 * y[:4].mean() + 300 * y[4:].mean()
    X = 100 * x[:4].mean() + 300 * x[4:].mean()
    R = Y / X
    d = y - R * x
    var = sum(N**2 * (1 - 4 / N) * d[sl].var(ddof=1) / 4 for N, sl in ((100, slice(0, 4)), (300, slice(4, 8))))
    assert est.estimate == pytest.approx(R)
    assert est.se == pytest.approx(np.sqrt(var) / X)
    assert est.df == 8 - 2
    assert est.high == pytest.approx(min(1.0, R + stats.t.ppf(0.975, 6) * np.sqrt(var) / X))


def test_weights_matter():
    """A heavily sampled small stratum must not dominate: the estimator weights by N_h / n_h."""
    y = np.array([1] * 50 + [0] * 5 + [1] * 5, float)
    x = np.ones(60)
    strata = ["small"] * 50 + ["big"] * 10
    est = stratified_ratio(y, x, strata, {"small": 50, "big": 10_000})
    assert est.estimate == pytest.approx((50 * 1 + 10_000 * 0.5) / 10_050)
    assert y.mean() > 0.9  # the unweighted share would be badly wrong


def test_all_recorded_gives_an_exact_interval_not_zero_width():
    est = stratified_ratio(np.ones(30), np.ones(30), ["a"] * 30, {"a": 1_000})
    assert est.estimate == 1.0 and est.high == 1.0
    assert 0.85 < est.low < 0.9  # Clopper-Pearson for 30/30
    assert "Clopper-Pearson" in est.method


def test_difference_estimator_with_a_perfect_model_has_no_error():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, 200).astype(float)
    y = np.minimum(x, rng.integers(0, 3, 200)).astype(float)
    strata = ["a"] * 200
    est = difference_ratio(y, x, y, x, strata, {"a": 200}, {"a": y.sum()}, {"a": x.sum()})
    assert est.estimate == pytest.approx(y.sum() / x.sum())


def test_wilson_uses_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    est = wilson(7, 20)
    assert (est.low, est.high) == pytest.approx(proportion_confint(7, 20, method="wilson"))
    assert np.isnan(wilson(0, 0).estimate)


def test_missing_stratum_warns():
    with pytest.warns(UserWarning, match="no audited units"):
        est = stratified_ratio([1, 1, 0], [1, 1, 1], ["a", "a", "a"], {"a": 10, "b": 10})
    assert est.estimate == pytest.approx(2 / 3)


def test_unknown_stratum_is_an_error():
    with pytest.raises(ValueError, match="missing from the population sizes"):
        stratified_ratio([1], [1], ["zzz"], {"a": 10})


def _decision(incident_id, confirmed, recorded, complete=True, flags=()):
    return AuditDecision(incident_id, tuple(confirmed), tuple(recorded), complete, tuple(flags))


def test_audit_decision_counts_use_coverage():
    d = _decision("1", ["assault_with_injury", "criminal_damage", "rape"], ["assault_with_injury"])
    assert d.counts() == (1, 3)
    assert d.counts("violence_against_the_person") == (1, 1)
    assert d.counts("sexual_offences") == (0, 1)
    assert d.unrecorded == ("criminal_damage", "rape")


def test_estimate_audit_leaves_out_incomplete_and_priority():
    units = [SampleUnit(str(i), "violence_against_the_person", 10.0) for i in range(6)]
    units.append(SampleUnit("p", "violence_against_the_person", 1.0, kind="priority"))
    decisions = {
        "0": _decision("0", ["common_assault"], ["common_assault"]),
        "1": _decision("1", ["common_assault"], []),
        "2": _decision("2", ["harassment"], ["harassment"]),
        "3": _decision("3", ["theft"], ["theft"]),
        "4": _decision(
            "4", ["common_assault"], [], complete=False, flags=(FlagOutcome("common_assault", 0.9, "open"),)
        ),
        "p": _decision("p", ["common_assault"], []),
    }
    result = estimate_audit(units, decisions, {"violence_against_the_person": 60}, volume=1_000)
    assert result["sampled"] == 6 and result["audited"] == 4
    assert result["overall"]["recording_rate"]["estimate"] == pytest.approx(3 / 4)
    assert result["overall"]["unrecorded_per_year"]["estimate"] == pytest.approx(1_000 * 1 / 4)
    assert result["groups"]["theft_offences"]["recording_rate"]["estimate"] == 1.0
    assert result["groups"]["sexual_offences"]["recording_rate"] is None
    assert result["strata"]["violence_against_the_person"] == {"population": 60, "sampled": 6, "audited": 4}


def test_estimate_audit_without_decisions():
    units = [SampleUnit("1", "a", 5.0)]
    result = estimate_audit(units, {}, {"a": 5})
    assert result["audited"] == 0 and result["warnings"]


def test_binned_rates():
    values = [0.05, 0.15, 0.95, 0.97, 0.99]
    outcomes = [False, False, True, True, False]
    rows = binned_rates(values, outcomes, bins=10)
    assert [r["n"] for r in rows] == [1, 1, 3]
    assert rows[-1]["rate"]["estimate"] == pytest.approx(2 / 3)
    edges = quantile_edges(np.linspace(0.5, 1.0, 100), 4)
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 5
