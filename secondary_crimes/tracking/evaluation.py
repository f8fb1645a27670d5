"""Held-out figures of a tracked run, computed by ``secondary_crimes.evaluate`` as the CLI computes them.

The incidents are scored as ``score`` scores them (``score.decide_all``: the same thresholds,
rounding and decisions) and the report is ``evaluate.evaluate``'s, the one ``secondary-crimes
evaluate`` prints. Every figure a run logs, the registry shows, the card prints and ``promote``
compares is read from that report by ``figures``; the only one evaluate has no counterpart for
is ``brier``, the Brier score of every offence's probability, which scored records do not keep.
(Before, tracking had its own F1 code: its macro F1 averaged over offences with gold positives,
evaluate's over offences with gold or predicted positives, so the two differed.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.evaluate import evaluate, format_report
from secondary_crimes.records import GoldIncident
from secondary_crimes.score import decide_all
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.training_data import label_matrix

ATTRIBUTES = ("relationship", "domestic", "reporter")


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def figures(report: dict[str, Any], records: Sequence[dict] = ()) -> dict[str, float]:
    """The flat figures of ``evaluate``'s report (a run logs each with a ``test_`` prefix).

    ``records`` (the scored records the report was made from) say which attributes the model
    predicts at all: an attribute no record carries gets no accuracy figure.
    """
    out: dict[str, float] = {}
    for task in ("offences", "missed"):
        for average in ("micro", "macro"):
            for key in ("precision", "recall", "f1"):
                out[f"{task}_{average}_{key}"] = float(report[task][average][key])
    level = report["incident_level"]
    precision, recall = float(level["precision"]), float(level["recall"])
    out["incident_precision"] = precision
    out["incident_recall"] = recall
    out["incident_f1"] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out["review_priority_ap"] = _number(level["priority_average_precision"])
    calibration = level.get("priority_calibration") or {}
    out["review_priority_brier"] = _number(calibration.get("brier"))
    out["review_priority_ece"] = _number(calibration.get("ece"))
    for share, value in level["missed_found_in_top"].items():
        out[f"missed_found_in_top_{share.rstrip('%')}pct"] = _number(value)
    out["incidents"] = float(level["incidents"])
    out["incidents_with_missed"] = float(level["needing_review"])
    out["incidents_flagged"] = float(level["flagged"])
    for key in ATTRIBUTES:
        table = report.get(key) or {}
        if table.get("n") and any(record.get(key) is not None for record in records):
            out[f"{key}_accuracy"] = float(table["accuracy"])
    return out


def per_offence_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """``evaluate``'s per-offence rows for offences and for missed flags, one row per (task, offence)."""
    return [
        {"task": task, "offence": label, **{k: row[k] for k in ("precision", "recall", "f1", "support", "predicted")}}
        for task in ("offences", "missed")
        for label, row in report[task]["per_offence"].items()
    ]


def evaluate_bundle(bundle: ModelBundle, incidents: list[GoldIncident]) -> dict[str, Any]:
    """Score ``incidents`` as ``score`` does and evaluate them as ``evaluate`` does.

    Returns ``metrics`` (``figures`` plus the offence Brier score and inference speed),
    ``table`` (per offence), ``project_report`` (evaluate's text report), ``report`` (its dict),
    ``records`` (the scored records), ``proba`` and ``Y`` (for the plots) and ``relationship``
    (gold and predicted pairs).
    """
    started = time.perf_counter()
    analyses = bundle.model.analyse(incidents, None)  # probabilities and attributes; evidence is not scored
    records = decide_all(incidents, analyses, bundle)
    seconds = time.perf_counter() - started
    proba = np.vstack([a.probabilities for a in analyses]) if analyses else np.zeros((0, len(LABELS)))
    gold_offences = label_matrix(incidents)
    report = evaluate(incidents, records)
    metrics = figures(report, records)
    metrics["brier"] = float(np.mean((proba - gold_offences) ** 2)) if len(proba) else float("nan")
    metrics["inference_incidents_per_s"] = len(incidents) / max(seconds, 1e-9)
    relationships = [
        (incident.relationship, record.get("relationship"))
        for incident, record in zip(incidents, records, strict=True)
        if incident.relationship is not None
    ]
    return {
        "metrics": metrics,
        "table": per_offence_table(report),
        "report": report,
        "project_report": format_report(report),
        "records": records,
        "proba": proba,
        "Y": gold_offences,
        "relationship": relationships,
    }


def format_table(table: pd.DataFrame, metrics: dict[str, float]) -> str:
    """``evaluation/report.txt``: the figures, then the per-offence table."""
    lines = ["Held-out evaluation", ""]
    lines += [f"{k:32s} {v:.4f}" if isinstance(v, float) and math.isfinite(v) else f"{k:32s} {v}"
              for k, v in metrics.items()]
    lines.append("")
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines) + "\n"
