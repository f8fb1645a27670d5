"""The `secondary-crimes` command line: train, score, evaluate, and the review queue."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated

import click
import typer

from secondary_crimes.label_quality import label_issues
from secondary_crimes.link.cli import link_evaluate

app = typer.Typer(help="Find crimes that were reported to the police but never recorded.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

DEFAULT_CONFIG = Path("training/default.yaml")
ModelOption = Annotated[str | None, typer.Option("--model", help="Model folder or MLflow URI "
                                                 "(models:/secondary-crimes@champion); default: settings")]
TrustOption = Annotated[bool, typer.Option(
    "--trust-model", help="Load a model folder saved with no file hashes (older versions); only one "
                          "you trust: loading runs its pickle (default: setting trust_unhashed_models)")]


def print_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table on stdout (rich): the first column left-aligned, the rest right-aligned, no borders.

    Cells are never cut: when stdout is not a terminal the table gets the width it needs.
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for number, name in enumerate(columns):
        table.add_column(name, justify="left" if number == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*map(str, row))
    console = Console()
    if not console.is_terminal:
        wide = console.options.update_width(1 << 20)  # measured at the console's width, a wide table is cut
        console = Console(width=max(console.width, console.measure(table, options=wide).maximum))
    console.print(table)


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _one_line_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Errors of whole files (unreadable input, unwritable or busy output, a full disk, a broken model)
    end the command with one ``error:`` line naming the file and exit status 2, not a traceback."""

    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        from secondary_crimes.failures import ScoreError, brief, error_line

        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (ScoreError, OSError, ValueError) as error:
            raise _fail(error_line(error)) from None
        except Exception as error:
            named = ", ".join(f"{key} {kwargs[key]}" for key in ("input", "model", "out") if kwargs.get(key))
            raise _fail(f"{brief(error)} ({named})") from None

    return run


def _train_config(path: Path):
    """The training config in ``path``, or a one-line error naming the file and the bad keys."""
    from secondary_crimes.train import TrainConfig, TrainConfigError

    if not path.exists():
        raise _fail(f"{path}: no such training config")
    try:
        return TrainConfig.from_file(path)
    except TrainConfigError as error:
        raise _fail(str(error)) from None


