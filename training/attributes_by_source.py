"""Relationship, reporter and domestic on writing the model never saw: leave one corpus file out.

For each corpus file, the extraction's rules and an ``AttributeModel`` fitted on everything else
(the other files, the samples, the synthetic incidents of the config) call each incident's
relationship, reporter and domestic; the script prints accuracy per file and pooled, and the
pooled confusion of the learned calls (rows gold, columns predicted).

    python training/attributes_by_source.py [--config training/default.yaml] [--offence-weight W] [--caller-weight W]
                                            [--synthetic-weight W] [--context-weight W] [--errors FILE]

``--errors FILE`` writes each wrong learned call as a JSON line (file, incident, attribute, gold,
rules' call, learned call, the opening of the call log) for reading the misses.

The AttributeModel's parameters are the config's hybrid member's ``attribute_params``; each
option overrides one of them.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from secondary_crimes.classify.attributes import AttributeModel, opening
from secondary_crimes.crossval import SERIES_PREFIX, background_data, read_by_source, without_source
from secondary_crimes.extract.extractor import extract
from secondary_crimes.train import TrainConfig

ATTRIBUTES = ("relationship", "reporter", "domestic")


def attribute_params(config: TrainConfig) -> dict:
    """The config's ``attribute_params`` of its (first) hybrid member, or of the config itself when it is one."""
    if config.kind == "hybrid":
        return dict(config.params.get("attribute_params") or {})
    for member in config.params.get("members") or ():
        if member.get("kind") == "hybrid":
            return dict((member.get("params") or {}).get("attribute_params") or {})
    return {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/default.yaml")
    parser.add_argument("--offence-weight", type=float, default=None,
                        help="AttributeModel's offence_weight (default: the model's own default)")
    parser.add_argument("--caller-weight", type=float, default=None,
                        help="AttributeModel's caller_weight; 0 leaves out the caller cues (default: the model's own)")
    parser.add_argument("--synthetic-weight", type=float, default=None,
                        help="AttributeModel's synthetic_weight: generated rows' share of their weight (1: full)")
    parser.add_argument("--context-weight", type=float, default=None,
                        help="AttributeModel's context_weight: the relationship cues in context (0: left out)")
    parser.add_argument("--errors", default=None, help="write each wrong learned call to this JSON lines file")
    args = parser.parse_args(argv)
    config = TrainConfig.from_file(args.config)
    by_source = read_by_source(config.data.corpus)
    corpus = [row for rows in by_source.values() for row in rows]
    background = background_data(config.data, corpus)
    rows: dict[str, dict[str, tuple[int, int, int]]] = {}
    errors: list[dict] = []
    confusion = {name: Counter() for name in ATTRIBUTES}
    params = attribute_params(config)
    for name in ("offence_weight", "caller_weight", "synthetic_weight", "context_weight"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    print(f"AttributeModel({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})")
    # one extraction of every incident, reused by each fold (the rows are the same objects)
    everything = background.incidents + corpus
    extracted = {id(row): e for row, e in zip(everything, extract(everything), strict=True)}
    for held, gold in by_source.items():
        train = without_source(background, by_source, held)
        model = AttributeModel(**params).fit(train.incidents, [extracted[id(row)] for row in train.incidents],
                                             train.weights, train.groups)
        extractions = [extracted[id(row)] for row in gold]
        learned = model.predict(gold, extractions)
        rows[held] = {}
        for k, name in enumerate(ATTRIBUTES):
            pairs = [(getattr(g, name), getattr(e, name), call[k]) for g, e, call in zip(gold, extractions, learned,
                                                                                         strict=True)
                     if getattr(g, name) is not None]
            rows[held][name] = (len(pairs), sum(t == r for t, r, _ in pairs), sum(t == c for t, _, c in pairs))
            if not held.startswith(SERIES_PREFIX):
                confusion[name].update((str(t), str(c)) for t, _, c in pairs)
            errors.extend({"file": held, "incident_id": g.incident_id, "attribute": name, "gold": getattr(g, name),
                           "rules": getattr(e, name), "learned": call[k], "opening": opening(g)}
                          for g, e, call in zip(gold, extractions, learned, strict=True)
                          if getattr(g, name) is not None and getattr(g, name) != call[k])
    if args.errors:
        with open(args.errors, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row, default=str) + "\n" for row in errors)
    print(f"{'held-out file':<22}" + "".join(f"{n + ' rules':>20}{n + ' learned':>20}" for n in ATTRIBUTES))
    pooled = {name: [0, 0, 0] for name in ATTRIBUTES}
    for held, figures in rows.items():
        cells = []
        for name in ATTRIBUTES:
            n, rules, learned = figures[name]
            cells.append(f"{rules / max(n, 1):>20.3f}{learned / max(n, 1):>20.3f}")
            if not held.startswith(SERIES_PREFIX):
                pooled[name] = [a + b for a, b in zip(pooled[name], figures[name], strict=True)]
        print(f"{held:<22}" + "".join(cells))
    print(f"{'pooled (single files)':<22}" + "".join(
        f"{p[1] / max(p[0], 1):>20.3f}{p[2] / max(p[0], 1):>20.3f}" for p in pooled.values()))
    for name, counts in confusion.items():
        classes = sorted({t for t, _ in counts} | {c for _, c in counts})
        print(f"\n{name}: learned, pooled (rows gold, columns predicted)")
        print(f"{'':<26}" + "".join(f"{c[:8]:>9}" for c in classes))
        for t in classes:
            print(f"{t:<26}" + "".join(f"{counts[(t, c)]:>9}" for c in classes))


if __name__ == "__main__":
    main()
