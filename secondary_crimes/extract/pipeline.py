"""Build the extraction ``nlp``: the packaged model (one setting) with only what we need, plus our components.

``secondary_crimes/extract/config.cfg`` says which of the packaged model's components to keep
(``[extract] keep``) and lists the project's components in order with their settings
(``[components.*]``, spaCy's own config format). The pretrained model is named by the
``spacy_model`` setting (``resources/settings.yaml``, or ``SECONDARY_CRIMES_SPACY_MODEL``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language
from thinc.api import Config

from secondary_crimes.extract import components  # noqa: F401  (registers the factories)
from secondary_crimes.settings import get_settings

CONFIG_PATH = Path(__file__).parent / "config.cfg"


def load_config(path: str | Path = CONFIG_PATH) -> Config:
    return Config().from_disk(path, interpolate=False)


def build_nlp(model: str | None = None, *, config_path: str | Path = CONFIG_PATH, bare: bool = False) -> Language:
    """The packaged model with only ``[extract] keep``; with ``bare`` nothing of ours is added."""
    config = load_config(config_path)
    model = model or get_settings()["spacy_model"]
    keep = list(config["extract"]["keep"])
    probe = spacy.util.get_model_meta(spacy.util.get_package_path(model)) if spacy.util.is_package(model) else {}
    names = probe.get("pipeline") or probe.get("components") or []
    exclude = [name for name in names if name not in keep]
    nlp = spacy.load(model, exclude=exclude)
    for name in list(nlp.pipe_names):  # anything the meta did not list
        if name not in keep:
            nlp.remove_pipe(name)
    if bare:
        return nlp
    for name in config["extract"]["pipeline"]:
        settings = dict(config["components"][name])
        factory = settings.pop("factory")
        nlp.add_pipe(factory, name=name, config=settings)
    return nlp


@lru_cache(maxsize=2)
def get_nlp(model: str | None = None) -> Language:
    """The shared extraction pipeline (built once per process and model)."""
    return build_nlp(model)


def batch_size(config_path: str | Path = CONFIG_PATH) -> int:
    return int(load_config(config_path)["extract"].get("batch_size", 64))
