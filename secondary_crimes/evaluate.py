"""Evaluate scored output against gold labels: offences, missed flags, priority, extraction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, confusion_matrix, precision_recall_fscore_support

from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS, load_taxonomy
from secondary_crimes.training_data import label_matrix


def _predicted_matrix(scored: Sequence[dict], key: str) -> np.ndarray:
    """(records x labels) 0/1: the record's ``key`` entries ("offences" or "missed"), and its linked
    course-of-conduct flags (``course_of_conduct``, added by the linking pass; all of them for
    "offences", the missed ones for "missed"): what the output puts before an auditor."""
    index = {label: j for j, label in enumerate(LABELS)}
    matrix = np.zeros((len(scored), len(LABELS)), dtype=int)
    for i, record in enumerate(scored):
        for entry in record[key]:
            matrix[i, index[entry["offence"]]] = 1
        for flag in record.get("course_of_conduct") or ():
            if key == "offences" or flag["missed"]:
                matrix[i, index[flag["offence"]]] = 1
    return matrix


def _label_table(gold: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, average=None, labels=range(len(LABELS)), zero_division=0)
    per_label = {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s),
                "predicted": int(predicted[:, j].sum())}
        for j, (label, p, r, f, s) in enumerate(zip(LABELS, precision, recall, f1, support, strict=True))
    }
    out: dict[str, Any] = {"per_offence": per_label}
    for average in ("micro", "macro"):
        present = [j for j in range(len(LABELS)) if gold[:, j].sum() or predicted[:, j].sum()]
        p, r, f, _ = precision_recall_fscore_support(
            gold, predicted, average=average, labels=present or None, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return out


def _attribute_table(gold: list, predicted: list, classes: Sequence) -> dict[str, Any]:
    pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g is not None]
    if not pairs:
        return {"n": 0}
    g = [str(value) for value, _ in pairs]
    p = ["(none)" if value is None else str(value) for _, value in pairs]
    labels = [str(value) for value in classes] + (["(none)"] if "(none)" in p else [])
    matrix = confusion_matrix(list(g), p, labels=labels)
    recall = {str(label): (float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None)
              for i, label in enumerate(labels) if label != "(none)"}
    return {"n": len(g), "accuracy": float(np.mean([a == b for a, b in zip(g, p, strict=True)])),
            "per_class_recall": recall, "labels": [str(x) for x in labels],
            "confusion": matrix.tolist()}


def _calibration(outcome: np.ndarray, probability: np.ndarray, bins: int = 5) -> dict[str, Any]:
    """Brier score, expected calibration error and a reliability table (equal-width bins)."""
    edges = np.round(np.linspace(0.0, 1.0, bins + 1), 9)  # so 0.6 opens [0.6, 0.8)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        mean_p, observed = float(probability[mask].mean()), float(outcome[mask].mean())
        ece += mask.mean() * abs(mean_p - observed)
        table.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(mask.sum()),
                      "mean_probability": mean_p, "observed_rate": observed})
    return {"brier": float(brier_score_loss(outcome, probability)), "ece": float(ece), "bins": table}


def evaluate(gold: Sequence[GoldIncident], scored: Sequence[dict]) -> dict[str, Any]:
    """The evaluation report for scored records aligned by incident id with labelled incidents."""
    by_id = {record["incident_id"]: record for record in scored}
    pairs = [(g, by_id[g.incident_id]) for g in gold if g.has_gold and g.incident_id in by_id]
    if not pairs:
        raise ValueError("no labelled incident was scored: nothing to evaluate")
    gold_list = [g for g, _ in pairs]
    scored_list = [s for _, s in pairs]
    gold_offences, gold_missed = label_matrix(gold_list), label_matrix(gold_list, "missed")
    pred_offences = _predicted_matrix(scored_list, "offences")
    pred_missed = _predicted_matrix(scored_list, "missed")

    needs_review = gold_missed.any(axis=1)
    flagged = pred_missed.any(axis=1)
    priority = np.array([s["review_priority"] for s in scored_list])
    tp = int(np.sum(needs_review & flagged))
    incident_level = {
        "incidents": len(pairs),
        "needing_review": int(needs_review.sum()),
        "flagged": int(flagged.sum()),
        "precision": tp / flagged.sum() if flagged.sum() else 0.0,
        "recall": tp / needs_review.sum() if needs_review.sum() else 0.0,
        "priority_average_precision": (float(average_precision_score(needs_review, priority))
                                       if 0 < needs_review.sum() < len(needs_review) else None),
    }
    # review_priority claims to be P(at least one unrecorded offence): check it as a probability
    incident_level["priority_calibration"] = _calibration(needs_review.astype(float), priority)
    order = np.argsort(-priority, kind="stable")
    missed_counts = gold_missed.sum(axis=1)
    total_missed = missed_counts.sum()
    incident_level["missed_found_in_top"] = {
        f"{share}%": (float(missed_counts[order[: int(np.ceil(len(order) * share / 100))]].sum() / total_missed)
                      if total_missed else None)
        for share in (10, 20, 30)
    }
    taxonomy = load_taxonomy()
    return {
        "offences": _label_table(gold_offences, pred_offences),
        "missed": _label_table(gold_missed, pred_missed),
        "incident_level": incident_level,
        "domestic": _attribute_table([g.domestic for g in gold_list],
                                     [s.get("domestic") for s in scored_list], [False, True]),
        "relationship": _attribute_table([g.relationship for g in gold_list],
                                         [s.get("relationship") for s in scored_list], taxonomy.relationships),
        "reporter": _attribute_table([g.reporter for g in gold_list],
                                     [s.get("reporter") for s in scored_list], taxonomy.reporters),
    }


def context_check(gold: Sequence[GoldIncident], scored: Sequence[dict]) -> dict[str, Any]:
    """How often the model supports an offence the text mentions only negated or hypothetically.

    A pair (incident, offence) counts when the offence is not in the gold labels, the
    extraction finds indicators for it, and every one of them is negated or hypothetical
    ("no injuries", "worried he might"). Flagging such a pair is the error ConText exists for.
    """
    from secondary_crimes.extract.extractor import extract

    by_id = {record["incident_id"]: record for record in scored}
    labelled = [g for g in gold if g.has_gold and g.incident_id in by_id]
    pairs, flagged = [], []
    for incident, extraction in zip(labelled, extract(labelled), strict=True):
        supported = {o["offence"] for o in by_id[incident.incident_id]["offences"]}
        mentioned: dict[str, list] = {}
        for indicator in extraction.indicators:
            for offence in indicator.offences:
                mentioned.setdefault(offence, []).append(indicator)
        for offence, indicators in mentioned.items():
            if offence in incident.offences or any(i.affirmed for i in indicators):
                continue
            if any(i.negated or i.hypothetical for i in indicators):
                pairs.append((incident.incident_id, offence))
                if offence in supported:
                    flagged.append(f"{incident.incident_id}:{offence}")
    return {"pairs": len(pairs), "flagged": len(flagged), "flagged_pairs": flagged}


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.3f}"


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of the report, for the terminal."""
    lines = []
    for key, title in (("offences", "Offences the account supports"), ("missed", "Missed (unrecorded) flags")):
        table = report[key]
        lines.append(f"\n{title}")
        lines.append(f"{'offence':<26}{'prec':>7}{'recall':>8}{'f1':>7}{'gold':>6}{'pred':>6}")
        for label, row in table["per_offence"].items():
            if row["support"] or row["predicted"]:
                lines.append(f"{label:<26}{_fmt(row['precision']):>7}{_fmt(row['recall']):>8}"
                             f"{_fmt(row['f1']):>7}{row['support']:>6}{row['predicted']:>6}")
        for average in ("micro", "macro"):
            row = table[average]
            lines.append(f"{average + ' avg':<26}{_fmt(row['precision']):>7}{_fmt(row['recall']):>8}"
                         f"{_fmt(row['f1']):>7}")
    level = report["incident_level"]
    lines.append("\nIncident level: needs review (any missed crime)")
    lines.append(f"  incidents {level['incidents']}, needing review {level['needing_review']}, "
                 f"flagged {level['flagged']}")
    lines.append(f"  precision {_fmt(level['precision'])}  recall {_fmt(level['recall'])}  "
                 f"review_priority average precision {_fmt(level['priority_average_precision'])}")
    top = ", ".join(f"top {k}: {_fmt(v)}" for k, v in level["missed_found_in_top"].items())
    lines.append(f"  share of missed crimes in the top incidents by priority: {top}")
    calibration = level.get("priority_calibration")
    if calibration:
        reliability = ", ".join(f"{b['bin']}: {b['observed_rate']:.2f} of {b['n']}" for b in calibration["bins"])
        lines.append(f"  review_priority as a probability: Brier {_fmt(calibration['brier'])}, "
                     f"ECE {_fmt(calibration['ece'])}; share needing review by priority band: {reliability}")
    context = report.get("context")
    if context:
        lines.append(f"\nNegated or hypothetical only: {context['pairs']} (incident, offence) pairs mention an "
                     f"unlabelled offence only negated or hypothetically; the model supports {context['flagged']}"
                     + (f" ({', '.join(context['flagged_pairs'][:5])})" if context["flagged"] else ""))
    for key in ("domestic", "relationship", "reporter"):
        table = report[key]
        if not table.get("n"):
            continue
        recalls = ", ".join(f"{k} {_fmt(v).strip()}" for k, v in table["per_class_recall"].items() if v is not None)
        lines.append(f"\n{key}: accuracy {_fmt(table['accuracy'])} over {table['n']}; recall per class: {recalls}")
        width = max(len(label) for label in table["labels"]) + 1
        lines.append(" " * width + "".join(f"{label[:6]:>7}" for label in table["labels"]) + "   (rows gold)")
        for label, row in zip(table["labels"], table["confusion"], strict=True):
            if label != "(none)":
                lines.append(f"{label:<{width}}" + "".join(f"{count:>7}" for count in row))
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)
