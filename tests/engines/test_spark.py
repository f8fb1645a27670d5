"""The Spark engine scores exactly as the local engine does, incident for incident (local[2])."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from scoring_helpers import input_rows, write_input

from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.score import score_file

pytestmark = pytest.mark.spark

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must run the Spark tests: install a Java 17 runtime")
    pytest.skip("no Java runtime: Spark tests skipped (they run in CI)", allow_module_level=True)
pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark():
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from secondary_crimes.engines.spark import spark_session

    session = spark_session("local[2]", app_name="secondary-crimes-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return input_rows(n=40, seed=8)


def test_jsonl_equals_local_engine(tmp_path, spark, model_dir, rows):
    from secondary_crimes.engines.spark import score_spark

    source = write_input(rows, tmp_path / "in.jsonl")
    local = score_file(source, tmp_path / "local.jsonl", ModelBundle.load(model_dir), progress=False)
    remote = score_spark(source, tmp_path / "spark.jsonl", model_dir, spark=spark, batch_size=16)

    assert (tmp_path / "spark.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    rejects = (tmp_path / "spark.jsonl.rejects.jsonl").read_bytes()
    assert rejects == (tmp_path / "local.jsonl.rejects.jsonl").read_bytes()
    assert remote.counts() == local.counts()
    assert local.scored == 40 and local.rejected_records == 4 and local.flagged_incidents > 0
    manifest = json.loads((tmp_path / "spark.jsonl.manifest.json").read_text())
    assert manifest["engine"] == "spark" and manifest["counts"] == local.counts()
    assert (
        manifest["input"]["sha256"]
        == json.loads((tmp_path / "local.jsonl.manifest.json").read_text())["input"]["sha256"]
    )


def test_parquet_in_and_out_equals_local_engine(tmp_path, spark, model_dir, rows):
    import pyarrow.parquet as pq

    from secondary_crimes.engines.spark import score_spark

    source = write_input(rows, tmp_path / "in.parquet")
    local = score_file(source, tmp_path / "local.jsonl", ModelBundle.load(model_dir), progress=False)
    remote = score_spark(source, tmp_path / "spark.parquet", model_dir, spark=spark)

    expected = [json.loads(line) for line in (tmp_path / "local.jsonl").read_text().splitlines()]
    got = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert sorted(got, key=lambda r: r["incident_id"]) == sorted(expected, key=lambda r: r["incident_id"])
    rejects = (tmp_path / "spark.parquet.rejects.jsonl").read_bytes()
    assert rejects == (tmp_path / "local.jsonl.rejects.jsonl").read_bytes()
    assert remote.counts() == local.counts()


def test_linked_equals_local_engine(tmp_path, spark, model_dir):
    """Issue 14.4: the same `linked` and course-of-conduct flags as the local engine, JSON Lines and Parquet."""
    import pyarrow.parquet as pq

    from secondary_crimes.engines.spark import score_spark
    from secondary_crimes.synthetic.series import iter_planted

    rows = [{k: v for k, v in row.items() if k not in ("linked", "series")}
            for row in iter_planted(60, seed=4, series_share=0.4)]
    source = write_input(rows, tmp_path / "in.jsonl")
    local = score_file(source, tmp_path / "local.jsonl", ModelBundle.load(model_dir), progress=False, link=True)
    remote = score_spark(source, tmp_path / "spark.jsonl", model_dir, spark=spark, batch_size=8, link=True)
    assert (tmp_path / "spark.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert remote.link == local.link and local.link["linked_incidents"] >= 10
    assert json.loads((tmp_path / "spark.jsonl.manifest.json").read_text())["link"] == local.link

    score_spark(source, tmp_path / "spark.parquet", model_dir, spark=spark, link=True)
    expected = {r["incident_id"]: r for r in map(json.loads, (tmp_path / "local.jsonl").read_text().splitlines())}
    got = {r["incident_id"]: r for r in pq.read_table(tmp_path / "spark.parquet").to_pylist()}
    for key in ("linked", "course_of_conduct"):
        assert {i: r[key] for i, r in got.items()} == {i: r[key] for i, r in expected.items()}


def test_malformed_jsonl_is_judged_as_the_local_engine_judges_it(tmp_path, spark, model_dir, rows):
    """Issue 11: bytes that are not UTF-8, a bare \\r, deep nesting, huge numbers, lone surrogates, twice-given keys."""
    from secondary_crimes.engines.spark import score_spark

    good = [json.dumps(row).encode() for row in rows if not row["incident_id"].startswith("BAD")][:3]
    lines = [
        good[0],
        good[1].replace(b", ", b",\r ", 1),  # a bare \r between tokens: still one line
        b'{"incident_id": "U-1", "call_log": "caf\xe9"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"incident_id": "N-1", "call_log": ' + b"9" * 5000 + b"}",
        b'{"incident_id": "S-1", "call_log": "a \\ud800 b"}',
        b'{"incident_id": "D-1", "call_log": "a", "call_log": "b"}',
        b"",
        good[2],
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    local = score_file(source, tmp_path / "local.jsonl", ModelBundle.load(model_dir), progress=False)
    remote = score_spark(source, tmp_path / "spark.jsonl", model_dir, spark=spark)

    assert (tmp_path / "spark.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    rejects = (tmp_path / "spark.jsonl.rejects.jsonl").read_bytes()
    assert rejects == (tmp_path / "local.jsonl.rejects.jsonl").read_bytes()
    assert [json.loads(line)["line"] for line in rejects.splitlines()] == [3, 4, 5, 6, 7]
    assert remote.counts() == local.counts()
    assert (local.scored, local.rejected_records, local.blank_lines, local.input_records) == (3, 5, 1, 9)


# The Parquet columns as engines/spark.py spelled them in DDL before they were derived from
# secondary_crimes/scored.py: the derived schema must stay this one (Parquet readers depend on it).
SPAN_DDL = "struct<field:string, start:int, end:int, text:string>"
OFFENCES_DDL = (f"array<struct<offence:string, probability:double, threshold:double, reason:string, "
                f"evidence:array<{SPAN_DDL}>>>")
RECORD_DDL = (
    f"incident_id string, model_version string, offences {OFFENCES_DDL}, missed {OFFENCES_DDL}, "
    "review_priority double, domestic boolean, relationship string, reporter string, "
    "people array<struct<text:string, role:string, relationship:string, described_as:array<string>>>, "
    "incident struct<reported_at:string, closed_at:string, opening_code:string, closing_code:string, "
    "call_log:string, officer_narrative:string, recorded_crimes:array<string>, crime_recorded_at:string>, "
    f"rule_flags array<struct<rule:string, reason:string, evidence:array<{SPAN_DDL}>, offences:array<string>>>"
)
LINK_DDL = (
    "linked array<string>, course_of_conduct array<struct<offence:string, series_id:string, linked:array<string>, "
    "missed:boolean, reason:string, "
    f"evidence:array<struct<incident_id:string, reported_at:string, spans:array<{SPAN_DDL}>>>>>"
)
PINNED = Path(__file__).resolve().parents[1] / "core" / "data" / "decide_sample.jsonl"  # decide's output on the sample


def test_parquet_schema_is_derived_from_the_scored_model(spark):
    from pyspark.sql.types import DataType

    from secondary_crimes.engines.spark import record_schema, spark_schema
    from secondary_crimes.scored import ScoredIncident

    assert record_schema(linked=True) == spark_schema(ScoredIncident)
    assert record_schema(linked=False) == DataType.fromDDL(RECORD_DDL)
    assert record_schema(linked=True) == DataType.fromDDL(f"{RECORD_DDL}, {LINK_DDL}")


def _linked(records: list[dict]) -> list[dict]:
    """The records with what the linking pass adds: each linked to the one before it."""
    out = []
    for before, record in zip([None, *records], records, strict=False):
        ids = [before["incident_id"]] if before else []
        occasions = [{"incident_id": i, "reported_at": None if n else "2024-02-03T23:41:00",
                      "spans": [{"field": "call_log", "start": 0, "end": 4, "text": "2341"}][:n + 1]}
                     for n, i in enumerate([*ids, record["incident_id"]])]
        flags = [{"offence": "harassment", "series_id": "s-1", "linked": ids, "missed": bool(len(out) % 2),
                  "reason": "Harassment: ...", "evidence": occasions}] if ids else []
        out.append({**record, "linked": ids, "course_of_conduct": flags})
    return out


@pytest.mark.parametrize("linked", [False, True])
def test_scored_records_round_trip_through_the_parquet_writer(tmp_path, spark, linked):
    from pyspark.sql import functions as F  # noqa: N812

    from secondary_crimes.engines.spark import _write_parquet, record_schema
    from secondary_crimes.scored import ScoredIncident

    records = [json.loads(line) for line in PINNED.read_text(encoding="utf-8").splitlines()]
    records = _linked(records) if linked else records
    frame = spark.createDataFrame([(json.dumps(r, ensure_ascii=False),) for r in records], "value string")
    _write_parquet(frame, tmp_path / "out.parquet")

    written = spark.read.parquet(str(tmp_path / "out.parquet"))
    assert written.schema == record_schema(linked=linked)
    lines = written.select(F.to_json(F.struct("*"), {"ignoreNullFields": "false"})).collect()
    back = [ScoredIncident.model_validate_json(row[0]).record() for row in lines]
    assert sorted(back, key=lambda r: r["incident_id"]) == sorted(records, key=lambda r: r["incident_id"])
