#!/usr/bin/env python3
"""Write synthetic labelled incidents (FORMAT.md JSON Lines).

Usage: python data/generate_synthetic.py --n 2000 --seed 7 --out data/synthetic/train.jsonl [--recording-rate 0.85]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from secondary_crimes.synthetic import iter_incidents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of incidents")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    parser.add_argument("--out", type=Path, required=True, help="output .jsonl path ('-' for stdout)")
    parser.add_argument(
        "--recording-rate",
        type=float,
        default=0.85,
        help="chance that each true offence is in recorded_crimes (default 0.85)",
    )
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="ISO time of the first incident (default 2024-01-01T00:05)",
    )
    args = parser.parse_args(argv)
    if args.n < 0 or not 0.0 <= args.recording_rate <= 1.0:
        parser.error("--n must be >= 0 and --recording-rate between 0 and 1")
    rows = iter_incidents(args.n, seed=args.seed, recording_rate=args.recording_rate, start=args.start)
    if str(args.out) == "-":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {args.n} incidents to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
