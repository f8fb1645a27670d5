"""Kill scoring at random points (SIGKILL, a real subprocess), re-run it, and lose nothing, double nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scoring_helpers import input_rows, interrupt_scoring, write_input

from secondary_crimes import score as score_module
from secondary_crimes.score import score_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, bundle) -> tuple[Path, bytes, bytes]:
    """An input with bad rows, and what an uninterrupted run writes for it."""
    folder = tmp_path_factory.mktemp("reference")
    source = write_input(input_rows(n=300, seed=33), folder / "in.jsonl")  # long enough to kill mid-run
    score_file(source, folder / "out.jsonl", bundle, batch_size=4, progress=False)
    return source, (folder / "out.jsonl").read_bytes(), (folder / "out.jsonl.rejects.jsonl").read_bytes()


def run_command(source: Path, output: Path, model_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "secondary_crimes.cli",
        "score",
        str(source),
        "--out",
        str(output),
        "--model",
        str(model_dir),
        "--batch-size",
        "4",
        "--quiet",
    ]


def test_sigkill_at_random_points_then_resume(tmp_path, model_dir, reference):
    source, expected_out, expected_rejects = reference
    output = tmp_path / "out.jsonl"
    checkpoint = tmp_path / "out.jsonl.checkpoint.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    seed = int(os.environ.get("KILL_TEST_SEED", time.time_ns() % 10_000))
    print(f"KILL_TEST_SEED={seed}")  # shown when the test fails: re-run with it
    rng = random.Random(seed)
    kills_mid_run = 0
    for attempt in range(5):
        process = subprocess.Popen(
            run_command(source, output, model_dir), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if attempt == 0:  # during start-up (imports and model loading take over a second)
            time.sleep(rng.uniform(0.05, 1.0))
        else:  # once it is scoring: wait for a checkpoint to move, then a random moment within a few batches
            deadline = time.monotonic() + 30
            before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else 0
            while (
                time.monotonic() < deadline
                and process.poll() is None
                and (not checkpoint.exists() or checkpoint.stat().st_mtime_ns == before)
            ):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.1))
        if process.poll() is not None:
            break  # finished before the kill
        kills_mid_run += checkpoint.exists()
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not output.exists() or output.read_bytes() == expected_out  # never a half output
    final = subprocess.run(
        run_command(source, output, model_dir), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    assert kills_mid_run >= 1
    assert output.read_bytes() == expected_out
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == expected_rejects
    assert not checkpoint.exists() and not (tmp_path / "out.jsonl.partial").exists()


def test_crash_mid_batch_and_while_finishing(tmp_path, bundle, reference, monkeypatch):
    """Deterministic versions: a half-written batch is dropped; a crash between renames is finished."""
    source, expected_out, expected_rejects = reference
    output = tmp_path / "out.jsonl"

    def half_written() -> None:
        with (tmp_path / "out.jsonl.partial").open("ab") as handle:
            handle.write(b'{"incident_id": "half-writ')  # as if killed mid-write

    with interrupt_scoring(7, half_written), pytest.raises(KeyboardInterrupt):
        score_file(source, output, bundle, batch_size=4, progress=False)

    real_replace = os.replace

    def replace_once(src, dst):
        monkeypatch.setattr(score_module.os, "replace", fail_replace)
        return real_replace(src, dst)

    def fail_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(score_module.os, "replace", replace_once)  # rejects moved, output not
    with pytest.raises(KeyboardInterrupt):
        score_file(source, output, bundle, batch_size=4, progress=False)
    monkeypatch.setattr(score_module.os, "replace", real_replace)
    assert (tmp_path / "out.jsonl.partial").exists() and not output.exists()

    summary = score_file(source, output, bundle, batch_size=4, progress=False)
    assert summary.resumed
    assert output.read_bytes() == expected_out
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == expected_rejects


def test_an_interrupted_run_of_another_input_leaves_the_finished_output(tmp_path, bundle):
    first = write_input(input_rows(n=8, seed=2), tmp_path / "first.jsonl")
    second = write_input(input_rows(n=12, seed=3), tmp_path / "second.jsonl")
    output = tmp_path / "out.jsonl"
    score_file(first, output, bundle, progress=False)
    finished = output.read_bytes()
    with interrupt_scoring(2), pytest.raises(KeyboardInterrupt):  # leaves second's checkpoint behind
        score_file(second, output, bundle, batch_size=4, progress=False)
    assert output.read_bytes() == finished
    assert score_file(first, output, bundle, progress=False).already_done
    summary = score_file(second, output, bundle, batch_size=4, progress=False)
    assert summary.resumed and summary.scored == 12
    assert score_file(first, output, bundle, progress=False).scored == 8
