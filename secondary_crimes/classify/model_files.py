"""Files a model keeps beside ``model.joblib`` in a bundle folder (its weights, say).

While ``ModelBundle.save`` pickles the model, ``writing(folder)`` is active: a model's
``__getstate__`` may hand bytes to ``current_writer().write(...)``, which stores them under
``weights/`` in the folder (named by their SHA-256) and returns the name to pickle instead of
the bytes. ``weights/`` belongs to the bundle: each save replaces it. The bundle then records
every file's hash as usual (``classify.integrity``).

While ``ModelBundle.load`` unpickles, ``reading(folder, hashes)`` is active: the model's
``__setstate__`` asks ``current_reader().read(name)`` for those bytes, which come back only if
they are the very bytes whose SHA-256 the bundle recorded (read once, hashed, then used: no
window between the check and the use).

Pickling outside a bundle (``joblib.dump`` of a bare model) has no writer: the model keeps its
bytes inside the pickle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path, PurePosixPath

from secondary_crimes.classify.integrity import ModelIntegrityError

FILES_DIR = "weights"

_writer: ContextVar[ModelFileWriter | None] = ContextVar("model_file_writer", default=None)
_reader: ContextVar[ModelFileReader | None] = ContextVar("model_file_reader", default=None)


class ModelFileWriter:
    """Writes a model's extra files into ``<bundle>/weights/`` while the bundle is saved."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.written: dict[str, str] = {}  # name in the bundle -> sha256

    def write(self, data: bytes, *, stem: str, suffix: str) -> str:
        """Store ``data``; returns its name relative to the bundle folder (POSIX)."""
        digest = hashlib.sha256(data).hexdigest()
        name = f"{FILES_DIR}/{stem}-{digest[:16]}{suffix}"
        if name not in self.written:
            target = self.folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, target)
            self.written[name] = digest
        return name


class ModelFileReader:
    """Hands a model the bytes of a file its bundle recorded, checked against the recorded SHA-256."""

    def __init__(self, folder: Path, hashes: dict[str, str], meta_name: str):
        self.folder, self.hashes, self.meta_name = Path(folder), hashes, meta_name

    def read(self, name: str) -> bytes:
        relative = PurePosixPath(name)
        if name not in self.hashes or relative.is_absolute() or ".." in relative.parts:
            raise ModelIntegrityError(f"{self.folder / name}: not among the files recorded in {self.meta_name}; "
                                      "refusing to load")
        path = self.folder / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelIntegrityError(f"{path}: missing (its hash is recorded in {self.meta_name}); "
                                      "refusing to load") from None
        if hashlib.sha256(data).hexdigest() != self.hashes[name]:
            raise ModelIntegrityError(f"{path}: SHA-256 differs from the one recorded in {self.meta_name}; "
                                      "refusing to load")
        return data


@contextmanager
def writing(folder: Path) -> Iterator[ModelFileWriter]:
    """Active while a bundle pickles its model into ``folder``; ``weights/`` starts empty."""
    shutil.rmtree(Path(folder) / FILES_DIR, ignore_errors=True)
    writer = ModelFileWriter(folder)
    token = _writer.set(writer)
    try:
        yield writer
    finally:
        _writer.reset(token)


@contextmanager
def reading(folder: Path, hashes: dict[str, str], meta_name: str) -> Iterator[ModelFileReader]:
    """Active while a bundle unpickles its model from ``folder`` (``hashes``: the recorded ones)."""
    reader = ModelFileReader(folder, hashes, meta_name)
    token = _reader.set(reader)
    try:
        yield reader
    finally:
        _reader.reset(token)


def current_writer() -> ModelFileWriter | None:
    """The writer of the bundle being saved, or None (a bare pickle keeps its bytes inline)."""
    return _writer.get()


def current_reader() -> ModelFileReader | None:
    """The reader of the bundle being loaded, or None."""
    return _reader.get()
