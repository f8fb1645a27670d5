"""Choose models by their figures on writing they never saw: leave one corpus file out.

For each member config, every corpus file is scored by a model trained on everything else
(``secondary-crimes cross-validate --by-source``); the out-of-source probabilities are cached
under ``--cache`` (by config content and ``--tag``), so combinations are compared without refitting:

- each member alone, with the thresholds its own training chose;
- ``average``: the mean of the members' probabilities;
- ``stack``: a ``LogitStack`` over the members' logits.

Combinations are cross-fitted over files: for the held-out file F, the stack's weights and the
shared threshold are fitted on the out-of-source predictions of the other files only. (The
member models that produced those predictions did see F, a second-order leak that
``cross-validate --by-source`` on the final config does not have.)

    python training/compare_by_source.py --member hybrid=training/hybrid.yaml \\
        --member baseline=training/baseline.yaml --member sentence=training/sentence.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

from secondary_crimes.classify.base import Analysis
from secondary_crimes.classify.ensemble import stack_features
from secondary_crimes.classify.stack import LogitStack
from secondary_crimes.classify.thresholds import best_threshold
from secondary_crimes.crossval import SERIES_PREFIX, FoldOutput, cross_validate_by_source, read_by_source
from secondary_crimes.decide import decide
from secondary_crimes.evaluate import evaluate, format_report
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.train import TrainConfig
from secondary_crimes.training_data import covered_unknown, label_matrix


def _key(config_path: Path, patterns: list[str], tag: str) -> str:
    """The config's content, the corpus globs and a tag naming the code version (``--tag``)."""
    digest = hashlib.sha256(config_path.read_bytes())
    digest.update(json.dumps([patterns, tag]).encode())
    return digest.hexdigest()[:12]


def out_of_source(name: str, config_path: Path, patterns: list[str], cache: Path,
                  tag: str = "") -> dict[str, FoldOutput]:
    """Each file's out-of-source probabilities and thresholds for one member config (cached)."""
    path = cache / f"{name}-{_key(config_path, patterns, tag)}.npz"
    if path.exists():
        saved = np.load(path)
        sources = [key.removesuffix(":p") for key in saved.files if key.endswith(":p")]
        return {s: FoldOutput(saved[f"{s}:p"], saved[f"{s}:t"]) for s in sources}
    outputs: dict[str, FoldOutput] = {}
    cross_validate_by_source(TrainConfig.from_file(config_path), patterns, outputs=outputs)
    cache.mkdir(parents=True, exist_ok=True)
    arrays = {f"{s}:p": o.probabilities for s, o in outputs.items()}
    arrays |= {f"{s}:t": o.thresholds for s, o in outputs.items()}
    np.savez(path, **arrays)
    return outputs


def scored(gold: list[GoldIncident], proba: np.ndarray, thresholds: np.ndarray) -> list[dict]:
    return [decide(g, Analysis(probabilities=row), thresholds, model_version="compare")
            for g, row in zip(gold, proba, strict=True)]


def pooled_report(gold: dict[str, list[GoldIncident]], records: dict[str, list[dict]]) -> str:
    """The full ``evaluate`` report (per offence, attributes) pooled over the single-incident files."""
    single = [s for s in gold if not s.startswith(SERIES_PREFIX)]
    return format_report(evaluate([x for s in single for x in gold[s]], [x for s in single for x in records[s]]))


