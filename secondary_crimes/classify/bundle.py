"""A trained model with its thresholds and metadata: saved, loaded and named by version.

On disk a bundle is a folder: ``model.joblib`` (the fitted estimator), ``meta.json``
(kind, version, labels, thresholds, training data summary, and the SHA-256 of every other
file) and, for a model that keeps files beside its pickle (``classify.model_files``: the
transformer's weights as ``weights/*.safetensors``), those files. A ``models:/`` or ``runs:/``
URI is resolved through the MLflow registry (``secondary_crimes.tracking.registry``, which
does not import the training code). Loading unpickles code, so the files are checked against
their recorded hashes first (``classify.integrity``); still load only models your own team
trained. joblib stays the format: the models hold our own classes, torch weights and spaCy
pieces, which skops would need listed and re-tested type by type.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from secondary_crimes.classify.base import OffenceModel
from secondary_crimes.classify.integrity import (
    HASHES_KEY,
    check_folder,
    check_handle,
    folder_hashes,
    identity,
    recorded_hashes,
)
from secondary_crimes.classify.model_files import reading, writing
from secondary_crimes.settings import get_settings
from secondary_crimes.taxonomy import LABELS

MODEL_FILE = "model.joblib"
META_FILE = "meta.json"


@dataclass
class ModelBundle:
    model: OffenceModel
    thresholds: np.ndarray
    version: str
    kind: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None  # identity: one hash over the saved files (None until saved or loaded)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with writing(path):  # a model may keep files beside it (the transformer's weights: weights/*.safetensors)
            joblib.dump(self.model, path / MODEL_FILE)
        hashes = folder_hashes(path, skip=META_FILE)
        extra = {k: v for k, v in self.metadata.items() if k != HASHES_KEY}
        meta = {"kind": self.kind, "version": self.version, "labels": LABELS,
                "thresholds": dict(zip(LABELS, map(float, self.thresholds), strict=True)),
                **extra, HASHES_KEY: hashes}
        text = json.dumps(meta, indent=2, default=str)
        (path / META_FILE).write_text(text, encoding="utf-8")
        self.sha256 = identity(hashlib.sha256(text.encode("utf-8")).hexdigest(), hashes, META_FILE)
        return path

    @classmethod
    def load(cls, path: str | Path, *, trust_unhashed: bool | None = None) -> ModelBundle:
        """Load a saved bundle, its files checked against their recorded SHA-256 before unpickling.

        A folder with no recorded hashes (saved by an older version) loads only when
        ``trust_unhashed`` (default: the ``trust_unhashed_models`` setting) says so.
        """
        path = Path(path)
        if not (path / META_FILE).exists():
            raise FileNotFoundError(f"{path}: no trained model here (missing {META_FILE}); "
                                    "run `secondary-crimes train` first")
        raw = (path / META_FILE).read_bytes()
        meta = json.loads(raw)
        if meta["labels"] != LABELS:
            raise ValueError(f"{path}: model labels differ from this taxonomy; retrain it")
        thresholds = np.array([meta["thresholds"][label] for label in LABELS])
        hashes = recorded_hashes(path, meta, meta_name=META_FILE, trust=trust_unhashed)
        if MODEL_FILE not in hashes:
            raise FileNotFoundError(f"{path / MODEL_FILE}: missing (no hash recorded for it in {META_FILE})")
        check_folder(path, hashes, meta_name=META_FILE, skip={MODEL_FILE})
        with (path / MODEL_FILE).open("rb") as handle:
            check_handle(handle, hashes[MODEL_FILE], path / MODEL_FILE, META_FILE)
            with reading(path, hashes, META_FILE):  # such files reach the model checked against their hashes
                model = joblib.load(handle)
        extra = {k: v for k, v in meta.items() if k not in {"kind", "version", "labels", "thresholds", HASHES_KEY}}
        sha256 = identity(hashlib.sha256(raw).hexdigest(), hashes, META_FILE)
        return cls(model, thresholds, meta["version"], meta["kind"], extra, sha256)


def load_bundle(path_or_uri: str | Path | None = None, *, trust_unhashed: bool | None = None) -> ModelBundle:
    """Load by folder path, or by MLflow URI (``models:/name@alias``, ``runs:/id/model``)."""
    target = str(path_or_uri or get_settings()["default_model"])
    if target.startswith(("models:/", "runs:/")):
        from secondary_crimes.tracking.registry import load_bundle_from_uri

        return load_bundle_from_uri(target, trust_unhashed=trust_unhashed)
    return ModelBundle.load(target, trust_unhashed=trust_unhashed)
