"""Design-based estimates from an audited stratified random sample.

- the recording rate R = (crimes recorded) / (crimes that should have been recorded), with the
  stratified *combined* ratio estimator and its linearised (Taylor) variance;
- the number of unrecorded crimes per incident (a stratified mean) and per year;
- a model-assisted (difference) estimator that uses, for every incident in the population,
  the crimes recorded and the model's expected number of unrecorded offences, and corrects
  them with the sample's residuals;
- Wilson intervals (statsmodels) for simple proportions (confirmed share of flags).

See docs/audit.md for the formulas. Everything here takes plain numbers or
:class:`~secondary_crimes.audit.types.AuditDecision` objects, never the queue.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from secondary_crimes.audit.types import AuditDecision, SampleUnit, offence_groups

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error and a two-sided confidence interval."""

    estimate: float
    se: float
    low: float
    high: float
    df: float
    n: int
    confidence: float
    method: str

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def scaled(self, factor: float) -> Estimate:
        return Estimate(
            self.estimate * factor,
            self.se * abs(factor),
            self.low * factor,
            self.high * factor,
            self.df,
            self.n,
            self.confidence,
            self.method,
        )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["half_width"] = self.half_width
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}


NAN_ESTIMATE = Estimate(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0, CONFIDENCE, "none")


# ------------------------------------------------------------------------ stratified machinery


@dataclass(frozen=True)
class _Strata:
    codes: np.ndarray  # stratum index of each sampled unit
    names: list[str]
    N: np.ndarray  # population size per stratum
    n: np.ndarray  # sample size per stratum

    @property
    def fpc(self) -> np.ndarray:
        return np.where(self.N > 0, 1.0 - self.n / np.maximum(self.N, 1), 0.0)

    @property
    def df(self) -> int:
        return int(self.n.sum() - (self.n > 0).sum())


def _strata(strata: Sequence[str], population_sizes: Mapping[str, int]) -> _Strata:
    names = list(population_sizes)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(strata) - set(index))
    if unknown:
        raise ValueError(f"sampled units in strata missing from the population sizes: {unknown}")
    codes = np.array([index[s] for s in strata], dtype=int)
    n = np.bincount(codes, minlength=len(names)).astype(float)
    N = np.array([float(population_sizes[name]) for name in names])
    if np.any(n > N):
        raise ValueError("a stratum has more sampled units than its population size")
    empty = [name for name, nh, Nh in zip(names, n, N, strict=True) if nh == 0 and Nh > 0]
    if empty:
        warnings.warn(f"no audited units in strata {empty}: the estimate covers the other strata only", stacklevel=3)
        N = np.where(n > 0, N, 0.0)
    if np.any(n == 1):
        warnings.warn("a stratum has a single audited unit: its variance contribution is taken as 0", stacklevel=3)
    return _Strata(codes, names, N, n)


def _stratum_means(values: np.ndarray, s: _Strata) -> np.ndarray:
    sums = np.bincount(s.codes, weights=values, minlength=len(s.names))
    return np.divide(sums, s.n, out=np.zeros_like(sums), where=s.n > 0)


def _stratum_vars(values: np.ndarray, s: _Strata) -> np.ndarray:
    """Within-stratum sample variances (ddof=1); 0 where a stratum has fewer than 2 units."""
    means = _stratum_means(values, s)
    squares = np.bincount(s.codes, weights=(values - means[s.codes]) ** 2, minlength=len(s.names))
    return np.divide(squares, s.n - 1, out=np.zeros_like(squares), where=s.n > 1)


def _variance_of_total(values: np.ndarray, s: _Strata) -> float:
    """V(sum_h N_h * mean_h) under stratified simple random sampling without replacement."""
    contrib = np.divide(s.N**2 * s.fpc * _stratum_vars(values, s), s.n, out=np.zeros(len(s.names)), where=s.n > 0)
    return float(contrib.sum())


