"""Two by-source runs compared at the same threshold per file: what changed besides the threshold.

Each fold of `secondary-crimes cross-validate --by-source` picks one shared threshold on a flat
F1 plateau, and where it lands moves a file's F1 by several points between runs that rank the
incidents the same (docs/evaluation.md). Given two runs' ``--scored-out`` files, this scores
each held-out file at the higher of the two runs' thresholds for it (a flag listed by a run is
kept when its probability reaches that threshold; below a run's own threshold nothing was
listed, so the higher one is the lowest both can be read at) and prints missed-flag F1
(precision/recall) per file and pooled over the single-incident files.

    python training/compare_scored.py BEFORE.jsonl AFTER.jsonl [--corpus '../shared/corpus/*.jsonl']
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from secondary_crimes.crossval import SERIES_PREFIX, read_by_source
from secondary_crimes.evaluate import evaluate


def read_runs(path: Path) -> dict[str, list[dict]]:
    """The scored records of one ``--scored-out`` file, by held-out file (``source``)."""
    runs: dict[str, list[dict]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                runs.setdefault(record["source"], []).append(record)
    return runs


def fold_threshold(records: list[dict]) -> float:
    """The threshold a fold flagged at (every listed offence carries it; 1.0 when nothing was listed)."""
    return max((entry["threshold"] for record in records for entry in record["offences"]), default=1.0)


def at_threshold(records: list[dict], threshold: float) -> list[dict]:
    """The records with only the missed flags whose probability reaches ``threshold`` (course-of-conduct
    flags, which carry no probability, kept as they are)."""
    return [dict(record, missed=[m for m in record["missed"] if m["probability"] >= threshold])
            for record in records]


def compare(gold: dict, before: dict[str, list[dict]], after: dict[str, list[dict]]) -> dict[str, dict]:
    """Per held-out file (and ``pooled`` over the single-incident ones): the shared threshold and each
    run's missed-flag micro figures at it."""
    out: dict[str, dict] = {}
    pooled: dict[str, list] = {"gold": [], "before": [], "after": []}
    for source in gold:
        if source not in before or source not in after:
            continue
        threshold = max(fold_threshold(before[source]), fold_threshold(after[source]))
        row: dict = {"threshold": threshold}
        for name, run in (("before", before), ("after", after)):
            records = at_threshold(run[source], threshold)
            row[name] = evaluate(gold[source], records)["missed"]["micro"]
            if not source.startswith(SERIES_PREFIX):
                pooled[name] += records
        if not source.startswith(SERIES_PREFIX):
            pooled["gold"] += gold[source]
        out[source] = row
    if pooled["gold"]:
        out["pooled"] = {"threshold": None, **{name: evaluate(pooled["gold"], pooled[name])["missed"]["micro"]
                                               for name in ("before", "after")}}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--corpus", default="../shared/corpus/*.jsonl")
    args = parser.parse_args(argv)
    table = compare(read_by_source([args.corpus]), read_runs(args.before), read_runs(args.after))
    print(f"{'held-out file':<22}{'threshold':>10}{'before F1 (P/R)':>26}{'after F1 (P/R)':>26}")
    for source, row in table.items():
        cells = [f"{row[name]['f1']:.3f} ({row[name]['precision']:.3f}/{row[name]['recall']:.3f})"
                 for name in ("before", "after")]
        threshold = "-" if row["threshold"] is None else f"{row['threshold']:.2f}"
        print(f"{source:<22}{threshold:>10}{cells[0]:>26}{cells[1]:>26}")


if __name__ == "__main__":
    main()
