"""Score with Spark: the same model and record contract as the local engine, over a DataFrame.

read (JSON Lines as numbered lines of bytes, split at ``\n`` only, or Parquet rows) -> validate
(``reader.parse_json_line`` and ``reader.validate_fields``, as the local reader does: bad rows to
rejects) -> set aside duplicate ids (the first line keeps it, as the local reader does) ->
``mapInPandas`` scoring with ``score.score_incidents`` -> write. The model bundle folder is
broadcast once as bytes and loaded once per Python worker (cached in this module), so a
cluster never needs the model on its disks. JSON Lines output is one file, records in input
order, byte for byte what ``score_file`` writes; Parquet output is a folder of nested columns.
Linking (``link``, as ``score_file``'s) runs on the driver after Spark has scored everything, with
the local engine's code (``score_link.link_scored``), so ``linked`` and ``course_of_conduct`` are
the local engine's.
See docs/spark.md for running it on a cluster.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import types
import typing
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from secondary_crimes.classify.bundle import ModelBundle, load_bundle
from secondary_crimes.failures import check_paths
from secondary_crimes.manifest import build_manifest, file_digest, manifest_path_for, now_iso, write_manifest
from secondary_crimes.reader import detect_format, parse_json_line, validate_fields
from secondary_crimes.records import Incident, Reject
from secondary_crimes.score import (
    COUNT_KEYS,
    ScoreSummary,
    read_reject_sample,
    reject_line,
    rejects_path_for,
    score_lines,
    show_progress,
)
from secondary_crimes.score_link import link_scored, should_link
from secondary_crimes.scored import ScoredIncident

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

STAGE_SCHEMA = "line long, seq int, incident_id string, kind string, value string"
RESULT_SCHEMA = "line long, seq int, kind string, value string, n_missed int"
# The columns of scored records written as Parquet are derived from the scored-record model
# (secondary_crimes/scored.py): record_schema().
LINK_FIELDS = ("linked", "course_of_conduct")  # what the linking pass adds (score_link)
# Spark types (pyspark.sql.types) of Python scalars.
_SCALARS = {str: "StringType", bool: "BooleanType", int: "IntegerType", float: "DoubleType",
            datetime: "StringType"}


def spark_type(annotation: Any, where: str = "") -> DataType:
    """The Spark type of a field's Python type: str, bool, int, float, datetime, Literal[str, ...],
    X | None, list[X], Annotated[X, ...] and pydantic models (structs). Every field is nullable, as
    in a DDL string. Times stay ISO 8601 text, as in the JSON Lines; character offsets fit an int."""
    from pyspark.sql import types as T  # noqa: N812

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return spark_type(args[0], where)
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        if len(present) == 1:
            return spark_type(present[0], where)
    elif origin is typing.Literal and all(isinstance(arg, str) for arg in args):
        return T.StringType()
    elif origin is list and len(args) == 1:
        return T.ArrayType(spark_type(args[0], where), containsNull=True)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return spark_schema(annotation)
    elif annotation in _SCALARS:
        return getattr(T, _SCALARS[annotation])()
    raise TypeError(f"{where or annotation}: no Spark type for {annotation!r}")


def spark_schema(model: type[BaseModel], *, exclude: tuple[str, ...] = ()) -> StructType:
    """A pydantic model's fields, in order, as a Spark struct (fields in ``exclude`` left out)."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(name, spark_type(info.annotation, f"{model.__name__}.{name}"), nullable=True)
                       for name, info in model.model_fields.items() if name not in exclude])


def record_schema(*, linked: bool) -> StructType:
    """The Parquet columns of scored records: ``ScoredIncident``'s fields, with the linking pass's only when linked."""
    return spark_schema(ScoredIncident, exclude=() if linked else LINK_FIELDS)


# Bundles loaded in this Python worker, by content hash: each executor unpacks a model once.
_WORKER_BUNDLES: dict[str, ModelBundle] = {}


