"""Read incidents from JSON Lines, CSV or Parquet, streaming, with bad rows set aside."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from secondary_crimes.records import GoldIncident, Incident, Reject, rejects_from_error

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
           ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class RawRow:
    """One row as read: its line (1-based record position in the file) and its fields."""

    line: int
    fields: dict[str, Any] | None
    problem: Reject | None = None


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown input format {suffix!r}; use .jsonl, .csv or .parquet")
    return FORMATS[suffix]


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield RawRow(number, None, Reject(source=str(path), line=number, field="(line)",
                                                  reason=f"undecodable text: {error.reason} at byte {error.start}"))
                continue
            try:
                fields = json.loads(text)
            except json.JSONDecodeError as error:
                yield RawRow(number, None, Reject(source=str(path), line=number, field="(line)",
                                                  reason=f"not JSON: {error.msg} at column {error.colno}"))
                continue
            if not isinstance(fields, dict):
                yield RawRow(number, None, Reject(source=str(path), line=number, field="(line)",
                                                  reason="not a JSON object"))
                continue
            yield RawRow(number, fields)


def _csv_rows(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as binary:
        handle = io.TextIOWrapper(binary, encoding="utf-8", errors="strict", newline="")
        reader = csv.DictReader(handle)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as error:
                yield RawRow(reader.line_num + 1, None,
                             Reject(source=str(path), line=reader.line_num + 1, field="(line)",
                                    reason=f"undecodable text: {error.reason}; rest of file unreadable"))
                return
            yield RawRow(reader.line_num, {k: v for k, v in row.items() if k is not None})


def _parquet_rows(path: Path, batch_size: int = 2048) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        for fields in batch.to_pylist():
            number += 1
            yield RawRow(number, fields)


def raw_rows(path: str | Path) -> Iterator[RawRow]:
    """Stream raw rows of any supported format."""
    path = Path(path)
    kind = detect_format(path)
    if kind == "jsonl":
        yield from _jsonl_rows(path)
    elif kind == "csv":
        yield from _csv_rows(path)
    else:
        yield from _parquet_rows(path)


def read_incidents(path: str | Path, *, gold: bool = False) -> Iterator[Incident | Reject]:
    """Yield each valid incident, or a Reject (one per bad field) for each bad record.

    Duplicate ``incident_id``s after the first are rejected. With ``gold=True`` the gold
    fields are read too (``GoldIncident``).
    """
    model = GoldIncident if gold else Incident
    seen: set[str] = set()
    for row in raw_rows(path):
        if row.problem is not None:
            yield row.problem
            continue
        assert row.fields is not None
        incident_id = row.fields.get("incident_id")
        incident_id = str(incident_id) if incident_id is not None else None
        try:
            incident = model.model_validate(row.fields)
        except ValidationError as error:
            yield from rejects_from_error(error, source=str(path), line=row.line, incident_id=incident_id)
            continue
        if incident.incident_id in seen:
            yield Reject(source=str(path), line=row.line, incident_id=incident.incident_id,
                         field="incident_id", reason="duplicate incident_id")
            continue
        seen.add(incident.incident_id)
        yield incident


def load_gold(path: str | Path) -> tuple[list[GoldIncident], list[Reject]]:
    """Read a whole labelled file into memory (training and evaluation sets are small)."""
    incidents: list[GoldIncident] = []
    rejects: list[Reject] = []
    for item in read_incidents(path, gold=True):
        (rejects if isinstance(item, Reject) else incidents).append(item)  # type: ignore[arg-type]
    return incidents, rejects
