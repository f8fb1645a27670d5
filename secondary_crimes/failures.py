"""Errors that end a scoring run (one line each, naming the file), and short descriptions of any error.

A bad *record* never ends a run: it goes to the rejects file. These are for what is wrong with a
whole file: an input that cannot be read, an output that cannot be written, a run already writing.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path


class ScoreError(Exception):
    """A scoring run cannot start or go on; the message names the file and says why."""


class InputError(ScoreError, ValueError):
    """The input as a whole cannot be read (its format, header or file), not one record of it."""


class OutputError(ScoreError, ValueError):
    """The output cannot go where asked: over the input, onto a folder, in a format the engine does not write."""


class OutputBusyError(ScoreError, RuntimeError):
    """Another run holds the output's lock."""


def brief(error: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, cut to ``limit`` characters (for rejects and errors)."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_line(error: BaseException) -> str:
    """One line for the command line, naming the file: OSErrors by their filename, ours by message."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or brief(error)}"
    return " ".join(str(error).split()) or brief(error)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_paths(input_path: Path, output: Path, side_files: Iterable[Path], *, suffixes: tuple[str, ...],
                engine: str, input_is_file: bool = True, folder_output: bool = False) -> None:
    """Refuse a run before it writes anything: an input that is no file, an output (or one of its side
    files: rejects, partial, checkpoint, manifest, lock) that is the input, a folder, or a format
    ``engine`` does not write."""
    if input_is_file and not input_path.exists():
        raise InputError(f"{input_path}: no such input file")
    if input_is_file and not input_path.is_file():
        raise InputError(f"{input_path}: not a file; name one .jsonl, .csv or .parquet file")
    if output.is_dir() and not folder_output:
        raise OutputError(f"{output}: is a folder; --out names the output file")
    if output.suffix.lower() not in suffixes:
        hint = "; for Parquet use --engine spark" if engine == "local" else ""
        raise OutputError(f"{output}: the {engine} engine writes {', '.join(suffixes)} files{hint}")
    for path in (output, *side_files):
        if _same_file(path, input_path):
            raise OutputError(f"{path}: is the input file; write the output somewhere else")


def exit_on_error(main: Callable[..., int]) -> Callable[..., int]:
    """A ``main`` whose errors print one ``error:`` line on stderr and return 2, not a traceback."""

    @functools.wraps(main)
    def run(*args: object, **kwargs: object) -> int:
        try:
            return main(*args, **kwargs)
        except (ScoreError, OSError, ValueError) as error:
            print(f"error: {error_line(error)}", file=sys.stderr)
        except Exception as error:
            print(f"error: {brief(error)}", file=sys.stderr)
        return 2

    return run
