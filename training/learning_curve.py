"""How many auditor labels does a new force need? A learning curve on the labelled corpus files.

Each single-incident corpus file (``../shared/corpus/*.jsonl`` less the ``series_*`` files) stands
for a new force. For each file F, each k of ``--k`` and each seed: the config is trained on the
background (the config's synthetic, sample and extra data), every other corpus file, and k
incidents of F drawn at random (seeded; the k labelled are the first k of one shuffle of F, so a
larger k adds to a smaller one), then scores the rest of F. k = 0 is ``cross-validate
--by-source`` (one fit per file, no seed to vary). The scored files are evaluated pooled, with the
project's own ``secondary_crimes.evaluate`` (missed-flag micro F1, as the by-source table), per
seed; the table gives their mean and standard deviation, and each file's mean F1.

    python training/learning_curve.py                                    # baseline, k 0 10 25 50 100, 3 seeds
    python training/learning_curve.py --config training/hybrid.yaml --k 0 25 --seeds 0 1 --json out.json

A file with fewer than k + ``--min-test`` incidents is left out of that k's row (its ``files``
column says how many were pooled). With ``--common-test`` every k scores the same incidents of
each file (those after the largest k in the shuffle; a file needs the largest k + ``--min-test``),
so the rows differ only by what was learned; k = 0 then runs once per seed too, each seed
scoring its own shuffle's incidents. ``--label-weight`` weighs the new force's labelled
incidents (default: the corpus weight), as ``data.weights.extra`` weighs an auditors' export.
Corpus data is read where it lies, never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from secondary_crimes.crossval import SERIES_PREFIX, background_data, read_by_source, without_source
from secondary_crimes.evaluate import evaluate
from secondary_crimes.records import GoldIncident
from secondary_crimes.score import score_incidents
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import CORPUS_GROUP, Dataset

log = logging.getLogger("learning_curve")

DEFAULT_K = (0, 10, 25, 50, 100)
DEFAULT_SEEDS = (0, 1, 2)


def labelled_split(rows: list[GoldIncident], source: str, k: int, seed: int, test_from: int | None = None
                   ) -> tuple[list[GoldIncident], list[GoldIncident]]:
    """(the k labelled incidents of ``source``, the incidents to score): one seeded shuffle per
    (file, seed); those scored are the rest after k, or after ``test_from`` (>= k) when given."""
    order = np.random.default_rng([seed, zlib.crc32(source.encode())]).permutation(len(rows))
    start = k if test_from is None else max(k, test_from)
    return [rows[i] for i in order[:k]], [rows[i] for i in order[start:]]


def with_labels(train: Dataset, labelled: list[GoldIncident], source: str, weight: float) -> Dataset:
    """``train`` plus the held-out file's labelled incidents, as corpus rows of that file."""
    if not labelled:
        return train
    sources = dict(train.sources, **{f"{CORPUS_GROUP}{source}:labelled": len(labelled)})
    return Dataset(train.incidents + labelled, sources, np.concatenate([train.weights, np.full(len(labelled), weight)]),
                   train.groups + [f"{CORPUS_GROUP}{source}"] * len(labelled))


def _score(config: TrainConfig, train: Dataset, rows: list[GoldIncident]) -> list[dict]:
    return score_incidents(rows, fit_bundle(config, train))


def _missed(report: dict[str, Any]) -> dict[str, float | None]:
    return {key: report["missed"]["micro"][key] for key in ("precision", "recall", "f1")}


def _mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    kept = np.array([v for v in values if v is not None], float)
    if not kept.size:
        return None, None
    return float(kept.mean()), (float(kept.std(ddof=1)) if kept.size > 1 else None)


