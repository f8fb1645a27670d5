"""The audit report: one self-contained HTML file (embedded PNG plots) and the same figures as JSON.

``report_data`` computes every number; the plots are ``matplotlib.figure.Figure`` objects drawn
from those numbers (no pyplot, so importing or rendering the report never touches matplotlib's
global backend or figure list), saved as PNG; ``templates/report.html`` (Jinja2) lays out the
numbers, formatted by the ``pct``, ``count`` and ``thousands`` filters, and the PNGs.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from matplotlib.figure import Figure

from secondary_crimes.audit.estimate import (
    CONFIDENCE,
    binned_rates,
    estimate_audit,
    flag_outcomes,
    quantile_edges,
    wilson,
)
from secondary_crimes.audit.sampling import Sample
from secondary_crimes.audit.types import AuditDecision
from secondary_crimes.recording_rules import RULES
from secondary_crimes.taxonomy import load_taxonomy

GROUP_NAMES = {
    "violence_against_the_person": "Violence against the person",
    "sexual_offences": "Sexual offences",
    "criminal_damage_and_arson": "Criminal damage and arson",
    "public_order_offences": "Public order offences",
    "miscellaneous_crimes_against_society": "Misc. crimes against society",
    "theft_offences": "Theft offences",
    "no_offence_indicated": "No offence indicated",
}


def _group_name(group: str) -> str:
    return GROUP_NAMES.get(group, group.replace("_", " ").capitalize())


# ------------------------------------------------------------------------ the figures as data


def report_data(
    sample: Sample,
    decisions: Mapping[str, AuditDecision],
    *,
    volume: float | None = None,
    confidence: float = CONFIDENCE,
    db_url: str | None = None,
) -> dict[str, Any]:
    """Every number the report shows (this is what the JSON holds)."""
    estimates = estimate_audit(
        sample.units,
        decisions,
        sample.population_sizes,
        volume=volume,
        auxiliary_totals=sample.auxiliary_totals or None,
        confidence=confidence,
    )
    flags_random = flag_outcomes(sample.units, decisions, kind="random")
    flags_priority = flag_outcomes(sample.units, decisions, kind="priority")
    all_flags = flags_random + flags_priority

    def confirmed_share(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return wilson(sum(r["confirmed"] for r in rows), len(rows), confidence=confidence).as_dict()

    def incident_rows(kind: str) -> list[dict[str, Any]]:
        """Per decided incident with flags: its priority and whether any flag was confirmed."""
        rows = []
        for unit in sample.units:
            decision = decisions.get(unit.incident_id)
            if unit.kind != kind or decision is None or not decision.flags or not decision.complete:
                continue
            rows.append(
                {
                    "review_priority": unit.review_priority,
                    "confirmed": any(f.decision == "recorded" for f in decision.flags),
                }
            )
        return rows

    priority = {}
    rows_by_kind = {kind: incident_rows(kind) for kind in ("random", "priority")}
    for kind, rows in rows_by_kind.items():
        edges = quantile_edges([r["review_priority"] for r in rows], 6 if kind == "random" else 3)
        priority[kind] = {
            "incidents": len(rows),
            "confirmed_share": confirmed_share(rows),
            "bins": binned_rates(
                [r["review_priority"] for r in rows], [r["confirmed"] for r in rows], edges=edges, confidence=confidence
            ),
        }
    probabilities = np.array([r["probability"] for r in all_flags], float)
    outcomes = np.array([r["confirmed"] for r in all_flags], float)
    calibration = {
        "flags": len(all_flags),
        "bins": binned_rates(probabilities, outcomes.astype(bool), bins=10, confidence=confidence),
        "brier": float(np.mean((probabilities - outcomes) ** 2)) if len(all_flags) else None,
        "mean_probability": float(probabilities.mean()) if len(all_flags) else None,
        "confirmed_rate": float(outcomes.mean()) if len(all_flags) else None,
    }
    if calibration["bins"]:
        total = sum(b["n"] for b in calibration["bins"])
        calibration["expected_calibration_error"] = float(
            sum(b["n"] / total * abs(b["mean_value"] - b["rate"]["estimate"]) for b in calibration["bins"])
        )
    if db_url:
        unflagged = sum(
            1 for u in sample.random_units() if u.incident_id in decisions and not decisions[u.incident_id].flags
        )
        estimates["warnings"].append(
            f"Decisions come from the review queue, which shows auditors only the model's flags: {unflagged} audited "
            "random-sample incidents had no flag and are counted as having no unrecorded crime. Crimes the model "
            "missed entirely are not counted, so unless auditors read every sampled incident in full the recording "
            "rate is an upper bound and the unrecorded count a lower bound."
        )
    by_offence: dict[str, dict[str, int]] = {}
    for row in all_flags:
        entry = by_offence.setdefault(row["offence"], {"decided": 0, "confirmed": 0})
        entry["decided"] += 1
        entry["confirmed"] += int(row["confirmed"])
    return {
        "title": f"Crime recording audit: {sample.name}",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "sample": {
            "name": sample.name,
            "seed": sample.seed,
            "design": sample.design,
            "source": sample.source,
            "created_at": sample.created_at,
            "random_size": len(sample.random_units()),
            "priority_size": len(sample.priority_units()),
            "strata": {
                h: {"population": N, "sample": sample.allocation.get(h, 0)} for h, N in sample.population_sizes.items()
            },
        },
        "decisions_source": _safe_url(db_url),
        "estimates": estimates,
        "flags": {
            "random_sample": {"decided": len(flags_random), "confirmed_share": confirmed_share(flags_random)},
            "priority_sample": {"decided": len(flags_priority), "confirmed_share": confirmed_share(flags_priority)},
            "by_offence": by_offence,
        },
        "priority": priority,
        "calibration": calibration,
        "population": sample.population,
    }


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(database)"


# ------------------------------------------------------------------------ plots


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _barh(
    ax, counts: Mapping[str, int], title: str, colour: str, labels: Mapping[str, str] | None = None, top: int = 15
) -> None:
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:top][::-1]
    if not items:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
        return
    names = [(labels or {}).get(k, k) for k, _ in items]
    values = [v for _, v in items]
    ax.barh(names, values, color=colour)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v}", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    ax.margins(x=0.15)


def plot_flags(data: dict[str, Any]) -> Figure:
    population = data.get("population") or {}
    names = {k: v.name for k, v in load_taxonomy().offences.items()}
    fig = Figure(figsize=(13, 10))
    axes = fig.subplots(2, 2)
    _barh(
        axes[0, 0],
        population.get("flags_by_offence", {}),
        "Model flags (unrecorded offences) by offence",
        "#c0504d",
        names,
    )
    _barh(axes[0, 1], population.get("flags_by_closing_code", {}), "Model flags by closing code", "#4f81bd")
    rule_names = {r: r.replace("_", " ") for r in RULES}
    _barh(axes[1, 0], population.get("rule_flags", {}), "Rule-check flags by rule", "#9bbb59", rule_names)
    _heatmap(
        axes[1, 1],
        population.get("flags_by_offence_and_closing_code", {}),
        list(population.get("flags_by_closing_code", {}))[:8],
        names,
    )
    fig.suptitle(f"All {population.get('incidents', 0):,} scored incidents", fontsize=12)
    fig.tight_layout()
    return fig


def _heatmap(ax, table: Mapping[str, Mapping[str, int]], codes: list[str], names: Mapping[str, str]) -> None:
    offences = sorted(table, key=lambda o: -sum(table[o].values()))[:12]
    if not offences or not codes:
        ax.set_axis_off()
        return
    from secondary_crimes.plots import annotate_counts

    grid = np.array([[table[o].get(c, 0) for c in codes] for o in offences])
    ax.imshow(grid, cmap="Reds", aspect="auto")
    ax.set_xticks(
        range(len(codes)), [c if len(c) <= 18 else c[:17] + "…" for c in codes], rotation=40, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(offences)), [names.get(o, o) for o in offences], fontsize=8)
    annotate_counts(ax, grid, fontsize=7)
    ax.set_title("Model flags: offence by closing code", fontsize=10)


def _xerr(rate: dict[str, Any]) -> list[list[float]]:
    return [[max(rate["estimate"] - rate["low"], 0) * 100], [max(rate["high"] - rate["estimate"], 0) * 100]]


def plot_rates(data: dict[str, Any]) -> Figure:
    estimates = data["estimates"]
    rows = []
    if estimates.get("overall", {}).get("recording_rate"):
        rows.append(("All crime", estimates["overall"]))
    for group, figures in estimates.get("groups", {}).items():
        if figures.get("recording_rate"):
            rows.append((_group_name(group), figures))
    fig = Figure(figsize=(8.5, 0.55 * max(len(rows), 2) + 1.2))
    ax = fig.subplots()
    if not rows:
        ax.text(0.5, 0.5, "no audited crimes yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    y = np.arange(len(rows))[::-1]
    for yi, (_name, figures) in zip(y, rows, strict=True):
        rate = figures["recording_rate"]
        ax.errorbar(
            rate["estimate"] * 100,
            yi + 0.12,
            xerr=_xerr(rate),
            fmt="o",
            color="#1f4e79",
            capsize=4,
            label="stratified ratio" if yi == y[0] else None,
        )
        assisted = figures.get("model_assisted_recording_rate")
        if assisted and assisted.get("estimate") is not None:
            ax.errorbar(
                assisted["estimate"] * 100,
                yi - 0.12,
                xerr=_xerr(assisted),
                fmt="s",
                color="#e46c0a",
                capsize=4,
                label="model-assisted" if yi == y[0] else None,
            )
        ax.text(
            102.5,
            yi,
            f"{rate['estimate'] * 100:.1f}% ± {rate['half_width'] * 100:.1f}  "
            f"(n={figures['sample_should_have_been_recorded']})",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, [name for name, _ in rows], fontsize=9)
    ax.set_xlim(min(50, min(f["recording_rate"]["low"] * 100 for _, f in rows) - 5), 101.5)
    ax.axvline(100, color="grey", lw=0.8)
    ax.set_xlabel(f"Recording rate (%), {int(data['estimates']['confidence'] * 100)}% confidence interval")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Crime recording rate by offence group", fontsize=11)
    return fig


def _rate_curve(ax, bins: list[dict[str, Any]], label: str, colour: str, marker: str, offset: float = 0.0) -> None:
    if not bins:
        return
    x = np.array([b["mean_value"] for b in bins]) + offset
    p = np.array([b["rate"]["estimate"] for b in bins])
    low = np.array([b["rate"]["low"] for b in bins])
    high = np.array([b["rate"]["high"] for b in bins])
    ax.errorbar(
        x,
        p,
        yerr=[np.maximum(p - low, 0), np.maximum(high - p, 0)],
        fmt=marker + "-",
        color=colour,
        capsize=3,
        label=label,
    )
    for xi, pi, b in zip(x, p, bins, strict=True):
        ax.annotate(str(b["n"]), (xi, pi), textcoords="offset points", xytext=(4, 4), fontsize=7, color=colour)


def plot_priority(data: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    _rate_curve(ax, data["priority"]["random"]["bins"], "random sample", "#1f4e79", "o", -0.005)
    _rate_curve(ax, data["priority"]["priority"]["bins"], "priority sample", "#c0504d", "s", 0.005)
    lows = [b["mean_value"] for kind in ("random", "priority") for b in data["priority"][kind]["bins"]]
    ax.set_xlim(max(0.0, min(lows, default=0.0) - 0.05), 1.01)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("Review priority (model's chance of an unrecorded offence)")
    ax.set_ylabel("Share of flagged incidents with a confirmed miss")
    ax.set_title("Review priority against auditors' confirmations", fontsize=11)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_calibration(data: dict[str, Any]) -> Figure:
    calibration = data["calibration"]
    fig = Figure(figsize=(6.5, 6))
    ax, hist = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    _rate_curve(ax, calibration["bins"], "auditors' confirmed rate", "#1f4e79", "o")
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("Flags confirmed by auditors")
    title = "Calibration of the model against auditors' decisions"
    if calibration.get("brier") is not None:
        title += (
            f"\nBrier {calibration['brier']:.3f}, ECE {calibration.get('expected_calibration_error', 0):.3f}, "
            f"{calibration['flags']} decided flags"
        )
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    hist.bar(
        [b["mean_value"] for b in calibration["bins"]],
        [b["n"] for b in calibration["bins"]],
        width=0.08,
        color="#8eb4e3",
    )
    hist.set_xlabel("Model probability of the flagged offence")
    hist.set_ylabel("Flags")
    hist.set_xlim(0, 1.02)
    return fig


# ------------------------------------------------------------------------ HTML

# The report's plots in page order: key -> (alt text, which also names the PNG file of --png-dir, plot).
PLOTS: dict[str, tuple[str, Callable[[dict[str, Any]], Figure]]] = {
    "rates": ("recording rate by group", plot_rates),
    "flags": ("flags by offence and closing code", plot_flags),
    "priority": ("priority against confirmed rate", plot_priority),
    "calibration": ("calibration", plot_calibration),
}

Part = Literal["full", "point", "interval"]


def _pct(estimate: Mapping[str, Any] | None, part: Part = "full") -> str:
    """A rate as "82.8% ± 3.70 (79.1–86.5)": the point, the interval or both; "–" when there is none."""
    if not estimate or estimate.get("estimate") is None:
        return "–"
    point = f"{estimate['estimate'] * 100:.1f}% ± {estimate['half_width'] * 100:.2f}"
    interval = f"{estimate['low'] * 100:.1f}–{estimate['high'] * 100:.1f}"
    return {"full": f"{point} ({interval})", "point": point, "interval": interval}[part]


def _count(estimate: Mapping[str, Any] | None, part: Part = "full") -> str:
    """A count as "18,211 (14,080–22,342)": the point, the interval or both; "–" when there is none."""
    if not estimate or estimate.get("estimate") is None:
        return "–"
    point = f"{estimate['estimate']:,.0f}"
    interval = f"{estimate['low']:,.0f}–{estimate['high']:,.0f}"
    return {"full": f"{point} ({interval})", "point": point, "interval": interval}[part]


@cache
def _template():
    environment = Environment(
        loader=PackageLoader("secondary_crimes.audit", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(pct=_pct, count=_count, thousands=lambda n: f"{n:,.0f}")
    return environment.get_template("report.html")


def render_figures(data: dict[str, Any]) -> dict[str, bytes]:
    """Each plot of ``PLOTS`` drawn from the report's numbers, as PNG bytes."""
    return {key: _png(plot(data)) for key, (_alt, plot) in PLOTS.items()}


