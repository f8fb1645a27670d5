"""Project settings: packaged defaults, a user file, then environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

ENV_FILE = "SECONDARY_CRIMES_SETTINGS"
ENV_PREFIX = "SECONDARY_CRIMES_"


def resource_path(name: str) -> Path:
    """Path of a file shipped in ``secondary_crimes/resources``."""
    return Path(str(resources.files("secondary_crimes") / "resources" / name))


@lru_cache(maxsize=1)
def get_settings() -> dict[str, Any]:
    """Merged settings: packaged defaults < $SECONDARY_CRIMES_SETTINGS file < env keys."""
    settings = yaml.safe_load(resource_path("settings.yaml").read_text(encoding="utf-8"))
    user_file = os.environ.get(ENV_FILE)
    if user_file:
        settings.update(yaml.safe_load(Path(user_file).read_text(encoding="utf-8")) or {})
    for key, value in list(settings.items()):
        env = os.environ.get(ENV_PREFIX + key.upper())
        if env is None:
            continue
        if isinstance(value, bool):  # before int: bool("false") would be True
            settings[key] = env.strip().lower() in {"1", "true", "yes", "on"}
        else:
            settings[key] = type(value)(env) if isinstance(value, (int, float)) else env
    return settings
