"""The scored record: one line of ``score`` output, typed once (issue 15.1).

``decide`` builds a :class:`ScoredIncident` and writes it as ``ScoredIncident.record()``; the
linking pass (``score_link``) adds ``linked`` and ``course_of_conduct``; the review queue's loader
validates its input with these models (``queue/load.py``, with the queue's own column limits on
top); the Spark engine derives its Parquet schema from them (``engines/spark.py``,
``spark_schema``); and ``docs/scored_incident.schema.json`` is generated from them
(:func:`json_schema`; ``python -m secondary_crimes.scored`` rewrites the file).

Field order is the written key order. The types accept what earlier output and Spark wrote
(``null`` for an empty list of people, rule flags or their spans; a person's ``text`` null), so
a file scored before is still loaded; ``decide`` always writes the full form.
"""

from __future__ import annotations

import json
import sys
from copy import copy
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    create_model,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from secondary_crimes.recording_rules import RULES
from secondary_crimes.records import TEXT_FIELDS, Incident
from secondary_crimes.taxonomy import LABELS, load_taxonomy

SCHEMA_PATH = Path("docs") / "scored_incident.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Times as pydantic writes them: ISO 8601, seconds always, the UTC offset only when the input had one
# (a force's local time has none), so not JSON Schema's "date-time" (RFC 3339 needs the offset).
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$"


def _known_offence(value: str) -> str:
    if value not in load_taxonomy().offences:
        raise ValueError(f"unknown offence label {value!r}")
    return value


# An offence label of the taxonomy (resources/offences.yaml). Checked by a validator, so that an
# unknown label is named in the error, and listed as an enum in the JSON Schema.
KnownOffence = Annotated[str, AfterValidator(_known_offence), WithJsonSchema({"type": "string", "enum": LABELS})]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
# A lower-case word: a person's role, a relationship, a reporter (victim, ex_partner, ...).
Word = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]
TextField = Literal[TEXT_FIELDS]
RuleName = Literal[RULES]
# A null list (as Spark may write one) is an empty one.
NoneIsEmpty = BeforeValidator(lambda value: [] if value is None else value)


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)


class EvidenceSpan(_Part):
    """A stretch of one text field of the incident, by character offsets into that field."""

    field: TextField
    """The text field the span is in."""
    start: int = Field(ge=0)
    """Offset of the first character (Python string index, code points)."""
    end: int = Field(ge=0)
    """Offset just past the last character."""
    text: str = ""
    """The field's text from start to end."""

    @classmethod
    def of(cls, span: Any) -> EvidenceSpan:
        """From anything with ``field``, ``start``, ``end`` and ``text`` (``extract.types.Span``)."""
        return cls.model_validate(span, from_attributes=True)


class ScoredOffence(_Part):
    """An offence the account supports at or above its threshold."""

    offence: KnownOffence
    probability: Probability
    """The model's calibrated probability, rounded (setting probability_decimals)."""
    threshold: Probability | None = None
    """The offence's decision threshold, rounded."""
    reason: str | None = ""
    """Why it is flagged, in words: the probability, the threshold and what was recorded."""
    evidence: list[EvidenceSpan] = Field(default_factory=list)
    """The spans that support it (at most setting max_evidence_per_offence)."""


class ScoredPerson(_Part):
    """A person in the incident, as extraction found them (other keys are kept as they are)."""

    model_config = ConfigDict(extra="allow")

    text: StrictStr | None = ""
    """The name as written, or empty when the logs only say what the person is."""
    role: Word | None = None
    """victim, suspect, reporter, witness, child or other."""
    relationship: Word | None = None
    """To the victim (a relationship of resources/offences.yaml), or null if not said."""
    described_as: Annotated[list[StrictStr], NoneIsEmpty] = Field(default_factory=list)
    """The role, kinship and job words used for them, lower case."""


class RuleFlag(_Part):
    """A crime-recording rule check that fired (secondary_crimes/recording_rules.py); other keys are kept."""

    model_config = ConfigDict(extra="allow")

    rule: RuleName
    reason: StrictStr
    evidence: Annotated[list[EvidenceSpan], NoneIsEmpty] = Field(default_factory=list)
    offences: Annotated[list[KnownOffence], NoneIsEmpty] = Field(default_factory=list)
    """The offences the flag is about."""


