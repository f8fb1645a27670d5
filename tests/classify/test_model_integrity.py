"""Model identity and untrusted models: file hashes checked before unpickling, a private
``models:/`` cache, and no resuming a scoring run with another model."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import pytest

# tests/scoring_helpers.py: a real baseline bundle, inputs with bad rows, an interrupted run
from scoring_helpers import input_rows, interrupt_scoring, write_input

from secondary_crimes.checkpoint import ModelMismatchError
from secondary_crimes.classify.bundle import META_FILE, MODEL_FILE, ModelBundle, load_bundle
from secondary_crimes.classify.integrity import HASHES_KEY, ModelIntegrityError, sha256_file
from secondary_crimes.score import score_file
from secondary_crimes.settings import get_settings


class Planted:
    """Unpickling this runs code: it makes the folder ``marker`` (a stand-in for anything worse)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.fixture()
def copied(model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the trained test model, free to tamper with."""
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


@pytest.fixture()
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def plant(folder: Path, marker: Path, *, hashes: bool) -> None:
    """Replace the model with a code-running pickle; with ``hashes``, record its hash as an attacker would."""
    (folder / MODEL_FILE).write_bytes(pickle.dumps(Planted(marker)))
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    meta.pop(HASHES_KEY, None)
    if hashes:
        meta[HASHES_KEY] = {MODEL_FILE: sha256_file(folder / MODEL_FILE)}
    (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")


# ----------------------------------------------------------------------------- file hashes
def test_a_trained_model_records_its_hashes_loads_and_scores(tmp_path, model_dir):
    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    assert meta[HASHES_KEY] == {MODEL_FILE: sha256_file(model_dir / MODEL_FILE)}
    bundle = load_bundle(model_dir)
    assert bundle.sha256 and len(bundle.sha256) == 64 and HASHES_KEY not in bundle.metadata
    assert ModelBundle.load(model_dir).sha256 == bundle.sha256  # the same files, the same identity
    source = write_input(input_rows(n=10), tmp_path / "in.jsonl")
    summary = score_file(source, tmp_path / "out.jsonl", bundle, progress=False)
    assert summary.scored == 10
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["sha256"] == bundle.sha256


def test_a_tampered_model_file_is_refused_before_unpickling(copied, tmp_path):
    marker = tmp_path / "pwned"
    original = json.loads((copied / META_FILE).read_text(encoding="utf-8"))[HASHES_KEY]
    (copied / MODEL_FILE).write_bytes(pickle.dumps(Planted(marker)))
    with pytest.raises(ModelIntegrityError, match=rf"{MODEL_FILE}: SHA-256 differs") as error:
        ModelBundle.load(copied, trust_unhashed=True)  # trusting unhashed folders never skips a recorded hash
    assert "\n" not in str(error.value) and not marker.exists()
    assert original[MODEL_FILE] != sha256_file(copied / MODEL_FILE)


def test_a_missing_or_unrecorded_file_is_refused(copied):
    (copied / "extra.pkl").write_bytes(b"anything")
    with pytest.raises(ModelIntegrityError, match=r"extra\.pkl: not among the files recorded"):
        ModelBundle.load(copied)
    (copied / "extra.pkl").unlink()
    (copied / MODEL_FILE).unlink()
    with pytest.raises(ModelIntegrityError, match=rf"{MODEL_FILE}: missing"):
        ModelBundle.load(copied)


def test_a_folder_without_hashes_loads_only_when_trusted(copied, monkeypatch, caplog, fresh_settings):
    from typer.testing import CliRunner

    from secondary_crimes.cli import app

    meta = json.loads((copied / META_FILE).read_text(encoding="utf-8"))
    del meta[HASHES_KEY]  # as saved before hashes were recorded
    (copied / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="hash-model") as error:
        ModelBundle.load(copied)
    assert "--trust-model" in str(error.value) and "\n" not in str(error.value)
    monkeypatch.setenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS", "false")
    get_settings.cache_clear()
    with pytest.raises(ModelIntegrityError):
        ModelBundle.load(copied)
    with caplog.at_level(logging.WARNING):
        assert ModelBundle.load(copied, trust_unhashed=True).sha256
    assert "no recorded file hashes" in caplog.text
    monkeypatch.setenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS", "true")
    get_settings.cache_clear()
    assert ModelBundle.load(copied).version == meta["version"]
    monkeypatch.delenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS")
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["hash-model", str(copied)])
    assert result.exit_code == 0, result.output
    assert json.loads((copied / META_FILE).read_text(encoding="utf-8"))[HASHES_KEY].keys() == {MODEL_FILE}
    assert ModelBundle.load(copied).version == meta["version"]


def test_score_command_refuses_a_tampered_model_in_one_line(copied, tmp_path):
    from typer.testing import CliRunner

    from secondary_crimes.cli import app

    plant(copied, tmp_path / "pwned", hashes=False)
    source = write_input(input_rows(n=4), tmp_path / "in.jsonl")
    result = CliRunner().invoke(app, ["score", str(source), "--out", str(tmp_path / "o.jsonl"), "--model", str(copied)])
    assert result.exit_code == 2 and not (tmp_path / "pwned").exists()
    assert result.output.startswith("error: ") and result.output.count("\n") == 1


# ----------------------------------------------------------------------------- the models:/ cache
@pytest.fixture()
def tracking(monkeypatch, tmp_path):
    """``tracking`` with MLflow kept out of it: a run URI resolves without a store."""
    pytest.importorskip("mlflow")
    from secondary_crimes import tracking

    monkeypatch.setattr(tracking, "configure", lambda config=None: "sqlite:///unused.db")
    monkeypatch.setenv("SECONDARY_CRIMES_MODEL_CACHE", str(tmp_path / "cache"))
    return tracking


URI = "runs:/0123456789abcdef/model"


def planted_entry(tracking, model_dir: Path, marker: Path, *, hashes: bool) -> Path:
    """What another user could leave at the cache's predictable key: a bundle whose pickle runs code."""
    entry = tracking.model_cache_entry(URI)
    folder = Path(shutil.copytree(model_dir, entry / "artifacts" / "bundle"))
    plant(folder, marker, hashes=hashes)
    return entry


def test_the_cache_is_created_private(tracking, tmp_path):
    from secondary_crimes.model_cache import cache_root

    root = cache_root()
    assert root == tmp_path / "cache" and (root.stat().st_mode & 0o777) == 0o700


def test_a_planted_model_in_a_shared_cache_is_refused(tracking, model_dir, tmp_path):
    from secondary_crimes.model_cache import ModelCacheError

    marker = tmp_path / "pwned"
    planted_entry(tracking, model_dir, marker, hashes=True)  # even with hashes that match the plant
    os.chmod(tmp_path / "cache", 0o777)
    with pytest.raises(ModelCacheError, match=r"open to other users \(mode 0777"):
        load_bundle(URI)
    assert not marker.exists()


def test_a_cache_owned_by_someone_else_or_a_symlink_is_refused(tracking, monkeypatch, tmp_path):
    from secondary_crimes import model_cache

    (tmp_path / "cache").mkdir(mode=0o700)
    with monkeypatch.context() as patch:
        patch.setattr(model_cache.os, "geteuid", lambda: os.getuid() + 1)
        with pytest.raises(model_cache.ModelCacheError, match="owned by uid"):
            load_bundle(URI)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    monkeypatch.setenv("SECONDARY_CRIMES_MODEL_CACHE", str(tmp_path / "link"))
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(model_cache.ModelCacheError, match="not a directory"):
        load_bundle(URI)


def test_an_unhashed_pickle_in_the_cache_is_never_unpickled(tracking, model_dir, tmp_path):
    marker = tmp_path / "pwned"
    planted_entry(tracking, model_dir, marker, hashes=False)
    with pytest.raises(ModelIntegrityError, match="no file hashes recorded"):
        load_bundle(URI)
    assert not marker.exists()


def test_a_cached_model_with_its_hashes_loads(tracking, model_dir):
    entry = tracking.model_cache_entry(URI)
    shutil.copytree(model_dir, entry / "artifacts" / "bundle")
    bundle = load_bundle(URI)
    assert bundle.sha256 == ModelBundle.load(model_dir).sha256 and bundle.metadata["source_uri"] == URI


# ----------------------------------------------------------------------------- resuming
@pytest.fixture()
def two_models(model_dir, tmp_path) -> tuple[ModelBundle, ModelBundle]:
    """The test model and another one under the same version string (other thresholds)."""
    first = ModelBundle.load(model_dir)
    other = ModelBundle.load(model_dir)
    other.thresholds = other.thresholds * 0 + 0.2
    other.save(tmp_path / "other")
    second = ModelBundle.load(tmp_path / "other")
    assert first.version == second.version and first.sha256 != second.sha256
    return first, second


def test_resume_with_another_model_of_the_same_version_is_refused(two_models, tmp_path):
    first, second = two_models
    source = write_input(input_rows(n=16), tmp_path / "in.jsonl")
    output = tmp_path / "out.jsonl"
    with interrupt_scoring(2), pytest.raises(KeyboardInterrupt):
        score_file(source, output, first, batch_size=4, progress=False)
    checkpoint = tmp_path / "out.jsonl.checkpoint.json"
    saved = checkpoint.read_bytes()
    assert json.loads(saved)["model_sha256"] == first.sha256

    with pytest.raises(ModelMismatchError, match="--no-resume") as error:
        score_file(source, output, second, batch_size=4, progress=False)
    assert "\n" not in str(error.value) and first.sha256[:12] in str(error.value)
    assert checkpoint.read_bytes() == saved and not output.exists()  # nothing mixed, nothing lost

    fresh = score_file(source, output, second, batch_size=4, progress=False, resume=False)
    assert not fresh.resumed and fresh.scored == 16
    reference = score_file(source, tmp_path / "ref.jsonl", second, batch_size=4, progress=False)
    assert output.read_bytes() == (tmp_path / "ref.jsonl").read_bytes() and reference.scored == 16


def test_a_finished_run_is_not_complete_for_another_model(two_models, tmp_path):
    first, second = two_models
    source = write_input(input_rows(n=8), tmp_path / "in.jsonl")
    output = tmp_path / "out.jsonl"
    score_file(source, output, first, progress=False)
    assert score_file(source, output, first, progress=False).already_done
    again = score_file(source, output, second, progress=False)
    assert not again.already_done and again.scored == 8
    manifest = json.loads((tmp_path / "out.jsonl.manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["sha256"] == second.sha256


def test_score_reports_another_models_run_in_one_line(two_models, model_dir, tmp_path):
    from typer.testing import CliRunner

    from secondary_crimes.cli import app

    first, _ = two_models
    source = write_input(input_rows(n=12), tmp_path / "in.jsonl")
    output = tmp_path / "out.jsonl"
    with interrupt_scoring(2), pytest.raises(KeyboardInterrupt):
        score_file(source, output, first, batch_size=4, progress=False)
    args = ["score", str(source), "--out", str(output), "--model", str(tmp_path / "other"), "--batch-size", "4",
            "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and "unfinished run" in result.stderr
    assert CliRunner().invoke(app, [*args, "--no-resume"]).exit_code == 0


def test_a_boolean_setting_from_the_environment(monkeypatch, fresh_settings):
    monkeypatch.setenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS", "false")
    assert get_settings()["trust_unhashed_models"] is False
    monkeypatch.setenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS", "1")
    get_settings.cache_clear()
    assert get_settings()["trust_unhashed_models"] is True
