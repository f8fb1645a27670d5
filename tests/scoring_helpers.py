"""Helpers the scoring tests share (tests/core, tests/engines, tests/link): a small real baseline model
and synthetic inputs with bad rows. The fixtures that use them are in tests/conftest.py."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from secondary_crimes.classify.baseline import BaselineModel
from secondary_crimes.classify.bundle import ModelBundle
from secondary_crimes.records import INPUT_FIELDS, GoldIncident
from secondary_crimes.synthetic.generator import iter_incidents
from secondary_crimes.training_data import label_matrix

TEST_MODEL_VERSION = "baseline-test-45"


def tiny_bundle(folder: Path) -> ModelBundle:
    """A small real baseline, fitted once per machine (pytest cache) and reused."""
    try:
        cached = ModelBundle.load(folder)
        if cached.version == TEST_MODEL_VERSION:
            return cached
    except Exception:  # missing or unreadable: fit it again
        pass
    train = [GoldIncident.model_validate(r) for r in iter_incidents(60, seed=5)]
    model = BaselineModel(max_features=3000).fit(train, label_matrix(train))
    ModelBundle(model, np.full(len(model.labels), 0.45), TEST_MODEL_VERSION, "baseline").save(folder)
    return ModelBundle.load(folder)


def model_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test model lives: pytest's cache when it is on, else a temporary folder."""
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("secondary-crimes-score-model") if cache else tmp_path_factory.mktemp("model")
    tiny_bundle(folder)
    return folder


def input_rows(n: int = 60, seed: int = 21) -> list[dict]:
    """Synthetic input records plus three bad ones: bad time, unknown label, duplicate id.

    Every third incident arrives with nothing recorded, so whatever the text supports there
    is a missed flag whichever offences the generator happened to record.
    """
    rows = [{k: r[k] for k in INPUT_FIELDS if k in r} for r in iter_incidents(n, seed=seed)]
    for row in rows[::3]:
        row["recorded_crimes"] = []
    rows.insert(5, {**rows[0], "incident_id": "BAD-1", "reported_at": "last Tuesday"})
    rows.insert(20, {**rows[1], "incident_id": "BAD-2", "recorded_crimes": ["jaywalking"]})
    rows.insert(30, dict(rows[2]))  # duplicate of an earlier id
    return rows


def write_input(rows: list[dict], path: Path) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n", encoding="utf-8")
    elif path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=INPUT_FIELDS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "recorded_crimes": json.dumps(row["recorded_crimes"])})
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=16)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@contextmanager
def interrupt_scoring(at_call: int, before_raising=None) -> Iterator[None]:
    """Within the block, the ``at_call``-th batch of ``score_file`` raises KeyboardInterrupt (as if
    killed while scoring), after ``before_raising()`` when given; the other batches score for real.
    Scoring is itself again after the block."""
    from secondary_crimes import score as score_module

    real, seen = score_module.score_incidents, 0

    def failing(batch, bundle):
        nonlocal seen
        seen += 1
        if seen == at_call:
            if before_raising is not None:
                before_raising()
            raise KeyboardInterrupt
        return real(batch, bundle)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(score_module, "score_incidents", failing)
        yield
