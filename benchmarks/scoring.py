"""Scoring throughput and memory: the local streaming engine vs Spark local, and the cost of each stage.

    python benchmarks/scoring.py [--n 100000] [--model models/default] [--engines local spark]
                                 [--master local[2]] [--batch-size 64] [--stage-n 2000]
                                 [--data FILE | --corpus '../shared/corpus/*.jsonl']

``--corpus`` repeats the labelled files' inputs to ``--n`` incidents: texts of the length forces
write (synthetic incidents are shorter). The bare packaged spaCy pipeline (tokenizer + NER) is
timed on the same texts first, and each engine's rate is printed beside it as a ratio.

Synthetic incidents come from ``secondary_crimes.synthetic.generator`` (written once to a JSON
Lines file under ``--workdir``, reused when it exists). Each engine runs the whole file in a
fresh subprocess; the parent samples the resident memory of that process tree (the JVM and
Python workers included for Spark) and prints incidents/s (engine time, and wall time with
start-up) and peak RSS. Then, in this process, the first ``--stage-n`` incidents are put
through each stage on its own: read (parse + validate), extract (only if the model has an
``extract`` stage), classify (``predict_proba``, less extract), explain (``analyse`` less
``predict_proba``: the evidence sentences), decide, write; then each component of the extraction
pipeline (tokenizer, NER, each pattern ruler, ConText, people) on the same incidents, and each
member of an ensemble alone. Figures only: nothing is asserted.
With no ``--model`` and no trained default, a small baseline is fitted on 300 synthetic
incidents first (and the table says so).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_data(path: Path, n: int, seed: int) -> Path:
    from secondary_crimes.records import INPUT_FIELDS
    from secondary_crimes.synthetic.generator import iter_incidents

    if path.exists() and sum(1 for _ in path.open("rb")) == n:
        return path
    partial = path.with_name(path.name + ".partial")
    started = time.perf_counter()
    with partial.open("w", encoding="utf-8") as handle:
        for row in iter_incidents(n, seed=seed):
            handle.write(json.dumps({k: row[k] for k in INPUT_FIELDS if k in row}) + "\n")
    partial.replace(path)
    seconds = time.perf_counter() - started
    print(f"generated {n:,} synthetic incidents in {seconds:.1f} s ({n / seconds:,.0f}/s)")
    return path


def corpus_data(path: Path, n: int, pattern: str) -> Path:
    """Incidents of the length forces write: the corpus files' inputs repeated (ids made unique) to ``n``."""
    from glob import glob

    from secondary_crimes.records import INPUT_FIELDS

    rows = [json.loads(line) for name in sorted(glob(pattern))
            for line in Path(name).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"no incidents in {pattern}")
    with path.open("w", encoding="utf-8") as handle:
        for k in range(n):
            row = {f: rows[k % len(rows)][f] for f in INPUT_FIELDS if f in rows[k % len(rows)]}
            handle.write(json.dumps({**row, "incident_id": f"{row['incident_id']}-r{k // len(rows)}"}) + "\n")
    return path


def bare_spacy_rate(data: Path, n: int, batch_size: int) -> tuple[float, float]:
    """Incidents/s of the bare packaged spaCy pipeline (tokenizer + NER, ``nlp.pipe``) on the same
    texts the models read, and mean words per incident: the yardstick for scoring speed."""
    from itertools import islice

    from secondary_crimes.extract.pipeline import build_nlp
    from secondary_crimes.reader import read_incidents
    from secondary_crimes.records import Incident
    from secondary_crimes.text import model_text

    texts = [model_text(i) for i in islice(read_incidents(data), n) if isinstance(i, Incident)]
    nlp = build_nlp(bare=True)
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    seconds = time.perf_counter() - start
    return len(texts) / max(seconds, 1e-9), sum(len(t.split()) for t in texts) / max(len(texts), 1)


