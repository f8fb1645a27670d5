"""A model folder's file hashes: recorded when a bundle is saved, checked before it is unpickled.

``meta.json`` lists the SHA-256 of every other file in the folder (key ``files``). Loading
refuses a folder whose files differ from that list (changed, missing or added), naming the
file, before any pickle runs. A folder saved before hashes were recorded loads only with an
explicit opt-in (``--trust-model``, or the ``trust_unhashed_models`` setting) and a warning;
``secondary-crimes hash-model PATH`` records the hashes of such a folder once.

The hashes only catch a file changed after saving: whoever can rewrite the whole folder can
rewrite ``meta.json`` too, so keep model folders (and the ``models:/`` cache,
``secondary_crimes.model_cache``) writable by their owner only.

A model's identity (``ModelBundle.sha256``) is one SHA-256 over ``meta.json`` and those files'
hashes; scoring checkpoints and manifests record it (``secondary_crimes.score``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import BinaryIO

from secondary_crimes.checkpoint import atomic_write_text
from secondary_crimes.settings import get_settings

log = logging.getLogger(__name__)

HASHES_KEY = "files"
CHUNK = 1 << 20
TRUE_WORDS = {"1", "true", "yes", "on"}


class ModelIntegrityError(ValueError):
    """A model folder whose files are not the ones recorded when it was saved."""


def sha256_stream(handle: BinaryIO) -> str:
    """SHA-256 of an open binary file from its start; the handle is left back at the start."""
    handle.seek(0)
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_stream(handle)


def folder_hashes(folder: Path, *, skip: str) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` but ``skip``, by POSIX path relative to it."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() != skip)
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}


def identity(meta_sha256: str, hashes: dict[str, str], meta_name: str) -> str:
    """One SHA-256 naming a saved model: its metadata file and every file's hash."""
    lines = sorted(f"{name}\0{digest}\n" for name, digest in {**hashes, meta_name: meta_sha256}.items())
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def trust_unhashed(flag: bool | None = None) -> bool:
    """The explicit opt-in to load folders with no recorded hashes: ``flag``, else the setting."""
    if flag is not None:
        return flag
    value = get_settings().get("trust_unhashed_models", False)
    return value if isinstance(value, bool) else str(value).strip().lower() in TRUE_WORDS


def recorded_hashes(folder: Path, meta: dict, *, meta_name: str, trust: bool | None) -> dict[str, str]:
    """The hashes ``meta`` records; for an unhashed folder, today's (opt-in only) or an error."""
    recorded = meta.get(HASHES_KEY)
    if isinstance(recorded, dict) and all(isinstance(v, str) for v in recorded.values()):
        return recorded
    if recorded is not None:
        raise ModelIntegrityError(f"{folder / meta_name}: '{HASHES_KEY}' is not a map of file hashes")
    if not trust_unhashed(trust):
        raise ModelIntegrityError(
            f"{folder}: no file hashes recorded in {meta_name} (saved by an older version), so it is not "
            f"loaded; if you trust this folder, run `secondary-crimes hash-model {folder}` once, or pass "
            "--trust-model (setting trust_unhashed_models: true); otherwise retrain it"
        )
    log.warning("%s: loading a model with no recorded file hashes (explicitly trusted)", folder)
    return folder_hashes(folder, skip=meta_name)


def check_folder(folder: Path, recorded: dict[str, str], *, meta_name: str, skip: set[str]) -> None:
    """Refuse a recorded file that is missing or changed, or a file nobody recorded (``skip``: checked later)."""
    for name, expected in sorted(recorded.items()):
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or name == meta_name:
            raise ModelIntegrityError(f"{folder / meta_name}: refusing the recorded path {name!r}")
        path = folder / relative
        if not path.is_file():
            raise ModelIntegrityError(f"{path}: missing (its hash is recorded in {meta_name}); refusing to load")
        if name not in skip and sha256_file(path) != expected:
            raise ModelIntegrityError(f"{path}: SHA-256 differs from the one recorded in {meta_name}; refusing to load")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name != meta_name and name not in recorded:
            raise ModelIntegrityError(f"{path}: not among the files recorded in {meta_name}; refusing to load")


def check_handle(handle: BinaryIO, expected: str, path: Path, meta_name: str) -> None:
    """Check the file about to be unpickled through the very handle that will read it."""
    if sha256_stream(handle) != expected:
        raise ModelIntegrityError(f"{path}: SHA-256 differs from the one recorded in {meta_name}; refusing to load")


def record_hashes(folder: Path, meta_name: str) -> dict[str, str]:
    """Record today's hashes in an unhashed folder's metadata (the folder is trusted as it is)."""
    meta_path = folder / meta_name
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get(HASHES_KEY) is not None:  # already recorded: they must still hold
        recorded = recorded_hashes(folder, meta, meta_name=meta_name, trust=False)
        check_folder(folder, recorded, meta_name=meta_name, skip=set())
        return recorded
    meta[HASHES_KEY] = folder_hashes(folder, skip=meta_name)
    atomic_write_text(meta_path, json.dumps(meta, indent=2, default=str))
    return meta[HASHES_KEY]
