"""The record contract: typed incidents (input fields) and gold labels, and rejects."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from secondary_crimes.settings import get_settings
from secondary_crimes.taxonomy import load_taxonomy

INPUT_FIELDS = ("incident_id", "reported_at", "closed_at", "opening_code", "closing_code",
                "call_log", "officer_narrative", "recorded_crimes", "crime_recorded_at")
TEXT_FIELDS = ("call_log", "officer_narrative")

_SURROGATE = re.compile("[\ud800-\udfff]")
_BARE_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")
# Reject fields are cut to these lengths so a huge or strange value cannot bloat the rejects file.
_REJECT_TEXT_CHARS = {"incident_id": 200, "field": 200, "reason": 1000}


def max_text_chars() -> int:
    """The longest text a field may hold (setting ``max_text_chars``; spaCy refuses longer, E088)."""
    return int(get_settings().get("max_text_chars", 1_000_000))


def _text_problem(value: Any) -> str | None:
    """Why a string (or a list/dict of them) cannot be scored: too long, or not valid Unicode."""
    if isinstance(value, (list, tuple)):
        return next((p for p in map(_text_problem, value) if p), None)
    if isinstance(value, dict):
        return next((p for p in map(_text_problem, [*value, *value.values()]) if p), None)
    if not isinstance(value, str):
        return None
    limit = max_text_chars()
    if len(value) > limit:
        return f"{len(value):,} characters, over the max_text_chars limit of {limit:,}"
    if found := _SURROGATE.search(value):
        return (f"lone surrogate \\u{ord(found.group()):04x} at character {found.start()}: "
                "not valid Unicode (a broken \\u escape?)")
    return None


def _label_list(value: Any) -> Any:
    """Accept a list, a JSON list in a string (CSV cells) or ``a;b`` / ``a,b`` text."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"not a JSON list: {error.msg}") from None
        return [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]
    if hasattr(value, "tolist"):  # numpy arrays from Parquet list columns
        return value.tolist()
    return value


def _empty_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    return value


def _no_bare_number(value: Any) -> Any:
    """Dates are ISO 8601 text; a bare number (epoch seconds? a spreadsheet serial?) is ambiguous."""
    value = _empty_to_none(value)
    if isinstance(value, (bool, int, float)) or (isinstance(value, str) and _BARE_NUMBER.fullmatch(value)):
        raise ValueError(f"a bare number ({str(value)[:30]}) is not a date: write ISO 8601, e.g. 2024-03-01T10:00:00")
    return value


def _visible(text: str) -> str:
    """``text`` without whitespace and invisible characters (zero-width spaces, joiners, BOMs, controls)."""
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] not in "CZ")


def _none_to_empty(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value


LabelList = Annotated[list[StrictStr], BeforeValidator(_label_list)]
OptionalTime = Annotated[datetime | None, BeforeValidator(_no_bare_number)]
OptionalCode = Annotated[StrictStr, BeforeValidator(_none_to_empty)]


def _check_labels(labels: list[str]) -> list[str]:
    known = load_taxonomy().offences
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f"unknown offence label(s) {unknown}")
    return list(dict.fromkeys(labels))


class Incident(BaseModel):
    """A closed incident as a force's systems hold it (FORMAT.md input fields)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    incident_id: StrictStr = Field(min_length=1)
    reported_at: OptionalTime = None
    closed_at: OptionalTime = None
    opening_code: OptionalCode = ""
    closing_code: OptionalCode = ""
    call_log: StrictStr
    officer_narrative: OptionalCode = ""
    recorded_crimes: LabelList = Field(default_factory=list)
    # Optional: when the first crime was recorded (for the 24-hour recording rule check).
    crime_recorded_at: OptionalTime = None

    @field_validator("*", mode="before")
    @classmethod
    def _scorable_text(cls, value: Any) -> Any:
        if problem := _text_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("incident_id")
    @classmethod
    def _strip_id(cls, value: str) -> str:
        if not _visible(value):
            raise ValueError("must not be blank (only whitespace or invisible characters)")
        return value.strip()

    @field_validator("closed_at")
    @classmethod
    def _closed_after_reported(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        reported = info.data.get("reported_at")
        # Times with and without a zone cannot be compared without guessing the zone: not checked.
        if value and reported and (value.tzinfo is None) == (reported.tzinfo is None) and value < reported:
            raise ValueError(f"closed before it was reported ({value.isoformat()} < {reported.isoformat()})")
        return value

    @field_validator("recorded_crimes")
    @classmethod
    def _known_recorded(cls, value: list[str]) -> list[str]:
        return _check_labels(value)

    def text(self, field: str) -> str:
        return getattr(self, field) or ""


class GoldIncident(Incident):
    """An incident with an auditor's labels (FORMAT.md gold fields); gold is optional."""

    offences: LabelList | None = None
    missed: LabelList | None = None
    domestic: StrictBool | None = None
    relationship: StrictStr | None = None
    reporter: StrictStr | None = None
    evidence: dict[str, StrictStr] | None = None
    rationale: StrictStr | None = None
    # The offences ``offences`` and ``missed`` decide (each listed one is present or absent);
    # None, as in the corpus: every offence. The auditors' export decides only the offences they
    # were asked about; the others are unknown, not absent.
    known_offences: LabelList | None = None

    @field_validator("offences", "missed", "known_offences")
    @classmethod
    def _known_gold(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_labels(value)

    @model_validator(mode="after")
    def _labels_within_known(self) -> GoldIncident:
        if self.known_offences is not None:
            outside = set(self.offences or []) | set(self.missed or [])
            outside -= set(self.known_offences)
            if outside:
                raise ValueError(f"offences {sorted(outside)} are not among known_offences")
        return self

    @field_validator("relationship")
    @classmethod
    def _known_relationship(cls, value: str | None) -> str | None:
        if value is not None and value not in load_taxonomy().relationships:
            raise ValueError(f"unknown relationship {value!r}")
        return value

    @field_validator("reporter")
    @classmethod
    def _known_reporter(cls, value: str | None) -> str | None:
        if value is not None and value not in load_taxonomy().reporters:
            raise ValueError(f"unknown reporter {value!r}")
        return value

    @property
    def has_gold(self) -> bool:
        return self.offences is not None

    @property
    def complete(self) -> bool:
        """Gold that decides every offence (``known_offences`` absent), as training needs."""
        return self.has_gold and self.known_offences is None


class Reject(BaseModel):
    """A record set aside, with where it was and why."""

    source: str
    line: int
    incident_id: str | None = None
    field: str
    reason: str

    @field_validator("source", "incident_id", "field", "reason")
    @classmethod
    def _writable(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Rejects echo bad input: lone surrogates become \\udXXX escapes, huge values are cut."""
        if value is None:
            return None
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        limit = _REJECT_TEXT_CHARS.get(info.field_name or "")
        return value if limit is None or len(value) <= limit else value[:limit] + "..."


def rejects_from_error(error: ValidationError, *, source: str, line: int,
                       incident_id: str | None) -> list[Reject]:
    """One Reject per field pydantic complained about."""
    out = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(record)"
        out.append(Reject(source=source, line=line, incident_id=incident_id, field=field,
                          reason=problem["msg"]))
    return out
