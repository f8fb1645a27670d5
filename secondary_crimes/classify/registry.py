"""Model kinds by name, imported lazily so a kind's heavy dependencies load only when used."""

from __future__ import annotations

from importlib import import_module

from secondary_crimes.classify.base import OffenceModel

KINDS = {
    "baseline": "secondary_crimes.classify.baseline:BaselineModel",
    "hybrid": "secondary_crimes.classify.hybrid:HybridModel",
    "sentence": "secondary_crimes.classify.sentence:SentenceModel",
    "transformer": "secondary_crimes.classify.transformer:TransformerModel",
    "ensemble": "secondary_crimes.classify.ensemble:EnsembleModel",
}


def model_class(kind: str) -> type[OffenceModel]:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(KINDS)}")
    module, name = KINDS[kind].split(":")
    return getattr(import_module(module), name)


def build_model(kind: str, params: dict | None = None) -> OffenceModel:
    return model_class(kind)(**(params or {}))
