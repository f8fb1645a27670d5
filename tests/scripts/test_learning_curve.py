"""training/learning_curve.py: a row per k, labelled incidents trained on and never scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from script_helpers import load_script

from secondary_crimes.records import GoldIncident
from secondary_crimes.train import TrainConfig
from secondary_crimes.training_data import DataConfig, Dataset, synthetic

SCRIPT = Path(__file__).resolve().parents[2] / "training" / "learning_curve.py"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


curve = load_script(SCRIPT, "learning_curve")


def _files(n: int = 30, names: tuple[str, ...] = ("alpha", "beta", "gamma", "series_delta")
           ) -> dict[str, list[GoldIncident]]:
    """Tiny 'forces' of synthetic incidents (ids made unique per file); a series file."""
    out: dict[str, list[GoldIncident]] = {}
    for number, name in enumerate(names):
        rows = synthetic(n, seed=100 + number)
        out[name] = [row.model_copy(update={"incident_id": f"{name}-{i}"}) for i, row in enumerate(rows)]
    return out


def _oracle(seen: list):
    def score(config: TrainConfig, train: Dataset, rows: list[GoldIncident]) -> list[dict]:
        seen.append(({row.incident_id for row in train.incidents}, [row.incident_id for row in rows]))
        return [{"incident_id": g.incident_id, "offences": [{"offence": o} for o in g.offences or []],
                 "missed": [{"offence": o} for o in g.missed or []], "review_priority": 1.0 if g.missed else 0.0}
                for g in rows]
    return score


def test_a_row_per_k_and_no_labelled_incident_is_scored() -> None:
    by_source = _files()
    background = Dataset(synthetic(10, seed=1), {"synthetic": 10})
    config = TrainConfig(data=DataConfig(corpus=[], sample=[], synthetic_n=0))
    seen: list = []
    rows = curve.learning_curve(config, by_source, background, ks=(0, 5, 15), seeds=(0, 1), min_test=10,
                                score=_oracle(seen))
    assert [row["k"] for row in rows] == [0, 5, 15]
    assert [row["files"] for row in rows] == [3, 3, 3] and [row["seeds"] for row in rows] == [1, 2, 2]
    assert [row["scored"] for row in rows] == [90, 75, 45]
    assert all(row["missed_f1"] == 1.0 and set(row["per_file"]) == {"alpha", "beta", "gamma"} for row in rows)
    assert len(seen) == 3 + 6 + 6  # k = 0 is fitted once per file, with no seed to vary
    for trained, scored in seen:
        assert not trained & set(scored)  # the scored rest was never trained on
        held = scored[0].split("-")[0]
        assert sum(i.startswith(held) for i in trained) in (0, 5, 15)
        assert sum(i.startswith("series_delta") for i in trained) == 30  # series files train, never held out
    # A larger k adds to a smaller one (one shuffle per file and seed).
    small, _ = curve.labelled_split(by_source["alpha"], "alpha", 5, 1)
    large, _ = curve.labelled_split(by_source["alpha"], "alpha", 15, 1)
    assert large[:5] == small
    # Too few left to score: the file is left out of that k.
    (row,) = curve.learning_curve(config, by_source, background, ks=(25,), seeds=(0,), min_test=10,
                                  score=_oracle([]))
    assert row["files"] == 0 and row["missed_f1"] is None
    assert "| 25 | 0 |" in curve.format_table([row])


def test_a_common_test_set_scores_the_same_incidents_at_every_k_and_weighs_the_labels() -> None:
    by_source = _files()
    background = Dataset(synthetic(10, seed=1), {"synthetic": 10})
    config = TrainConfig(data=DataConfig(corpus=[], sample=[], synthetic_n=0))
    seen: list = []
    weights: list = []

    def score(config: TrainConfig, train: Dataset, rows: list[GoldIncident]) -> list[dict]:
        weights.append({w for row, w in zip(train.incidents, train.weights, strict=True)
                        if row.incident_id.startswith(rows[0].incident_id.split("-")[0])})
        return _oracle(seen)(config, train, rows)

    rows = curve.learning_curve(config, by_source, background, ks=(0, 5, 15), seeds=(0,), min_test=10,
                                score=score, common_test=True, label_weight=3.0)
    assert [row["scored"] for row in rows] == [45, 45, 45]  # 15 of each file's 30 at every k
    scored_at = {}
    for trained, scored in seen:
        held = scored[0].split("-")[0]
        assert not trained & set(scored)
        scored_at.setdefault(held, []).append(sorted(scored))
    assert all(len({tuple(s) for s in lists}) == 1 for lists in scored_at.values())  # the same incidents
    assert weights[:3] == [set()] * 3 and all(w == {3.0} for w in weights[3:])  # k > 0: labels at weight 3
    (row,) = curve.learning_curve(config, by_source, background, ks=(0,), seeds=(0, 1), min_test=10,
                                  score=_oracle([]), common_test=True)
    assert row["seeds"] == 2  # k = 0 scores each seed's own common set


def test_the_script_on_tiny_files_with_a_real_baseline(tmp_path: Path, capsys) -> None:
    """The command end to end: tiny synthetic 'corpus' files (never the corpus), a small baseline."""
    for name, rows in _files(24, ("alpha", "beta", "series_delta")).items():
        (tmp_path / f"{name}.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows), encoding="utf-8")
    config = {"kind": "baseline", "params": {"max_features": 2000},
              "data": {"corpus": [str(tmp_path / "*.jsonl")], "sample": [], "synthetic_n": 40, "synthetic_seed": 3},
              "threshold_folds": 2, "seed": 1}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / "curve.json"
    code = curve.main(["--config", str(tmp_path / "tiny.yaml"), "--k", "0", "8", "--seeds", "0", "--min-test", "10",
                       "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [(row["k"], row["files"], row["scored"]) for row in rows] == [(0, 2, 48), (8, 2, 32)]
    assert all(0.0 <= row["missed_f1"] <= 1.0 for row in rows)
    printed = capsys.readouterr().out
    assert printed.startswith("| k labelled | files | scored | missed F1") and "baseline" in printed


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is absent (a fresh machine)")
def test_the_corpus_files_are_read_in_place() -> None:
    from secondary_crimes.crossval import read_by_source

    by_source = read_by_source([str(CORPUS / "*.jsonl")])
    seen: list = []
    config = TrainConfig(data=DataConfig(corpus=[], sample=[], synthetic_n=0))
    rows = curve.learning_curve(config, by_source, Dataset([], {}), ks=(0, 10), seeds=(0,), score=_oracle(seen))
    held = [s for s in by_source if not s.startswith("series_")]
    assert [row["files"] for row in rows] == [len(held), len(held)]
    assert rows[0]["scored"] == sum(len(by_source[s]) for s in held)
