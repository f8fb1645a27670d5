"""Model kinds by name, imported lazily so a kind's heavy dependencies load only when used."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from secondary_crimes.classify.base import OffenceModel

KINDS = {
    "baseline": "secondary_crimes.classify.baseline:BaselineModel",
    "hybrid": "secondary_crimes.classify.hybrid:HybridModel",
    "sentence": "secondary_crimes.classify.sentence:SentenceModel",
    "transformer": "secondary_crimes.classify.transformer:TransformerModel",
    "ensemble": "secondary_crimes.classify.ensemble:EnsembleModel",
}

# Old parameter names a config may still use -> their names now (issue 15: ``seed`` became
# ``random_state``, as in scikit-learn). A config that uses one gets a FutureWarning.
RENAMED_PARAMS = {"seed": "random_state"}


def model_class(kind: str) -> type[OffenceModel]:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(KINDS)}")
    module, name = KINDS[kind].split(":")
    return getattr(import_module(module), name)


def model_params(kind: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of a config's ``params`` for a ``kind`` model, old names (``RENAMED_PARAMS``) renamed.

    ``seed`` still works for now with a FutureWarning; giving both it and ``random_state`` is an error.
    """
    params = dict(params or {})
    for old, new in RENAMED_PARAMS.items():
        if old not in params:
            continue
        if new in params:
            raise ValueError(f"{kind} params give both {old!r} and {new!r}; {old!r} is the old name of {new!r}")
        warnings.warn(f"{kind} model parameter {old!r} is deprecated and will be refused in a later version: "
                      f"call it {new!r}", FutureWarning, stacklevel=3)
        params[new] = params.pop(old)
    return params


def build_model(kind: str, params: dict | None = None, *,
                callbacks: Sequence[Callable[..., Any]] | None = None) -> OffenceModel:
    """A ``kind`` model from a config's ``params``.

    ``callbacks``: called after each training epoch by kinds that train in epochs and take a
    ``callbacks`` parameter (the transformer; the ensemble hands them to such members); the
    other kinds have no epochs and ignore them.
    """
    cls = model_class(kind)
    params = model_params(kind, params)
    if callbacks and "callbacks" in cls._get_param_names():
        params["callbacks"] = [*(params.get("callbacks") or ()), *callbacks]
    return cls(**params)
