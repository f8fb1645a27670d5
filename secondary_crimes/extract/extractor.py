"""Run the extraction pipeline over incidents and read its spans into plain ``Extraction``s.

The spaCy components tag spans (indicators with their context, roles, relationship and
reporter cues, people); this module turns one incident's two docs into an ``Extraction``
and makes the incident-level calls (relationship, reporter, domestic) from the cues.

Extraction of an incident is cached by a hash of its texts (a bounded module-level LRU), so
cross-validation and threshold selection do not re-run spaCy on the same incident.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from spacy.language import Language
from spacy.tokens import Doc

from secondary_crimes.extract.components import read_kinds
from secondary_crimes.extract.types import Extraction, Indicator, Person, Span
from secondary_crimes.records import TEXT_FIELDS, Incident

RELATIONSHIPS = ("intimate_partner", "ex_partner", "family", "acquaintance", "neighbour", "stranger", "none")
REPORTERS = ("victim", "third_party_professional", "third_party_public", "witness", "police_observed", "anonymous")
DOMESTIC_RELATIONSHIPS = {"intimate_partner", "ex_partner", "family"}
# Reporter cues in the opening of the call log, strongest first: the first cue class found wins.
REPORTER_PRIORITY = ("anonymous", "police_observed", "third_party_professional", "witness", "third_party_public")
CHILD_VICTIM_KINDS = {"child_neglect", "child_harm"}
PLACE_WORDS = {
    "address",
    "house",
    "home",
    "flat",
    "place",
    "property",
    "door",
    "car",
    "phone",
    "mobile",
    "garden",
    "landline",
}
CALLER_CUES = {"third_party_public", "witness", "third_party_professional"}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "hundreds": 200,
    "dozens": 24,
}
_TIMESTAMP = re.compile(r"^\s*\[?\d{1,2}[:.]?\d{2}\]?\s*(hrs)?\s*[-:]?\s*", re.IGNORECASE)

CACHE_SIZE = 50_000
_CACHE: OrderedDict[str, Extraction] = OrderedDict()


def text_key(incident: Incident) -> str:
    digest = hashlib.sha1()
    for field in TEXT_FIELDS:
        digest.update(incident.text(field).encode("utf-8"))
        digest.update(b"\x00")
    digest.update(incident.opening_code.encode("utf-8"))
    return digest.hexdigest()


def clear_cache() -> None:
    _CACHE.clear()


def _number(text: str) -> float | None:
    word = text.lower().rstrip("+")
    if word.replace(",", "").isdigit():
        return float(word.replace(",", ""))
    return float(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else None


class Extractor:
    """``extract(incidents) -> list[Extraction]``, one per incident, in order."""

    def __init__(
        self, model: str | None = None, *, batch_size: int | None = None, n_process: int = 1, use_cache: bool = True
    ):
        self.model = model
        self.batch_size = batch_size
        self.n_process = n_process
        self.use_cache = use_cache
        self._nlp: Language | None = None
        self._kinds: dict | None = None

    # The spaCy pipeline is rebuilt lazily, never pickled.
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_nlp"] = None
        return state

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            from secondary_crimes.extract.pipeline import get_nlp

            self._nlp = get_nlp(self.model)
        return self._nlp

    @property
    def kinds(self) -> dict:
        if self._kinds is None:
            config = self.nlp.get_pipe_config("sc_context") if "sc_context" in self.nlp.pipe_names else {}
            self._kinds = read_kinds(config.get("kinds", "indicator_kinds.jsonl"))
        return self._kinds

    def extract(self, incidents: Sequence[Incident]) -> list[Extraction]:
        keys = [text_key(incident) for incident in incidents]
        todo = {}
        for incident, key in zip(incidents, keys, strict=True):
            if not (self.use_cache and key in _CACHE) and key not in todo:
                todo[key] = incident
        if todo:
            for key, extraction in zip(todo, self._run(list(todo.values())), strict=True):
                if self.use_cache:
                    _CACHE[key] = extraction
                    while len(_CACHE) > CACHE_SIZE:
                        _CACHE.popitem(last=False)
                else:
                    todo[key] = extraction
        out = []
        for incident, key in zip(incidents, keys, strict=True):
            found = _CACHE[key] if self.use_cache else todo[key]
            if self.use_cache:
                _CACHE.move_to_end(key)
            out.append(replace(found, incident_id=incident.incident_id))
        return out

    def _run(self, incidents: list[Incident]) -> list[Extraction]:
        jobs = [
            (i, field) for i, incident in enumerate(incidents) for field in TEXT_FIELDS if incident.text(field).strip()
        ]
        texts = [incidents[i].text(field) for i, field in jobs]
        from secondary_crimes.extract.pipeline import batch_size

        docs = self.nlp.pipe(texts, batch_size=self.batch_size or batch_size(), n_process=self.n_process)
        per_incident: dict[int, dict[str, Doc]] = defaultdict(dict)
        for (i, field), doc in zip(jobs, docs, strict=True):
            per_incident[i][field] = doc
        return [self.read(incident, per_incident.get(i, {})) for i, incident in enumerate(incidents)]

    def docs_for(self, incident: Incident) -> dict[str, Doc]:
        """The processed doc of each non-empty text field (for inspection and tests)."""
        return {field: self.nlp(incident.text(field)) for field in TEXT_FIELDS if incident.text(field).strip()}

    # Reading docs into an Extraction --------------------------------------------------------

    def read(self, incident: Incident, docs: dict[str, Doc]) -> Extraction:
        extraction = Extraction(incident_id=incident.incident_id)
        for field, doc in docs.items():
            extraction.indicators.extend(self._indicators(field, doc))
            extraction.people.extend(self._people(field, doc))
        extraction.people = self._assign_related(extraction)
        for kind in ("weapon", "alcohol", "children_present", "conflict"):
            extraction.attributes[kind] = any(i.kind == kind and i.affirmed for i in extraction.indicators)
        extraction.attributes["child"] = any(i.kind == "child" for i in extraction.indicators)
        extraction.relationship, extraction.relationship_evidence = self._relationship(incident, docs, extraction)
        extraction.reporter, extraction.reporter_evidence = self._reporter(incident, docs, extraction)
        extraction.domestic = self._domestic(extraction)
        return extraction

    def _indicators(self, field: str, doc: Doc) -> list[Indicator]:
        out = []
        for span in doc.spans.get("sc_indicators", []):
            spec = self.kinds.get(span.label_, {})
            value = _number(span[0].text) if span.label_ == "contact_count" else None
            out.append(
                Indicator(
                    kind=span.label_,
                    offences=tuple(spec.get("offences", ())),
                    span=Span(field, span.start_char, span.end_char, span.text),
                    negated=span._.sc_negated,
                    hypothetical=span._.sc_hypothetical,
                    historical=span._.sc_historical,
                    other_person=span._.sc_other_person,
                    reported=span._.sc_reported,
                    value=value,
                    agent=span._.sc_agent,
                    target=span._.sc_target,
                )
            )
        return out

    @staticmethod
    def _people(field: str, doc: Doc) -> list[Person]:
        return [
            Person(span.text, span.label_, Span(field, span.start_char, span.end_char, span.text))
            for span in doc.spans.get("sc_people", [])
        ]

    @staticmethod
    def _assign_related(extraction: Extraction) -> list[Person]:
        """A related person ("her partner") who did an affirmed act to someone is the suspect."""
        agent_of_offence = any(i.affirmed and i.offences and i.agent == "related" for i in extraction.indicators)
        people = []
        for person in extraction.people:
            role = person.role
            if role == "related":
                role = "suspect" if agent_of_offence else "other"
            people.append(Person(person.text, role, person.span))
        return people

    # Relationship: the victim-suspect relationship from the relationship cues -------------

    def _relationship(self, incident: Incident, docs: dict[str, Doc], extraction: Extraction) -> tuple[str, list[Span]]:
        scores: dict[str, float] = defaultdict(float)
        evidence: dict[str, list[Span]] = defaultdict(list)
        offence_kinds = [i for i in extraction.indicators if i.offences]
        conflict = (
            bool(offence_kinds) or extraction.attributes.get("conflict") or "DOMESTIC" in incident.opening_code.upper()
        )
        if not conflict:
            return "none", []
        for field, doc in docs.items():
            caller_cues = [s for s in doc.spans.get("sc_reporters", []) if s.label_ in CALLER_CUES]
            first_sentence_end = next(iter(doc.sents)).end if len(doc) else 0
            indicator_sents = {  # sentences with an offence indicator (not an attribute or contrary evidence)
                s.sent.start for s in doc.spans.get("sc_indicators", []) if self.kinds.get(s.label_, {}).get("offences")
            }
            suspect_sents = {s.sent.start for s in doc.spans.get("sc_roles", []) if s.label_ == "suspect"}
            for span in doc.spans.get("sc_relationships", []):
                after = doc[span.end : span.end + 2]
                if after and after[0].lower_ in {"'s", "'"} and span.label_ not in {"neighbour", "stranger"}:
                    continue  # "his mother's address", "her ex-partner's new girlfriend": someone else
                if span.start > 0 and doc[span.start - 1].lower_ in {"at", "to"} and span.label_ == "family":
                    continue  # "stayed at his mum's"
                if any(c.start <= span.start < c.end for c in caller_cues):
                    continue  # "RP is neighbour": who called, not who was involved
                weight = 0.6 if span.label_ == "stranger" else 1.0
                if field == "call_log" and span.end <= first_sentence_end:
                    weight += 1.0
                if span.sent.start in indicator_sents or span.sent.start in suspect_sents:
                    weight += 0.5
                scores[span.label_] += weight
                evidence[span.label_].append(Span(field, span.start_char, span.end_char, span.text))
        if not scores:
            affirmed = [i for i in offence_kinds if i.affirmed]
            return ("stranger" if affirmed else "none"), []
        if scores.get("ex_partner") and scores["ex_partner"] >= 0.5 * scores.get("intimate_partner", 0.0):
            scores["intimate_partner"] = 0.0
        if (scores.get("intimate_partner") or scores.get("ex_partner")) and not any(
            i.kind in CHILD_VICTIM_KINDS for i in offence_kinds
        ):
            scores["family"] *= 0.5  # "her mum called", "the kids' dad": partners outrank family
        for name, score in scores.items():
            extraction.cues[f"relationship:{name}"] = score
        label = max(RELATIONSHIPS[:-1], key=lambda name: (scores.get(name, 0.0), -RELATIONSHIPS.index(name)))
        return label, evidence[label]

    # Reporter: who made the first report, from the opening of the call log ----------------

    def _reporter(self, incident: Incident, docs: dict[str, Doc], extraction: Extraction) -> tuple[str, list[Span]]:
        field = "call_log" if "call_log" in docs else next(iter(docs), None)
        if field is None:
            return "victim", []
        doc = docs[field]
        window_end = 0
        for sentence in doc.sents:
            window_end = sentence.end
            if window_end >= 12:
                break
        cues = [span for span in doc.spans.get("sc_reporters", []) if span.end <= window_end]
        for span in cues:
            key = f"reporter:{span.label_}"
            extraction.cues[key] = extraction.cues.get(key, 0.0) + 1.0
        if field != "call_log":
            extraction.cues["reporter:no_call_log"] = 1.0
        for label in REPORTER_PRIORITY:
            found = [span for span in cues if span.label_ == label]
            if found:
                return label, [Span(field, s.start_char, s.end_char, s.text) for s in found]
        victim = [span for span in cues if span.label_ == "victim"]
        return "victim", [Span(field, s.start_char, s.end_char, s.text) for s in victim]

    @staticmethod
    def _domestic(extraction: Extraction) -> bool:
        if extraction.relationship not in DOMESTIC_RELATIONSHIPS:
            return False
        child_victim = any(i.kind in CHILD_VICTIM_KINDS and i.affirmed for i in extraction.indicators)
        # Domestic abuse needs both parties aged 16 or over: a family matter about a child is not.
        child_party = extraction.relationship == "family" and extraction.attributes.get("child")
        return not (child_victim or child_party)


_DEFAULT: Extractor | None = None


def extract(incidents: Iterable[Incident]) -> list[Extraction]:
    """Extract with the shared default ``Extractor``."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Extractor()
    return _DEFAULT.extract(list(incidents))