def render_html(data: dict[str, Any], images: Mapping[str, bytes]) -> str:
    """The report as one HTML document: ``data`` from ``report_data``, ``images`` from ``render_figures``."""
    est = data["estimates"]
    overall = est.get("overall") or {}
    names = {k: v.name for k, v in load_taxonomy().offences.items()}
    group_rows = [("All crime", overall)] + [(_group_name(g), f) for g, f in est.get("groups", {}).items()]
    by_offence = sorted(data["flags"]["by_offence"].items(), key=lambda kv: -kv[1]["decided"])
    return _template().render(
        title=data["title"],
        generated_at=data["generated_at"],
        sample=data["sample"],
        est=est,
        overall=overall,
        level=int(round(est["confidence"] * 100)),
        per_year="per year" if est.get("volume_given") else "in the scored population",
        group_rows=[(name, figures) for name, figures in group_rows if figures],
        strata_rows=[(_group_name(h), s) for h, s in est.get("strata", {}).items()],
        flags=data["flags"],
        offence_rows=[(names.get(offence, offence), counts) for offence, counts in by_offence],
        decisions_source=data.get("decisions_source"),
        figures={key: {"alt": alt, "base64": base64.b64encode(images[key]).decode("ascii")}
                 for key, (alt, _plot) in PLOTS.items()},
    )


