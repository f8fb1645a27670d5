"""Assembling training data: the auditors' decisions (extra) override every other source for an incident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secondary_crimes.classify.base import UNKNOWN
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.training_data import DataConfig, assemble

from .conftest import SAMPLE

FIRST = "SMP-24-0001"


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _sample(incident_id: str = FIRST) -> dict:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return next(row for row in rows if row["incident_id"] == incident_id)


def _decided(base: dict, offences: list[str], known: list[str] | None, **fields) -> dict:
    """An auditors' export record for ``base``'s incident (input fields only, then the decisions)."""
    row = {k: base[k] for k in ("incident_id", "reported_at", "closed_at", "opening_code", "closing_code",
                                "call_log", "officer_narrative", "recorded_crimes")}
    return row | {"offences": offences, "missed": [o for o in offences if o not in base["recorded_crimes"]],
                  "known_offences": known, "evidence": {}, "rationale": "auditor"} | fields


def _by_id(dataset) -> dict[str, GoldIncident]:
    return {incident.incident_id: incident for incident in dataset.incidents}


def test_an_auditors_rejection_overrides_the_corpus_label_and_the_summary_says_so(tmp_path):
    base = _sample()
    assert base["offences"], "the sample's first incident has offences"
    rejected, kept = base["offences"][0], base["offences"][1:]
    corpus = _write(tmp_path / "force_a.jsonl", [base])
    extra = _write(tmp_path / "labels.jsonl", [_decided(base, [], [rejected])])
    dataset = assemble(DataConfig(corpus=[corpus], sample=[], extra=[extra], synthetic_n=0))
    merged = _by_id(dataset)[FIRST]
    assert rejected not in merged.offences and merged.offences == kept  # unknown offences keep the corpus label
    assert merged.complete and merged.known_offences is None
    # attributes the auditors did not give come from the corpus, never a guess
    assert (merged.domestic, merged.relationship, merged.reporter) == (
        base["domestic"], base["relationship"], base["reporter"])
    assert dataset.resolved == {f"{extra} over {corpus}": 1}
    assert dataset.groups == ["corpus:force_a"]  # still that force's writing, for by-source folds
    assert dataset.weights.tolist() == [1.0]
    assert dataset.summary() == [f"1 incident(s) labelled by {extra} over {corpus}"]


def test_extra_wins_whatever_the_order_and_an_added_offence_is_kept(tmp_path):
    base = _sample()
    added = next(o for o in ("theft", "burglary", "modern_slavery") if o not in base["offences"])
    extra = _write(tmp_path / "labels.jsonl", [_decided(base, [added], [added],
                                                         evidence={added: base["call_log"][:20]})])
    sample = _write(tmp_path / "sample.jsonl", [base])
    # the sample comes before extra, a corpus copy before both: extra still decides
    dataset = assemble(DataConfig(corpus=[sample], sample=[str(SAMPLE)], extra=[extra], synthetic_n=0,
                                  weights={"extra": 2.0}))
    merged = _by_id(dataset)[FIRST]
    assert set(merged.offences) == set(base["offences"]) | {added}
    assert merged.evidence[added] == base["call_log"][:20]
    assert dataset.resolved == {f"{sample} over {SAMPLE}": 1, f"{extra} over {sample}": 1}
    assert dataset.weights[[i.incident_id for i in dataset.incidents].index(FIRST)] == 2.0
    assert len(dataset.incidents) == 30


def test_a_complete_extra_record_replaces_the_other_source(tmp_path):
    base = _sample()
    truth = _decided(base, ["common_assault"], None, domestic=True, relationship="intimate_partner",
                     reporter="third_party_public")
    extra = _write(tmp_path / "labels.jsonl", [truth])
    dataset = assemble(DataConfig(corpus=[], sample=[str(SAMPLE)], extra=[extra], synthetic_n=0))
    merged = _by_id(dataset)[FIRST]
    assert merged.offences == ["common_assault"]
    assert (merged.domestic, merged.relationship, merged.reporter) == (True, "intimate_partner", "third_party_public")
    assert dataset.resolved == {f"{extra} over {SAMPLE}": 1}


def test_partial_decisions_with_no_complete_record_train_on_what_was_decided(tmp_path):
    base = _sample() | {"incident_id": "NEW-1"}
    extra = _write(tmp_path / "labels.jsonl", [_decided(base, ["theft"], ["theft", "common_assault"])])
    dataset = assemble(DataConfig(corpus=[], sample=[str(SAMPLE)], extra=[extra], synthetic_n=0))
    assert "NEW-1" in _by_id(dataset) and len(dataset.incidents) == 31
    assert dataset.partial == {extra: 1} and dataset.resolved == {}
    assert "1 incident(s) of" in dataset.summary()[0] and "decided only" in dataset.summary()[0]
    row = [incident.incident_id for incident in dataset.incidents].index("NEW-1")
    target = dict(zip(LABELS, dataset.Y[row], strict=True))
    # theft decided present, common assault decided absent, every other offence unknown
    assert target["theft"] == 1 and target["common_assault"] == 0
    assert {label for label, value in target.items() if value == UNKNOWN} == set(LABELS) - {"theft", "common_assault"}
    assert dataset.complete.sum() == 30 and not dataset.complete[row]
    assert (dataset.Y[dataset.complete] != UNKNOWN).all()


def test_other_duplicates_keep_the_first_source_and_are_counted(tmp_path):
    copy = _write(tmp_path / "copy.jsonl", [_sample() | {"offences": [], "missed": []}])
    dataset = assemble(DataConfig(corpus=[], sample=[str(SAMPLE), copy], extra=[], synthetic_n=0))
    assert _by_id(dataset)[FIRST].offences == _sample()["offences"]
    assert dataset.resolved == {f"{SAMPLE} over {copy}": 1}


def test_labels_outside_known_offences_are_refused():
    with pytest.raises(ValueError, match="not among known_offences"):
        GoldIncident.model_validate(_decided(_sample(), ["theft"], ["burglary"]))



def test_train_prints_which_source_won(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from secondary_crimes.cli import app

    base = _sample()
    extra = _write(tmp_path / "labels.jsonl", [_decided(base, [], [base["offences"][0]])])
    config = {"kind": "baseline", "data": {"corpus": [], "sample": [str(SAMPLE)], "extra": [extra],
                                           "synthetic_n": 60, "synthetic_seed": 3},
              "threshold_folds": 3, "seed": 1, "output": str(tmp_path / "model")}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--config", str(path), "--no-track"])
    assert result.exit_code == 0, result.output
    assert f"data: 1 incident(s) labelled by {extra} over {SAMPLE}" in result.output
    meta = json.loads((tmp_path / "model" / "meta.json").read_text(encoding="utf-8"))
    assert meta["data"]["resolved"] == {f"{extra} over {SAMPLE}": 1}


def test_evaluate_skips_partly_labelled_incidents(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from secondary_crimes.cli import app

    base = _sample()
    gold = _write(tmp_path / "gold.jsonl", [base, _decided(_sample("SMP-24-0002"), [], ["theft"])])
    result = CliRunner().invoke(app, ["evaluate", gold, "--model", str(tiny_model_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert "1 incident(s) decide only some offences" in result.stderr


@pytest.mark.parametrize("covered", [False, True])
def test_with_covered_unknown_the_lesser_offence_under_a_present_greater_one_trains_as_unknown(covered, monkeypatch):
    from secondary_crimes import train as train_module
    from secondary_crimes.train import TrainConfig, fit_bundle
    from secondary_crimes.training_data import Dataset, synthetic

    rows = synthetic(60, seed=8)
    config = TrainConfig(kind="baseline", params={"C": 4.0}, threshold_strategy="oof", threshold_folds=3,
                         min_positives=1, seed=3, data={"covered_unknown": covered})
    seen = []
    real_choose = train_module.choose_thresholds
    monkeypatch.setattr(train_module, "choose_thresholds", lambda Y, proba, **kw: seen.append(Y) or real_choose(
        Y, proba, **kw))
    bundle = fit_bundle(config, Dataset(rows, {"synthetic": len(rows)}))
    assert bundle.metadata["data"]["covered_unknown"] is covered  # the model says what its targets meant
    common, injury = LABELS.index("common_assault"), LABELS.index("assault_with_injury")
    under = [i for i, row in enumerate(rows) if "assault_with_injury" in row.offences
             and "common_assault" not in row.offences]
    others = [i for i in range(len(rows)) if i not in under]
    assert len(under) >= 2
    Y = seen[0]
    assert (Y[under, common] == (UNKNOWN if covered else 0)).all()
    assert (Y[under, injury] == 1).all() and (Y[others, common] != UNKNOWN).all()