def _interval(
    point: float,
    se: float,
    df: float,
    confidence: float,
    method: str,
    n: int,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    if not np.isfinite(point):
        return Estimate(point, se, float("nan"), float("nan"), df, n, confidence, method)
    quantile = stats.t.ppf(0.5 + confidence / 2, df) if df > 0 else stats.norm.ppf(0.5 + confidence / 2)
    low, high = point - quantile * se, point + quantile * se
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(float(point), float(se), float(low), float(high), float(df), n, confidence, method)


# ------------------------------------------------------------------------ the estimators


def stratified_ratio(
    y: Sequence[float],
    x: Sequence[float],
    strata: Sequence[str],
    population_sizes: Mapping[str, int],
    *,
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> Estimate:
    """Combined ratio estimator R = Y_hat / X_hat of two population totals.

    Y_hat = sum_h N_h ybar_h, X_hat likewise; the variance is the linearised
    V(R) = sum_h N_h^2 (1 - n_h/N_h) s_dh^2 / n_h / X_hat^2 with d_i = y_i - R x_i, and the
    interval uses Student's t with n - H degrees of freedom.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    s = _strata(strata, population_sizes)
    Y = float((s.N * _stratum_means(y, s)).sum())
    X = float((s.N * _stratum_means(x, s)).sum())
    return _ratio_of_totals(Y, X, y, x, int(round(x.sum())), s, confidence, bounds, "stratified combined ratio")


def _ratio_of_totals(Y, X, e_y, e_x, crimes: int, s, confidence, bounds, method: str) -> Estimate:
    """R = Y / X with the linearised variance of the residuals e_y - R e_x; ``crimes`` sampled."""
    if X <= 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, nan, s.df, len(e_y), confidence, method)
    ratio = Y / X
    se = np.sqrt(_variance_of_total(e_y - ratio * e_x, s)) / X
    if se == 0 and bounds == (0.0, 1.0):
        return _exact_fallback(ratio, crimes, confidence, len(e_y), method)
    return _interval(ratio, se, s.df, confidence, method, len(e_y), bounds)


def _exact_fallback(rate: float, crimes: int, confidence: float, n: int, method: str) -> Estimate:
    """When every sampled crime was recorded (or none was) the linearised variance is 0, which
    would claim certainty; use the Clopper-Pearson interval on the sample's crime count instead."""
    low, high = proportion_confint(int(round(rate * crimes)), max(crimes, 1), alpha=1 - confidence, method="beta")
    return Estimate(
        float(rate),
        0.0,
        float(low),
        float(high),
        float(max(crimes - 1, 0)),
        n,
        confidence,
        method + " (Clopper-Pearson: no variation in the sample)",
    )


def stratified_mean(
    v: Sequence[float], strata: Sequence[str], population_sizes: Mapping[str, int], *, confidence: float = CONFIDENCE
) -> Estimate:
    """The population mean per unit, sum_h W_h vbar_h, with W_h = N_h / N."""
    v = np.asarray(v, float)
    s = _strata(strata, population_sizes)
    total_N = s.N.sum()
    mean = float((s.N * _stratum_means(v, s)).sum() / total_N)
    se = np.sqrt(_variance_of_total(v, s)) / total_N
    if len(v) and not v.any():
        # Nothing observed: a zero-width interval would claim there is none in the population.
        # Bound the share of units with any (Clopper-Pearson upper limit for 0 of n).
        _, high = proportion_confint(0, len(v), alpha=1 - confidence, method="beta")
        return Estimate(
            0.0,
            0.0,
            0.0,
            float(high),
            float(s.df),
            len(v),
            confidence,
            "stratified mean (none observed: Clopper-Pearson upper limit)",
        )
    return _interval(mean, se, s.df, confidence, "stratified mean", len(v), (0.0, np.inf))


def difference_ratio(
    y: Sequence[float],
    x: Sequence[float],
    aux_y: Sequence[float],
    aux_x: Sequence[float],
    strata: Sequence[str],
    population_sizes: Mapping[str, int],
    aux_totals_y: Mapping[str, float],
    aux_totals_x: Mapping[str, float],
    *,
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> Estimate:
    """Model-assisted ratio: each total by the difference estimator, then their ratio.

    Y_d = sum_h [A_yh + N_h * mean_h(y - a_y)] where A_yh is the population total of the
    auxiliary a_y in stratum h (known for every incident), likewise X_d; R_d = Y_d / X_d and
    V(R_d) = sum_h N_h^2 (1 - f_h) s^2(e_y - R_d e_x)_h / n_h / X_d^2. The better the model
    predicts y and x, the smaller the residuals and the variance; a poor model costs
    precision, never bias.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    e_y, e_x = y - np.asarray(aux_y, float), x - np.asarray(aux_x, float)
    s = _strata(strata, population_sizes)
    covered = s.N > 0
    A_y = np.array([float(aux_totals_y.get(name, 0.0)) for name in s.names]) * covered
    A_x = np.array([float(aux_totals_x.get(name, 0.0)) for name in s.names]) * covered
    Y = float((A_y + s.N * _stratum_means(e_y, s)).sum())
    X = float((A_x + s.N * _stratum_means(e_x, s)).sum())
    return _ratio_of_totals(Y, X, e_y, e_x, int(round(x.sum())), s, confidence, bounds,
                            "model-assisted difference ratio")


def wilson(count: int, nobs: int, *, confidence: float = CONFIDENCE) -> Estimate:
    """A simple proportion with its Wilson score interval (statsmodels)."""
    if nobs <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), 0, 0, confidence, "wilson")
    p = count / nobs
    low, high = proportion_confint(count, nobs, alpha=1 - confidence, method="wilson")
    return Estimate(
        p, float(np.sqrt(p * (1 - p) / nobs)), float(low), float(high), float(nobs - 1), nobs, confidence, "wilson"
    )


# ------------------------------------------------------------------------ the audit's figures


def estimate_audit(
    units: Sequence[SampleUnit],
    decisions: Mapping[str, AuditDecision],
    population_sizes: Mapping[str, int],
    *,
    volume: float | None = None,
    auxiliary_totals: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """Every figure of the audit from the random sample's units and the auditors' decisions.

    ``units``: the random sample (priority units are ignored). ``decisions``: by incident id;
    units without a complete decision are left out (non-response within the stratum).
    ``auxiliary_totals``: stratum -> group -> {"recorded", "predicted_missed"} population
    totals, for the model-assisted estimate. ``volume``: incidents per year (the population
    size when not given). Returns a JSON-ready dict.
    """
    random_units = [u for u in units if u.kind == "random"]
    audited = [u for u in random_units if u.incident_id in decisions and decisions[u.incident_id].complete]
    population = int(sum(population_sizes.values()))
    per_year = float(volume) if volume else float(population)
    out: dict[str, Any] = {
        "confidence": confidence,
        "population": population,
        "volume_per_year": per_year,
        "volume_given": bool(volume),
        "sampled": len(random_units),
        "audited": len(audited),
        "strata": {},
        "overall": {},
        "groups": {},
        "warnings": [],
    }
    for name, N in population_sizes.items():
        out["strata"][name] = {
            "population": int(N),
            "sampled": sum(u.stratum == name for u in random_units),
            "audited": sum(u.stratum == name for u in audited),
        }
    if not audited:
        out["warnings"].append("no audited incidents in the random sample yet")
        return out
    strata = [u.stratum for u in audited]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for group in (None, *offence_groups()):
            counts = np.array([decisions[u.incident_id].counts(group) for u in audited], dtype=float)
            y, x = counts[:, 0], counts[:, 1]
            key = "overall" if group is None else group
            figures: dict[str, Any] = {
                "sample_recorded": int(y.sum()),
                "sample_should_have_been_recorded": int(x.sum()),
                "sample_unrecorded": int((x - y).sum()),
            }
            if x.sum() > 0:
                rate = stratified_ratio(y, x, strata, population_sizes, confidence=confidence)
                figures["recording_rate"] = rate.as_dict()
            else:
                figures["recording_rate"] = None
            per_incident = stratified_mean(x - y, strata, population_sizes, confidence=confidence)
            figures["unrecorded_per_incident"] = per_incident.as_dict()
            figures["unrecorded_per_year"] = per_incident.scaled(per_year).as_dict()
            figures["should_have_been_recorded_per_year"] = (
                stratified_mean(x, strata, population_sizes, confidence=confidence).scaled(per_year).as_dict()
            )
            if auxiliary_totals is not None and x.sum() > 0:
                figures["model_assisted_recording_rate"] = _model_assisted(
                    audited, y, x, group, population_sizes, auxiliary_totals, confidence
                ).as_dict()
            if group is None:
                out["overall"] = figures
            else:
                out["groups"][key] = figures
        out["warnings"].extend(str(w.message) for w in caught)
    out["warnings"] = list(dict.fromkeys(out["warnings"]))
    return out


def _model_assisted(
    audited: Sequence[SampleUnit],
    y: np.ndarray,
    x: np.ndarray,
    group: str | None,
    population_sizes: Mapping[str, int],
    auxiliary_totals: Mapping[str, Mapping[str, Mapping[str, float]]],
    confidence: float,
) -> Estimate:
    groups = offence_groups() if group is None else (group,)

    def unit_aux(u: SampleUnit) -> tuple[float, float]:
        r = sum(u.recorded.get(g, 0) for g in groups)
        m = sum(u.predicted_missed.get(g, 0.0) for g in groups)
        return r, r + m

    aux = np.array([unit_aux(u) for u in audited], dtype=float)
    totals_y, totals_x = {}, {}
    for stratum, by_group in auxiliary_totals.items():
        r = sum(float(by_group.get(g, {}).get("recorded", 0.0)) for g in groups)
        m = sum(float(by_group.get(g, {}).get("predicted_missed", 0.0)) for g in groups)
        totals_y[stratum], totals_x[stratum] = r, r + m
    return difference_ratio(
        y,
        x,
        aux[:, 0],
        aux[:, 1],
        [u.stratum for u in audited],
        population_sizes,
        totals_y,
        totals_x,
        confidence=confidence,
    )


def flag_outcomes(
    units: Sequence[SampleUnit], decisions: Mapping[str, AuditDecision], *, kind: str | None = None
) -> list[dict[str, Any]]:
    """Every decided flag of the sampled incidents: offence, probability, confirmed, priority."""
    rows = []
    for u in units:
        if kind is not None and u.kind != kind:
            continue
        decision = decisions.get(u.incident_id)
        if decision is None:
            continue
        for flag in decision.flags:
            if flag.decision in ("recorded", "no_crime"):
                rows.append(
                    {
                        "incident_id": u.incident_id,
                        "kind": u.kind,
                        "stratum": u.stratum,
                        "offence": flag.offence,
                        "probability": flag.probability,
                        "review_priority": u.review_priority,
                        "confirmed": flag.decision == "recorded",
                    }
                )
    return rows


def quantile_edges(values: Sequence[float], bins: int) -> np.ndarray:
    """Bin edges holding about equal numbers of ``values`` (at most ``bins`` bins), spanning [0, 1]."""
    values = np.asarray(values, float)
    if values.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    inner = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.concatenate([[0.0], inner[(inner > 0) & (inner < 1)], [1.0]])


def binned_rates(
    values: Sequence[float],
    outcomes: Sequence[bool],
    *,
    bins: int = 10,
    edges: Sequence[float] | None = None,
    confidence: float = CONFIDENCE,
) -> list[dict[str, Any]]:
    """Confirmed rate with Wilson intervals in bins of ``values`` (equal-width on [0, 1] by default)."""
    values, outcomes = np.asarray(values, float), np.asarray(outcomes, bool)
    edges = np.linspace(0.0, 1.0, bins + 1) if edges is None else np.asarray(edges, float)
    bins = len(edges) - 1
    index = np.clip(np.digitize(values, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        rate = wilson(int(outcomes[mask].sum()), int(mask.sum()), confidence=confidence)
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "mean_value": float(values[mask].mean()),
                "n": int(mask.sum()),
                "confirmed": int(outcomes[mask].sum()),
                "rate": rate.as_dict(),
            }
        )
    return rows
