"""Acceptance check: handwritten one-sentence accounts (``acceptance_cases.yaml``) that a model must get right.

Each case is one realistic sentence (a nurse's referral, a teacher's email, a call handler's log,
US police wording, ...) with every offence it plainly supports; ``offences: []`` marks a hard
negative (alarming-looking, no offence). Each sentence is scored as an incident's ``call_log``
and the script prints, per offence, how many of its cases get that offence (recall); recall over
all (case, offence) pairs; the share of flagged cases whose evidence spans all lie in the
sentence (``call_log`` offsets that reproduce the quoted text); the negatives that get any offence
(false flags); and every failure with what was predicted.

Before scoring it checks (``--check-overlap``, on by default) that no case shares a 6-word
sequence (lower-cased, punctuation stripped) with any ``call_log`` or ``officer_narrative`` in
``../shared/corpus/*.jsonl``, the evaluation sets the cases must not echo; skipped quietly when
that folder is absent.

    python benchmarks/acceptance.py [--model models/default] [--json] [--no-check-overlap] [--overlap-only]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

CASES = Path(__file__).with_name("acceptance_cases.yaml")
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NGRAM = 6


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    """The cases, each ``{text, offences, who}``, with labels checked against the taxonomy."""
    from secondary_crimes.taxonomy import LABELS

    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    for number, case in enumerate(cases):
        unknown = set(case.get("offences") or []) - set(LABELS)
        if not isinstance(case.get("text"), str) or unknown:
            raise ValueError(f"case {number}: bad text or unknown offence(s) {sorted(unknown)}")
        case["offences"] = list(case.get("offences") or [])
    return cases


def words(text: str) -> list[str]:
    """Lower-cased words with punctuation stripped (``don't`` -> ``dont``)."""
    return re.sub(r"[^\w\s]", "", text.lower()).split()


def ngrams(text: str, n: int = NGRAM) -> list[tuple[str, ...]]:
    """The distinct n-word sequences of a text, in order."""
    tokens = words(text)
    return list(dict.fromkeys(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)))


def find_overlaps(cases: Iterable[str], corpus: Iterable[tuple[str, str]],
                  n: int = NGRAM) -> list[dict[str, str]]:
    """Every (case, shared n-word phrase, source) where a case echoes a corpus text ``(source, text)``."""
    wanted: dict[tuple[str, ...], list[str]] = {}
    for case in cases:
        for gram in ngrams(case, n):
            wanted.setdefault(gram, []).append(case)
    found, seen = [], set()
    for source, text in corpus:
        for gram in (gram for gram in ngrams(text, n) if gram in wanted):
            for case in wanted[gram]:
                if (case, gram) not in seen:
                    seen.add((case, gram))
                    found.append({"case": case, "phrase": " ".join(gram), "source": source})
    return found


def corpus_texts(folder: Path = CORPUS) -> Iterator[tuple[str, str]]:
    """``(file:incident_id, text)`` for every call_log and officer_narrative in ``folder/*.jsonl``."""
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    for field in ("call_log", "officer_narrative"):
                        if record.get(field):
                            yield f"{path.name}:{record.get('incident_id', '?')}", record[field]


def evidence_ok(record: dict[str, Any], text: str) -> bool:
    """Every flagged offence quotes at least one span, and every span lies in the sentence."""
    spans = [span for offence in record["offences"] for span in offence["evidence"]]
    return all(offence["evidence"] for offence in record["offences"]) and all(
        span["field"] == "call_log" and 0 <= span["start"] < span["end"] <= len(text)
        and text[span["start"]:span["end"]] == span["text"] for span in spans)


