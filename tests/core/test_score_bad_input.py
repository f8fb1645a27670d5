"""Issue 11, bad input: one record never stops a batch, no row is lost silently, whole-file errors are one line."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import pytest
from scoring_helpers import input_rows, read_jsonl, write_input
from typer.testing import CliRunner

from secondary_crimes import score as score_module
from secondary_crimes.cli import app
from secondary_crimes.failures import OutputError
from secondary_crimes.score import score_file

runner = CliRunner()


@pytest.fixture(scope="module")
def good() -> list[dict]:
    rows = [row for row in input_rows(n=6, seed=4) if not row["incident_id"].startswith("BAD")][:6]
    return [{**row, "recorded_crimes": []} for row in rows]


def bad_jsonl_lines(good: list[dict]) -> list[bytes]:
    """Good records with every kind of unreadable or unscorable line between them."""
    first = good[0]
    return [
        json.dumps(good[0]).encode(),
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError
        b'{"incident_id": "N-1", "call_log": ' + b"9" * 5000 + b"}",  # int over 4,300 digits
        json.dumps({**first, "incident_id": "S-1", "call_log": "a \ud800 b"}).encode(),  # escaped lone surrogate
        json.dumps({**first, "incident_id": "\ud800"}).encode(),
        json.dumps(good[1]).encode(),
        json.dumps({**first, "incident_id": "L-1", "officer_narrative": "x" * 1_000_001}).encode(),  # spaCy E088
        json.dumps({**first, "incident_id": "B-1"}).encode().replace(b'"B-1"', b'"B-1\xff"'),  # not UTF-8
        b"",
        json.dumps(good[2]).encode(),
    ]


def test_one_record_never_stops_the_batch_and_counts_add_up(tmp_path, bundle, good):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(bad_jsonl_lines(good)) + b"\n")
    summary = score_file(source, tmp_path / "out.jsonl", bundle, batch_size=2, progress=False)

    assert [r["incident_id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [g["incident_id"] for g in good[:3]]
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3, 4, 5, 7, 8]
    assert all(r["reason"] for r in rejects)
    assert (summary.scored, summary.rejected_records, summary.blank_lines, summary.input_records) == (3, 6, 1, 10)
    assert "10 input records = 3 scored + 6 rejected + 1 blank" in summary.line()


def test_an_incident_that_fails_to_score_is_rejected_alone(tmp_path, bundle, good, monkeypatch):
    real = score_module.score_incidents

    def fragile(incidents, model_bundle):
        if any(i.incident_id == good[1]["incident_id"] for i in incidents):
            raise ValueError("[E088] Text of length 1000001 exceeds maximum of 1000000.\nmore detail")
        return real(incidents, model_bundle)

    monkeypatch.setattr(score_module, "score_incidents", fragile)
    source = write_input(good, tmp_path / "in.jsonl")  # plus one broken JSON line at the end
    summary = score_file(source, tmp_path / "out.jsonl", bundle, batch_size=4, progress=False)

    assert [r["incident_id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [
        g["incident_id"] for g in good if g is not good[1]]
    failed = [r for r in read_jsonl(tmp_path / "out.jsonl.rejects.jsonl") if r["field"] == "(record)"]
    assert failed == [{"source": str(source), "line": 2, "incident_id": good[1]["incident_id"], "field": "(record)",
                       "reason": "could not be scored: ValueError: [E088] Text of length 1000001 exceeds maximum "
                                 "of 1000000."}]
    assert (summary.scored, summary.rejected_records, summary.input_records) == (5, 2, 7)


def test_csv_rows_are_never_lost_silently(tmp_path, bundle, good):
    header = "incident_id,call_log\n"
    rows = [f"{g['incident_id']},caller says her partner hit her\n" for g in good[:4]]
    source = tmp_path / "in.csv"
    source.write_bytes(b"\xef\xbb\xbf" + (header + rows[0]).encode() + b"X-1,caf\xe9\n"
                       + (rows[1] + 'X-2,"never closed\n' + rows[2] + rows[3]).encode())
    summary = score_file(source, tmp_path / "out.jsonl", bundle, progress=False)

    assert [r["incident_id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [g["incident_id"] for g in good[:4]]
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert [(r["line"], r["reason"].split(" (")[0].split(":")[0]) for r in rejects] == [
        (3, "undecodable text"), (5, "unclosed quote")]
    assert (summary.scored, summary.rejected_records, summary.input_records) == (4, 2, 6)


def test_outputs_never_clobber_the_input_or_each_other(tmp_path, bundle, good):
    source = write_input(good, tmp_path / "in.jsonl")
    with pytest.raises(OutputError, match="is the input file"):
        score_file(source, source, bundle, progress=False)
    side = write_input(good, tmp_path / "o.jsonl.rejects.jsonl")  # an input where o.jsonl's rejects would go
    with pytest.raises(OutputError, match="is the input file"):
        score_file(side, tmp_path / "o.jsonl", bundle, progress=False)
    with pytest.raises(OutputError, match="for Parquet use --engine spark"):
        score_file(source, tmp_path / "x.parquet", bundle, progress=False)
    assert source.read_bytes() == write_input(good, tmp_path / "again.jsonl").read_bytes()

    score_file(source, tmp_path / "x.jsonl", bundle, progress=False)
    score_file(write_input(good[:2], tmp_path / "small.jsonl"), tmp_path / "x.json", bundle, progress=False)
    assert len(read_jsonl(tmp_path / "x.jsonl.rejects.jsonl")) == 1  # the broken line of each input
    assert read_jsonl(tmp_path / "x.json.rejects.jsonl")[0]["source"].endswith("small.jsonl")
    assert not (tmp_path / "x.parquet").exists()


# Whole-file errors: one line naming the file, a non-zero exit, no traceback --------------------------------


def score_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["score", *args, "--quiet"])
    return result.exit_code, result.output


def assert_one_line_error(code: int, output: str, *names: str) -> None:
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output and all(name in lines[0] for name in names), output


@pytest.fixture()
def source(tmp_path, good) -> Path:
    return write_input(good, tmp_path / "in.jsonl")


def test_folder_or_txt_input(tmp_path, model_dir):
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    for name in ("folder.jsonl", "notes.txt"):
        code, output = score_cli(str(tmp_path / name), "--out", str(tmp_path / "o.jsonl"), "--model", str(model_dir))
        assert_one_line_error(code, output, name)


def test_out_is_a_folder_or_the_input(tmp_path, model_dir, source):
    (tmp_path / "outdir").mkdir()
    code, output = score_cli(str(source), "--out", str(tmp_path / "outdir"), "--model", str(model_dir))
    assert_one_line_error(code, output, "outdir: is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "outdir"]  # no .partial, lock or checkpoint
    assert_one_line_error(*score_cli(str(source), "--out", str(source), "--model", str(model_dir)), "in.jsonl")


def test_lock_contention(tmp_path, model_dir, source):
    import fcntl

    with (tmp_path / "o.jsonl.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, output = score_cli(str(source), "--out", str(tmp_path / "o.jsonl"), "--model", str(model_dir))
    assert_one_line_error(code, output, "o.jsonl.lock", "another run")


def test_disk_full(tmp_path, model_dir, source, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(score_module.os, "fsync", full)
    code, output = score_cli(str(source), "--out", str(tmp_path / "o.jsonl"), "--model", str(model_dir))
    assert_one_line_error(code, output, "o.jsonl", "No space left on device")


def test_permission_denied(tmp_path, model_dir, source, monkeypatch):
    def denied(path, *args, **kwargs):  # tests may run as root, where chmod stops nothing
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(score_module, "file_digest", denied)
    code, output = score_cli(str(source), "--out", str(tmp_path / "o.jsonl"), "--model", str(model_dir))
    assert_one_line_error(code, output, "in.jsonl", "Permission denied")


def test_corrupt_parquet(tmp_path, model_dir):
    (tmp_path / "in.parquet").write_bytes(b"PAR1" + os.urandom(64) + b"PAR1")
    code, output = score_cli(str(tmp_path / "in.parquet"), "--out", str(tmp_path / "o.jsonl"), "--model",
                             str(model_dir))
    assert_one_line_error(code, output, "in.parquet")
    assert not list(tmp_path.glob("o.jsonl*"))


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
@pytest.mark.parametrize("rehash", [False, True], ids=["hash differs", "hash updated"])
def test_broken_model_file(tmp_path, model_dir, source, damage, rehash):
    import shutil

    broken = Path(shutil.copytree(model_dir, tmp_path / "model"))
    joblib_file = broken / "model.joblib"
    data = joblib_file.read_bytes()
    joblib_file.write_bytes(data[: len(data) // 3] if damage == "truncated" else os.urandom(len(data)))
    meta = json.loads((broken / "meta.json").read_text())
    if rehash and isinstance(meta.get("files"), dict):  # recorded hashes match: the unpickling itself fails
        meta["files"]["model.joblib"] = hashlib.sha256(joblib_file.read_bytes()).hexdigest()
        (broken / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    code, output = score_cli(str(source), "--out", str(tmp_path / "o.jsonl"), "--model", str(broken))
    assert_one_line_error(code, output, str(broken))
