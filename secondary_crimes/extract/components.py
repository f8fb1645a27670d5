"""The project's spaCy components, registered with ``@Language.factory``.

- ``sc_span_patterns``: spaCy's own ``SpanRuler`` filled from a JSONL pattern file in
  ``patterns/`` (one pattern a line, ``label`` = indicator kind, role, relationship or
  reporter cue). Used for indicators, roles, relationships and reporter cues.
- ``sc_context``: the ConText step. Each context category (negated, hypothetical,
  historical, other_person, reported) is one instance of negspacy's ``Negex`` (the NegEx /
  ConText trigger-and-scope algorithm) over the indicator spans, with that category's
  trigger lists read from ``patterns/context.jsonl`` and its result in ``span._.sc_<category>``.
- ``sc_people``: people and their roles (role words, control-room shorthand and the names
  beside them) and a small pronoun resolver that says, for each indicator, who did it
  (``span._.sc_agent``) and to whom (``span._.sc_target``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import srsly
from negspacy.negation import Negex
from spacy.language import Language
from spacy.pipeline import SpanRuler
from spacy.tokens import Doc, Span
from spacy.util import registry

PATTERNS_DIR = Path(__file__).parent / "patterns"
CONTEXT_CATEGORIES = ("negated", "hypothetical", "historical", "other_person", "reported")

for _name in CONTEXT_CATEGORIES:
    if not Span.has_extension(f"sc_{_name}"):
        Span.set_extension(f"sc_{_name}", default=False)
for _name in ("sc_agent", "sc_target"):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=None)


def pattern_path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else PATTERNS_DIR / path


def read_patterns(name: str) -> list[dict[str, Any]]:
    """The JSONL patterns of one file, with the file and line named on errors."""
    path = pattern_path(name)
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            pattern = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error.msg}") from None
        if "label" not in pattern or "pattern" not in pattern:
            raise ValueError(f"{path}:{number}: a pattern needs 'label' and 'pattern'")
        out.append(pattern)
    return out


def read_context_rules(name: str) -> dict[str, dict[str, Any]]:
    """ConText rules: one line per category with its trigger lists and ``except_kinds``."""
    return {
        row["category"]: {k: v for k, v in row.items() if k != "category"}
        for row in srsly.read_jsonl(pattern_path(name))
    }


def read_kinds(name: str) -> dict[str, dict[str, Any]]:
    """Indicator kinds: ``{"kind": ..., "offences": [...], "attribute": ...}`` per line."""
    return {row["kind"]: row for row in srsly.read_jsonl(pattern_path(name))}


class GatedSpanRuler(SpanRuler):
    """spaCy's ``SpanRuler``, run only on the sentences where some pattern can start.

    The token Matcher tries every pattern at every token, and a ``{"LOWER": {"IN": [...]}}``
    test is a Python call, so its cost grows with patterns x tokens. Log lines such as
    "0321 G1.", an address or "on scene" contain no word a pattern starts with: a set lookup
    per token skips them (about a third of the time of the relationship and reporter rulers;
    the indicator patterns start with so many common words that nearly every sentence is
    matched). Patterns must not cross sentences (the context scopes do not either).
    """

    def _first_tokens(self, tokens: list[dict[str, Any]]) -> bool:
        """Record what ``tokens`` can start with; False when that cannot be told cheaply."""
        if not tokens:
            return False
        first = tokens[0]
        keys = set(first) - {"OP"}
        lower = first.get("LOWER")
        if keys == {"LOWER"} and isinstance(lower, str):
            self._anchors.add(lower)
        elif keys == {"LOWER"} and isinstance(lower, dict) and set(lower) == {"IN"}:
            self._anchors.update(lower["IN"])
        elif keys == {"LOWER"} and isinstance(lower, dict) and set(lower) == {"REGEX"}:
            self._regexes.append(re.compile(lower["REGEX"]))
        elif keys == {"LIKE_NUM"}:
            self._like_num = True
        else:
            return False
        if first.get("OP") in ("?", "*"):
            return self._first_tokens(tokens[1:])
        return True

    def add_patterns(self, patterns) -> None:
        super().add_patterns(patterns)
        self._anchors: set[str] = set()
        self._regexes: list[re.Pattern] = []
        self._like_num = False
        self._gated = all(isinstance(p["pattern"], list) and self._first_tokens(p["pattern"]) for p in self.patterns)

    def _may_start(self, token) -> bool:
        lower = token.lower_
        return (
            lower in self._anchors
            or (self._like_num and token.like_num)
            or any(regex.search(lower) for regex in self._regexes)
        )

    def match(self, doc: Doc):
        if not getattr(self, "_gated", False) or not doc.has_annotation("SENT_START") or self.phrase_matcher:
            return super().match(doc)
        self._require_patterns()
        found = set()
        for sentence in doc.sents:
            if any(self._may_start(token) for token in sentence):
                for m_id, start, end in self.matcher(sentence):
                    if start != end:
                        label = self._match_label_id_map[m_id]
                        found.add(
                            Span(
                                doc,
                                sentence.start + start,
                                sentence.start + end,
                                label=label["label"],
                                span_id=label["id"],
                            )
                        )
        return sorted(found)


@Language.factory(
    "sc_span_patterns",
    default_config={"spans_key": "sc", "patterns": None, "longest_only": False},
)
def make_span_patterns(nlp: Language, name: str, spans_key: str, patterns: str | None, longest_only: bool) -> SpanRuler:
    """A ``SpanRuler`` (case-insensitive phrases, token patterns) loaded from a JSONL file."""
    spans_filter = registry.misc.get("spacy.first_longest_spans_filter.v1")() if longest_only else None
    ruler = GatedSpanRuler(
        nlp,
        name,
        spans_key=spans_key,
        spans_filter=spans_filter,
        phrase_matcher_attr="LOWER",
        validate=True,
        overwrite=True,
    )
    if patterns:
        # Phrases become token patterns on the tokenizer alone: SpanRuler would otherwise run
        # them through the whole pipeline built so far (the NER), which is slow and, while a
        # saved pipeline is loading, not yet possible.
        ruler.add_patterns(
            [
                dict(p, pattern=[{"LOWER": t.lower_} for t in nlp.make_doc(p["pattern"])])
                if isinstance(p["pattern"], str)
                else p
                for p in read_patterns(patterns)
            ]
        )
    return ruler


class ContextComponent:
    """ConText modifiers for the spans in ``doc.spans[spans_key]``, one negspacy Negex per category.

    ``rules`` names a JSONL file, a line per category: the four negspacy trigger lists
    (``pseudo_negations``: phrases that look like a trigger but are not,
    ``preceding_negations``: triggers before the indicator, ``following_negations``: after it,
    ``termination``: words that close a trigger's scope) and ``except_kinds``: indicator
    kinds the category never applies to (a threat is about the future by nature, so
    "would" does not make "he would kill her" hypothetical).
    """

    def __init__(self, nlp: Language, name: str, spans_key: str, rules: str, kinds: str):
        self.nlp = nlp
        self.name = name
        self.spans_key = spans_key
        self.rules_file = rules
        self._build(read_context_rules(rules), sorted(read_kinds(kinds)))

    def _build(self, rules: dict[str, Any], kinds: list[str]) -> None:
        unknown = set(rules) - set(CONTEXT_CATEGORIES)
        if unknown:
            raise ValueError(f"{self.rules_file}: unknown context categories {sorted(unknown)}")
        self.rules, self.kinds = rules, kinds
        self.engines = []
        for category, spec in rules.items():
            termset = {
                key: list(spec.get(key, []))
                for key in ("pseudo_negations", "preceding_negations", "following_negations", "termination")
            }
            excluded = set(spec.get("except_kinds", []))
            allowed = [kind for kind in kinds if kind not in excluded]
            self.engines.append(
                Negex(
                    self.nlp,
                    f"{self.name}_{category}",
                    termset,
                    ent_types=allowed,
                    extension_name=f"sc_{category}",
                    span_keys=[self.spans_key],
                )
            )

    def __call__(self, doc: Doc) -> Doc:
        if not doc.spans.get(self.spans_key):
            return doc
        for engine in self.engines:
            engine(doc)
        return doc

    def to_disk(self, path, exclude=tuple()):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "rules.json", self.rules)
        srsly.write_json(path / "kinds.json", self.kinds)

    def from_disk(self, path, exclude=tuple()):
        path = Path(path)
        if (path / "rules.json").exists():
            self._build(srsly.read_json(path / "rules.json"), srsly.read_json(path / "kinds.json"))
        return self


@Language.factory(
    "sc_context",
    default_config={"spans_key": "sc_indicators", "rules": "context.jsonl", "kinds": "indicator_kinds.jsonl"},
)
def make_context(nlp: Language, name: str, spans_key: str, rules: str, kinds: str) -> ContextComponent:
    return ContextComponent(nlp, name, spans_key, rules, kinds)


FEMALE = {
    "she",
    "her",
    "hers",
    "herself",
    "female",
    "woman",
    "girl",
    "lady",
    "mrs",
    "ms",
    "miss",
    "mum",
    "mother",
    "wife",
    "girlfriend",
    "sister",
    "daughter",
    "gf",
    "aunt",
    "nan",
    "grandmother",
    "f",
}
MALE = {
    "he",
    "him",
    "his",
    "himself",
    "male",
    "man",
    "boy",
    "mr",
    "dad",
    "father",
    "husband",
    "boyfriend",
    "brother",
    "son",
    "bf",
    "uncle",
    "grandad",
    "grandfather",
    "m",
}
SUBJECT_PRONOUNS = {"he": "m", "she": "f"}
OBJECT_PRONOUNS = {"him": "m", "her": "f", "me": "reporter", "i": "reporter"}
PERSON_ROLES = ("victim", "suspect", "reporter", "witness", "child")


class PeopleComponent:
    """People from role mentions and the PERSON entities beside them; who did what to whom.

    A person mention is a role span (``IP``, ``OP``, ``RP``, ``victim``, ``susp``, ...) or a
    PERSON entity; a name directly after or before a role word takes its role ("IP Donna
    KEYS", "Jason PLATT (susp)"). A mention's gender comes from the words beside it (Mr,
    female, husband, ...). For each indicator, the agent is the nearest mention or subject
    pronoun before it in its sentence and the target the first mention or object pronoun
    after it; a pronoun is resolved to the latest mention of its gender.
    """

    def __init__(
        self, nlp: Language, name: str, roles_key: str, spans_key: str, indicators_key: str, relationships_key: str
    ):
        self.name = name
        self.roles_key = roles_key
        self.spans_key = spans_key
        self.indicators_key = indicators_key
        self.relationships_key = relationships_key

    @staticmethod
    def _gender(doc: Doc, start: int, end: int) -> str | None:
        """Gender from the words just before a mention, or an apposition after it ("IP, a female")."""
        words = {token.lower_.strip(".") for token in doc[max(0, start - 2) : end]}
        if end < len(doc) and doc[end].text in {",", "("}:
            words |= {token.lower_.strip(".") for token in doc[end : min(len(doc), end + 4)]}
        female, male = bool(words & FEMALE - {"her", "she"}), bool(words & MALE - {"he", "his", "him"})
        if female != male:
            return "f" if female else "m"
        return None

    def _mentions(self, doc: Doc) -> list[Span]:
        roles = [span for span in doc.spans.get(self.roles_key, []) if span.label_ != "officer"]
        officers = [span for span in doc.spans.get(self.roles_key, []) if span.label_ == "officer"]
        mentions: list[Span] = []
        used_names: set[int] = set()
        role_tokens = {i for span in doc.spans.get(self.roles_key, []) for i in range(span.start, span.end)}
        # A name is capitalised ("Donna KEYS"); the small model sometimes tags "IP states OP".
        names = [
            ent
            for ent in doc.ents
            if ent.label_ == "PERSON"
            and all(t.text[:1].isupper() for t in ent if t.i not in role_tokens and t.is_alpha)
            and any(t.i not in role_tokens for t in ent)
        ]
        for role in roles:
            name = next(
                (
                    ent
                    for ent in names
                    if 0 <= ent.start - role.end <= 1
                    or 0 <= role.start - ent.end <= 2
                    or ent.start <= role.start < ent.end
                ),
                None,
            )
            if name is not None and name.start not in used_names:
                used_names.add(name.start)
                start, end = min(role.start, name.start), max(role.end, name.end)
                mentions.append(Span(doc, start, end, label=role.label_))
            else:
                mentions.append(Span(doc, role.start, role.end, label=role.label_))
        for ent in names:
            if ent.start in used_names:
                continue
            if any(o.start <= ent.start <= o.end + 1 for o in officers):
                continue
            if any(m.start <= ent.start < m.end for m in mentions):
                continue
            mentions.append(Span(doc, ent.start, ent.end, label="other"))
        # "her partner", "his ex", "adult son": a person related to someone, role decided later.
        for span in doc.spans.get(self.relationships_key, []):
            if span.label_ == "stranger" or len(span) > 2:
                continue
            if any(m.start <= span.start < m.end or span.start <= m.start < span.end for m in mentions):
                continue
            mentions.append(Span(doc, span.start, span.end, label="related"))
        return sorted(mentions, key=lambda s: s.start)

    def __call__(self, doc: Doc) -> Doc:
        mentions = self._mentions(doc)
        doc.spans[self.spans_key] = mentions
        indicators = doc.spans.get(self.indicators_key, [])
        if not indicators:
            return doc
        genders = {m.start: self._gender(doc, m.start, m.end) for m in mentions}
        # Timeline of (token index, role, gender): mentions, and pronouns resolved as we go.
        timeline: list[tuple[int, int, str, str | None]] = []  # (start, end, role, gender)
        mention_at = {m.start: m for m in mentions}
        last_by_gender: dict[str, str] = {}
        i = 0
        while i < len(doc):
            mention = mention_at.get(i)
            if mention is not None:
                gender = genders.get(i)
                timeline.append((mention.start, mention.end, mention.label_, gender))
                if gender:
                    last_by_gender[gender] = mention.label_
                i = mention.end
                continue
            lower = doc[i].lower_
            gender = SUBJECT_PRONOUNS.get(lower) or OBJECT_PRONOUNS.get(lower)
            if lower in ("his",):
                gender = "m"
            if gender == "reporter":
                timeline.append((i, i + 1, "reporter", None))
            elif gender:
                role = last_by_gender.get(gender)
                if role is None:
                    # No mention of that gender yet: a subject pronoun takes the latest ungendered
                    # mention ("OP ... he"), an object pronoun the one before the latest, as the
                    # latest is usually the doer ("IP states OP punched her").
                    ungendered = [
                        t
                        for t in timeline
                        if t[3] is None and t[2] not in {"unknown"} and t[2] not in last_by_gender.values()
                    ]
                    if (lower in SUBJECT_PRONOUNS or lower == "his") and ungendered:
                        role = ungendered[-1][2]
                    elif len(ungendered) >= 2:
                        role = ungendered[-2][2]
                    elif (
                        ungendered
                        and lower not in SUBJECT_PRONOUNS
                        and ungendered[-1][2] != (timeline[-1][2] if timeline else None)
                    ):
                        role = ungendered[-1][2]
                    if role is not None:
                        last_by_gender[gender] = role
                timeline.append((i, i + 1, role or "unknown", gender))
            i += 1
        for span in indicators:
            sentence_start = span.sent.start if doc.has_annotation("SENT_START") else 0
            sentence_end = span.sent.end if doc.has_annotation("SENT_START") else len(doc)
            before = [t for t in timeline if sentence_start <= t[0] and t[1] <= span.start]
            after = [t for t in timeline if span.start <= t[0] < min(sentence_end, span.end + 4)]
            if before:
                span._.sc_agent = before[-1][2]
            if after:
                span._.sc_target = after[0][2]
        return doc

    def to_disk(self, path, exclude=tuple()):
        Path(path).mkdir(parents=True, exist_ok=True)

    def from_disk(self, path, exclude=tuple()):
        return self


@Language.factory(
    "sc_people",
    default_config={
        "roles_key": "sc_roles",
        "spans_key": "sc_people",
        "indicators_key": "sc_indicators",
        "relationships_key": "sc_relationships",
    },
)
def make_people(
    nlp: Language, name: str, roles_key: str, spans_key: str, indicators_key: str, relationships_key: str
) -> PeopleComponent:
    return PeopleComponent(nlp, name, roles_key, spans_key, indicators_key, relationships_key)
