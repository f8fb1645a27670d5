"""Settings: packaged defaults < a user file < SECONDARY_CRIMES_<KEY> variables, typed, unknown keys refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from secondary_crimes.settings import ENV_FILE, InvalidSettings, Settings, get_settings, resource_path


@pytest.fixture()
def settings_env(monkeypatch: pytest.MonkeyPatch):
    """No SECONDARY_CRIMES_* variables from the caller's shell; the cache cleared before and after."""
    for name in [name for name in os.environ if name.startswith("SECONDARY_CRIMES_")]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    monkeypatch.setenv(ENV_FILE, str(path))
    return path


def test_the_packaged_file_sets_every_setting_and_nothing_else(settings_env):
    packaged = yaml.safe_load(resource_path("settings.yaml").read_text(encoding="utf-8"))
    assert set(packaged) == set(Settings.model_fields)
    settings = get_settings()
    assert settings.default_model == "models/default" and settings.trust_unhashed_models is False
    assert settings.max_text_chars == 1_000_000 and settings.link_window_days == 180.0
    assert settings.queue_hsts is None


@pytest.mark.parametrize("text", ["false", "False", "0", "no", "off"])
def test_an_environment_variable_turns_a_boolean_off(settings_env, tmp_path, text):
    user_file(tmp_path, settings_env, {"trust_unhashed_models": True})
    assert get_settings().trust_unhashed_models is True
    settings_env.setenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS", text)
    get_settings.cache_clear()
    assert get_settings().trust_unhashed_models is False


def test_variables_override_the_user_file_which_overrides_the_defaults(settings_env, tmp_path):
    user_file(tmp_path, settings_env, {"max_text_chars": 5000, "link_min_parties": 3, "queue_hsts": True})
    settings_env.setenv("SECONDARY_CRIMES_LINK_MIN_PARTIES", "4")
    settings = get_settings()
    assert settings.max_text_chars == 5000 and settings.link_min_parties == 4 and settings.queue_hsts is True
    assert settings.probability_decimals == 4  # untouched: the packaged default


def test_an_unknown_key_in_a_user_file_names_the_file_and_the_key(settings_env, tmp_path):
    path = user_file(tmp_path, settings_env, {"max_text_chars": 10, "max_text_char": 20})
    with pytest.raises(InvalidSettings, match="unknown setting 'max_text_char'") as error:
        get_settings()
    assert str(error.value).startswith(f"{path}: ")


def test_a_value_of_the_wrong_type_names_the_file_and_the_key(settings_env, tmp_path):
    path = user_file(tmp_path, settings_env, {"link_min_parties": "two"})
    with pytest.raises(InvalidSettings, match=r"link_min_parties: .*integer") as error:
        get_settings()
    assert str(error.value).startswith(f"{path}: ")


def test_a_bad_variable_is_named(settings_env):
    settings_env.setenv("SECONDARY_CRIMES_TRUST_UNHASHED_MODELS", "perhaps")
    with pytest.raises(InvalidSettings, match="SECONDARY_CRIMES_TRUST_UNHASHED_MODELS='perhaps'"):
        get_settings()


def test_other_secondary_crimes_variables_are_not_settings(settings_env, tmp_path):
    settings_env.setenv("SECONDARY_CRIMES_MODEL_CACHE", str(tmp_path))  # read by model_cache, not a setting
    assert get_settings().default_model == "models/default"


def test_settings_read_by_name(settings_env):
    settings = get_settings()
    assert settings["spacy_model"] == settings.spacy_model
    assert settings.get("queue_claim_minutes", 120) is None and settings.get("no_such_setting", 7) == 7
    assert "link_alias_bits" in settings and "no_such_setting" not in settings
    with pytest.raises(KeyError):
        settings["no_such_setting"]
