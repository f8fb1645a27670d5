"""Score a file of incidents: read -> analyse -> decide -> write, with rejects set aside."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.decide import decide
from secondary_crimes.reader import read_incidents
from secondary_crimes.records import Incident, Reject
from secondary_crimes.settings import get_settings


@dataclass
class ScoreSummary:
    scored: int = 0
    rejected_records: int = 0
    flagged_incidents: int = 0
    missed_flags: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def line(self) -> str:
        return (f"scored {self.scored} incidents, {self.missed_flags} missed-crime flags on "
                f"{self.flagged_incidents} incidents, {self.rejected_records} records rejected")


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def score_incidents(incidents: list[Incident], bundle: ModelBundle) -> list[dict[str, Any]]:
    """Score a batch of valid incidents with one model bundle."""
    settings = get_settings()
    analyses = bundle.model.analyse(incidents, bundle.thresholds)
    return [decide(incident, analysis, bundle.thresholds, model_version=bundle.version,
                   decimals=settings["probability_decimals"],
                   max_evidence=settings["max_evidence_per_offence"])
            for incident, analysis in zip(incidents, analyses, strict=True)]


def rejects_path_for(output: Path) -> Path:
    return output.with_name(output.stem + ".rejects.jsonl")


def score_file(input_path: str | Path, output_path: str | Path, bundle: ModelBundle,
               *, batch_size: int = 64) -> ScoreSummary:
    """Score every valid incident of ``input_path`` into ``output_path`` (JSON Lines).

    Bad records go to ``<output>.rejects.jsonl`` with their line, field and reason; the
    batch goes on. The output is written to a temporary file and renamed when complete.
    """
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    summary = ScoreSummary()
    rejected_lines: set[int] = set()
    temporary = output_path.with_name(output_path.name + ".partial")
    rejects_file = rejects_path_for(output_path)

    def valid_incidents() -> Iterator[Incident]:
        for item in read_incidents(input_path):
            if isinstance(item, Reject):
                summary.rejects.append(item)
                rejected_lines.add(item.line)
            else:
                yield item

    with temporary.open("w", encoding="utf-8") as out:
        for batch in batched(valid_incidents(), batch_size):
            for record in score_incidents(batch, bundle):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                summary.scored += 1
                summary.missed_flags += len(record["missed"])
                summary.flagged_incidents += bool(record["missed"])
    temporary.replace(output_path)
    summary.rejected_records = len(rejected_lines)
    with rejects_file.open("w", encoding="utf-8") as handle:
        for reject in summary.rejects:
            handle.write(reject.model_dump_json() + "\n")
    return summary