def learning_curve(config: TrainConfig, by_source: dict[str, list[GoldIncident]], background: Dataset,
                   ks: Sequence[int] = DEFAULT_K, seeds: Sequence[int] = DEFAULT_SEEDS, *, min_test: int = 20,
                   score: Callable[[TrainConfig, Dataset, list[GoldIncident]], list[dict]] = _score,
                   common_test: bool = False, label_weight: float | None = None,
                   ) -> list[dict[str, Any]]:
    """One row per k: pooled missed micro F1 (mean and sd over seeds), P and R, and per-file F1.

    ``by_source``: labelled incidents per corpus file (series files are trained on, never held
    out); ``background``: the config's other sources, less any corpus incident; ``common_test``:
    every k scores the same incidents (see the module docstring); ``label_weight``: the weight of
    the new force's labelled incidents (default: the corpus weight).
    """
    weight = config.data.weight("corpus")
    labelled_weight = weight if label_weight is None else float(label_weight)
    held_out = [source for source in by_source if not source.startswith(SERIES_PREFIX)]
    test_from = max(ks) if common_test and ks else None
    rows: list[dict[str, Any]] = []
    for k in ks:
        files = [s for s in held_out if len(by_source[s]) - (k if test_from is None else test_from) >= min_test]
        per_seed: list[dict[str, float | None]] = []
        per_file: dict[str, list[float | None]] = {s: [] for s in files}
        scored_n: list[int] = []
        started = time.perf_counter()
        # k = 0 has no draw to vary, but with a common test set each seed scores its own incidents
        for seed in (seeds if k or test_from is not None else list(seeds)[:1]) if files else ():
            gold: list[GoldIncident] = []
            scored: list[dict] = []
            for source in files:
                labelled, rest = labelled_split(by_source[source], source, k, seed, test_from)
                train = with_labels(without_source(background, by_source, source, weight), labelled, source,
                                    labelled_weight)
                records = score(config, train, rest)
                per_file[source].append(_missed(evaluate(rest, records))["f1"])
                gold += rest
                scored += records
                log.info("k=%d seed=%d %s: trained with %d labelled, scored %d", k, seed, source, k, len(rest))
            per_seed.append(_missed(evaluate(gold, scored)))
            scored_n.append(len(gold))
        f1, f1_sd = _mean_sd([figures["f1"] for figures in per_seed])
        rows.append({
            "k": k, "files": len(files), "seeds": len(per_seed), "scored": int(np.mean(scored_n)) if scored_n else 0,
            "missed_f1": f1, "missed_f1_sd": f1_sd,
            "missed_precision": _mean_sd([figures["precision"] for figures in per_seed])[0],
            "missed_recall": _mean_sd([figures["recall"] for figures in per_seed])[0],
            "per_file": {source: _mean_sd(values)[0] for source, values in per_file.items()},
            "seconds": round(time.perf_counter() - started, 1),
        })
    return rows


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """The curve as a Markdown table (as docs/training.md shows it)."""
    sources = sorted({source for row in rows for source in row["per_file"]})
    head = ["k labelled", "files", "scored", "missed F1 (mean ± sd)", "missed P", "missed R", *sources]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for row in rows:
        sd = f" ± {row['missed_f1_sd']:.3f}" if row["missed_f1_sd"] is not None else ""
        cells = [str(row["k"]), str(row["files"]), str(row["scored"]), _cell(row["missed_f1"]) + sd,
                 _cell(row["missed_precision"]), _cell(row["missed_recall"]),
                 *(_cell(row["per_file"].get(source)) for source in sources)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("training/baseline.yaml"),
                        help="training config (default: the baseline, TF-IDF, minutes)")
    parser.add_argument("--corpus", nargs="+", help="corpus globs (default: the config's data.corpus)")
    parser.add_argument("--k", type=int, nargs="+", default=list(DEFAULT_K), help="labelled incidents of the new force")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS), help="draws of the k labelled")
    parser.add_argument("--min-test", type=int, default=20, help="incidents a file keeps to be scored (default 20)")
    parser.add_argument("--synthetic-n", type=int, help="override the config's data.synthetic_n (a faster curve)")
    parser.add_argument("--threshold-folds", type=int, help="override the config's threshold_folds (a faster curve)")
    parser.add_argument("--common-test", action="store_true",
                        help="score the same incidents at every k (those after the largest k)")
    parser.add_argument("--label-weight", type=float, help="weight of the new force's labelled incidents "
                        "(default: the corpus weight)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    config = TrainConfig.from_file(args.config)
    if args.synthetic_n is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, synthetic_n=args.synthetic_n))
    if args.threshold_folds is not None:
        config = dataclasses.replace(config, threshold_folds=args.threshold_folds)
    patterns = args.corpus or config.data.corpus
    try:
        by_source = read_by_source(patterns)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    background = background_data(config.data, [row for rows in by_source.values() for row in rows])
    started = time.perf_counter()
    rows = learning_curve(config, by_source, background, args.k, args.seeds, min_test=args.min_test,
                          common_test=args.common_test, label_weight=args.label_weight)
    print(format_table(rows))
    print(f"\n{config.kind} ({args.config}), synthetic_n {config.data.synthetic_n}, threshold_folds "
          f"{config.threshold_folds}, seeds {args.seeds}, common test {args.common_test}, label weight "
          f"{args.label_weight or config.data.weight('corpus')}: {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
