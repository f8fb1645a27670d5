"""training/compare_scored.py: two by-source runs read at the same threshold per held-out file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_helpers import load_script

from secondary_crimes.records import GoldIncident

ROOT = Path(__file__).resolve().parents[2]
script = load_script(ROOT / "training" / "compare_scored.py", "compare_scored")


def _gold(incident_id: str, missed: list[str]) -> GoldIncident:
    return GoldIncident(incident_id=incident_id, call_log="x", offences=missed, missed=missed)


def _record(source: str, incident_id: str, threshold: float, flags: dict[str, float]) -> dict:
    entries = [{"offence": o, "probability": p, "threshold": threshold} for o, p in flags.items()]
    return {"source": source, "incident_id": incident_id, "offences": entries, "missed": entries,
            "review_priority": max(flags.values(), default=0.0)}


def test_both_runs_are_read_at_the_higher_threshold(tmp_path):
    gold = {"alpha": [_gold("a1", ["theft"]), _gold("a2", []), _gold("a3", ["burglary"])],
            "series_x": [_gold("s1", ["harassment"])]}
    # Before flagged at 0.40: a right theft (0.45) and a false assault (0.42). After, at 0.50, flags neither.
    before = [_record("alpha", "a1", 0.40, {"theft": 0.45}), _record("alpha", "a2", 0.40, {"common_assault": 0.42}),
              _record("alpha", "a3", 0.40, {"burglary": 0.8}), _record("series_x", "s1", 0.40, {"harassment": 0.9})]
    after = [_record("alpha", "a1", 0.50, {}), _record("alpha", "a2", 0.50, {}),
             _record("alpha", "a3", 0.50, {"burglary": 0.7}), _record("series_x", "s1", 0.50, {"harassment": 0.9})]
    paths = []
    for name, records in (("before", before), ("after", after)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        paths.append(path)
    table = script.compare(gold, script.read_runs(paths[0]), script.read_runs(paths[1]))
    assert table["alpha"]["threshold"] == 0.50
    # At 0.50 before's theft (0.45) and false assault (0.42) drop out: both runs find the burglary alone.
    assert table["alpha"]["before"] == table["alpha"]["after"]
    assert table["alpha"]["before"]["precision"] == 1.0 and table["alpha"]["before"]["recall"] == 0.5
    assert table["series_x"]["before"]["f1"] == pytest.approx(1.0)
    assert set(table) == {"alpha", "series_x", "pooled"}  # the series file stays out of the pool
    assert table["pooled"]["after"]["recall"] == 0.5
