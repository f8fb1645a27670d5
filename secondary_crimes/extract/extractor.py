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
from dataclasses import dataclass, replace

from spacy.language import Language
from spacy.tokens import Doc
from spacy.tokens import Span as SpacySpan

from secondary_crimes.extract.components import ROLE_PRIORITY, possessive_relationship, read_kinds
from secondary_crimes.extract.types import Extraction, Indicator, Person, Span
from secondary_crimes.records import TEXT_FIELDS, Incident
from secondary_crimes.taxonomy import load_taxonomy

# The vocabularies are the taxonomy's (resources/offences.yaml): one definition each.
RELATIONSHIPS = load_taxonomy().relationships
REPORTERS = load_taxonomy().reporters
DOMESTIC_RELATIONSHIPS = load_taxonomy().domestic_relationships
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
# Cues that the caller tells of someone other than themselves (patterns/caller_cues.jsonl: "caller reports
# a male", "RP re daughter", "not seen for 3 days") are counted over the opening of the call log up to this
# many tokens (whole sentences): a caller's tie to the person concerned is often on the second log line.
OTHER_WINDOW_TOKENS = 40
# A suspect's own relationship word ("husband Piotr controls her money", "EX (S1 DEAN HOLT)") counts
# this much more than a relationship cue elsewhere in the text.
SUSPECT_RELATIONSHIP_WEIGHT = 2.0
# "aged 34", "34yo", "34 years old": an age, which makes a "child" indicator an adult when 16 or over.
_AGE = re.compile(
    r"(?:\bage[d]?\s+(\d{1,3}))|(?:\b(\d{1,3})\s*(?:yo|y/o|yrs|yr|yoa|years?\s*-?\s*old|-\s*year\s*-\s*old))"
)
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


