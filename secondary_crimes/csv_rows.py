"""CSV input one record at a time, so a bad row costs only itself.

``csv.DictReader`` over a whole file loses rows: one byte that is not UTF-8 ends the read, an
unclosed quote reads every later row into one field, a cell over 131,072 characters raises.
Here each record is first cut from the raw bytes (it ends at a line end outside quotes, quotes
followed as ``csv`` follows them), then decoded and parsed alone (``csv``, strict). So:

- a record that is not UTF-8, or not well-formed CSV, is rejected alone;
- a quote still open at the end of the file, or a record of several lines that does not parse,
  rejects the line it starts on, and the file is read again from the next line: the rows it
  swallowed are read as rows;
- a record over ``limit`` bytes is skipped unread (its quotes still followed to find its end);
- a row with more or fewer fields than the header is rejected (no value is dropped silently);
- a UTF-8 byte order mark (Excel's "CSV UTF-8") is dropped; blank lines are yielded as blank.

A row's ``line`` is the line it starts on. A stray quote that closes a runaway quoted field
exactly at a field's end cannot be told from a genuine multi-line field: that record is read
as one (its reject, if any, names the lines it spans).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from secondary_crimes.failures import InputError
from secondary_crimes.reader import RawRow
from secondary_crimes.records import Reject

BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 20
_OUT, _IN, _PENDING = 0, 1, 2  # outside quotes; inside a quoted field; just after a quote inside one
_FIELD_STARTS = (b"", b",", b"\n", b"\r")


@dataclass(frozen=True)
class _Record:
    data: bytes | None  # None: over the limit, not kept
    size: int
    lines: int  # physical lines it spans
    closed: bool  # False: the file ended inside a quoted field
    second_line_at: int | None  # byte offset of its second line, to read again from there


def _scan(piece: bytes, state: int, prev: bytes) -> int:
    """The quote state after ``piece``, given the state and the byte before it (excel dialect)."""
    i = 0
    if state == _PENDING:  # a quote ended the last piece: "" is an escaped quote, else it closed
        state, i = (_IN, 1) if piece[:1] == b'"' else (_OUT, 0)
    while (j := piece.find(b'"', i)) != -1:
        if state == _OUT:
            before = piece[j - 1 : j] if j else prev
            state = _IN if before in _FIELD_STARTS else _OUT  # elsewhere a quote is literal
            i = j + 1
        elif j + 1 == len(piece):
            state, i = _PENDING, j + 1
        elif piece[j + 1 : j + 2] == b'"':
            i = j + 2
        else:
            state, i = _OUT, j + 1
    return state


def _read_record(handle: BinaryIO, limit: int) -> _Record | None:
    """The next record's bytes, or None at the end of the file."""
    parts: list[bytes] | None = []
    size = lines = 0
    state, prev, second, piece = _OUT, b"", None, b""
    while piece := handle.readline(CHUNK):
        size += len(piece)
        if parts is not None and size > limit:
            parts = None  # too long to keep: follow its quotes to its end, keeping nothing
        elif parts is not None:
            parts.append(piece)
        state, prev = _scan(piece, state, prev), piece[-1:]
        if piece.endswith(b"\n"):
            lines += 1
            second = handle.tell() if second is None else second
            if state != _IN:
                return _Record(b"".join(parts) if parts is not None else None, size, lines, True, second)
    if not size:
        return None
    lines += not prev.endswith(b"\n")
    return _Record(b"".join(parts) if parts is not None else None, size, lines, state != _IN, second)


def _cells(text: str) -> list[str]:
    """One record's fields; ``csv.Error`` when it is not one well-formed row."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    rows = list(csv.reader(lines, strict=True))
    if len(rows) != 1:
        raise csv.Error(f"{len(rows)} rows where one was expected")
    return rows[0]


def _header(cells: list[str], source: str, line: int) -> list[str]:
    names = [cell.strip() for cell in cells]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"{source}: line {line}: the header names {duplicates} more than once")
    return names


def csv_rows(path: Path, *, limit: int) -> Iterator[RawRow]:
    """Each row, bad row (a reject) and blank line after the header; ``InputError`` when the header is unreadable."""
    source = str(path)
    csv.field_size_limit(max(csv.field_size_limit(), limit))  # records are bounded here, not per cell

    def reject(line: int, reason: str) -> RawRow:
        return RawRow(line, None, Reject(source=source, line=line, field="(line)", reason=reason))

    header: list[str] | None = None
    with path.open("rb") as handle:
        line = 1
        while (record := _read_record(handle, limit)) is not None:
            start, line = line, line + record.lines
            span = f"lines {start}-{line - 1}"
            problem = None
            if record.data is not None and not record.data.strip():
                yield RawRow(start, None)
                continue
            if not record.closed and record.second_line_at is not None:
                problem = f"unclosed quote: the quoted field opened here never closes, so {span} were read as one row"
            elif record.data is None:
                problem = f"{record.size:,} bytes, over the limit of {limit:,} (16 x max_text_chars); not read"
            else:
                data = record.data[len(BOM) :] if start == 1 and record.data.startswith(BOM) else record.data
                try:
                    cells = _cells(data.decode("utf-8"))
                except UnicodeDecodeError as error:
                    problem = f"undecodable text: not UTF-8 ({error.reason}) at byte {error.start} of the row"
                except csv.Error as error:
                    problem = f"not CSV: {error}"
                    problem += f" ({span} read as one row by a quote)" if record.lines > 1 else ""
            if header is None:
                if problem:
                    raise InputError(f"{source}: line {start}: cannot read the CSV header: {problem}")
                header = _header(cells, source, start)
                continue
            if problem and record.lines > 1 and (not record.closed or problem.startswith("not CSV")):
                yield reject(start, f"{problem}; reading again from line {start + 1}")
                handle.seek(record.second_line_at)
                line = start + 1
            elif problem:
                yield reject(start, problem)
            elif len(cells) != len(header):
                where = f" ({span})" if record.lines > 1 else ""
                yield reject(start, f"{len(cells)} fields; the header has {len(header)}{where}")
            else:
                yield RawRow(start, dict(zip(header, cells, strict=True)))
