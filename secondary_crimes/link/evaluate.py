"""Evaluate linking against gold ``linked`` (pairwise) and course-of-conduct missed flags against gold."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from secondary_crimes.link.conduct import CONDUCT_OFFENCES, ConductFlag
from secondary_crimes.records import GoldIncident


def read_gold_linked(path: str | Path) -> dict[str, list[str]]:
    """Each incident's gold ``linked`` ids (FORMAT.md, ``series_*.jsonl``); lines without one are skipped."""
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if not isinstance(row, dict):
                continue
            if isinstance(row.get("linked"), list) and isinstance(row.get("incident_id"), str):
                out[row["incident_id"].strip()] = [str(i) for i in row["linked"]]
    return out


def pairs(linked: Mapping[str, Iterable[str]]) -> set[tuple[str, str]]:
    """Unordered incident pairs (sorted tuples) of a ``linked`` mapping."""
    return {tuple(sorted((a, b))) for a, others in linked.items() for b in others if a != b}


def _prf(gold: set, predicted: set) -> dict[str, Any]:
    true = gold & predicted
    precision = len(true) / len(predicted) if predicted else 0.0
    recall = len(true) / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"gold": len(gold), "predicted": len(predicted), "true": len(true),
            "precision": precision, "recall": recall, "f1": f1}


def pairwise(gold: Mapping[str, Iterable[str]], predicted: Mapping[str, Iterable[str]],
             incident_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Pairwise precision and recall of ``linked``, over pairs of ``incident_ids`` (default: all in gold)."""
    ids = set(gold if incident_ids is None else incident_ids)
    gold_pairs = {p for p in pairs(gold) if p[0] in ids and p[1] in ids}
    predicted_pairs = {p for p in pairs(predicted) if p[0] in ids and p[1] in ids}
    out = _prf(gold_pairs, predicted_pairs)
    out["false_pairs"] = sorted(predicted_pairs - gold_pairs)
    out["missed_pairs"] = sorted(gold_pairs - predicted_pairs)
    return out


def conduct_flags(gold: Sequence[GoldIncident], gold_linked: Mapping[str, Sequence[str]],
                  flags: Mapping[str, Sequence[ConductFlag]]) -> dict[str, Any]:
    """Course-of-conduct flags against gold: missed flags (the review target) and offences.

    Gold positives are the harassment, stalking, coercive control and breach-of-order labels of
    incidents that have gold ``linked`` incidents; predictions are the series flags.
    """
    labelled = [g for g in gold if g.has_gold]
    ids = {g.incident_id for g in labelled}
    in_series = {g.incident_id for g in labelled if gold_linked.get(g.incident_id)}
    report: dict[str, Any] = {"incidents": len(labelled), "in_gold_series": len(in_series)}
    for key, attribute in (("missed", "missed"), ("offences", "offences")):
        gold_set = {(g.incident_id, label) for g in labelled if g.incident_id in in_series
                    for label in (getattr(g, attribute) or []) if label in CONDUCT_OFFENCES}
        predicted = {(i, f.offence) for i, fs in flags.items() if i in ids for f in fs
                     if key == "offences" or f.missed}
        table = _prf(gold_set, predicted)
        table["per_offence"] = {label: _prf({p for p in gold_set if p[1] == label},
                                            {p for p in predicted if p[1] == label}) for label in CONDUCT_OFFENCES}
        table["false"] = sorted(f"{i}:{label}" for i, label in predicted - gold_set)
        table["not_found"] = sorted(f"{i}:{label}" for i, label in gold_set - predicted)
        report[key] = table
    return report


def format_link_report(report: Mapping[str, Any]) -> str:
    """The report as text."""
    link = report["linking"]
    lines = [f"linking (pairwise, {link['gold']} gold pairs): precision {link['precision']:.3f}  "
             f"recall {link['recall']:.3f}  f1 {link['f1']:.3f}  ({link['true']} of {link['predicted']} "
             f"predicted pairs right)"]
    lines += [f"  false pair  {a} ~ {b}" for a, b in link["false_pairs"]]
    lines += [f"  missed pair {a} ~ {b}" for a, b in link["missed_pairs"]]
    lines.append(f"series: {report['series']} found")
    for key in ("missed", "offences"):
        table = report["conduct"][key]
        lines.append(f"course of conduct, {key} flags ({table['gold']} gold in series): precision "
                     f"{table['precision']:.3f}  recall {table['recall']:.3f}  f1 {table['f1']:.3f}")
        for label, row in table["per_offence"].items():
            if row["gold"] or row["predicted"]:
                lines.append(f"  {label:18s} gold {row['gold']:3d}  predicted {row['predicted']:3d}  "
                             f"precision {row['precision']:.3f}  recall {row['recall']:.3f}")
        if key == "missed":
            lines += [f"  false      {x}" for x in table["false"]]
            lines += [f"  not found  {x}" for x in table["not_found"]]
    if report.get("model_offences_from"):
        lines.append(f"model offences from {report['model_offences_from']}")
    return "\n".join(lines)
