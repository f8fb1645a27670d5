"""``python -m secondary_crimes.score_main INPUT --out OUT``: the score command without the CLI app.

Mirrors ``secondary-crimes score`` (same options) so scoring can run, be killed and resume in
a subprocess that depends only on the scoring modules.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from secondary_crimes.failures import exit_on_error

if TYPE_CHECKING:
    from secondary_crimes.score import ScoreSummary


@exit_on_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m secondary_crimes.score_main", description="Score a file of closed incidents."
    )
    parser.add_argument("input", help="incidents: .jsonl, .csv or .parquet")
    parser.add_argument("--out", required=True, help="scored output (.jsonl; .parquet with --engine spark)")
    parser.add_argument("--model", default=None, help="model folder or models:/ URI (default: settings)")
    parser.add_argument("--engine", choices=("local", "spark"), default="local")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--no-resume", action="store_true", help="start again, ignoring any checkpoint")
    parser.add_argument(
        "--trust-model", action="store_true", help="load a model folder saved with no file hashes (older versions)"
    )
    parser.add_argument("--link", action=argparse.BooleanOptionalAction, default=None,
                        help="link the output into courses of conduct (default: outputs of up to "
                             "score_link_max_incidents incidents)")
    parser.add_argument("--master", default="local[2]", help="Spark master (with --engine spark)")
    args = parser.parse_args(argv)
    from secondary_crimes.checkpoint import ModelMismatchError
    from secondary_crimes.classify.integrity import ModelIntegrityError
    from secondary_crimes.model_cache import ModelCacheError

    try:
        summary = _score(args)
    except (ModelIntegrityError, ModelCacheError, ModelMismatchError) as error:  # changed, untrusted, another model
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary.line(), file=sys.stderr)
    return 0


def _score(args: argparse.Namespace) -> ScoreSummary:
    trust = args.trust_model or None
    if args.engine == "spark":
        from secondary_crimes.engines.spark import score_spark

        summary = score_spark(
            args.input,
            args.out,
            args.model,
            master=args.master,
            batch_size=args.batch_size,
            progress=False if args.quiet else None,
            trust_unhashed=trust,
            link=args.link,
        )
    else:
        from secondary_crimes.classify.bundle import load_bundle
        from secondary_crimes.score import score_file

        bundle = load_bundle(args.model, trust_unhashed=trust)
        summary = score_file(
            args.input,
            args.out,
            bundle,
            batch_size=args.batch_size,
            progress=False if args.quiet else None,
            resume=not args.no_resume,
            link=args.link,
        )
    return summary


if __name__ == "__main__":
    sys.exit(main())