def spark_session(
    master: str = "local[2]", app_name: str = "secondary-crimes-score", *, progress: bool = False
) -> SparkSession:
    """A session with the UI off and Arrow on; local masters bind to 127.0.0.1 and use this Python.

    ``progress`` shows Spark's console progress bar (stages and tasks) on stderr.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        cores = master[master.find("[") + 1 : -1] if "[" in master else "1"
        cores = str(os.cpu_count() or 2) if cores == "*" else cores.split(",")[0]
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * int(cores)))
    return (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", str(progress).lower())
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def pack_bundle(bundle: ModelBundle) -> tuple[str, bytes]:
    """The bundle folder as tar bytes, and their sha256 (the workers' cache key)."""
    with tempfile.TemporaryDirectory(prefix="sc-bundle-") as folder:
        bundle.save(folder)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(Path(folder).iterdir()):
                tar.add(path, arcname=path.name)
    data = buffer.getvalue()
    return hashlib.sha256(data).hexdigest(), data


def worker_bundle(key: str, packed: Any) -> ModelBundle:
    """The broadcast bundle, unpacked and loaded on first use in this worker process."""
    if key not in _WORKER_BUNDLES:
        folder = Path(tempfile.mkdtemp(prefix="sc-model-"))
        with tarfile.open(fileobj=io.BytesIO(packed.value), mode="r") as tar:
            tar.extractall(folder, filter="data")
        _WORKER_BUNDLES[key] = ModelBundle.load(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return _WORKER_BUNDLES[key]


def validate_line(raw: bytes, *, source: str, line: int) -> Incident | list[Reject] | None:
    """One JSON Lines line (bytes) through the record contract as ``reader.read_numbered`` reads it; None if blank."""
    row = parse_json_line(raw, source=source, line=line)
    if row.blank:
        return None
    if row.problem is not None:
        return [row.problem]
    assert row.fields is not None
    return validate_fields(row.fields, source=source, line=line)


def _validate_frames(source: str):
    def validate(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        for frame in frames:
            rows: list[tuple] = []
            for line, raw in zip(frame["line"].tolist(), frame["raw"].tolist(), strict=True):
                result = validate_line(bytes(raw), source=source, line=line)
                if result is None:
                    rows.append((line, 0, None, "blank", ""))
                elif isinstance(result, Incident):
                    rows.append((line, 0, result.incident_id, "ok", result.model_dump_json()))
                else:
                    rows.extend(
                        (line, seq, r.incident_id, "reject", r.model_dump_json()) for seq, r in enumerate(result)
                    )
            yield pd.DataFrame(rows, columns=["line", "seq", "incident_id", "kind", "value"])

    return validate


def _score_batch(batch: list[tuple[int, Incident]], bundle: ModelBundle, rows: list[tuple], source: str) -> None:
    results = score_lines([incident for _, incident in batch], bundle)
    for (line, incident), result in zip(batch, results, strict=True):
        if isinstance(result, str):  # it failed alone: a reject, as the local engine writes it
            failed = Reject(source=source, line=line, field="(record)", incident_id=incident.incident_id, reason=result)
            rows.append((line, 0, "reject", reject_line(failed).decode("utf-8")[:-1], 0))
        else:
            rows.append((line, 0, "record", result.line.decode("utf-8")[:-1], len(result.record["missed"])))
    batch.clear()


def _score_frames(source: str, key: str, packed: Any, batch_size: int):
    def score(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        bundle = worker_bundle(key, packed)
        for frame in frames:
            rows: list[tuple] = []
            batch: list[tuple[int, Incident]] = []

            for line, incident_id, value, first in zip(
                frame["line"].tolist(),
                frame["incident_id"].tolist(),
                frame["value"].tolist(),
                frame["first_line"].tolist(),
                strict=True,
            ):
                if line != first:
                    duplicate = Reject(
                        source=source,
                        line=line,
                        incident_id=incident_id,
                        field="incident_id",
                        reason="duplicate incident_id",
                    )
                    rows.append((line, 0, "reject", reject_line(duplicate).decode("utf-8")[:-1], 0))
                    continue
                batch.append((line, Incident.model_validate_json(value)))
                if len(batch) >= batch_size:
                    _score_batch(batch, bundle, rows, source)
            if batch:
                _score_batch(batch, bundle, rows, source)
            yield pd.DataFrame(rows, columns=["line", "seq", "kind", "value", "n_missed"])

    return score


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_lines(spark: SparkSession, input_path: str) -> DataFrame:
    """(line, raw): JSON Lines as their bytes, Parquet rows as JSON; lines numbered from 1 like the reader.

    Lines split at ``\n`` only and stay bytes (``textFile`` would also split at a bare ``\r`` and
    replace bytes that are not UTF-8), so each line is judged as the local reader judges it.
    """
    from pyspark.sql import functions as F  # noqa: N812

    kind = detect_format(input_path)
    if kind == "jsonl":
        lines = spark.read.option("lineSep", "\n").text(input_path).select(F.col("value").cast("binary"))
        numbered = lines.rdd.zipWithIndex().map(lambda t: (t[1] + 1, bytes(t[0][0])))
    elif kind == "parquet":
        numbered = (
            spark.read.parquet(input_path)
            .rdd.zipWithIndex()
            .map(lambda t: (t[1] + 1, json.dumps(t[0].asDict(recursive=True), default=_json_default).encode()))
        )
    else:
        raise ValueError(f"{input_path}: the Spark engine reads .jsonl or .parquet; use the local engine for CSV")
    return spark.createDataFrame(numbered, "line long, raw binary")


def _write_single_text(frame: DataFrame, order: list[str], target: Path) -> None:
    """One text file of ``value`` lines in ``order``, moved into place atomically."""
    staging = target.with_name(f".{target.name}.spark-{uuid.uuid4().hex}")
    try:
        (
            frame.repartition(1)
            .sortWithinPartitions(*order)
            .select("value")
            .write.option("lineSep", "\n")
            .text(str(staging))
        )
        parts = sorted(staging.glob("part-*"))
        partial = target.with_name(target.name + ".partial")
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out)
        os.replace(partial, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_parquet(frame: DataFrame, target: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812

    staging = target.with_name(f".{target.name}.spark-{uuid.uuid4().hex}")
    first = frame.select("value").first()
    schema = record_schema(linked=bool(first and '"linked": ' in first.value))
    known = schema.names
    # Fields a newer decide stage adds, unknown to ScoredIncident, are kept as JSON text columns.
    extra = [key for key in (json.loads(first.value) if first else {}) if key not in known]
    parsed = frame.select(
        F.from_json("value", schema).alias("r"),
        *[F.get_json_object("value", f"$.{key}").alias(key) for key in extra],
    ).select("r.*", *extra)
    parsed.write.parquet(str(staging))
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    os.replace(staging, target)


def _write_linked(session: SparkSession, records: DataFrame, output: Path, store: str | None = None) -> dict[str, int]:
    """Write the records in input order to a staging file on the driver, link them there as the local
    engine does (``score_link.link_scored``, with the person store ``store``; None: the ``link_store``
    setting), then move it into place (JSON Lines) or write it as Parquet."""
    staging = output.with_name(f"{output.name}.linking-{uuid.uuid4().hex}.jsonl")  # not hidden: Spark reads it
    try:
        _write_single_text(records, ["line"], staging)
        counts = link_scored(staging, staging, store=store)
        if output.suffix.lower() == ".jsonl":
            os.replace(staging, output)
        else:
            _write_parquet(session.read.text(str(staging)), output)
    finally:
        staging.unlink(missing_ok=True)
    return counts


def score_spark(
    input_path: str | Path,
    output_path: str | Path,
    model_path_or_uri: str | Path | None = None,
    *,
    master: str = "local[2]",
    batch_size: int = 64,
    spark: SparkSession | None = None,
    progress: bool | None = None,
    trust_unhashed: bool | None = None,
    link: bool | None = None,
    link_store: str | None = None,
) -> ScoreSummary:
    """Score ``input_path`` (.jsonl or .parquet) with Spark into ``output_path`` (.jsonl or .parquet).

    Rejects go to ``<output>.rejects.jsonl`` and the manifest to ``<output>.manifest.json``,
    as with the local engine. Pass ``spark`` to reuse a session (``master`` is then ignored).
    ``progress`` shows Spark's stage progress (None: only when stderr is a terminal).
    ``trust_unhashed`` loads a model folder with no recorded file hashes (``ModelBundle.load``).
    The run is all-or-nothing: outputs are moved into place only when Spark has finished.
    ``link``: as ``score_file``'s (None: link outputs of up to ``score_link_max_incidents``).
    ``link_store``: as ``score_file``'s (the person store of the linking pass, on the driver).
    """
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812

    started_at, started = now_iso(), time.perf_counter()
    source, output = str(input_path), Path(output_path)
    out_kind = output.suffix.lower()
    rejects_path = rejects_path_for(output)
    check_paths(Path(source), output, [rejects_path, manifest_path_for(output)], suffixes=(".jsonl", ".parquet"),
                engine="Spark", input_is_file=False, folder_output=out_kind == ".parquet")
    detect_format(source)
    output.parent.mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(model_path_or_uri, trust_unhashed=trust_unhashed)
    model_sha256 = bundle.sha256  # the loaded folder's; packing re-saves the bundle elsewhere
    key, data = pack_bundle(bundle)
    session = spark or spark_session(master, progress=show_progress(progress))
    spark_master = session.sparkContext.master
    packed = session.sparkContext.broadcast(data)
    try:
        checked = (
            read_lines(session, source)
            .mapInPandas(_validate_frames(source), STAGE_SCHEMA)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        partitions = max(2, 2 * session.sparkContext.defaultParallelism)
        valid = (
            checked.filter(F.col("kind") == "ok")
            .repartition(partitions, "incident_id")
            .withColumn("first_line", F.min("line").over(Window.partitionBy("incident_id")))
        )
        scored = valid.mapInPandas(_score_frames(source, key, packed, batch_size), RESULT_SCHEMA)
        results = (
            checked.filter(F.col("kind") == "reject")
            .select("line", "seq", "kind", "value", F.lit(0).alias("n_missed"))
            .unionByName(scored)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        totals = (
            results.agg(
                F.sum(F.when(F.col("kind") == "record", 1).otherwise(0)).alias("scored"),
                F.sum("n_missed").alias("missed_flags"),
                F.sum(F.when(F.col("n_missed") > 0, 1).otherwise(0)).alias("flagged_incidents"),
                F.sum(F.when(F.col("kind") == "reject", 1).otherwise(0)).alias("reject_entries"),
                F.countDistinct(F.when(F.col("kind") == "reject", F.col("line"))).alias("rejected_records"),
            )
            .collect()[0]
            .asDict()
        )
        totals.update(  # every line read has one row of seq 0 in checked
            checked.agg(
                F.sum(F.when(F.col("seq") == 0, 1).otherwise(0)).alias("input_records"),
                F.sum(F.when(F.col("kind") == "blank", 1).otherwise(0)).alias("blank_lines"),
            )
            .collect()[0]
            .asDict()
        )
        records = results.filter(F.col("kind") == "record")
        linking = should_link(link, int(totals.get("scored") or 0))
        if linking:
            link_counts = _write_linked(session, records, output, link_store)
        elif out_kind == ".jsonl":
            _write_single_text(records, ["line"], output)
        else:
            _write_parquet(records, output)
        _write_single_text(results.filter(F.col("kind") == "reject"), ["line", "seq"], rejects_path)
        results.unpersist()
        checked.unpersist()
    finally:
        packed.unpersist()
        if spark is None:
            session.stop()

    summary = ScoreSummary(output=output, rejects_path=rejects_path, engine="spark",
                           link=link_counts if linking else None)
    for name in COUNT_KEYS:
        setattr(summary, name, int(totals.get(name) or 0))
    local_input = Path(source)
    sha, size = file_digest(local_input)[:2] if local_input.is_file() else (None, None)
    manifest = build_manifest(
        engine="spark",
        input_path=source,
        input_sha256=sha,
        input_bytes=size,
        output_path=output,
        rejects_path=rejects_path,
        model_version=bundle.version,
        model_kind=bundle.kind,
        model_sha256=model_sha256,
        counts=summary.counts(),
        started_at=started_at,
        batch_size=batch_size,
        master=spark_master,
        link=summary.link,
    )
    summary.manifest_path = write_manifest(output, manifest)
    summary.rejects = read_reject_sample(rejects_path)
    summary.seconds = time.perf_counter() - started
    return summary