def evaluate(cases: list[dict[str, Any]], bundle: Any) -> dict[str, Any]:
    """Score the cases with a model bundle and summarise recall, evidence and false flags."""
    from secondary_crimes.records import Incident
    from secondary_crimes.score import score_incidents
    from secondary_crimes.taxonomy import LABELS

    incidents = [Incident(incident_id=f"ACC-{i:03d}", call_log=case["text"]) for i, case in enumerate(cases)]
    records = score_incidents(incidents, bundle)
    per = {label: {"cases": 0, "hits": 0} for label in LABELS}
    failures, flagged, evidence_good, negatives, false_flags = [], 0, 0, 0, 0
    for case, record in zip(cases, records, strict=True):
        predicted = {o["offence"]: o["probability"] for o in record["offences"]}
        expected = case["offences"]
        for label in expected:
            per[label]["cases"] += 1
            per[label]["hits"] += label in predicted
        if predicted:
            flagged += 1
            evidence_good += evidence_ok(record, case["text"])
        if not expected:
            negatives += 1
            false_flags += bool(predicted)
        missing = [label for label in expected if label not in predicted]
        if missing or (not expected and predicted):
            failures.append({"text": case["text"], "who": case.get("who", ""), "expected": expected,
                             "missing": missing, "predicted": predicted})
    pairs = sum(v["cases"] for v in per.values())
    hits = sum(v["hits"] for v in per.values())
    for value in per.values():
        value["recall"] = value["hits"] / value["cases"] if value["cases"] else None
    return {
        "model": bundle.version, "cases": len(cases), "per_offence": per,
        "recall": hits / pairs if pairs else None, "pairs": pairs, "pair_hits": hits,
        "flagged_cases": flagged, "evidence_in_sentence": evidence_good / flagged if flagged else None,
        "negatives": negatives, "false_flags": false_flags,
        "false_flag_rate": false_flags / negatives if negatives else None, "failures": failures,
    }


def print_summary(summary: dict[str, Any]) -> None:
    print(f"model {summary['model']}: {summary['cases']} cases")
    print(f"{'offence':<26}{'cases':>6}{'hits':>6}{'recall':>8}")
    for label, value in summary["per_offence"].items():
        recall = f"{value['recall']:.2f}" if value["recall"] is not None else "-"
        print(f"{label:<26}{value['cases']:>6}{value['hits']:>6}{recall:>8}")
    print(f"overall recall {summary['pair_hits']}/{summary['pairs']} = {summary['recall']:.3f} (case, offence) pairs")
    if summary["evidence_in_sentence"] is not None:
        share = summary["evidence_in_sentence"]
        print(f"evidence in sentence: {share:.3f} of {summary['flagged_cases']} flagged cases")
    print(f"false flags on negatives: {summary['false_flags']}/{summary['negatives']}")
    if summary["failures"]:
        print("\nfailures:")
    for failure in summary["failures"]:
        got = ", ".join(f"{k} {v:.2f}" for k, v in failure["predicted"].items()) or "nothing"
        want = ", ".join(failure["expected"]) or "no offence"
        print(f"- [{failure['who']}] {failure['text']}\n    expected {want}; predicted {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder or MLflow URI (default: settings' default)")
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of the table")
    parser.add_argument("--check-overlap", action=argparse.BooleanOptionalAction, default=True,
                        help="report 6-word overlaps with ../shared/corpus (when present)")
    parser.add_argument("--overlap-only", action="store_true", help="only run the overlap check")
    args = parser.parse_args()
    cases = load_cases(args.cases)
    overlaps: list[dict[str, str]] | None = None
    if (args.check_overlap or args.overlap_only) and CORPUS.is_dir():
        overlaps = find_overlaps([case["text"] for case in cases], corpus_texts())
        if not args.json:
            print(f"overlap check against {CORPUS}: {len(overlaps)} shared {NGRAM}-word phrase(s)")
            for hit in overlaps:
                print(f"- '{hit['phrase']}' ({hit['source']}) in: {hit['case']}")
    if args.overlap_only:
        if args.json:
            print(json.dumps({"overlaps": overlaps}, indent=2))
        sys.exit(1 if overlaps else 0)
    from secondary_crimes.classify.bundle import load_bundle

    summary = evaluate(cases, load_bundle(args.model))
    summary["overlaps"] = overlaps
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)


if __name__ == "__main__":
    main()