def _load_model(model: str | None, trust: bool):
    """The bundle, or a one-line error (missing, changed or untrusted files, unsafe cache)."""
    from secondary_crimes.classify.bundle import load_bundle
    from secondary_crimes.failures import brief
    from secondary_crimes.settings import get_settings

    try:
        return load_bundle(model, trust_unhashed=trust or None)
    except (FileNotFoundError, ValueError) as error:
        target = str(model or get_settings().default_model)
        message = " ".join(str(error).split())
        raise _fail(message if target in message else f"{target}: cannot load the model: {message}") from None
    except Exception as error:
        raise _fail(f"{model or get_settings().default_model}: cannot load the model: {brief(error)}") from None


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Training config (YAML)")] = DEFAULT_CONFIG,
    output: Annotated[Path | None, typer.Option(help="Where to save the model (default: the config's)")] = None,
    track: Annotated[bool, typer.Option(help="Log the run to MLflow and register the model "
                                        "(needs the tracking extra)")] = False,
    redraw_evaluation_set: Annotated[bool, typer.Option(
        "--redraw-evaluation-set", help="With --track: draw the model name's registered evaluation set anew "
                                        "(later versions no longer compare with earlier ones)")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train a model from a config and save it (optionally tracked in MLflow)."""
    from secondary_crimes.train import train as run_training

    _logging(verbose)
    train_config = _train_config(config)
    if redraw_evaluation_set and not track:
        raise _fail("--redraw-evaluation-set needs --track: the evaluation set is registered in MLflow")
    if track:
        if importlib.util.find_spec("mlflow") is None:
            raise _fail("--track needs mlflow: pip install -e '.[tracking]'")
        from secondary_crimes.tracking import tracked_train

        bundle, path, run_id = tracked_train(config, output=output, redraw_evaluation_set=redraw_evaluation_set)
        _echo_data_summary(bundle.metadata.get("data", {}))
        typer.echo(f"trained {bundle.version} -> {path} (MLflow run {run_id})")
        return
    bundle, path = run_training(train_config, output)
    _echo_data_summary(bundle.metadata.get("data", {}))
    typer.echo(f"trained {bundle.version} on {bundle.metadata['data']['incidents']} incidents -> {path}")


def _echo_data_summary(data: dict) -> None:
    """Which source labelled each incident seen in two sources, and which train on some offences only."""
    from secondary_crimes.training_data import summary_lines

    for line in summary_lines(data.get("resolved", {}), data.get("partial", {})):
        typer.echo(f"data: {line}")


@app.command()
@_one_line_errors
def score(
    input: Annotated[Path, typer.Argument(help="Incidents: .jsonl, .csv or .parquet")],
    out: Annotated[Path, typer.Option("--out", help="Scored output (.jsonl; .parquet with --engine spark)")],
    model: ModelOption = None,
    engine: Annotated[str, typer.Option(help="local or spark")] = "local",
    master: Annotated[str, typer.Option(help="Spark master with --engine spark: local[8], yarn, "
                                        "k8s://... (docs/spark.md)")] = "local[2]",
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    resume: Annotated[bool, typer.Option(help="Carry on from a killed run's checkpoint (local engine); "
                                         "--no-resume starts over")] = True,
    trust_model: TrustOption = False,
    link: Annotated[bool | None, typer.Option(
        "--link/--no-link", help="Link the whole output into courses of conduct after scoring (`linked`, "
                                 "`course_of_conduct` in each record). Default: only outputs of up "
                                 "to score_link_max_incidents (settings, 50,000) incidents")] = None,
    link_store: Annotated[str | None, typer.Option(
        "--link-store", metavar="URL|queue",
        help="Person store for the linking pass, so this output links to earlier runs' incidents: a "
             "database URL, 'queue' for the queue's database, '' for none. Overrides the link_store "
             "setting (docs/course_of_conduct.md)")] = None,
) -> None:
    """Score incidents: offences supported, missed (unrecorded) crimes, evidence and priority.

    The one scoring entry point: ``secondary-crimes score`` or ``python -m secondary_crimes.cli score``.
    """
    from secondary_crimes.checkpoint import ModelMismatchError
    from secondary_crimes.classify.integrity import ModelIntegrityError
    from secondary_crimes.model_cache import ModelCacheError
    from secondary_crimes.score import rejects_path_for, score_file

    if not input.exists():
        raise _fail(f"{input}: no such input file")
    if engine == "spark":
        from secondary_crimes.engines.spark import score_spark

        try:
            summary = score_spark(input, out, model, master=master, batch_size=batch_size,
                                  progress=False if quiet else None, trust_unhashed=trust_model or None, link=link,
                                  link_store=link_store)
        except (FileNotFoundError, ModelIntegrityError, ModelCacheError) as error:
            raise _fail(str(error)) from None
    elif engine == "local":
        bundle = _load_model(model, trust_model)
        try:
            summary = score_file(input, out, bundle, batch_size=batch_size, progress=False if quiet else None,
                                 resume=resume, link=link, link_store=link_store)
        except ModelMismatchError as error:
            raise _fail(str(error)) from None
    else:
        raise _fail(f"unknown engine {engine!r}; use local or spark")
    typer.echo(summary.line())
    if summary.rejected_records:
        typer.echo(f"rejected records and reasons: {rejects_path_for(out)}")
    if summary.scored == 0:
        raise typer.Exit(code=1)


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Labelled incidents (.jsonl in the corpus format)")],
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    trust_model: TrustOption = False,
) -> None:
    """Score a labelled file and print precision, recall and F1 per offence and for missed flags."""
    from secondary_crimes.evaluate import context_check, format_report, to_json
    from secondary_crimes.evaluate import evaluate as run_evaluation
    from secondary_crimes.reader import load_gold
    from secondary_crimes.score import score_incidents
    from secondary_crimes.score_link import link_records

    incidents, rejects = load_gold(gold)
    for reject in rejects:
        typer.echo(f"{reject.source}:{reject.line}: {reject.field}: {reject.reason} (skipped)", err=True)
    labelled = [incident for incident in incidents if incident.complete]
    partial = sum(incident.has_gold and not incident.complete for incident in incidents)
    if partial:
        typer.echo(f"{gold}: {partial} incident(s) decide only some offences (known_offences, as the auditors' "
                   "export does): not evaluated", err=True)
    if not labelled:
        raise _fail(f"{gold}: no labelled incidents")
    bundle = _load_model(model, trust_model)
    scored = link_records(labelled, score_incidents(labelled, bundle))  # as `score` writes them
    report = run_evaluation(labelled, scored)
    report["context"] = context_check(labelled, scored)
    report["model_version"] = bundle.version
    typer.echo(to_json(report) if as_json else f"model {bundle.version} on {gold}" + format_report(report))


@app.command("cross-validate")
def cross_validate(
    config: Annotated[Path, typer.Option(help="Training config (YAML)")] = DEFAULT_CONFIG,
    corpus: Annotated[list[str] | None, typer.Option(help="Labelled files to cross-validate on (globs)")] = None,
    folds: Annotated[int, typer.Option(min=2)] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    scored_out: Annotated[Path | None, typer.Option(help="Also write the out-of-fold scored records")] = None,
    unseen: Annotated[bool, typer.Option(
        help="Instead of folds: train without any of the corpus and score all of it, once per "
             "--synthetic-seed (a stand-in for another force's writing)")] = False,
    synthetic_seed: Annotated[list[int] | None, typer.Option(
        help="With --unseen: synthetic draws to train on (repeat the option)")] = None,
    by_source: Annotated[bool, typer.Option(
        help="Instead of folds: leave one corpus file (one force's writing) out at a time, train on "
             "the rest and score it; per-file and pooled figures (the headline protocol)")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Cross-validate a config on a labelled corpus (each fold scored by a model that never saw it)."""
    from secondary_crimes.crossval import cross_validate as run_cv
    from secondary_crimes.evaluate import context_check, format_report, to_json
    from secondary_crimes.evaluate import evaluate as run_evaluation

    _logging(verbose)
    train_config = _train_config(config)
    patterns = corpus or train_config.data.corpus
    if unseen:
        _score_unseen(train_config, patterns, synthetic_seed or [7, 11, 23], scored_out, as_json, config)
        return
    if by_source:
        _score_by_source(train_config, patterns, scored_out, as_json, config)
        return
    gold, scored = run_cv(train_config, patterns, folds=folds, seed=train_config.seed)
    if scored_out:
        scored_out.write_text("".join(json.dumps(r) + "\n" for r in scored), encoding="utf-8")
    report = run_evaluation(gold, scored)
    report["context"] = context_check(gold, scored)
    report["config"] = str(config)
    typer.echo(to_json(report) if as_json else
               f"{train_config.kind}: {folds}-fold cross-validation on {patterns}" + format_report(report))


def _score_by_source(train_config, patterns: list[str], scored_out: Path | None, as_json: bool,
                     config: Path) -> None:
    from secondary_crimes.crossval import cross_validate_by_source, format_by_source, summarise_by_source
    from secondary_crimes.evaluate import to_json

    gold, scored = cross_validate_by_source(train_config, patterns)
    if scored_out:
        scored_out.write_text("".join(json.dumps({**r, "source": source}) + "\n"
                                      for source, records in scored.items() for r in records), encoding="utf-8")
    summary = summarise_by_source(gold, scored)
    summary["config"], summary["corpus"] = str(config), patterns
    if as_json:
        typer.echo(to_json(summary))
        return
    typer.echo(f"{train_config.kind}: each of {len(gold)} corpus files scored by a model trained without it")
    typer.echo(format_by_source(summary))


def _score_unseen(train_config, patterns: list[str], seeds: list[int], scored_out: Path | None,
                  as_json: bool, config: Path) -> None:
    from secondary_crimes.crossval import score_unseen, summarise_seeds

    gold, scored = score_unseen(train_config, patterns, synthetic_seeds=seeds)
    if scored_out:
        scored_out.write_text("".join(json.dumps({**r, "synthetic_seed": seed}) + "\n"
                                      for seed, records in scored.items() for r in records), encoding="utf-8")
    summary = summarise_seeds(gold, scored)
    summary["config"], summary["corpus"] = str(config), patterns
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(f"{train_config.kind}: trained without {patterns}, scored all {len(gold)} incidents")
    values = [*summary["per_seed"].values(), summary["mean"], summary["sd"]]
    print_table(["synthetic seed", *map(str, summary["per_seed"]), "mean", "sd"],
                ([key, *("-" if figures[key] is None else f"{figures[key]:.3f}" for figures in values)]
                 for key in summary["mean"]))


@app.command()
def demo(
    model: ModelOption = None,
    sample: Annotated[Path, typer.Option(help="Incidents to score")] = Path("data/sample_incidents.jsonl"),
    out: Annotated[Path, typer.Option(help="Scored output")] = Path("out/sample_scored.jsonl"),
    serve: Annotated[bool, typer.Option(help="Load the review queue and serve it")] = True,
    db: Annotated[str | None, typer.Option(help="Review queue database URL (default: settings)")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    trust_model: TrustOption = False,
) -> None:
    """Train the default model if absent, score the sample incidents and open the review queue."""
    from secondary_crimes.score import score_file
    from secondary_crimes.settings import get_settings
    from secondary_crimes.train import train as run_training

    target = model or get_settings().default_model
    if model is None and not (Path(target) / "meta.json").exists():
        typer.echo(f"no model at {target}: training one from {DEFAULT_CONFIG} (a few minutes)...")
        run_training(_train_config(DEFAULT_CONFIG), target)
    summary = score_file(sample, out, _load_model(target, trust_model), progress=False)
    typer.echo(f"{summary.line()} -> {out}")
    if serve:
        from secondary_crimes.queue.cli import run_demo_queue

        run_demo_queue(out, db or get_settings().queue_database_url, host, port)


@app.command("hash-model")
def hash_model(
    path: Annotated[Path, typer.Argument(help="Model folder saved before file hashes were recorded")],
) -> None:
    """Record the SHA-256 of a trusted model folder's files in its meta.json, so it loads without --trust-model."""
    from secondary_crimes.classify.bundle import META_FILE
    from secondary_crimes.classify.integrity import ModelIntegrityError, record_hashes

    if not (path / META_FILE).exists():
        raise _fail(f"{path}: no trained model here (missing {META_FILE})")
    try:
        hashes = record_hashes(path, META_FILE)
    except ModelIntegrityError as error:
        raise _fail(str(error)) from None
    typer.echo(f"{path}: {len(hashes)} file hashes recorded in {META_FILE}")


@app.command()
@_one_line_errors
def promote(
    version: Annotated[str, typer.Argument(help="Registered model version to make champion")],
    name: Annotated[str, typer.Option(help="Registered model name")] = "secondary-crimes",
    force: Annotated[bool, typer.Option("--force", help="Promote even a version that is worse than the "
                                        "champion or was evaluated on another test split")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the comparison and verdict; change nothing")]
    = False,
) -> None:
    """Print the comparison with the current champion, then set the `champion` alias.

    Refused (exit 2) without --force when the version is worse on missed micro F1 or on most
    headline figures, or was evaluated on a different test split from the champion's.
    """
    from secondary_crimes.tracking import promote as run_promote

    run_promote(version, name, force=force, dry_run=dry_run)  # prints the comparison itself


@app.command("serve")
def serve_command(
    db: Annotated[str | None, typer.Option(help="Review queue database URL (default: settings)")] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve the auditors' review queue (web app)."""
    from secondary_crimes.queue.cli import serve
    from secondary_crimes.settings import get_settings

    serve(db or get_settings().queue_database_url, host=host, port=port)


def _mount_optional(module: str, attribute: str, name: str, extra: str) -> None:
    """Mount a sub-command group whose dependencies come from an optional extra."""
    try:
        sub_app = getattr(__import__(module, fromlist=[attribute]), attribute)
    except ImportError as error:
        missing = typer.Typer(help=f"(needs `pip install secondary-crimes[{extra}]`: {error})")

        @missing.callback(invoke_without_command=True)
        def _unavailable() -> None:
            raise _fail(f"`{name}` needs the {extra} extra: pip install 'secondary-crimes[{extra}]'")

        sub_app = missing
    app.add_typer(sub_app, name=name)


app.command("link-evaluate")(_one_line_errors(link_evaluate))
app.command("label-issues")(_one_line_errors(label_issues))
_mount_optional("secondary_crimes.queue.cli", "queue_app", "queue", "web")
_mount_optional("secondary_crimes.audit.cli", "audit_app", "audit", "audit")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
