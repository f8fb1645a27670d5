"""Tracked training with MLflow: runs, the evaluation set, the model registry, model cards, promotion.

- ``store``: the tracking store (``sqlite:///mlruns.db`` and ``./mlartifacts`` by default;
  ``MLFLOW_TRACKING_URI`` or a config's ``tracking.uri`` for a team server).
- ``training``: ``tracked_train(config_path)`` trains inside one run and logs its config, the
  dataset's content hash and sizes, the training and test sets as inputs and the auditors'
  export pseudonymised (``run_inputs``), per-epoch metrics (the transformer), the held-out
  evaluation, PNG plots, pseudonymised examples, the model card and the model as a pyfunc
  registered under the config's ``name``.
- ``evaluation_set``: the model name's registered evaluation set (drawn once, seeded, logged as
  an MLflow dataset), held out of every run's training, so versions compare on the same incidents.
- ``evaluation``: the held-out figures, computed by ``secondary_crimes.evaluate`` as the CLI does.
- ``pseudonymisation``: every text a run logs goes through ``privacy.pseudonymise_incident``.
- ``pyfunc``: the bundle as an MLflow pyfunc with pinned ``pip_requirements``.
- ``registry``: ``load_bundle_from_uri("models:/secondary-crimes@champion")`` (cached; what
  ``classify.bundle.load_bundle`` calls) and ``promote``.
- ``promotion``: ``promote`` compares a version with the champion on the same evaluated
  incidents and refuses a worse one unless forced.
- ``cards``: the model card, rendered from ``templates/model_card.md.j2``, a run artifact.

The names below are importable from ``secondary_crimes.tracking`` as before the split; each
submodule is imported when one of its names is first used, so importing the package (or
``tracking.registry`` to load a model) does not import the training code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "store": ("DEFAULT_ARTIFACTS", "DEFAULT_MODEL_NAME", "DEFAULT_TRACKING_URI", "configure", "ensure_experiment",
              "tracking_uri"),
    "training": ("split_dataset", "tracked_train"),
    "evaluation": ("evaluate_bundle", "figures"),
    "evaluation_set": ("EvaluationSet",),
    "pseudonymisation": ("pseudonymise", "pseudonymise_incident"),
    "pyfunc": ("SecondaryCrimesPyfunc", "log_model", "pinned_requirements"),
    "registry": ("load_bundle_from_uri", "model_cache_entry", "promote"),
    "promotion": ("KEY_METRICS", "TEST_SPLIT_TAG", "PromotionRefused"),
    "cards": ("log_model_card", "render_model_card", "write_model_card"),
}
# Older private names that tests and notebooks used.
_ALIASES = {"_NOT_NAMES": ("pseudonymisation", "NOT_NAMES"), "_kinds_in": ("pyfunc", "kinds_in")}
_WHERE = {name: (module, name) for module, names in _EXPORTS.items() for name in names} | _ALIASES

__all__ = sorted(name for names in _EXPORTS.values() for name in names)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
