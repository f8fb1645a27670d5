"""Read incidents from JSON Lines, CSV or Parquet, streaming, with bad rows set aside.

One record never stops a read. A line that is not UTF-8 or not JSON, is nested too deeply,
holds a number too long to convert or a key twice, or a record that breaks the contract
(``records``) becomes a ``Reject`` naming its line, field and reason, and reading goes on.
A line (CSV: a record) over ``16 * max_text_chars`` bytes is rejected unread, so memory stays
bounded. Only a file that cannot be read at all (unknown format, unreadable CSV header,
corrupt Parquet) raises ``InputError``. JSON Lines split at ``\\n`` only (a bare ``\\r`` is
not a line end), as the Spark engine reads them; a UTF-8 byte order mark is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from secondary_crimes.failures import InputError, brief
from secondary_crimes.records import GoldIncident, Incident, Reject, max_text_chars, rejects_from_error

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
           ".parquet": "parquet", ".pq": "parquet"}
BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 20


@dataclass(frozen=True)
class RawRow:
    """One row as read: its line (1-based record position in the file) and its fields.

    Neither fields nor problem: a blank line.
    """

    line: int
    fields: dict[str, Any] | None
    problem: Reject | None = None

    @property
    def blank(self) -> bool:
        return self.fields is None and self.problem is None


@dataclass
class ReadStats:
    """What a read saw: every record it delimited (blank lines and bad records too), and the blank ones."""

    records: int = 0
    blank_lines: int = 0


def max_record_bytes() -> int:
    """The longest line (CSV: record) read: 16 bytes per character of ``max_text_chars``."""
    return 16 * max_text_chars()


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unknown input format {suffix or '(no suffix)'!r}; use .jsonl, .csv or .parquet")
    return FORMATS[suffix]


def check_input(path: str | Path) -> str:
    """The input's format, once a first look finds the file readable at all (Parquet: its footer)."""
    kind = detect_format(path)
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pq.ParquetFile(path).close()
        except (pa.ArrowException, OSError, ValueError) as error:
            if isinstance(error, OSError) and error.filename is not None:
                raise
            raise InputError(f"{path}: not a readable Parquet file: {brief(error)}") from error
    return kind


def _line_reject(source: str, line: int, reason: str, field: str = "(line)") -> RawRow:
    return RawRow(line, None, Reject(source=source, line=line, field=field, reason=reason))


def _oversized(source: str, line: int, size: int) -> RawRow:
    return _line_reject(source, line, f"{size:,} bytes, over the limit of {max_record_bytes():,} "
                                      "(16 x max_text_chars); not read")


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return fields