class ConductOccasion(_Part):
    """One incident of a course of conduct and the spans that show it."""

    incident_id: StrictStr
    reported_at: StrictStr | None = None
    """When it was reported, ISO 8601 as Python's datetime.isoformat writes it, or null."""
    spans: list[EvidenceSpan] = Field(default_factory=list)


class CourseOfConductFlag(_Part):
    """A course-of-conduct offence over a linked series (secondary_crimes/link/conduct.py)."""

    offence: KnownOffence
    series_id: StrictStr
    linked: list[StrictStr] = Field(default_factory=list)
    """The earlier incidents of the series, oldest first."""
    missed: StrictBool
    """True when the incident's recorded crimes do not cover the offence."""
    reason: StrictStr
    evidence: list[ConductOccasion] = Field(default_factory=list)
    """Per occasion, oldest first, this incident last."""


# The incident's input fields exactly as ``records.Incident`` types them, less ``incident_id`` (the
# record's own): one definition, so a field added to the input is in the scored record too.
IncidentFields = create_model(
    "IncidentFields",
    __base__=_Part,
    __doc__="The incident's input fields (records.Incident, less incident_id), as the scorer read them.",
    **{name: (info.annotation, copy(info)) for name, info in Incident.model_fields.items() if name != "incident_id"},
)


def _absent_until_linked(value: Any) -> bool:
    return value is None


class ScoredIncident(_Part):
    """One line of ``secondary-crimes score`` output: what the model found in one incident."""

    incident_id: StrictStr = Field(min_length=1)
    model_version: StrictStr = Field(min_length=1)
    """The version of the model bundle that scored it."""
    offences: list[ScoredOffence] = Field(default_factory=list)
    """Every offence at or above its threshold, most probable first."""
    missed: list[ScoredOffence] = Field(default_factory=list)
    """The offences of ``offences`` that the recorded crimes do not cover."""
    review_priority: Probability = 0.0
    """The chance that at least one unrecorded offence is present."""
    domestic: bool | None = None
    relationship: Word | None = None
    """Victim to suspect, a relationship of resources/offences.yaml, or null."""
    reporter: Word | None = None
    """Who reported it, a reporter of resources/offences.yaml, or null."""
    people: Annotated[list[ScoredPerson], NoneIsEmpty] = Field(default_factory=list)
    incident: IncidentFields
    rule_flags: Annotated[list[RuleFlag], NoneIsEmpty] = Field(default_factory=list)
    linked: list[StrictStr] | None = Field(default=None, exclude_if=_absent_until_linked)
    """Earlier incidents of the same series (the linking pass); absent when the output was not linked."""
    course_of_conduct: list[CourseOfConductFlag] | None = Field(default=None, exclude_if=_absent_until_linked)
    """Course-of-conduct flags over the series (the linking pass); absent when the output was not linked."""

    def record(self) -> dict[str, Any]:
        """The JSON object of the output line (``score.record_line`` writes it)."""
        return self.model_dump(mode="json")

    def input_incident(self) -> Incident:
        """The incident as the scorer read it (every check of ``records.Incident``)."""
        return Incident.model_validate({**self.incident.model_dump(), "incident_id": self.incident_id})


def incident_fields(incident: Incident) -> IncidentFields:
    """The scored record's ``incident``: the input fields of ``incident``."""
    return IncidentFields.model_validate(incident, from_attributes=True)


class _SchemaGenerator(GenerateJsonSchema):
    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        return {"type": "string", "pattern": ISO_DATETIME}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scored line, as docs/scored_incident.schema.json publishes it."""
    return {"$schema": JSON_SCHEMA_DIALECT, **ScoredIncident.model_json_schema(schema_generator=_SchemaGenerator)}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write :func:`json_schema` to ``path`` (by default docs/scored_incident.schema.json, from the repository root)."""
    path = Path(path)
    path.write_text(json_schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m secondary_crimes.scored [PATH]
    print(write_json_schema(*sys.argv[1:2]))