def ensure_model(model: str | None, workdir: Path) -> tuple[str, str]:
    """A model folder or URI, and a note on where it came from."""
    from secondary_crimes.settings import get_settings

    target = model or get_settings()["default_model"]
    if model or target.startswith(("models:/", "runs:/")) or (Path(target) / "meta.json").exists():
        return str(target), f"model {target}"
    import numpy as np

    from secondary_crimes.classify.baseline import BaselineModel
    from secondary_crimes.classify.bundle import ModelBundle
    from secondary_crimes.records import GoldIncident
    from secondary_crimes.synthetic.generator import iter_incidents
    from secondary_crimes.training_data import label_matrix

    folder = workdir / "bench-model"
    if not (folder / "meta.json").exists():
        train = [GoldIncident.model_validate(r) for r in iter_incidents(300, seed=99)]
        fitted = BaselineModel().fit(train, label_matrix(train))
        ModelBundle(fitted, np.full(len(fitted.labels), 0.5), "baseline-bench", "baseline").save(folder)
    return str(folder), f"no trained default at {target}: baseline fitted on 300 synthetic incidents"


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/status") as handle:
                line = next((x for x in handle if x.startswith("VmRSS")), "VmRSS: 0 kB")
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = int(line.split()[1])
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def run_engine(engine: str, data: Path, model: str, args: argparse.Namespace, workdir: Path) -> dict:
    output = workdir / f"scored-{engine}.jsonl"
    command = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--data",
        str(data),
        "--model",
        model,
        "--out",
        str(output),
        "--batch-size",
        str(args.batch_size),
        "--master",
        args.master,
    ]
    started, peak = time.perf_counter(), 0
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{engine} run failed ({process.returncode})")
    result = json.loads(process.stdout.read().strip().splitlines()[-1])
    return {**result, "wall": wall, "peak_mb": peak / 1024}