def figures(gold: dict[str, list[GoldIncident]], records: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Per file, pooled over the single-incident files, and pooled with the series files too."""
    single = [s for s in gold if not s.startswith(SERIES_PREFIX)]
    pools = {"pooled": single, "pooled_with_series": list(gold)}
    rows = {}
    for source in [*gold, *pools]:
        members = pools.get(source, [source])
        g = [x for s in members for x in gold[s]]
        r = [x for s in members for x in records[s]]
        report = evaluate(g, r)
        rows[source] = {k: report["missed"]["micro"][k] for k in ("precision", "recall", "f1")}
        rows[source]["offences_f1"] = report["offences"]["micro"]["f1"]
        rows[source]["priority_ap"] = report["incident_level"]["priority_average_precision"] or 0.0
    return rows


def stack_extra(gold: dict[str, list[GoldIncident]], names: list[str]) -> dict[str, np.ndarray] | None:
    """Each file's incident-level stack features (extraction attributes, as ``stack_features``)."""
    if not names:
        return None
    return {s: stack_features(incidents, names) for s, incidents in gold.items()}


def combine(gold, members: dict[str, dict[str, FoldOutput]], method: str, C: float = 1.0,
            extra: dict[str, np.ndarray] | None = None, covered: bool = False):
    """Cross-fitted combination: each file combined with weights and a threshold from the others.
    ``covered``: fitted on targets with a covered lesser offence unknown, as the members were
    (``data.covered_unknown``)."""
    sources = list(gold)
    names = list(members)
    Y = {s: covered_unknown(label_matrix(gold[s])) if covered else label_matrix(gold[s]) for s in sources}
    records = {}
    for held in sources:
        others = [s for s in sources if s != held]
        train_p = [np.vstack([members[m][s].probabilities for s in others]) for m in names]
        train_y = np.vstack([Y[s] for s in others])
        test_p = [members[m][held].probabilities for m in names]
        if method == "average":
            fitted, applied = np.mean(train_p, axis=0), np.mean(test_p, axis=0)
        else:
            train_x = None if extra is None else np.vstack([extra[s] for s in others])
            test_x = None if extra is None else extra[held]
            stack = LogitStack(C=C).fit(train_p, train_y, extra=train_x)
            fitted, applied = stack.predict_proba(train_p, train_x), stack.predict_proba(test_p, test_x)
        threshold = best_threshold(train_y.reshape(-1), fitted.reshape(-1), default=0.5)
        records[held] = scored(gold[held], applied, np.full(len(LABELS), threshold))
    return records


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'held-out file':<22}{'missed P':>10}{'missed R':>10}{'missed F1':>10}{'offences F1':>13}{'AP':>8}")
    for source, row in rows.items():
        print(f"{source:<22}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}"
              f"{row['offences_f1']:>13.3f}{row['priority_ap']:>8.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--member", action="append", required=True, help="NAME=CONFIG.yaml (repeat)")
    parser.add_argument("--corpus", action="append", default=None, help="corpus globs (default: the first config's)")
    parser.add_argument("--cache", type=Path, default=Path("runs/oos"))
    parser.add_argument("--tag", default="", help="names the code version in the cache key: change it when the "
                                                  "code that trains the members changes")
    parser.add_argument("--stack-C", type=float, default=1.0)
    parser.add_argument("--stack-feature", action="append", default=[],
                        help="an incident-level stack feature (as stack_features in a config; repeat)")
    parser.add_argument("--report", action="store_true",
                        help="also print the full pooled report (per offence) of the last combination")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    specs = dict(item.split("=", 1) for item in args.member)
    first = TrainConfig.from_file(next(iter(specs.values())))
    patterns, covered = args.corpus or first.data.corpus, first.data.covered_unknown
    gold = read_by_source(patterns)
    members = {name: out_of_source(name, Path(path), patterns, args.cache, args.tag) for name, path in specs.items()}
    results, last = {}, {}
    for name, outputs in members.items():
        last = {s: scored(gold[s], o.probabilities, o.thresholds) for s, o in outputs.items()}
        results[name] = figures(gold, last)
    if len(members) > 1:
        results["average"] = figures(gold, combine(gold, members, "average", covered=covered))
        last = combine(gold, members, "stack", args.stack_C, covered=covered)
        results["stack"] = figures(gold, last)
        if args.stack_feature:
            extra = stack_extra(gold, args.stack_feature)
            last = combine(gold, members, "stack", args.stack_C, extra, covered=covered)
            results["stack+" + "+".join(args.stack_feature)] = figures(gold, last)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, rows in results.items():
        print_table(name, rows)
    if args.report:
        print(f"\n{list(results)[-1]}, pooled over the single-incident files\n{pooled_report(gold, last)}")


if __name__ == "__main__":
    main()
