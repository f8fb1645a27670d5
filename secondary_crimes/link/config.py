"""Settings of course-of-conduct linking, typed, read from the project settings."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from secondary_crimes.settings import get_settings


@dataclass(frozen=True)
class LinkConfig:
    """How incidents are linked into series (settings keys ``link_<field>``; env ``SECONDARY_CRIMES_LINK_<FIELD>``).

    Evidence is in bits (log2 Bayes factors): a full name that matches is about 16 bits, a
    forename alone about 7, a phone number or a full vehicle registration 15.
    """

    window_days: float = 180.0  # incidents further apart than this are never linked directly
    min_party_bits: float = 5.0  # the least evidence for one party (person or identifier) to count as the same
    min_evidence_bits: float = 14.0  # the least evidence, all parties together, for two incidents to link
    min_parties: int = 2  # same victim and same perpetrator: two parties, one of them the perpetrator
    person_threshold: float = 0.9  # splink match probability at which mentions are clustered into one person
    alias_bits: float = 5.0  # "her ex" in one incident and a named ex-partner in another, the rest agreeing
    max_block_size: int = 50  # no block holds more records: a more common key is split into time neighbourhoods
    name_prior_records: int = 10_000  # name frequencies are smoothed towards the fixed u as if seen in this many

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None = None, **overrides: Any) -> LinkConfig:
        """The packaged defaults, then the settings files and environment, then ``overrides``."""
        settings = get_settings() if settings is None else settings
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = f"link_{field.name}"
            if key in settings and settings[key] is not None:
                values[field.name] = type(field.default)(settings[key])
        values.update(overrides)
        return cls(**values)
