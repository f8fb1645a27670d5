"""Command line for the audit: ``secondary-crimes audit sample | report | rules | simulate``.

The project CLI mounts ``audit_app`` as ``secondary-crimes audit``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(
    help="Audit sampling, recording-rate estimates, rule checks and the audit report.", no_args_is_help=True
)


def _default_db() -> str:
    from secondary_crimes.settings import get_settings

    return get_settings().queue_database_url


@audit_app.command("sample")
def sample_command(
    scored: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Scored JSON Lines (all incidents).")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write sample.json and sample.jsonl.")],
    size: Annotated[int, typer.Option("--size", min=1, help="Random sample size (incidents).")] = 400,
    priority_size: Annotated[int, typer.Option("--priority-size", min=0, help="Top-priority incidents.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the draw is reproducible).")] = 0,
    name: Annotated[str | None, typer.Option("--name", help="Sample name (default audit-seed<S>).")] = None,
) -> None:
    """Draw a seeded stratified random sample and a top-priority sample for the review queue."""
    from secondary_crimes.audit.sampling import SAMPLE_FILE, SAMPLE_RECORDS, write_sample
    from secondary_crimes.cli import print_table

    try:
        sample = write_sample(scored, out_dir, size=size, priority_size=priority_size, seed=seed, name=name)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"sample {sample.name}: {len(sample.random_units())} random + {len(sample.priority_units())} "
        f"priority incidents from {sum(sample.population_sizes.values()):,}"
    )
    strata = sample.population_sizes.items()
    print_table(["stratum", "incidents", "sampled"], ([h, f"{N:,}", sample.allocation.get(h, 0)] for h, N in strata))
    typer.echo(
        f"wrote {out_dir / SAMPLE_FILE} and {out_dir / SAMPLE_RECORDS} "
        f"(load it with: secondary-crimes queue load {out_dir / SAMPLE_RECORDS})"
    )


@audit_app.command("report")
def report_command(
    sample_path: Annotated[Path, typer.Option("--sample", exists=True, help="sample.json (or its directory).")],
    out: Annotated[Path, typer.Option("--out", help="HTML report to write (the JSON goes next to it).")],
    db: Annotated[str | None, typer.Option("--db", help="Review-queue database URL (read only).")] = None,
    volume: Annotated[
        float | None, typer.Option("--volume", help="Incidents per year, for unrecorded per year.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="JSON figures (default: OUT with .json).")] = None,
    png_dir: Annotated[Path | None, typer.Option("--png-dir", help="Also save the plots as PNG files here.")] = None,
) -> None:
    """Estimate the recording rate from the auditors' decisions and write the HTML and JSON report."""
    from secondary_crimes.audit.queue_adapter import decisions_from_queue
    from secondary_crimes.audit.report import write_report
    from secondary_crimes.audit.sampling import read_sample

    sample = read_sample(sample_path)
    url = db or _default_db()
    decisions = decisions_from_queue(url, [u.incident_id for u in sample.units])
    html_path, json_path = write_report(
        out, sample, decisions, volume=volume, db_url=url, json_out=json_out, png_dir=png_dir
    )
    figures = json.loads(json_path.read_text(encoding="utf-8"))["estimates"]
    rate = (figures.get("overall") or {}).get("recording_rate")
    headline = (
        f"recording rate {rate['estimate'] * 100:.1f}% ± {rate['half_width'] * 100:.2f} points"
        if rate
        else "no audited crimes yet"
    )
    typer.echo(f"{figures['audited']} of {figures['sampled']} random-sample incidents audited; {headline}")
    for warning in figures.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"wrote {html_path} and {json_path}")


@audit_app.command("rules")
def rules_command(
    scored: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Scored JSON Lines.")],
    out: Annotated[Path, typer.Option("--out", help="Scored JSON Lines with rule_flags added.")],
) -> None:
    """Run the crime-recording rule checks on scored output and add ``rule_flags`` to each record."""
    from collections import Counter

    from secondary_crimes.cli import print_table
    from secondary_crimes.recording_rules import check_scored_record

    counts: Counter = Counter()
    total = 0
    with scored.open(encoding="utf-8") as source, out.open("w", encoding="utf-8") as sink:
        for line in source:
            if not line.strip():
                continue
            record = json.loads(line)
            record["rule_flags"] = check_scored_record(record)
            counts.update(flag["rule"] for flag in record["rule_flags"])
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            total += 1
    typer.echo(f"checked {total} incident(s); wrote {out}")
    if counts:
        print_table(["rule", "flags"], counts.most_common())


@audit_app.command("simulate")
def simulate_command(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write the simulated audit.")],
    incidents: Annotated[int, typer.Option("--incidents", min=100)] = 20_000,
    size: Annotated[int, typer.Option("--size", min=10)] = 1_000,
    priority_size: Annotated[int, typer.Option("--priority-size", min=0)] = 200,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    volume: Annotated[float | None, typer.Option("--volume")] = None,
) -> None:
    """Demo without a queue: a simulated population with a known recording rate, sampled, audited
    by a perfect simulated auditor, and reported."""
    from secondary_crimes.audit.report import write_report
    from secondary_crimes.audit.sampling import write_sample
    from secondary_crimes.audit.simulate import simulate_population

    out_dir.mkdir(parents=True, exist_ok=True)
    population = simulate_population(incidents, seed)
    scored = out_dir / "scored.jsonl"
    with scored.open("w", encoding="utf-8") as handle:
        for record in population.scored_records():
            handle.write(json.dumps(record) + "\n")
    sample = write_sample(scored, out_dir / "sample", size=size, priority_size=priority_size, seed=seed)
    decisions = population.decisions([u.incident_id for u in sample.units])
    html_path, json_path = write_report(out_dir / "report.html", sample, decisions, volume=volume)
    rate = json.loads(json_path.read_text(encoding="utf-8"))["estimates"]["overall"]["recording_rate"]
    typer.echo(
        f"true recording rate {population.true_rate() * 100:.2f}%; estimated {rate['estimate'] * 100:.2f}% "
        f"({rate['low'] * 100:.2f}-{rate['high'] * 100:.2f})"
    )
    typer.echo(f"wrote {html_path} and {json_path}")
