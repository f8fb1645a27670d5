"""What extraction hands to the classifier and the scorer (plain data, no spaCy objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# The roles a person in an incident can have (plain data: the web app reads it without spaCy).
PERSON_ROLES = ("victim", "suspect", "reporter", "witness", "child")


@dataclass(frozen=True)
class Span:
    """A stretch of one text field of an incident, by character offsets into that field."""

    field: str  # "call_log" or "officer_narrative"
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)

    def overlaps(self, other: Span) -> bool:
        """Whether the two spans share characters of the same field."""
        return self.field == other.field and self.start < other.end and other.start < self.end


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
    value: float | None = None  # a count, for counting indicators ("40 messages")
    agent: str | None = None  # role of who did it (victim, suspect, reporter, ..., unknown)
    target: str | None = None  # role of whom it was done to

    @property
    def affirmed(self) -> bool:
        """True when the indicator asserts something happened in this incident."""
        return not (self.negated or self.hypothetical or self.historical or self.other_person)

    @property
    def context(self) -> str:
        """One word for the indicator's context: the first modifier that applies, else affirmed."""
        for name in ("negated", "hypothetical", "historical", "other_person"):
            if getattr(self, name):
                return name
        return "affirmed"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Person:
    """A person in the incident, one per person however often the logs mention them.

    ``text`` is the person's name as written ("Piotr", "Natalia WOZNIAK", "Mrs Ann HOLT"), or ""
    when the logs only say what they are: role, kinship and job words ("IP", "husband",
    "Client", "the nurse", "S1") are never a name; they are in ``described_as``.
    """

    text: str
    role: str  # victim, suspect, reporter, witness, child, other
    span: Span  # the name, or the role words when there is no name
    # To the victim: intimate_partner, ex_partner, family, acquaintance, neighbour, stranger (None if not said).
    relationship: str | None = None
    age: int | None = None
    described_as: tuple[str, ...] = ()  # the role, kinship and job words used for them, lower case

    def to_dict(self) -> dict:
        return asdict(self)


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
    # The spans behind relationship and reporter (what an auditor would check).
    relationship_evidence: list[Span] = field(default_factory=list)
    reporter_evidence: list[Span] = field(default_factory=list)
    # The weighted cues behind the rule decisions ("relationship:neighbour", "reporter:witness").
    cues: dict[str, float] = field(default_factory=dict)
    # Each relationship cue in its context, as words ("family prev=her", "family caller"): what the
    # learned relationship model reads to tell the victim-suspect pair from the caller's own family.
    cue_contexts: list[str] = field(default_factory=list)

    def affirmed(self, offence: str | None = None) -> list[Indicator]:
        """Affirmed indicators, for one offence when given."""
        return [i for i in self.indicators if i.affirmed and (offence is None or offence in i.offences)]

    def evidence(self, offence: str) -> list[Span]:
        """The spans an auditor would highlight for an offence: its affirmed indicators, in text order."""
        seen: set[tuple[str, int, int]] = set()
        out = []
        for indicator in sorted(self.affirmed(offence), key=lambda i: (i.span.field != "call_log", i.span.start)):
            key = (indicator.span.field, indicator.span.start, indicator.span.end)
            if key not in seen:
                seen.add(key)
                out.append(indicator.span)
        return out
