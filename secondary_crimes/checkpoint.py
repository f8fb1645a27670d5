"""Checkpoints for resumable scoring: how far a run got, written atomically after each batch.

A run appends scored records and rejects to ``.partial`` files. After each batch it flushes
them and replaces ``<output>.checkpoint.json`` with the number of input items consumed and
the byte length of each partial file. A run killed at any point (``kill -9``) leaves the
last checkpoint and partial files at least that long; resuming truncates the partial files
back to the checkpoint's lengths (dropping a half-written batch) and skips the consumed
items, so every record ends up in the output exactly once. The checkpoint names the model
by version and by the SHA-256 of its files: a run never resumes with another model.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# 2: the readers count records differently (CSV cut into records, blank lines counted): an older
# checkpoint's ``consumed`` may point elsewhere, so it is not resumed.
FORMAT_VERSION = 2


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = True) -> None:
    """Write ``text`` to ``path`` so a reader sees the old file or the new one, never half."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass
class Checkpoint:
    """Where a scoring run stands. ``consumed`` counts items from ``read_incidents``."""

    input_sha256: str
    model_version: str
    batch_size: int
    started_at: str
    consumed: int = 0
    output_bytes: int = 0
    rejects_bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    last_reject_line: int | None = None
    resumes: int = 0
    done: bool = False
    format_version: int = FORMAT_VERSION
    model_sha256: str | None = None  # ModelBundle.sha256 (None: an unsaved bundle, or an older run)
    link: dict[str, int] | None = None  # the linking pass's counts once it has rewritten the output (score_link)

    def save(self, path: str | Path, *, fsync: bool = False) -> None:
        atomic_write_text(path, json.dumps(asdict(self), sort_keys=True), fsync=fsync)

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint | None:
        """The checkpoint at ``path``, or None when there is none or it is unreadable."""
        try:
            raw: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if raw.get("format_version") != FORMAT_VERSION:
            return None
        try:
            return cls(**raw)
        except TypeError:
            return None

    def same_model(self, *, model_version: str, model_sha256: str | None) -> bool:
        """True when this checkpoint was written by the same model (version and file hash)."""
        return (self.model_version, self.model_sha256) == (model_version, model_sha256)


class ModelMismatchError(ValueError):
    """An unfinished run of the same input was scored by another model."""


def truncate_to(path: Path, length: int) -> bool:
    """Cut ``path`` back to ``length`` bytes; False when it is missing or shorter (lost data)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return length == 0
    if size < length:
        return False
    if size > length:
        with path.open("r+b") as handle:
            handle.truncate(length)
    return True
