"""Benchmark course-of-conduct linking (issue 14.4): incidents/s, peak memory, and pairwise
precision/recall of ``linked`` on synthetic incidents with planted series
(``secondary_crimes.synthetic.series``).

    python benchmarks/linking.py                        # the linker at 10k, 30k, 100k incidents
    python benchmarks/linking.py --sizes 2000 --extraction full

Each size runs in a fresh process (peak RSS is the process's own). ``--extraction none`` (the
default) gives ``link_batch`` empty extractions, so it times the linker itself (identifiers,
splink, series, flags) and its scaling; names then come from the log conventions only.
``--extraction full`` runs the spaCy extraction first (about 60 incidents/s on one core, the
cost of linking a file from scratch) and times it apart. ``--extractions-cache DIR`` keeps each
size's extractions (a pickle per size and seed, outside the repository: they hold the incidents'
names) and reuses them, so a before/after comparison of the linker sees the same extractions
without running spaCy again (``extract_s`` is then the time to read the file).
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(n: int, seed: int, extraction: str, cache: str | None = None) -> dict:
    from secondary_crimes.extract.types import Extraction
    from secondary_crimes.link.evaluate import pairwise
    from secondary_crimes.link.run import link_batch
    from secondary_crimes.records import Incident
    from secondary_crimes.synthetic.series import iter_planted

    rows = list(iter_planted(n, seed=seed))
    gold = {row["incident_id"]: row["linked"] for row in rows}
    incidents = [Incident.model_validate(row) for row in rows]
    del rows
    rss_before = _rss_mb()
    started = time.perf_counter()
    cached = Path(cache) / f"extractions-{n}-seed{seed}.pickle" if cache and extraction == "full" else None
    if cached is not None and cached.exists():
        with open(cached, "rb") as handle:
            extractions = pickle.load(handle)  # our own file, written below
    elif extraction == "full":
        from secondary_crimes.extract.extractor import Extractor

        extractions = Extractor(use_cache=False).extract(incidents)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with open(cached, "wb") as handle:
                pickle.dump(extractions, handle)
    else:
        extractions = [Extraction(incident.incident_id) for incident in incidents]
    extracted = time.perf_counter()
    result = link_batch(incidents, extractions)
    done = time.perf_counter()
    report = pairwise(gold, result.linked)
    return {
        "incidents": n, "extraction": extraction, "seed": seed,
        "extract_s": round(extracted - started, 1), "link_s": round(done - extracted, 1),
        "link_incidents_per_s": round(n / (done - extracted), 1),
        "compared_party_pairs": len(result.resolution.bits),
        # keys held by more than link_max_block_size records split into time neighbourhoods, and the pairs
        # of their holders that no neighbourhood held (not compared); absent before the split existed
        **{f"blocking_{k}": v for k, v in getattr(result.resolution, "blocking", {}).items()},
        "series": len(result.series), "flags": sum(len(f) for f in result.flags.values()),
        "gold_pairs": report["gold"], "predicted_pairs": report["predicted"], "true_pairs": report["true"],
        "precision": round(report["precision"], 4), "recall": round(report["recall"], 4),
        "rss_before_mb": round(rss_before), "peak_rss_mb": round(_rss_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--extraction", choices=("none", "full"), default="none")
    parser.add_argument("--extractions-cache", metavar="DIR",
                        help="keep and reuse each size's extractions here (outside the repository)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per size; larger sizes stop")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.extraction, args.extractions_cache)))
        return
    done: list[dict] = []
    for n in args.sizes:
        command = [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed),
                   "--extraction", args.extraction]
        if args.extractions_cache:
            command += ["--extractions-cache", args.extractions_cache]
        try:
            out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout, check=True)
        except subprocess.TimeoutExpired:
            print(f"{n} incidents: not done in {args.timeout:.0f} s; stopping", flush=True)
            break
        except subprocess.CalledProcessError as error:
            print(f"{n} incidents: failed\n{error.stderr[-2000:]}", flush=True)
            break
        row = json.loads(out.stdout.strip().splitlines()[-1])
        done.append(row)
        print(f"{n:>7} incidents  extract {row['extract_s']:>7.1f} s  link {row['link_s']:>6.1f} s "
              f"({row['link_incidents_per_s']:>7.1f} incidents/s)  peak RSS {row['peak_rss_mb']} MB "
              f"(before linking {row['rss_before_mb']} MB)  party pairs compared {row['compared_party_pairs']}  "
              f"split keys {row.get('blocking_split_keys', '-')} (holder pairs left out "
              f"{row.get('blocking_left_out_pairs', '-')})  "
              f"pairwise P {row['precision']:.3f} R {row['recall']:.3f} ({row['true_pairs']}/{row['predicted_pairs']}"
              f" predicted, {row['gold_pairs']} gold)", flush=True)
    for first, second in zip(done, done[1:], strict=False):
        ratio = second["incidents"] / first["incidents"]
        print(f"{first['incidents']} -> {second['incidents']} (x{ratio:.1f} incidents): link time "
              f"x{second['link_s'] / max(first['link_s'], 1e-9):.2f}, compared pairs "
              f"x{second['compared_party_pairs'] / max(first['compared_party_pairs'], 1):.2f} "
              f"(linear x{ratio:.1f}, quadratic x{ratio * ratio:.1f})")


if __name__ == "__main__":
    main()