@dataclass(frozen=True)
class CuePlaces:
    """Where a relationship cue can stand in one doc: the who-called cues, the end of the first
    sentence, and the starts of the sentences with an offence indicator (not an attribute or
    contrary evidence) and of those naming the suspect. Worked out once per doc, read by the
    relationship rule and by the cues in context."""

    caller_cues: list[SpacySpan]
    first_sentence_end: int
    indicator_sents: set[int]
    suspect_sents: set[int]

    def in_caller(self, span: SpacySpan) -> bool:
        """Whether the cue is inside a who-called cue ("RP is neighbour"): who called, not who was involved."""
        return any(c.start <= span.start < c.end for c in self.caller_cues)


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
        links = []  # per indicator: (field, agent person id), (field, target person id)
        for field, doc in docs.items():
            extraction.indicators.extend(self._indicators(field, doc))
            links.extend(
                ((field, s._.sc_agent_person), (field, s._.sc_target_person))
                for s in doc.spans.get("sc_indicators", [])
            )
        for kind in ("weapon", "alcohol", "children_present", "conflict"):
            extraction.attributes[kind] = any(i.kind == kind and i.affirmed for i in extraction.indicators)
        extraction.attributes["child"] = any(i.kind == "child" for i in extraction.indicators)
        # Credible evidence to the contrary (the kinds marked "contrary" in indicator_kinds.jsonl).
        extraction.attributes["contrary_evidence"] = any(
            i.affirmed and self.kinds.get(i.kind, {}).get("contrary") for i in extraction.indicators
        )
        extraction.reporter, extraction.reporter_evidence = self._reporter(incident, docs, extraction)
        suspect_cues, young_target = self._people(docs, extraction, links)
        places = {field: self._cue_places(doc) for field, doc in docs.items()}
        extraction.relationship, extraction.relationship_evidence = self._relationship(
            incident, docs, extraction, places, suspect_cues
        )
        extraction.cue_contexts = self._cue_contexts(docs, places, suspect_cues)
        extraction.domestic = self._domestic(extraction, young_target=young_target)
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

    # People: the mentions sc_people found, one Person per person, with their role in the incident --------

    @staticmethod
    def _groups(docs: dict[str, Doc]) -> list[list[tuple[str, SpacySpan]]]:
        """Mentions grouped by person: within a field by sc_people's person id, across fields by
        name ("Dale" and "Dale FINCH"), and an unnamed mention ("IP", "her partner") with the one
        named person described the same way, or with the other unnamed mentions described so."""
        by_id: dict[tuple[str, int], list[tuple[str, SpacySpan]]] = {}
        for field, doc in docs.items():
            for span in doc.spans.get("sc_people", []):
                by_id.setdefault((field, span._.sc_person["id"]), []).append((field, span))
        groups = list(by_id.values())

        def tokens(group) -> set[str]:
            return {t for _, span in group for t in span._.sc_person["tokens"]}

        def keys(group) -> set[tuple[str, ...]]:
            out = set()
            for _, span in group:
                info = span._.sc_person
                words = tuple(w.lower() for w in info["words"])
                if span.label_ in ROLE_PRIORITY:
                    numbered = tuple(w for w in words if re.fullmatch(r"[a-z]+\d", w))  # S1, S2, W1: two people
                    out.add(("role", span.label_, *numbered))
                elif span.label_ == "professional":
                    out.add(("professional", *words))
                elif span.label_ == "related":
                    out.add(("related", info["relationship"], *words))
            return out

        named = [g for g in groups if tokens(g)]
        unnamed = [g for g in groups if not tokens(g)]
        merged: list[list[tuple[str, SpacySpan]]] = []
        for group in named:  # across fields, by name
            name = tokens(group)
            same = [m for m in merged if name <= tokens(m) or tokens(m) <= name]
            if len(same) == 1:
                same[0].extend(group)
            else:
                merged.append(group)
        by_key: dict[tuple[str, ...], list[tuple[str, SpacySpan]]] = {}
        for group in unnamed:
            group_keys = keys(group)
            same = [m for m in merged if keys(m) & group_keys]
            if len(same) == 1:
                same[0].extend(group)
                continue
            key = min(group_keys) if group_keys else ("other", str(id(group)))
            if key in by_key:
                by_key[key].extend(group)
            else:
                by_key[key] = group
                merged.append(group)
        return merged

    def _people(
        self, docs: dict[str, Doc], extraction: Extraction, links: list[tuple[tuple, tuple]]
    ) -> tuple[list[tuple[str, Span]], bool]:
        """``extraction.people`` and the agent/target roles of its indicators; returns the suspects'
        relationship words as (relationship, span) for the relationship call, and whether someone
        aged under 16 is the target of an act."""
        groups = self._groups(docs)
        group_of = {(field, span._.sc_person["id"]): n for n, g in enumerate(groups) for field, span in g}
        agent_of: set[int] = set()
        target_of: set[int] = set()
        for indicator, (agent, target) in zip(extraction.indicators, links, strict=True):
            # An act ("punched", "controls her money"), not a state ("black eye", "asleep"): kinds
            # marked "state" in indicator_kinds.jsonl have no doer.
            act = indicator.affirmed and indicator.offences and not self.kinds.get(indicator.kind, {}).get("state")
            if act and agent in group_of:
                agent_of.add(group_of[agent])
            if act and target in group_of:
                target_of.add(group_of[target])
        window = self._reporter_window(docs)
        callers = {  # "RP is neighbour", "Neighbour calling", "friend of the IP": who called
            field: [s for s in doc.spans.get("sc_reporters", []) if s.label_ in CALLER_CUES]
            for field, doc in docs.items()
        }
        people, roles, suspect_cues = [], [], []
        young_target = False
        for n, group in enumerate(groups):
            group.sort(key=lambda m: (m[0] != "call_log", m[1].start))
            labels = [span.label_ for _, span in group]
            strong = [span.label_ for _, span in group if span.label_ in ROLE_PRIORITY and not span._.sc_person["weak"]]
            weak = [span.label_ for _, span in group if span.label_ in ROLE_PRIORITY and span._.sc_person["weak"]]
            reporting = any(
                span.label_ == "professional" and window is not None and field == window[0] and span.end <= window[1]
                for field, span in group
            )
            if strong:
                role = min(strong, key=ROLE_PRIORITY.index)
            elif weak:  # a client or patient is the victim unless they did it
                role = "suspect" if n in agent_of else min(weak, key=ROLE_PRIORITY.index)
            elif "professional" in labels:  # the nurse who calls is the reporter, never the suspect
                role = "reporter" if reporting and extraction.reporter == "third_party_professional" else (
                    "suspect" if n in agent_of else "other"
                )
            elif "related" in labels:  # "her husband" is the suspect when he did it
                calling = any(
                    c.start <= span.start < c.end
                    for field, span in group
                    if span.label_ == "related"
                    for c in callers[field]
                )
                role = "reporter" if calling else "suspect" if n in agent_of else "other"
            else:  # a name alone: the NER's PERSON also tags places ("followed her to Sainsbury's")
                role = "other"
            roles.append(role)
            named = [(field, span) for field, span in group if span._.sc_person["name"]]
            if named:
                field, span = max(named, key=lambda m: len(m[1]._.sc_person["tokens"]))
                start, end = span._.sc_person["name"]
                name = span.doc[start:end]
                text, where = name.text, Span(field, name.start_char, name.end_char, name.text)
            else:
                field, span = group[0]
                text, where = "", Span(field, span.start_char, span.end_char, span.text)
            relationships = [(f, s) for f, s in group if s._.sc_person["relationship"]]
            relationship = relationships[0][1]._.sc_person["relationship"] if relationships else None
            ages = [s._.sc_person["age"] for _, s in group if s._.sc_person["age"] is not None]
            words = tuple(dict.fromkeys(w.lower() for _, s in group for w in s._.sc_person["words"]))
            people.append(
                Person(
                    text,
                    role,
                    where,
                    relationship=None if role == "victim" else relationship,
                    age=ages[0] if ages else None,
                    described_as=words,
                )
            )
            if role == "suspect" and relationship:
                f, s = relationships[0]
                suspect_cues.append((relationship, Span(f, s.start_char, s.end_char, s.text)))
            if n in target_of and n not in agent_of and ages and ages[0] < 16:
                young_target = True  # "Mum hit her son Tom (4)": a child is a party
        extraction.people = people
        extraction.indicators = [
            replace(
                indicator,
                agent=roles[group_of[agent]] if agent in group_of else indicator.agent,
                target=roles[group_of[target]] if target in group_of else indicator.target,
            )
            for indicator, (agent, target) in zip(extraction.indicators, links, strict=True)
        ]
        return suspect_cues, young_target

    # Relationship: the victim-suspect relationship from the relationship cues -------------

    def _relationship(
        self,
        incident: Incident,
        docs: dict[str, Doc],
        extraction: Extraction,
        places: dict[str, CuePlaces],
        suspect_cues: Sequence[tuple[str, Span]] = (),
    ) -> tuple[str, list[Span]]:
        scores: dict[str, float] = defaultdict(float)
        evidence: dict[str, list[Span]] = defaultdict(list)
        offence_kinds = [i for i in extraction.indicators if i.offences]
        conflict = (
            bool(offence_kinds) or extraction.attributes.get("conflict") or "DOMESTIC" in incident.opening_code.upper()
        )
        if not conflict:
            return "none", []
        for field, doc in docs.items():
            where = places[field]
            cue_ending = {s.end: s for s in doc.spans.get("sc_relationships", [])}
            for span in doc.spans.get("sc_relationships", []):
                after = doc[span.end : span.end + 2]
                if after and after[0].lower_ in {"'s", "'"} and span.label_ not in {"neighbour", "stranger"}:
                    continue  # "his mother's address", "her ex-partner's new girlfriend": someone else
                label = span.label_
                if span.start >= 2 and doc[span.start - 1].lower_ in {"'s", "'"} and span.start - 1 in cue_ending:
                    # "her husband's friend" is an acquaintance, "a neighbour's son" a neighbour
                    label = possessive_relationship(cue_ending[span.start - 1].label_, label)
                if span.start > 0 and doc[span.start - 1].lower_ in {"at", "to"} and label == "family":
                    continue  # "stayed at his mum's"
                if where.in_caller(span):
                    continue  # "RP is neighbour": who called, not who was involved
                weight = 0.6 if label == "stranger" else 1.0
                if field == "call_log" and span.end <= where.first_sentence_end:
                    weight += 1.0
                if span.sent.start in where.indicator_sents or span.sent.start in where.suspect_sents:
                    weight += 0.5
                scores[label] += weight
                evidence[label].append(Span(field, span.start_char, span.end_char, span.text))
        for label, span in suspect_cues:  # the suspect's own relationship: "husband Piotr controls her money"
            scores[label] += SUSPECT_RELATIONSHIP_WEIGHT * (0.6 if label == "stranger" else 1.0)
            if span not in evidence[label]:
                evidence[label].insert(0, span)
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

    def _cue_places(self, doc: Doc) -> CuePlaces:
        """Where a relationship cue can stand in ``doc`` (``CuePlaces``)."""
        return CuePlaces(
            caller_cues=[s for s in doc.spans.get("sc_reporters", []) if s.label_ in CALLER_CUES],
            first_sentence_end=next(iter(doc.sents)).end if len(doc) else 0,
            indicator_sents={
                s.sent.start for s in doc.spans.get("sc_indicators", []) if self.kinds.get(s.label_, {}).get("offences")
            },
            suspect_sents={s.sent.start for s in doc.spans.get("sc_roles", []) if s.label_ == "suspect"},
        )

    @staticmethod
    def _cue_contexts(docs: dict[str, Doc], places: dict[str, CuePlaces],
                      suspect_cues: Sequence[tuple[str, Span]] = ()) -> list[str]:
        """Every relationship cue with the words and places around it, as feature words for the learned
        model: "<label>", "<label> w=<cue>", "<label> prev=<word>", "<label> next=<word>", and
        "<label> first" (the call log's first sentence), "ind" (a sentence with an offence indicator),
        "susp" (a sentence naming the suspect), "caller" (inside a who-called cue: "RP is her mum"),
        "narr" (the officer narrative), "suspect" (said of the suspect person)."""
        out: list[str] = []
        for field, doc in docs.items():
            where = places[field]
            for span in doc.spans.get("sc_relationships", []):
                label = span.label_
                words = [label, f"{label} w={' '.join(t.lower_ for t in span)}"]
                if span.start > 0:
                    words.append(f"{label} prev={doc[span.start - 1].lower_}")
                if span.end < len(doc):
                    words.append(f"{label} next={doc[span.end].lower_}")
                if field == "call_log" and span.end <= where.first_sentence_end:
                    words.append(f"{label} first")
                if span.sent.start in where.indicator_sents:
                    words.append(f"{label} ind")
                if span.sent.start in where.suspect_sents:
                    words.append(f"{label} susp")
                if where.in_caller(span):
                    words.append(f"{label} caller")
                if field != "call_log":
                    words.append(f"{label} narr")
                out.extend(words)
        out.extend(f"{label} suspect" for label, _ in suspect_cues)
        return out

    # Reporter: who made the first report, from the opening of the call log ----------------

    @staticmethod
    def _reporter_window(docs: dict[str, Doc], min_tokens: int = 12) -> tuple[str, int] | None:
        """Where the reporter is described: the opening sentence(s), at least ``min_tokens`` tokens, of
        the call log (the officer narrative when there is no log): (field, end token)."""
        field = "call_log" if "call_log" in docs else next(iter(docs), None)
        if field is None:
            return None
        window_end = 0
        for sentence in docs[field].sents:
            window_end = sentence.end
            if window_end >= min_tokens:
                break
        return field, window_end

    def _reporter(self, incident: Incident, docs: dict[str, Doc], extraction: Extraction) -> tuple[str, list[Span]]:
        window = self._reporter_window(docs)
        if window is None:
            return "victim", []
        field, window_end = window
        doc = docs[field]
        cues = [span for span in doc.spans.get("sc_reporters", []) if span.end <= window_end]
        for span in cues:
            key = f"reporter:{span.label_}"
            extraction.cues[key] = extraction.cues.get(key, 0.0) + 1.0
        if field != "call_log":
            extraction.cues["reporter:no_call_log"] = 1.0
        other_end = self._reporter_window(docs, OTHER_WINDOW_TOKENS)[1]
        for span in doc.spans.get("sc_caller", []):
            if span.end <= other_end:
                key = f"reporter:{span.label_}"
                extraction.cues[key] = extraction.cues.get(key, 0.0) + 1.0
        for label in REPORTER_PRIORITY:
            found = [span for span in cues if span.label_ == label]
            if found:
                return label, [Span(field, s.start_char, s.end_char, s.text) for s in found]
        victim = [span for span in cues if span.label_ == "victim"]
        return "victim", [Span(field, s.start_char, s.end_char, s.text) for s in victim]

    @staticmethod
    def _domestic(extraction: Extraction, *, young_target: bool = False) -> bool:
        if extraction.relationship not in DOMESTIC_RELATIONSHIPS or young_target:
            return False
        child_victim = any(i.kind in CHILD_VICTIM_KINDS and i.affirmed for i in extraction.indicators)
        # Domestic abuse needs both parties aged 16 or over: a family matter about a child is not.
        parties = [p for p in extraction.people if p.role in ("victim", "suspect")]
        if any(p.age is not None and p.age < 16 for p in parties):
            return False
        adults = {p.role for p in parties if p.age is not None and p.age >= 16} == {"victim", "suspect"}
        # A child mentioned ("son aged 6", "toddler", "Year 4"), not an adult's age ("son, aged 34").
        child = any(i.kind == "child" and not _adult_age(i.span.text) for i in extraction.indicators)
        child_party = extraction.relationship == "family" and child and not adults
        return not (child_victim or child_party)


def _adult_age(text: str) -> bool:
    """True when a text gives an age of 16 or over ("aged 34", "34yo", "34 years old")."""
    match = _AGE.search(text.lower())
    return bool(match) and int(match.group(1) or match.group(2)) >= 16


_DEFAULT: Extractor | None = None


def extract(incidents: Iterable[Incident]) -> list[Extraction]:
    """Extract with the shared default ``Extractor``."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Extractor()
    return _DEFAULT.extract(list(incidents))
