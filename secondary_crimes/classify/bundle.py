"""A trained model with its thresholds and metadata: saved, loaded and named by version.

On disk a bundle is a folder: ``model.joblib`` (the fitted estimator) and ``meta.json``
(kind, version, labels, thresholds, training data summary). A ``models:/`` or ``runs:/``
URI is resolved through the MLflow registry (``secondary_crimes.tracking``).
Loading unpickles code: load only models your own team trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from secondary_crimes.classify.base import OffenceModel
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

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.model, path / MODEL_FILE)
        meta = {"kind": self.kind, "version": self.version, "labels": LABELS,
                "thresholds": dict(zip(LABELS, map(float, self.thresholds), strict=True)),
                **self.metadata}
        (path / META_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelBundle:
        path = Path(path)
        if not (path / META_FILE).exists():
            raise FileNotFoundError(f"{path}: no trained model here (missing {META_FILE}); "
                                    "run `secondary-crimes train` first")
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        if meta["labels"] != LABELS:
            raise ValueError(f"{path}: model labels differ from this taxonomy; retrain it")
        thresholds = np.array([meta["thresholds"][label] for label in LABELS])
        model = joblib.load(path / MODEL_FILE)
        extra = {k: v for k, v in meta.items() if k not in {"kind", "version", "labels", "thresholds"}}
        return cls(model, thresholds, meta["version"], meta["kind"], extra)


def load_bundle(path_or_uri: str | Path | None = None) -> ModelBundle:
    """Load by folder path, or by MLflow URI (``models:/name@alias``, ``runs:/id/model``)."""
    target = str(path_or_uri or get_settings()["default_model"])
    if target.startswith(("models:/", "runs:/")):
        from secondary_crimes.tracking import load_bundle_from_uri

        return load_bundle_from_uri(target)
    return ModelBundle.load(target)
