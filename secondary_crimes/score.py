"""Score a file of incidents: read -> analyse -> decide -> write, streaming, resumable, with progress.

``score_file`` reads the input in a stream (JSON Lines, CSV or Parquet), scores it in batches
of ``batch_size`` incidents and appends each batch to ``<output>.partial`` (bad records to
``<output>.rejects.jsonl.partial``), checkpointing after every batch
(``secondary_crimes.checkpoint``). Memory is bounded by one batch, plus the reader's set of
incident ids seen (for duplicate detection: about 100 bytes an id, ~100 MB for 1,000,000).
A run killed at any point and started again with the same input and model carries on from
its last checkpoint (a model is its version and the SHA-256 of its files, ``ModelBundle.sha256``:
another model refuses to resume; ``resume=False``, ``--no-resume``, starts over). The finished
output holds every accepted incident exactly once, in input order, byte for byte what an
uninterrupted run writes. After the last batch, a linking pass (``score_link``: on by default
for files of up to ``score_link_max_incidents`` incidents) links the whole output into courses of
conduct and rewrites it atomically with ``linked`` and ``course_of_conduct``; the checkpoint
records that it ran, so a run killed while linking links again on resume. Files are renamed into
place only when complete, then ``<output>.manifest.json`` records the input hash, model, counts
and linking.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from secondary_crimes.checkpoint import Checkpoint, ModelMismatchError, truncate_to
from secondary_crimes.classify.base import Analysis
from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.decide import decide
from secondary_crimes.failures import OutputBusyError, brief, check_paths
from secondary_crimes.manifest import (
    build_manifest,
    file_digest,
    manifest_path_for,
    now_iso,
    read_manifest,
    write_manifest,
)
from secondary_crimes.reader import ReadStats, check_input, detect_format, read_numbered
from secondary_crimes.records import Incident, Reject
from secondary_crimes.score_link import link_scored, should_link
from secondary_crimes.settings import get_settings

# How many rejects a summary keeps in memory to show; all of them are in the rejects file.
REJECT_SAMPLE = 1000
# Data files are fsynced (durable against power loss, not only kill -9) at most this often.
FSYNC_SECONDS = 5.0
COUNT_KEYS = ("scored", "rejected_records", "reject_entries", "flagged_incidents", "missed_flags", "blank_lines",
              "input_records")
# What the local engine writes: JSON Lines (the Spark engine writes Parquet too).
LOCAL_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclass
class ScoreSummary:
    scored: int = 0
    rejected_records: int = 0
    flagged_incidents: int = 0
    missed_flags: int = 0
    reject_entries: int = 0  # one per bad field; a record can have several
    blank_lines: int = 0
    input_records: int = 0  # every record read: scored + rejected_records + blank_lines
    rejects: list[Reject] = field(default_factory=list)  # the first REJECT_SAMPLE of them
    output: Path | None = None
    rejects_path: Path | None = None
    manifest_path: Path | None = None
    engine: str = "local"
    resumed: bool = False  # this run carried on from a checkpoint
    already_done: bool = False  # a manifest showed the same input and model already scored
    seconds: float = 0.0
    link: dict[str, int] | None = None  # the linking pass's counts; None when the output was not linked

    def line(self) -> str:
        text = (
            f"scored {self.scored} incidents, {self.missed_flags} missed-crime flags on "
            f"{self.flagged_incidents} incidents, {self.rejected_records} records rejected"
        )
        if self.input_records:
            added = self.scored + self.rejected_records + self.blank_lines
            text += (f"; {self.input_records} input records = {self.scored} scored + {self.rejected_records} rejected"
                     f" + {self.blank_lines} blank" if added == self.input_records else
                     f"; {self.input_records} input records but {added} scored, rejected or blank: counts differ")
        if self.link is not None:
            link = self.link
            text += (f"; linked {link['linked_incidents']} incidents into {link['series']} series, "
                     f"{link['conduct_flags']} course-of-conduct flags ({link['missed_conduct_flags']} missed)")
        if self.already_done:
            text += " (already complete: nothing to do)"
        elif self.resumed:
            text += " (resumed from checkpoint)"
        return text

    def counts(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in COUNT_KEYS}


@dataclass(frozen=True)
class Scored:
    """An incident's scored record and its output line."""

    record: dict[str, Any]
    line: bytes


def score_lines(incidents: list[Incident], bundle: ModelBundle) -> list[Scored | str]:
    """Score a batch into output lines. When the batch fails, each incident is scored alone, so a
    failure costs only the incident that causes it: for that one, why (a str) instead of a line.
    OSError and MemoryError are no incident's fault and end the run."""
    try:
        return [Scored(record, record_line(record)) for record in score_incidents(incidents, bundle)]
    except (OSError, MemoryError):
        raise
    except Exception as error:
        if len(incidents) == 1:
            return [f"could not be scored: {brief(error)}"]
    return [result for incident in incidents for result in score_lines([incident], bundle)]