def parse_json_line(raw: bytes, *, source: str, line: int) -> RawRow:
    """One JSON Lines line as read (bytes) -> its fields, or why not. Both engines read lines with it."""
    if len(raw.removesuffix(b"\n")) > max_record_bytes():
        return _oversized(source, line, len(raw))
    if not raw.strip():
        return RawRow(line, None)
    if line == 1 and raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _line_reject(source, line, f"undecodable text: not UTF-8 ({error.reason}) at byte {error.start}")
    try:
        fields = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as error:
        return _line_reject(source, line, "the key appears twice in one JSON object: which value is meant?",
                            field=error.key)
    except json.JSONDecodeError as error:
        return _line_reject(source, line, f"not JSON: {error.msg} at column {error.colno}")
    except RecursionError:
        return _line_reject(source, line, "not readable: JSON nested too deeply")
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        return _line_reject(source, line, f"not readable: {str(error).split(';')[0]}")
    if not isinstance(fields, dict):
        return _line_reject(source, line, "not a JSON object")
    return RawRow(line, fields)


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | int]:
    """Each line of a binary file (split at ``\\n`` only), or its length in bytes when over ``limit`` (unread)."""
    while raw := handle.readline(limit + 1):
        if raw.endswith(b"\n") or len(raw) <= limit:
            yield raw
            continue
        size = len(raw)
        while rest := handle.readline(CHUNK):
            size += len(rest)
            if rest.endswith(b"\n"):
                break
        yield size


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    source = str(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(bounded_lines(handle, max_record_bytes()), 1):
            if isinstance(raw, int):
                yield _oversized(source, number, raw)
            else:
                yield parse_json_line(raw, source=source, line=number)


def _parquet_rows(path: Path, batch_size: int = 2048) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    number = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            try:
                rows: list[dict[str, Any] | Exception] = list(batch.to_pylist())
            except (pa.ArrowException, ValueError):  # one bad value: find which rows
                rows = [_parquet_row(batch, i) for i in range(batch.num_rows)]
            for fields in rows:
                number += 1
                if isinstance(fields, Exception):
                    yield _line_reject(str(path), number, f"unreadable Parquet row: {brief(fields)}")
                else:
                    yield RawRow(number, fields)
    except (pa.ArrowException, OSError) as error:
        if isinstance(error, OSError) and error.filename is not None:
            raise
        raise InputError(f"{path}: not a readable Parquet file after row {number}: {brief(error)}") from error


def _parquet_row(batch: Any, index: int) -> dict[str, Any] | Exception:
    try:
        return batch.slice(index, 1).to_pylist()[0]
    except Exception as error:
        return error


def raw_rows(path: str | Path) -> Iterator[RawRow]:
    """Stream raw rows of any supported format (blank lines included, as blank rows)."""
    path = Path(path)
    kind = detect_format(path)
    if kind == "jsonl":
        yield from _jsonl_rows(path)
    elif kind == "csv":
        from secondary_crimes.csv_rows import csv_rows

        yield from csv_rows(path, limit=max_record_bytes())
    else:
        yield from _parquet_rows(path)


def validate_fields(fields: dict[str, Any], *, source: str, line: int,
                    model: type[Incident] = Incident) -> Incident | list[Reject]:
    """One record's fields through the contract: the incident, or one Reject per bad field."""
    incident_id = fields.get("incident_id")
    incident_id = str(incident_id) if incident_id is not None else None
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        return rejects_from_error(error, source=source, line=line, incident_id=incident_id)
    except Exception as error:
        return [Reject(source=source, line=line, incident_id=incident_id, field="(record)",
                       reason=f"could not be validated: {brief(error)}")]


def read_numbered(path: str | Path, *, gold: bool = False,
                  stats: ReadStats | None = None) -> Iterator[tuple[int, Incident] | Reject]:
    """Yield (line, incident) for each valid incident, or a Reject (one per bad field) for each bad record.

    Duplicate ``incident_id``s after the first are rejected. With ``gold=True`` the gold
    fields are read too (``GoldIncident``). ``stats`` counts the records and blank lines read.
    """
    model = GoldIncident if gold else Incident
    source = str(path)
    seen: set[str] = set()
    for row in raw_rows(path):
        if stats is not None:
            stats.records += 1
            stats.blank_lines += row.blank
        if row.blank:
            continue
        if row.problem is not None:
            yield row.problem
            continue
        assert row.fields is not None
        result = validate_fields(row.fields, source=source, line=row.line, model=model)
        if isinstance(result, list):
            yield from result
            continue
        if result.incident_id in seen:
            yield Reject(source=source, line=row.line, incident_id=result.incident_id,
                         field="incident_id", reason="duplicate incident_id")
            continue
        seen.add(result.incident_id)
        yield row.line, result


def read_incidents(path: str | Path, *, gold: bool = False) -> Iterator[Incident | Reject]:
    """Yield each valid incident, or a Reject (one per bad field) for each bad record (``read_numbered``)."""
    for item in read_numbered(path, gold=gold):
        yield item if isinstance(item, Reject) else item[1]


def load_gold(path: str | Path) -> tuple[list[GoldIncident], list[Reject]]:
    """Read a whole labelled file into memory (training and evaluation sets are small)."""
    incidents: list[GoldIncident] = []
    rejects: list[Reject] = []
    for item in read_incidents(path, gold=True):
        (rejects if isinstance(item, Reject) else incidents).append(item)  # type: ignore[arg-type]
    return incidents, rejects
