"""What extraction hands to the classifier and the scorer (plain data, no spaCy objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Span:
    """A stretch of one text field of an incident, by character offsets into that field."""

    field: str  # "call_log" or "officer_narrative"
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Indicator:
    """An offence indicator found in the text, with its ConText modifiers."""

    kind: str  # e.g. "punch", "injury", "strangulation", "threat_to_kill"
    offences: tuple[str, ...]  # labels this indicator supports
    span: Span
    negated: bool = False
    hypothetical: bool = False
    historical: bool = False
    other_person: bool = False  # about someone other than the victim/suspect pair
    reported: bool = False  # second-hand ("RP states her sister said ...")

    @property
    def affirmed(self) -> bool:
        """True when the indicator asserts something happened in this incident."""
        return not (self.negated or self.hypothetical or self.historical or self.other_person)


@dataclass(frozen=True)
class Person:
    text: str
    role: str  # victim, suspect, reporter, witness, child, officer, other
    span: Span


@dataclass
class Extraction:
    """Everything extraction found in one incident."""

    incident_id: str
    indicators: list[Indicator] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    relationship: str | None = None
    reporter: str | None = None
    domestic: bool | None = None
    attributes: dict[str, bool] = field(default_factory=dict)  # weapon, alcohol, children_present