def build_report(
    sample: Sample, decisions: Mapping[str, AuditDecision], *, volume: float | None = None, db_url: str | None = None
) -> tuple[str, dict[str, Any], dict[str, bytes]]:
    """(HTML, JSON-ready figures, PNG plots by ``PLOTS`` key) for a sample and its decisions."""
    data = report_data(sample, decisions, volume=volume, db_url=db_url)
    images = render_figures(data)
    return render_html(data, images), data, images


def write_report(
    out: Path,
    sample: Sample,
    decisions: Mapping[str, AuditDecision],
    *,
    volume: float | None = None,
    db_url: str | None = None,
    json_out: Path | None = None,
    png_dir: Path | None = None,
) -> tuple[Path, Path]:
    """Write the HTML report and its JSON (``out`` with ``.json``); optionally the plots as PNG files."""
    out = Path(out)
    document, figures, images = build_report(sample, decisions, volume=volume, db_url=db_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document, encoding="utf-8")
    json_path = Path(json_out) if json_out else out.with_suffix(".json")
    json_path.write_text(json.dumps(figures, indent=1, allow_nan=False, default=_json_default), encoding="utf-8")
    if png_dir is not None:
        png_dir = Path(png_dir)
        png_dir.mkdir(parents=True, exist_ok=True)
        for key, (alt, _plot) in PLOTS.items():
            (png_dir / (alt.replace(" ", "_") + ".png")).write_bytes(images[key])
    return out, json_path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
