"""A scoring run's manifest: what went in (input hash, model), what came out (counts), when, how.

Written atomically to ``<output>.manifest.json`` when a run completes; a re-run of the same
input with the same model (version and ``sha256`` of its files) finds it and does nothing more.
"""

from __future__ import annotations

import hashlib
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from secondary_crimes.checkpoint import atomic_write_text

CHUNK = 1 << 20


def manifest_path_for(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".manifest.json")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_digest(path: str | Path) -> tuple[str, int, int]:
    """(sha256 hex, size in bytes, newline count) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = newlines = 0
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            newlines += chunk.count(b"\n")
    return digest.hexdigest(), size, newlines


def build_manifest(
    *,
    engine: str,
    input_path: str | Path,
    input_sha256: str | None,
    input_bytes: int | None,
    output_path: str | Path,
    rejects_path: str | Path,
    model_version: str,
    model_kind: str,
    counts: dict[str, int],
    model_sha256: str | None = None,
    started_at: str,
    finished_at: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    from secondary_crimes import __version__

    return {
        "engine": engine,
        "input": {"path": str(input_path), "sha256": input_sha256, "bytes": input_bytes},
        "model": {"version": model_version, "kind": model_kind, "sha256": model_sha256},
        "output": str(output_path),
        "rejects": str(rejects_path),
        "counts": dict(counts),
        "rejects_count": counts.get("rejected_records", 0),
        "started_at": started_at,
        "finished_at": finished_at or now_iso(),
        "host": socket.gethostname(),
        "package_version": __version__,
        **extra,
    }


def write_manifest(output_path: str | Path, manifest: dict[str, Any]) -> Path:
    path = manifest_path_for(output_path)
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(output_path: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads(manifest_path_for(output_path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