def score_incidents(incidents: list[Incident], bundle: ModelBundle) -> list[dict[str, Any]]:
    """Score a batch of valid incidents with one model bundle."""
    return decide_all(incidents, bundle.model.analyse(incidents, bundle.thresholds), bundle)


def decide_all(incidents: list[Incident], analyses: list[Analysis], bundle: ModelBundle) -> list[dict[str, Any]]:
    """The scored records of incidents from their analyses by the bundle's model."""
    settings = get_settings()
    return [
        decide(
            incident,
            analysis,
            bundle.thresholds,
            model_version=bundle.version,
            decimals=settings["probability_decimals"],
            max_evidence=settings["max_evidence_per_offence"],
        )
        for incident, analysis in zip(incidents, analyses, strict=True)
    ]


def record_line(record: dict[str, Any]) -> bytes:
    """One output line; both engines write exactly these bytes for a record."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def reject_line(reject: Reject) -> bytes:
    return (reject.model_dump_json() + "\n").encode("utf-8")


def rejects_path_for(output: str | Path) -> Path:
    """``<output>.rejects.jsonl``: by full name, so ``x.jsonl`` and ``x.json`` never share one."""
    output = Path(output)
    return output.with_name(output.name + ".rejects.jsonl")


def checkpoint_path_for(output: Path) -> Path:
    return output.with_name(output.name + ".checkpoint.json")


def partial_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def show_progress(progress: bool | None) -> bool:
    """None means: show it only when stderr is a terminal."""
    if progress is None:
        return sys.stderr.isatty()
    return progress


def estimate_records(path: Path, newlines: int) -> int | None:
    """Roughly how many records the input holds (for the progress bar's ETA)."""
    kind = detect_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception:
            return None
    if kind == "csv":
        return max(newlines - 1, 0)  # less the header; quoted line breaks make it an overestimate
    return newlines or None


def read_reject_sample(path: Path, limit: int = REJECT_SAMPLE) -> list[Reject]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [Reject.model_validate_json(line) for line in islice(handle, limit)]


class _OutputLock:
    """An exclusive lock on ``<output>.lock`` so two runs never write one output together."""

    def __init__(self, output: Path):
        self.path = output.with_name(output.name + ".lock")
        self.handle: IO[str] | None = None

    def __enter__(self) -> _OutputLock:
        self.handle = self.path.open("w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise OutputBusyError(f"{self.path}: another run is writing this output (locked)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.handle is not None
        self.path.unlink(missing_ok=True)
        self.handle.close()


class _Run:
    """One invocation of ``score_file``: its paths, checkpoint and open files."""

    def __init__(self, input_path: Path, output: Path, bundle: ModelBundle, batch_size: int):
        self.input_path, self.output, self.bundle, self.batch_size = input_path, output, bundle, batch_size
        self.rejects = rejects_path_for(output)
        self.output_partial = partial_path_for(output)
        self.rejects_partial = partial_path_for(self.rejects)
        self.checkpoint_path = checkpoint_path_for(output)
        self.input_sha256, self.input_bytes, self.newlines = file_digest(input_path)
        self.summary = ScoreSummary(output=output, rejects_path=self.rejects, engine="local")
        self.state = Checkpoint(
            input_sha256=self.input_sha256,
            model_version=bundle.version,
            model_sha256=bundle.sha256,
            batch_size=batch_size,
            started_at=now_iso(),
        )

    def clear(self) -> None:
        for path in (self.output_partial, self.rejects_partial, self.checkpoint_path):
            path.unlink(missing_ok=True)

    def already_done(self, link: bool | None) -> bool:
        """A manifest shows this input scored by this model (and linked or not as ``link`` asks, when it asks)."""
        manifest = read_manifest(self.output)
        return bool(
            manifest
            and manifest.get("engine") == "local"
            and manifest["input"]["sha256"] == self.input_sha256
            and manifest["model"]["version"] == self.bundle.version
            and manifest["model"].get("sha256") == self.bundle.sha256
            and self.output.exists()
            and self.rejects.exists()
            and (link is None or (manifest.get("link") is not None) == link)
        )

    def restore(self) -> bool:
        """Carry on from a checkpoint of this input; False (and a clean slate) when there is none.

        Raises ``ModelMismatchError`` when another model scored the unfinished run.
        """
        saved = Checkpoint.load(self.checkpoint_path)
        if saved is None or saved.input_sha256 != self.input_sha256:
            self.clear()
            return False
        if not saved.same_model(model_version=self.bundle.version, model_sha256=self.bundle.sha256):
            raise ModelMismatchError(
                f"{self.output}: the unfinished run of this input used model {saved.model_version} "
                f"(sha256 {_short(saved.model_sha256)}), not {self.bundle.version} (sha256 "
                f"{_short(self.bundle.sha256)}); resume with that model, or pass --no-resume to start over"
            )
        if saved.done:  # killed while moving files into place: finish() completes it
            if all(
                partial.exists() or final.exists()
                for partial, final in ((self.output_partial, self.output), (self.rejects_partial, self.rejects))
            ):
                self.state = saved
                return True
            self.clear()
            return False
        if not (
            truncate_to(self.output_partial, saved.output_bytes)
            and truncate_to(self.rejects_partial, saved.rejects_bytes)
        ):
            self.clear()  # partial files shorter than the checkpoint says: start over
            return False
        saved.resumes += 1
        self.state = saved
        return True

    def finish(self) -> ScoreSummary:
        """Move finished files into place (idempotent: a kill here is finished by a re-run)."""
        for partial, final in ((self.rejects_partial, self.rejects), (self.output_partial, self.output)):
            if partial.exists():
                os.replace(partial, final)
            elif not final.exists():
                raise RuntimeError(f"{final}: finished run lost its output; re-run with resume=False")
        for key in COUNT_KEYS:
            setattr(self.summary, key, self.state.counts.get(key, 0))
        self.summary.link = self.state.link
        manifest = build_manifest(
            engine="local",
            input_path=self.input_path,
            input_sha256=self.input_sha256,
            input_bytes=self.input_bytes,
            output_path=self.output,
            rejects_path=self.rejects,
            model_version=self.bundle.version,
            model_kind=self.bundle.kind,
            model_sha256=self.bundle.sha256,
            counts=self.summary.counts(),
            started_at=self.state.started_at,
            batch_size=self.batch_size,
            resumes=self.state.resumes,
            link=self.state.link,
        )
        self.summary.manifest_path = write_manifest(self.output, manifest)
        self.checkpoint_path.unlink(missing_ok=True)
        self.summary.rejects = read_reject_sample(self.rejects)
        return self.summary


def _short(sha256: str | None) -> str:
    return sha256[:12] if sha256 else "not recorded"


def score_file(
    input_path: str | Path,
    output_path: str | Path,
    bundle: ModelBundle,
    *,
    batch_size: int = 64,
    progress: bool | None = None,
    resume: bool = True,
    link: bool | None = None,
    link_store: str | None = None,
) -> ScoreSummary:
    """Score every valid incident of ``input_path`` into ``output_path`` (JSON Lines).

    Bad records, and any incident that fails to score, go to ``<output>.rejects.jsonl`` with their
    line, field and reason; the batch goes on. A file that cannot be read or written at all
    raises ``failures.ScoreError`` or ``OSError`` naming it, before anything is written where it
    can be told. With ``resume`` (the default) a run carries on from the checkpoint a killed
    run left, and a run whose manifest shows the same input and model already scored does
    nothing; ``resume=False`` starts again from the first record. A checkpoint of this input
    left by another model (version or file hash) raises ``ModelMismatchError`` rather than
    mixing two models' records. ``link`` adds ``linked`` and ``course_of_conduct`` to every record
    (``score_link``): True always, False never, None (the default) when at most
    ``score_link_max_incidents`` incidents were scored. ``link_store``: the person store the linking pass
    uses (a database URL, ``queue`` for the queue's database, "" for none); None: the ``link_store``
    setting. ``progress`` shows a bar of incidents/s and ETA on stderr (None: only when stderr is a terminal).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    input_path, output = Path(input_path), Path(output_path)
    side_files = [rejects_path_for(output), checkpoint_path_for(output), manifest_path_for(output),
                  partial_path_for(output), partial_path_for(rejects_path_for(output)), _OutputLock(output).path]
    check_paths(input_path, output, side_files, suffixes=LOCAL_SUFFIXES, engine="local")
    check_input(input_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _score_locked(input_path, output, bundle, batch_size, progress, resume, link, link_store)
    except OSError as error:
        if error.filename is None:  # a write with no file named (disk full): name the output
            raise OSError(error.errno, error.strerror or brief(error), str(output)) from error
        raise


def _score_locked(input_path: Path, output: Path, bundle: ModelBundle, batch_size: int, progress: bool | None,
                  resume: bool, link: bool | None, link_store: str | None = None) -> ScoreSummary:
    started = time.perf_counter()
    with _OutputLock(output):
        run = _Run(input_path, output, bundle, batch_size)
        if resume and run.already_done(link):
            manifest = read_manifest(output) or {}
            summary = run.summary
            for key in COUNT_KEYS:
                setattr(summary, key, manifest.get("counts", {}).get(key, 0))
            summary.already_done, summary.manifest_path = True, manifest_path_for(output)
            summary.link = manifest.get("link")
            summary.rejects = read_reject_sample(run.rejects)
            return summary
        if not resume:
            run.clear()
        run.summary.resumed = run.restore() if resume else False
        if not run.state.done:
            _score_stream(run, show_progress(progress))
        if run.state.link is None and should_link(link, run.state.counts.get("scored", 0)):
            _link_pass(run, show_progress(progress), link_store)
        summary = run.finish()
    summary.seconds = time.perf_counter() - started
    return summary


def _link_pass(run: _Run, progress: bool, store: str | None = None) -> None:
    """Link the whole scored output and rewrite it in place (atomically), then checkpoint that it ran.
    ``store``: the person store (``score_link.link_scored``; None: the ``link_store`` setting)."""
    source = run.output_partial if run.output_partial.exists() else run.output  # killed between renames
    if progress:
        print(f"linking {run.state.counts.get('scored', 0)} scored incidents into courses of conduct",
              file=sys.stderr)
    run.state.link = link_scored(source, source, store=store)
    run.state.save(run.checkpoint_path, fsync=True)


def _score_stream(run: _Run, progress: bool) -> None:
    from tqdm.auto import tqdm

    state = run.state
    counts = {key: state.counts.get(key, 0) for key in COUNT_KEYS}
    done_records = counts["scored"] + counts["rejected_records"]
    total = estimate_records(run.input_path, run.newlines)
    last_fsync = time.monotonic()
    bar = tqdm(
        total=total,
        initial=done_records,
        unit=" incidents",
        smoothing=0.05,
        mininterval=0.5,
        dynamic_ncols=True,
        disable=not progress,
        file=sys.stderr,
        desc=f"scoring {run.input_path.name}",
    )
    with bar, run.output_partial.open("ab") as out, run.rejects_partial.open("ab") as rejects_out:

        def checkpoint(batch: list[tuple[int, Incident]], consumed: int, new_records: int, *, final: bool) -> None:
            nonlocal last_fsync, skipping
            results = score_lines([incident for _, incident in batch], run.bundle) if batch else []
            for (line, incident), result in zip(batch, results, strict=True):
                if isinstance(result, str):  # it failed alone: a reject, after the reader's for this batch
                    rejects_out.write(reject_line(Reject(source=str(run.input_path), line=line, field="(record)",
                                                         incident_id=incident.incident_id, reason=result)))
                    counts["reject_entries"] += 1
                    counts["rejected_records"] += 1
                    continue
                out.write(result.line)
                counts["scored"] += 1
                counts["missed_flags"] += len(result.record["missed"])
                counts["flagged_incidents"] += bool(result.record["missed"])
            counts["input_records"], counts["blank_lines"] = stats.records, stats.blank_lines
            out.flush()
            rejects_out.flush()
            durable = final or time.monotonic() - last_fsync >= FSYNC_SECONDS
            if durable:
                os.fsync(out.fileno())
                os.fsync(rejects_out.fileno())
                last_fsync = time.monotonic()
            state.consumed, state.output_bytes, state.rejects_bytes = consumed, out.tell(), rejects_out.tell()
            state.counts, state.done = dict(counts), final
            state.save(run.checkpoint_path, fsync=durable)
            if skipping:
                bar.set_postfix_str("", refresh=False)
                skipping = False
            bar.update(new_records)

        consumed = state.consumed
        skipping = bool(consumed)
        if skipping:  # the reader re-validates the consumed records (no scoring) to rebuild its id set
            bar.set_postfix_str(f"resuming: skipping {consumed} records already scored")
        batch: list[tuple[int, Incident]] = []
        new_records = 0  # records (incidents or rejected records) since the last checkpoint
        stats = ReadStats()  # counts from the first record on, skipped ones too
        for item in islice(read_numbered(run.input_path, stats=stats), state.consumed, None):
            consumed += 1
            if isinstance(item, Reject):
                rejects_out.write(reject_line(item))
                counts["reject_entries"] += 1
                if item.line != state.last_reject_line:  # one record's rejects come together
                    counts["rejected_records"] += 1
                    new_records += 1
                    state.last_reject_line = item.line
                continue
            batch.append(item)
            new_records += 1
            if len(batch) >= run.batch_size:
                checkpoint(batch, consumed, new_records, final=False)
                batch, new_records = [], 0
        checkpoint(batch, consumed, new_records, final=True)
