"""training/contrastive_encoder.py: which sentences it tunes on, and an encoder a sentence member can load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from script_helpers import load_script

from secondary_crimes.taxonomy import LABELS
from secondary_crimes.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
script = load_script(ROOT / "training" / "contrastive_encoder.py", "contrastive_encoder")


def sample_only_config(tmp_path: Path) -> Path:
    """The sentence config reading the 30 hand-written samples alone (no generated incidents, no corpus)."""
    config = yaml.safe_load((ROOT / "training" / "sentence.yaml").read_text())
    config["data"] = {"corpus": [], "sample": [str(ROOT / "data" / "sample_incidents.jsonl")], "synthetic_n": 0}
    path = tmp_path / "sample_only.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_evidence_sentences_labelled_by_offence_and_as_many_offence_free_ones(tmp_path):
    texts, labels = script.labelled_sentences(TrainConfig.from_file(sample_only_config(tmp_path)))
    counts = np.bincount(labels, minlength=len(LABELS) + 1)
    assert len(texts) == len(set(texts)) == len(labels)
    assert counts[: len(LABELS)].sum() > 10, "the samples' evidence quotes locate sentences"
    assert 0 < counts[len(LABELS)] <= counts[: len(LABELS)].sum()
    assault = [t for t, label in zip(texts, labels, strict=True) if label == LABELS.index("common_assault")]
    assert assault and all(len(t.split()) <= 40 for t in assault)


def test_the_tuned_encoder_is_one_a_sentence_member_loads(tmp_path):
    from secondary_crimes.classify.sentence import SentenceModel

    out = tmp_path / "encoder"
    script.main(["--config", str(sample_only_config(tmp_path)), "--out", str(out), "--epochs", "0.05"])
    model = SentenceModel(model_path=str(out))
    vectors = model._embeddings(["He punched her in the face.", "The caller reported a lost dog."], remember=False)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
