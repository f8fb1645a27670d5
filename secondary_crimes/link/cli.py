"""``secondary-crimes link-evaluate FILE``: linking and course-of-conduct flags against gold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def _scored(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def link_evaluate(
    gold: Annotated[Path, typer.Argument(help="Labelled incidents with gold `linked` (series_*.jsonl)")],
    scored: Annotated[Path | None, typer.Option(
        "--scored", help="Scored records of the same incidents (`secondary-crimes score` output): their "
                         "offences count as indicators; default: extraction indicators only")] = None,
    window_days: Annotated[float | None, typer.Option(help="Link window in days (default: settings)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Link the incidents of a labelled file into series; print pairwise precision and recall of
    `linked` and of the course-of-conduct missed flags."""
    from secondary_crimes.link.config import LinkConfig
    from secondary_crimes.link.evaluate import conduct_flags, format_link_report, pairwise, read_gold_linked
    from secondary_crimes.link.run import link_batch
    from secondary_crimes.reader import load_gold

    incidents, rejects = load_gold(gold)
    for reject in rejects:
        typer.echo(f"{reject.source}:{reject.line}: {reject.field}: {reject.reason} (skipped)", err=True)
    gold_linked = read_gold_linked(gold)
    if not gold_linked:
        typer.echo(f"error: {gold}: no incident has a gold `linked` field", err=True)
        raise typer.Exit(code=2)
    config = LinkConfig.from_settings(**({"window_days": window_days} if window_days is not None else {}))
    result = link_batch(incidents, scored=_scored(scored) if scored else (), config=config)
    report = {
        "linking": pairwise(gold_linked, result.linked, [i.incident_id for i in incidents]),
        "series": len(result.series),
        "conduct": conduct_flags(incidents, gold_linked, result.flags),
        "model_offences_from": str(scored) if scored else None,
    }
    typer.echo(json.dumps(report, indent=2) if as_json else format_link_report(report))