def child(args: argparse.Namespace) -> None:
    out = Path(args.out)
    for suffix in ("", ".manifest.json", ".checkpoint.json"):
        Path(str(out) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    if args.child == "local":
        from secondary_crimes.classify.bundle import load_bundle
        from secondary_crimes.score import score_file

        summary = score_file(
            args.data, out, load_bundle(args.model), batch_size=args.batch_size, progress=False, resume=False
        )
    else:
        from secondary_crimes.engines.spark import score_spark

        summary = score_spark(
            args.data, out, args.model, master=args.master, batch_size=args.batch_size, progress=False
        )
    print(json.dumps({"scored": summary.scored, "seconds": time.perf_counter() - started}))


def stage_costs(data: Path, model: str, n: int, batch_size: int) -> list[tuple[str, float, str]]:
    from itertools import islice

    from secondary_crimes.batching import batched
    from secondary_crimes.classify.bundle import load_bundle
    from secondary_crimes.decide import decide
    from secondary_crimes.reader import read_incidents
    from secondary_crimes.records import Incident
    from secondary_crimes.score import record_line
    from secondary_crimes.settings import get_settings

    bundle, settings = load_bundle(model), get_settings()
    timer = time.perf_counter
    start = timer()
    incidents = [item for item in islice(read_incidents(data), n) if isinstance(item, Incident)]
    costs = {"read": timer() - start}
    extract = getattr(bundle.model, "extract", None)
    costs.update({"extract": 0.0, "classify": 0.0, "explain": 0.0, "decide": 0.0, "write": 0.0})
    with tempfile.TemporaryFile() as sink:
        for batch in batched(incidents, batch_size):
            if extract is not None:
                start = timer()
                extract(batch)
                costs["extract"] += timer() - start
            start = timer()
            bundle.model.predict_proba(batch)
            costs["classify"] += timer() - start
            start = timer()
            analyses = bundle.model.analyse(batch, bundle.thresholds)
            costs["explain"] += timer() - start
            start = timer()
            records = [
                decide(
                    i,
                    a,
                    bundle.thresholds,
                    model_version=bundle.version,
                    decimals=settings["probability_decimals"],
                    max_evidence=settings["max_evidence_per_offence"],
                )
                for i, a in zip(batch, analyses, strict=True)
            ]
            costs["decide"] += timer() - start
            start = timer()
            for record in records:
                sink.write(record_line(record))
            sink.flush()
            costs["write"] += timer() - start
    costs["explain"] = max(costs["explain"] - costs["classify"], 0.0)  # analyse = proba + evidence
    costs["classify"] = max(costs["classify"] - costs["extract"], 0.0)  # proba runs extract itself
    notes = {
        "read": "parse + validate (records.Incident)",
        "extract": "model.extract" if extract else "n/a: the model has no extraction stage",
        "classify": "predict_proba" + (" less extract" if extract else ""),
        "explain": "analyse less predict_proba (evidence sentences)",
        "decide": "decide.decide",
        "write": "JSON Lines encode + write",
    }
    return [(stage, seconds, notes[stage]) for stage, seconds in costs.items()], len(incidents)


def component_costs(data: Path, n: int, batch_size: int) -> list[tuple[str, float]]:
    """Seconds each component of the extraction pipeline takes over the same texts (the tokenizer,
    then each pipe on the docs the one before it made), as the hybrid member runs it."""
    from itertools import islice

    from secondary_crimes.extract.pipeline import build_nlp
    from secondary_crimes.reader import read_incidents
    from secondary_crimes.records import TEXT_FIELDS, Incident

    texts = [text for item in islice(read_incidents(data), n) if isinstance(item, Incident)
             for text in (getattr(item, field) for field in TEXT_FIELDS) if text]
    nlp = build_nlp()
    list(nlp.pipe(texts[:20]))  # warm up
    start = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    costs = [("tokenizer", time.perf_counter() - start)]
    for name, component in nlp.pipeline:
        start = time.perf_counter()
        docs = list(component.pipe(docs, batch_size=batch_size)) if hasattr(component, "pipe") else [
            component(doc) for doc in docs]
        costs.append((name, time.perf_counter() - start))
    return costs


def member_costs(data: Path, model: str, n: int, batch_size: int) -> list[tuple[str, float]]:
    """For an ensemble: each member's ``predict_proba`` on the same incidents, with a cold
    extraction cache (so the member that extracts pays for it), then the whole combination."""
    from itertools import islice

    from secondary_crimes.batching import batched
    from secondary_crimes.classify.bundle import load_bundle
    from secondary_crimes.extract.extractor import clear_cache
    from secondary_crimes.reader import read_incidents
    from secondary_crimes.records import Incident

    bundle = load_bundle(model)
    members = getattr(bundle.model, "members_", None)
    if not members:
        return []
    incidents = [item for item in islice(read_incidents(data), n) if isinstance(item, Incident)]
    costs = []
    for k, member in enumerate(members):
        clear_cache()
        start = time.perf_counter()
        for batch in batched(incidents, batch_size):
            member.predict_proba(batch)
        costs.append((f"member {k}: {member.kind}", time.perf_counter() - start))
    clear_cache()
    start = time.perf_counter()
    for batch in batched(incidents, batch_size):
        bundle.model.analyse(batch, bundle.thresholds)
    costs.append(("ensemble analyse (all members, combination, evidence)", time.perf_counter() - start))
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", default=None)
    parser.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--stage-n", type=int, default=2000)
    parser.add_argument("--data", default=None, help="an input file to use instead of synthetic data")
    parser.add_argument("--corpus", default=None, metavar="GLOB",
                        help="real-length texts: these labelled files' inputs repeated to --n incidents")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "secondary-crimes-bench"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.data:
        data = Path(args.data)
    elif args.corpus:
        data = corpus_data(workdir / f"corpus-{args.n}.jsonl", args.n, args.corpus)
    else:
        data = make_data(workdir / f"synthetic-{args.n}-{args.seed}.jsonl", args.n, args.seed)
    model, note = ensure_model(args.model, workdir)
    print(
        f"input {data} ({data.stat().st_size / 1e6:.1f} MB); {note}; batch size {args.batch_size}; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    bare, words = bare_spacy_rate(data, args.stage_n, args.batch_size)
    print(f"\nbare spaCy tokenizer + NER on the first {args.stage_n} texts ({words:.0f} words each on average): "
          f"{bare:.1f} incidents/s")
    print("\n| engine | incidents | engine s | incidents/s | ratio to bare spaCy | wall s (with start-up) "
          "| peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for engine in args.engines:
        result = run_engine(engine, data, model, args, workdir)
        label = engine if engine == "local" else f"spark {args.master}"
        print(
            f"| {label} | {result['scored']} | {result['seconds']:.1f} | "
            f"{result['scored'] / result['seconds']:.1f} | {result['scored'] / result['seconds'] / bare:.2f} | "
            f"{result['wall']:.1f} | {result['peak_mb']:.0f} |",
            flush=True,
        )

    rows, counted = stage_costs(data, model, args.stage_n, args.batch_size)
    total = sum(seconds for _, seconds, _ in rows) or 1.0
    print(f"\nstage costs over the first {counted} incidents (local, one process):\n")
    print("| stage | s | ms / incident | share | what |")
    print("|---|---:|---:|---:|---|")
    for stage, seconds, what in rows:
        print(
            f"| {stage} | {seconds:.2f} | {1000 * seconds / max(counted, 1):.2f} | "
            f"{100 * seconds / total:.0f}% | {what} |"
        )
    slowest = max(rows, key=lambda row: row[1])[0]
    print(f"\nslowest stage: {slowest}")
    components = component_costs(data, counted, args.batch_size)
    spent = sum(seconds for _, seconds in components) or 1.0
    print(f"\nextraction components over the same {counted} incidents (both text fields, one process):\n")
    print("| component | s | ms / incident | share |")
    print("|---|---:|---:|---:|")
    for name, seconds in components:
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / max(counted, 1):.2f} | {100 * seconds / spent:.0f}% |")
    layers = member_costs(data, model, args.stage_n, args.batch_size)
    if layers:
        print(f"\nlayer costs over the same {counted} incidents (each member alone, cold caches):\n")
        print("| layer | s | incidents/s |")
        print("|---|---:|---:|")
        for layer, seconds in layers:
            print(f"| {layer} | {seconds:.2f} | {counted / max(seconds, 1e-9):.1f} |")


if __name__ == "__main__":
    main()
