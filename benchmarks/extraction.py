"""Extraction throughput: the bare packaged pipeline vs the full extraction, on synthetic incidents.

    python benchmarks/extraction.py [--n 2000] [--seed 11] [--batch-size 64] [--n-process 1 2]

Each measurement runs in a fresh subprocess (so peak memory is its own) and prints
incidents/s (both text fields of every incident) and the peak resident memory of the process
(``resource.getrusage``, model included); with ``--heap`` also the peak Python heap while
processing (``tracemalloc``, in a second, untimed pass). Modes:

- ``bare``: ``spacy.load(<spacy_model>)`` with only the components extraction keeps (the NER);
- ``full``: the full extraction, ``Extractor.extract`` (our components, context, people,
  relationship/reporter calls, plain ``Extraction`` objects), cache off.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc


def run_one(mode: str, n: int, seed: int, batch_size: int, n_process: int, heap: bool = False) -> dict:
    from secondary_crimes.records import Incident
    from secondary_crimes.synthetic.generator import generate_incidents

    incidents = [Incident.model_validate(row) for row in generate_incidents(n, seed=seed)]
    texts = [
        incident.text(field)
        for incident in incidents
        for field in ("call_log", "officer_narrative")
        if incident.text(field).strip()
    ]
    if mode == "bare":
        from secondary_crimes.extract.pipeline import build_nlp

        nlp = build_nlp(bare=True)
        list(nlp.pipe(texts[:20]))  # warm up

        def work():
            for _ in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
                pass
    else:
        from secondary_crimes.extract.extractor import Extractor

        extractor = Extractor(batch_size=batch_size, n_process=n_process, use_cache=False)
        extractor.extract(incidents[:10])  # warm up (builds the pipeline)

        def work():
            extractor.extract(incidents)

    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    heap_peak = 0
    if heap:  # a second pass: tracemalloc slows Python code down, so it never runs while timing
        tracemalloc.start()
        work()
        _, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "mode": mode,
        "n_process": n_process,
        "incidents": n,
        "texts": len(texts),
        "seconds": round(seconds, 2),
        "incidents_per_s": round(n / seconds, 1),
        "peak_rss_mb": round(max(rss_kb, children_kb) / 1024, 1),
        "peak_python_heap_mb": round(heap_peak / 2**20, 1) if heap else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-process", type=int, nargs="+", default=[1])
    parser.add_argument("--modes", nargs="+", default=["bare", "full"])
    parser.add_argument("--heap", action="store_true", help="also measure the peak Python heap (a second pass)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one measurement
    args = parser.parse_args()
    if args.one:
        mode, n_process = args.one.split(":")
        print(json.dumps(run_one(mode, args.n, args.seed, args.batch_size, int(n_process), args.heap)))
        return
    results = []
    for n_process in args.n_process:
        for mode in args.modes:
            command = [
                sys.executable,
                __file__,
                "--n",
                str(args.n),
                "--seed",
                str(args.seed),
                "--batch-size",
                str(args.batch_size),
                "--one",
                f"{mode}:{n_process}",
            ]
            command += ["--heap"] if args.heap else []
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(output.strip().splitlines()[-1]))
            row = results[-1]
            heap = (
                f", peak Python heap {row['peak_python_heap_mb']:.0f} MB"
                if row["peak_python_heap_mb"] is not None
                else ""
            )
            print(
                f"{row['mode']:<5} n_process={row['n_process']}  {row['incidents']} incidents "
                f"({row['texts']} texts) in {row['seconds']:.1f}s = {row['incidents_per_s']:.1f} incidents/s, "
                f"peak RSS {row['peak_rss_mb']:.0f} MB{heap}",
                flush=True,
            )
    bare = {r["n_process"]: r for r in results if r["mode"] == "bare"}
    for row in results:
        if row["mode"] == "full" and row["n_process"] in bare:
            ratio = row["incidents_per_s"] / bare[row["n_process"]]["incidents_per_s"]
            print(f"full extraction runs at {ratio:.2f}x the bare pipeline's speed (n_process={row['n_process']})")


if __name__ == "__main__":
    main()
