"""The record contract: typed incidents (input fields) and gold labels, and rejects."""

from __future__ import annotations

import json
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
    field_validator,
)

from secondary_crimes.taxonomy import load_taxonomy

INPUT_FIELDS = ("incident_id", "reported_at", "closed_at", "opening_code", "closing_code",
                "call_log", "officer_narrative", "recorded_crimes", "crime_recorded_at")
TEXT_FIELDS = ("call_log", "officer_narrative")


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


def _none_to_empty(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value


LabelList = Annotated[list[StrictStr], BeforeValidator(_label_list)]
OptionalTime = Annotated[datetime | None, BeforeValidator(_empty_to_none)]
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

    @field_validator("incident_id")
    @classmethod
    def _strip_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

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

    @field_validator("offences", "missed")
    @classmethod
    def _known_gold(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_labels(value)

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


class Reject(BaseModel):
    """A record set aside, with where it was and why."""

    source: str
    line: int
    incident_id: str | None = None
    field: str
    reason: str


def rejects_from_error(error: ValidationError, *, source: str, line: int,
                       incident_id: str | None) -> list[Reject]:
    """One Reject per field pydantic complained about."""
    out = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(record)"
        out.append(Reject(source=source, line=line, incident_id=incident_id, field=field,
                          reason=problem["msg"]))
    return out
