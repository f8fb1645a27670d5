"""Project settings, typed: packaged defaults < a user file < ``SECONDARY_CRIMES_<KEY>`` variables.

``resources/settings.yaml`` holds every setting's default value and what it means; ``Settings``
holds their types (pydantic-settings). A user file (named by ``$SECONDARY_CRIMES_SETTINGS``)
overrides some of them; environment variables override single keys, parsed by type, so
``SECONDARY_CRIMES_TRUST_UNHASHED_MODELS=false`` is off. An unknown key or a value of the wrong
type is an ``InvalidSettings`` error naming the file (or variable) and the key.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import NonNegativeInt, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_FILE = "SECONDARY_CRIMES_SETTINGS"
ENV_PREFIX = "SECONDARY_CRIMES_"


class InvalidSettings(ValueError):
    """A settings file or variable with an unknown key or a value of the wrong type."""


def resource_path(name: str) -> Path:
    """Path of a file shipped in ``secondary_crimes/resources``."""
    return Path(str(resources.files("secondary_crimes") / "resources" / name))


class Settings(BaseSettings):
    """Every setting and its type; the values and their meanings are in ``resources/settings.yaml``.

    Read them as attributes (``get_settings().default_model``). ``settings["key"]``,
    ``settings.get("key")`` and ``"key" in settings`` also work, for code that reads a setting by name.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True)

    default_model: str
    trust_unhashed_models: bool
    spacy_model: str
    max_evidence_per_offence: int
    probability_decimals: int
    max_text_chars: int
    queue_database_url: str
    queue_secret_key: str
    # None: the review queue's own default (secondary_crimes/queue/config.py reads these).
    queue_data_dir: str | None
    queue_claim_minutes: int | None
    queue_secure_cookies: bool | None
    queue_hsts: bool | None
    queue_trusted_proxies: str | None
    queue_check_random: NonNegativeInt
    queue_check_uncertain: NonNegativeInt
    queue_check_seed: int
    link_window_days: float
    link_min_party_bits: float
    link_min_evidence_bits: float
    link_min_parties: int
    link_person_threshold: float
    link_alias_bits: float
    link_max_block_size: int
    link_name_prior_records: int
    link_store: str | None
    score_link_max_incidents: int

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest first: arguments, environment variables, the user file, the packaged defaults."""
        files = [YamlFile(settings_cls, resource_path("settings.yaml"))]
        user_file = os.environ.get(ENV_FILE)
        if user_file:
            files.insert(0, YamlFile(settings_cls, Path(user_file)))
        return (init_settings, env_settings, *files)

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in type(self).model_fields else default

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields


class YamlFile(PydanticBaseSettingsSource):
    """One YAML settings file, each key checked against ``Settings`` (errors name the file and key)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        try:
            raw = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidSettings(f"{self.path}: cannot read the settings file ({error.strerror or error})") from None
        except yaml.YAMLError as error:
            raise InvalidSettings(f"{self.path}: not valid YAML: {' '.join(str(error).split())}") from None
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise InvalidSettings(f"{self.path}: expected a mapping of setting: value, not {type(raw).__name__}")
        fields = self.settings_cls.model_fields
        for key, value in raw.items():
            if key not in fields:
                raise InvalidSettings(f"{self.path}: unknown setting {key!r}; known settings: {', '.join(fields)}")
            try:
                TypeAdapter(fields[key].annotation).validate_python(value)
            except ValidationError as error:
                raise InvalidSettings(f"{self.path}: {key}: {_reason(error)} (got {value!r})") from None
        return raw


def _reason(error: ValidationError) -> str:
    return "; ".join(item["msg"] for item in error.errors())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Merged settings: packaged defaults < $SECONDARY_CRIMES_SETTINGS file < env keys."""
    try:
        return Settings()
    except ValidationError as error:  # the files are checked key by key: this is an environment variable
        problems = []
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else "?"
            if item["type"] == "missing":
                problems.append(f"{key}: missing from {resource_path('settings.yaml')}")
            else:
                problems.append(f"environment variable {ENV_PREFIX}{key.upper()}={item.get('input')!r}: {item['msg']}")
        raise InvalidSettings("invalid settings: " + "; ".join(problems)) from None
