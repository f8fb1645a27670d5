"""The project's spaCy components, registered with ``@Language.factory``.

- ``sc_span_patterns``: spaCy's own ``SpanRuler`` filled from a JSONL pattern file in
  ``patterns/`` (one pattern a line, ``label`` = indicator kind, role, relationship or
  reporter cue), each read as the tokenizer sees text (``LiteralSplitter``: "victim's" is
  victim 's). Used for indicators, roles, relationships and reporter cues.
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
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import srsly
from negspacy.negation import Negex
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import SpanRuler
from spacy.tokens import Doc, Span
from spacy.util import registry

PATTERNS_DIR = Path(__file__).parent / "patterns"
CONTEXT_CATEGORIES = ("negated", "hypothetical", "historical", "other_person", "reported")

for _name in CONTEXT_CATEGORIES:
    if not Span.has_extension(f"sc_{_name}"):
        Span.set_extension(f"sc_{_name}", default=False)
for _name in ("sc_agent", "sc_target", "sc_agent_person", "sc_target_person", "sc_person"):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=None)


def pattern_path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else PATTERNS_DIR / path


def jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each line of a pattern file, skipping blank and ``//`` lines;
    a line that is not JSON is an error naming the file and the line."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON: {error.msg}") from None


# Named word lists (``patterns/word_lists.jsonl``): a pattern file writes "$person_object" in an
# ``IN`` or ``NOT_IN`` list for the words of that list, so a list many rows need is defined once.
WORD_LISTS = "word_lists.jsonl"


@lru_cache(maxsize=4)
def read_word_lists(name: str = WORD_LISTS) -> Mapping[str, tuple[str, ...]]:
    """The named word lists (read-only, cached): one ``{"name", "words", "about"}`` line each, names unique."""
    path = pattern_path(name)
    out: dict[str, tuple[str, ...]] = {}
    for number, row in jsonl_rows(path):
        words = row.get("words")
        if not isinstance(row.get("name"), str) or not isinstance(words, list) or not words:
            raise ValueError(f"{path}:{number}: a word list needs a 'name' and a non-empty list of 'words'")
        if row["name"] in out:
            raise ValueError(f"{path}:{number}: the word list {row['name']!r} is defined twice")
        if any(not isinstance(w, str) or w.startswith("$") for w in words):
            raise ValueError(f"{path}:{number}: {row['name']!r}: words are plain strings (no '$' references)")
        out[row["name"]] = tuple(dict.fromkeys(words))
    return MappingProxyType(out)


def expand_word_lists(value: Any, lists: Mapping[str, tuple[str, ...]] | None = None) -> Any:
    """``value`` (a pattern, or any part of one) with every "$name" in an ``IN`` or ``NOT_IN`` list
    replaced by that named list's words, in order and without repeats."""
    lists = read_word_lists() if lists is None else lists
    if isinstance(value, list):
        return [expand_word_lists(item, lists) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in ("IN", "NOT_IN") and isinstance(item, list) and any(str(w).startswith("$") for w in item):
            words: list[str] = []
            for word in item:
                if isinstance(word, str) and word.startswith("$"):
                    if word[1:] not in lists:
                        raise ValueError(f"no word list named {word[1:]!r} in {WORD_LISTS} (known: {sorted(lists)})")
                    words.extend(lists[word[1:]])
                else:
                    words.append(word)
            out[key] = list(dict.fromkeys(words))
        else:
            out[key] = expand_word_lists(item, lists)
    return out


def read_patterns(name: str, nlp: Language | None = None) -> list[dict[str, Any]]:
    """The JSONL patterns of one file, with the file and line named on errors.

    A "$name" in an ``IN`` or ``NOT_IN`` list stands for the named word list of that name
    (``word_lists.jsonl``, ``expand_word_lists``).

    Given ``nlp``, the patterns come back as its tokenizer will see the text: a phrase becomes
    one token per word, and a ``LOWER`` word the tokenizer splits ("victim's", "didn't",
    "b/f", "non-mol") becomes its pieces (see ``LiteralSplitter``), so no pattern is dead.
    """
    path = pattern_path(name)
    splitter = LiteralSplitter(nlp) if nlp is not None else None
    out = []
    for number, pattern in jsonl_rows(path):
        if "label" not in pattern or "pattern" not in pattern:
            raise ValueError(f"{path}:{number}: a pattern needs 'label' and 'pattern'")
        try:
            pattern = dict(pattern, pattern=expand_word_lists(pattern["pattern"]))
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        problem = _repeat_problem(pattern["pattern"])
        if problem:
            raise ValueError(f"{path}:{number}: {problem}")
        if splitter is None:
            out.append(pattern)
            continue
        tokens = pattern["pattern"]
        if isinstance(tokens, str):
            tokens = [{"LOWER": t.lower_} for t in splitter.nlp.make_doc(tokens)]
        try:
            variants = splitter(tokens)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        for variant in variants:
            problem = _repeat_problem(variant)
            if problem:
                raise ValueError(f"{path}:{number}: once split, {problem}")
            out.append(dict(pattern, pattern=variant))
    return out


# A pattern whose split words multiply into more token sequences than this is refused.
MAX_VARIANTS = 64


class LiteralSplitter:
    """Token patterns rewritten as ``nlp``'s tokenizer sees the text: each ``LOWER`` word it
    splits into several tokens ("victim's", "didn't", "b/f") is replaced by those tokens (one
    more pattern per such word in an ``IN`` list; its pieces join a repeated gap's list)."""

    def __init__(self, nlp: Language):
        self.nlp = nlp
        # Every token the tokenizer's special cases make, as cased there ("'ve" of "I've", "n't").
        self.pieces = {piece[ORTH] for pieces in (nlp.tokenizer.rules or {}).values() for piece in pieces}
        self._forms: dict[str, set[tuple[str, ...]]] = {}

    def forms(self, word: str) -> set[tuple[str, ...]]:
        """The lower-cased tokens ``word`` becomes written in lower case, capitalised and in
        capitals (the exceptions are cased: "Dr." is one token, "dr." two; "ID" one, "id" two)."""
        if word not in self._forms:
            if word.lower() in self.pieces:  # a lower-case piece: "'ve", "n't", "gon"
                self._forms[word] = {(word.lower(),)}
            else:
                written = (word.lower(), word[:1].upper() + word[1:].lower(), word.upper())
                self._forms[word] = {tuple(t.lower_ for t in self.nlp.make_doc(w)) for w in written}
        return self._forms[word]

    def __call__(self, tokens: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        variants: list[list[dict[str, Any]]] = [[]]
        for token in tokens:
            options = self.options(token)
            variants = [v + o for v in variants for o in options]
            if len(variants) > MAX_VARIANTS:
                raise ValueError(f"the words the tokenizer splits make over {MAX_VARIANTS} patterns of this one; "
                                 "write the pieces as tokens")
        return [v for v in variants if v]

    def options(self, token: dict[str, Any]) -> list[list[dict[str, Any]]]:
        """The token sequences that stand for one pattern token once its words are tokenised."""
        lower = token.get("LOWER")
        if isinstance(lower, dict) and "NOT_IN" in lower:
            kept = [w for w in lower["NOT_IN"] if any(len(f) == 1 for f in self.forms(w))]
            pieces = {p for w in lower["NOT_IN"] for f in self.forms(w) if len(f) > 1 for p in f}
            missing = sorted(pieces - {w.lower() for w in kept})
            if missing:
                raise ValueError(f"NOT_IN lists words the tokenizer splits; list their pieces {missing} instead")
            return [[dict(token, LOWER=dict(lower, NOT_IN=kept))]] if len(kept) < len(lower["NOT_IN"]) else [[token]]
        if isinstance(lower, str):
            words = [lower]
        elif isinstance(lower, dict) and set(lower) == {"IN"}:
            words = list(lower["IN"])
        else:
            return [[token]]
        single: list[str] = []
        multi: list[tuple[str, ...]] = []
        for word in words:
            for form in sorted(self.forms(word)):
                if len(form) == 1 and form[0] not in single:
                    single.append(form[0])
                elif len(form) > 1 and form not in multi:
                    multi.append(form)
        if not multi:
            return [[token]]
        op = token.get("OP")
        rest = {k: v for k, v in token.items() if k not in ("LOWER", "OP")}
        if rest or op == "!":
            raise ValueError(f"{sorted(' '.join(m) for m in multi)} are several tokens each; a token that also "
                             f"tests {sorted(rest) or 'OP !'} cannot be split: write the pieces as tokens")
        if op in (None, "?"):
            whole = dict(token, LOWER=single[0] if isinstance(lower, str) and len(single) == 1 else {"IN": single})
            options = [[whole]] if single else ([[]] if op == "?" else [])
            return options + [[{"LOWER": piece} for piece in form] for form in multi]
        # A repeated token ("*", "+", "{n,m}") is a gap of such words: the pieces join it, and
        # its length grows by the extra tokens a split word takes.
        pieces = list(dict.fromkeys(single + [p for form in multi for p in form]))
        found = re.fullmatch(r"\{(\d*),(\d*)\}", str(op))
        if found and found[2]:
            op = f"{{{found[1]},{int(found[2]) + max(len(form) for form in multi) - 1}}}"
        return [[{"LOWER": {"IN": pieces}, "OP": op}]]


# The Matcher expands {n,m} into m-n optional tokens and tries every way of filling them:
# a {0,25} gap cost ~50 s per 700 sentences where "*" (bounded by the sentence, since the
# rulers match within sentences) cost 0.05 s (spaCy issue #4742). Up to 12 is cheap.
MAX_REPEAT = 12


def _repeat_problem(tokens: Any) -> str | None:
    """Why a token pattern's ``{n,m}`` quantifier is too wide for the Matcher, or None."""
    for token in tokens if isinstance(tokens, list) else []:
        found = re.fullmatch(r"\{(\d*),(\d*)\}", str(token.get("OP", "")))
        if found and (not found[2] or int(found[2]) > MAX_REPEAT):
            return (f"quantifier {token['OP']} allows more than {MAX_REPEAT} tokens, which the Matcher "
                    f"expands combinatorially; use \"*\" (the match stays inside one sentence)")
    return None


VOCABULARY_KINDS = ("role", "relationship", "professional", "person", "title")


def read_vocabulary(name: str) -> list[dict[str, Any]]:
    """Role words (``patterns/role_words.jsonl``), one dict per word or phrase.

    Each line is a group: ``kind`` (role, relationship, professional, person, title), ``label``
    (the role, relationship or reporter class), optional ``gender`` ("f"/"m") and ``weak``, and
    ``words``. Returned one entry per word: ``{"word", "kind", "label", "gender", "weak"}``.
    """
    path = pattern_path(name)
    out = []
    for number, group in jsonl_rows(path):
        if group.get("kind") not in VOCABULARY_KINDS or not group.get("words") or not group.get("label"):
            raise ValueError(f"{path}:{number}: a group needs 'kind' (one of {VOCABULARY_KINDS}), 'label' and 'words'")
        if group.get("gender") not in (None, "f", "m"):
            raise ValueError(f"{path}:{number}: 'gender' is 'f' or 'm'")
        for word in group["words"]:
            out.append(
                {
                    "word": word.lower(),
                    "kind": group["kind"],
                    "label": group["label"],
                    "gender": group.get("gender"),
                    "weak": bool(group.get("weak", False)),
                }
            )
    return out


def vocabulary_patterns(nlp: Language, name: str, kinds: list[str]) -> list[dict[str, Any]]:
    """SpanRuler patterns for the role words of some kinds: one token list per label for the single
    words, one pattern per phrase (tokenised as the text will be, so "ex-partner" is ex - partner)."""
    single: dict[str, list[str]] = {}
    out: list[dict[str, Any]] = []
    for entry in read_vocabulary(name):
        if entry["kind"] not in kinds:
            continue
        tokens = [t.lower_ for t in nlp.make_doc(entry["word"])]
        if len(tokens) == 1:
            single.setdefault(entry["label"], [])
            if tokens[0] not in single[entry["label"]]:
                single[entry["label"]].append(tokens[0])
        else:
            out.append({"label": entry["label"], "pattern": [{"LOWER": t} for t in tokens]})
    return [{"label": label, "pattern": [{"LOWER": {"IN": words}}]} for label, words in single.items()] + out


def read_context_rules(name: str) -> dict[str, dict[str, Any]]:
    """ConText rules: one line per category with its trigger lists and ``except_kinds``."""
    return {
        row["category"]: {k: v for k, v in row.items() if k != "category"}
        for _, row in jsonl_rows(pattern_path(name))
    }


def read_kinds(name: str) -> dict[str, dict[str, Any]]:
    """Indicator kinds: ``{"kind": ..., "offences": [...], "attribute": ...}`` per line."""
    return {row["kind"]: row for _, row in jsonl_rows(pattern_path(name))}


# GatedSpanRuler: a pattern's guard tokens (before, after), left out of its spans.
GUARD_IDS = {"guard_before": (1, 0), "guard_after": (0, 1), "guard_both": (1, 1)}
_GUARD_ENDS = {ends: key for key, ends in GUARD_IDS.items()}
# A closing guard says what the next word must not be; a sentence's last word has none, so it
# passes: each pattern with one also runs without it (id "<guard>_at_end", nothing to trim at
# the end), its matches kept only at a sentence's end.
AT_END_IDS = {f"{key}_at_end": (lead, 0) for key, (lead, trail) in GUARD_IDS.items() if trail}
# Tokens to trim off a match's start and end, by pattern id.
_TRIM = {**GUARD_IDS, **AT_END_IDS}


def required_words(tokens: Any) -> frozenset[str] | None:
    """Words of which every match of a token pattern holds one: the shortest word list of a token
    that must match (``LOWER`` a word or an ``IN`` list; not optional, not a guard), or None."""
    best: frozenset[str] | None = None
    for token in tokens if isinstance(tokens, list) else []:
        op = str(token.get("OP", ""))
        if op in ("?", "*", "!") or re.fullmatch(r"\{0?,\d*\}", op):
            continue
        lower = token.get("LOWER")
        if isinstance(lower, str):
            words = frozenset([lower])
        elif isinstance(lower, dict) and "IN" in lower:
            words = frozenset(lower["IN"])
        else:
            continue
        if best is None or len(words) < len(best):
            best = words
    return best


class GatedSpanRuler(SpanRuler):
    """spaCy's ``SpanRuler``, each pattern tried only on the sentences that hold a word it needs.

    The token Matcher tries every pattern at every token, and a ``{"LOWER": {"IN": [...]}}``
    test is a Python call, so its cost grows with patterns x tokens. Each pattern needs one of
    a few words (``required_words``: "punched" or "punches" for a punch, "threw" for "threw her
    against"), so the patterns are grouped by those words, one ``Matcher`` per group, and a
    sentence is put only through the groups whose words it holds (a few of several hundred).
    Patterns that need no listed word (a regex, a number) are tried on every sentence. The
    matches are the same as one Matcher's over the whole doc, provided patterns do not cross
    sentences (the context scopes do not either).

    A pattern that opens or closes with one "any word but these" token (``{"LOWER": {"NOT_IN":
    [...]}}``, no ``OP``) uses it as a guard on the word before or after the match ("a car hit a
    man" is no blow, nor is "hit a man's car"): the guard must be there, but the span leaves it
    out, so the word before (often the doer: "partner hit the victim") stays out of the indicator.
    A closing guard is passed by a sentence's last word ("he was hit on the head" at the end of a
    log with no full stop), which has no word after it (``AT_END_IDS``).
    """

    @staticmethod
    def _guard_id(pattern: Any) -> str | None:
        """``GUARD_IDS`` key for a token pattern that opens and/or closes with a guard (one bare
        ``NOT_IN`` token), else None."""
        if not isinstance(pattern, list) or len(pattern) < 2:
            return None

        def guard(token: dict[str, Any]) -> bool:
            lower = token.get("LOWER")
            return set(token) == {"LOWER"} and isinstance(lower, dict) and set(lower) == {"NOT_IN"}

        return _GUARD_ENDS.get((int(guard(pattern[0])), int(guard(pattern[-1]) and len(pattern) > 2)))

    def add_patterns(self, patterns) -> None:
        marked = []
        for p in patterns:
            guard = None if "id" in p else self._guard_id(p["pattern"])
            marked.append(dict(p, id=guard) if guard else p)
            if f"{guard}_at_end" in AT_END_IDS:
                marked.append(dict(p, pattern=p["pattern"][:-1], id=f"{guard}_at_end"))
        super().add_patterns(marked)
        self._group_patterns()

    def clear(self) -> None:
        super().clear()
        self._gated = False

    def _group_patterns(self) -> None:
        """One Matcher per set of required words (``_groups``), the groups each word opens
        (``_by_word``), and the patterns that need no listed word (``_ungated``). A phrase pattern
        (a string, for spaCy's PhraseMatcher) turns the gate off: every pattern runs everywhere."""
        self._gated = all(isinstance(p["pattern"], list) for p in self.patterns)
        if not self._gated:
            return
        groups: dict[frozenset[str] | None, Matcher] = {}
        for p in self.patterns:
            words = required_words(p["pattern"])
            if words not in groups:
                groups[words] = Matcher(self.nlp.vocab)
            groups[words].add(repr((p["label"], p.get("id") or "")), [p["pattern"]])
        self._ungated = groups.pop(None, None)
        self._groups = list(groups.values())
        self._by_word: dict[str, list[int]] = {}
        for k, words in enumerate(groups):
            for word in words:
                self._by_word.setdefault(word, []).append(k)

    def match(self, doc: Doc):
        out = []
        for span in self._match(doc):
            if span.id_ in AT_END_IDS and not self._ends_sentence(doc, span.end):
                continue
            lead, trail = _TRIM.get(span.id_, (0, 0))
            out.append(Span(doc, span.start + lead, span.end - trail, label=span.label, span_id=span.id)
                       if lead or trail else span)
        return out

    @staticmethod
    def _ends_sentence(doc: Doc, end: int) -> bool:
        """No word follows token ``end - 1`` in its sentence (or in the doc, when it has no sentences)."""
        if end >= len(doc):
            return True
        return doc.has_annotation("SENT_START") and bool(doc[end].is_sent_start)

    def _match(self, doc: Doc):
        if not getattr(self, "_gated", False) or not doc.has_annotation("SENT_START"):
            return super().match(doc)
        self._require_patterns()
        found = set()
        for sentence in doc.sents:
            chosen: set[int] = set()
            for token in sentence:
                chosen.update(self._by_word.get(token.lower_, ()))
            matchers = [self._groups[k] for k in sorted(chosen)]
            if self._ungated is not None:
                matchers.append(self._ungated)
            for matcher in matchers:
                for m_id, start, end in matcher(sentence):
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
    default_config={
        "spans_key": "sc",
        "patterns": None,
        "longest_only": False,
        "vocabulary": None,
        "vocabulary_kinds": [],
    },
)
def make_span_patterns(
    nlp: Language,
    name: str,
    spans_key: str,
    patterns: str | None,
    longest_only: bool,
    vocabulary: str | None,
    vocabulary_kinds: list[str],
) -> SpanRuler:
    """A ``SpanRuler`` (case-insensitive phrases, token patterns) loaded from a JSONL file, plus the
    role words of ``vocabulary_kinds`` from the ``vocabulary`` file (labelled with their label)."""
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
    # Phrases become token patterns on the tokenizer alone: SpanRuler would otherwise run
    # them through the whole pipeline built so far (the NER), which is slow and, while a
    # saved pipeline is loading, not yet possible.
    found = read_patterns(patterns, nlp) if patterns else []
    if vocabulary and vocabulary_kinds:
        found += vocabulary_patterns(nlp, vocabulary, list(vocabulary_kinds))
    if found:
        ruler.add_patterns(found)
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


SUBJECT_PRONOUNS = {"he": "m", "she": "f"}
OBJECT_PRONOUNS = {"him": "m", "her": "f", "me": "reporter", "i": "reporter"}
# Roles a mention can carry, strongest first (one person called "OP" and "her ex" is the suspect).
ROLE_PRIORITY = ("suspect", "victim", "reporter", "witness", "child")
# NER labels that are never part of a name (numbers, dates, money...).
NUMERIC_ENTS = {"CARDINAL", "DATE", "TIME", "MONEY", "QUANTITY", "ORDINAL", "PERCENT"}
# Between two role words of one person: "EX (S1 DEAN HOLT)", "partner/OP", "S1 - ex-partner".
JOINERS = {"(", ":", "-", "–", "/"}
# "OP is her ex-partner", "RP is neighbour", "IP is her daughter": the second word describes the first.
COPULAS = {"is", "was", "=", "being"}
DETERMINERS = {"her", "his", "their", "the", "a", "an", "my", "our", "your"}
# What may close a role word standing after a name in apposition ("Jason PLATT (susp)", "Farrah QURESHI, IDVA,").
CLOSERS = {")", ",", ".", ";", ":", "-", "–"}
POSSESSIVES = {"'s", "'", "’s", "’"}
# "She confirmed the punch", "IP states punched in the face": who reports an act is not who did it.
REPORTING_VERBS = {
    "say",
    "says",
    "said",
    "states",
    "stated",
    "stating",
    "reports",
    "reported",
    "reporting",
    "disclosed",
    "discloses",
    "confirmed",
    "confirms",
    "alleges",
    "alleged",
    "explained",
    "describes",
    "described",
}
AGE_UNITS = {"yo", "y/o", "yrs", "yr", "years", "year", "yoa", "old", "-"}
_AGE_TOKEN = re.compile(r"^(\d{1,3})(yo|y/o|yrs|yr|yoa)$")
NAME_PUNCT = set("'-’.")


def possessive_relationship(owner: str | None, label: str) -> str:
    """The relationship to the victim of "<owner>'s <label>" ("her husband's friend", "a neighbour's son").

    A neighbour's son is a neighbour and a friend's boyfriend an acquaintance; a partner's or a
    relative's relative is family (her husband's mother, her mum's partner: in-laws and step-family);
    anyone else of a partner's or relative's (her husband's friend, her ex's new girlfriend) is an
    acquaintance. With no owner, or an owner who is a role (IP's, victim's, OP's), it is ``label``.
    """
    if owner is None:
        return label
    if owner in ("neighbour", "stranger", "acquaintance"):
        return owner
    if label == "family" and owner in ("family", "intimate_partner"):
        return "family"
    if label == "intimate_partner" and owner == "family":
        return "family"
    return "acquaintance"


def pattern_words(names: list[str]) -> set[str]:
    """Every word the pattern files name (LOWER values, phrases, ConText triggers): words of the logs'
    own vocabulary, so not a name when case cannot tell (ALL CAPS and lower-case logs)."""
    words: set[str] = set()
    collect_keys = {
        "pattern",
        "LOWER",
        "IN",
        "pseudo_negations",
        "preceding_negations",
        "following_negations",
        "termination",
    }

    def walk(value: Any, collect: bool) -> None:
        if isinstance(value, str):
            if collect:
                words.update(value.lower().split())
        elif isinstance(value, list):
            for item in value:
                walk(item, collect)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, collect or key in collect_keys)

    for name in names:
        path = pattern_path(name)
        for _, row in jsonl_rows(path):
            walk(expand_word_lists(row), False)
    return words


class _Chain:
    """Role words next to each other that name one person ("EX (S1", "OP is her ex-partner")."""

    def __init__(self, anchor: dict[str, Any]):
        self.anchors = [anchor]

    @property
    def start(self) -> int:
        return self.anchors[0]["start"]

    @property
    def end(self) -> int:
        return self.anchors[-1]["end"]

    def roles(self, *, weak: bool | None = None) -> list[str]:
        return [
            a["label"]
            for a in self.anchors
            if a["kind"] == "role" and a["label"] != "officer" and (weak is None or a["weak"] == weak)
        ]

    @property
    def officer(self) -> bool:
        return any(a["kind"] == "role" and a["label"] == "officer" for a in self.anchors) and not self.roles()

    @property
    def relationship(self) -> str | None:
        found = [a["label"] for a in self.anchors if a["kind"] == "relationship"]
        return found[-1] if found else None

    @property
    def professional(self) -> bool:
        return any(a["kind"] == "professional" for a in self.anchors)

    def label(self) -> str:
        """The mention's role as far as the words say: a role word, else professional, else related."""
        for role in ROLE_PRIORITY:
            if role in self.roles(weak=False):
                return role
        for role in ROLE_PRIORITY:
            if role in self.roles(weak=True):
                return role
        if self.professional:
            return "professional"
        return "related" if self.relationship else "other"


class PeopleComponent:
    """People: role words, control-room shorthand and kinship and job words with the names beside them.

    Role words come from the vocabulary (``patterns/role_words.jsonl``): a role (IP, OP, RP, W1,
    victim, susp...), a relationship (husband, ex, mum, friend, neighbour...), a job (nurse, IDVA,
    social worker...), a generic person word (male, female...) or a title (Mrs, Dr). They are
    never a name. A name is a run of name-like tokens next to role words ("IP Donna KEYS",
    "husband Piotr", "Jason PLATT (susp)", "Ms Farrah QURESHI, IDVA"), a PERSON entity, a
    "First SURNAME" name, or a later mention of a name already found ("Dale" for "Dale FINCH").
    In mixed-case text a name token is capitalised; in ALL CAPS or lower-case text, where case
    says nothing, it must be inside an NER entity and not a word the patterns know.

    Each mention is a span in ``doc.spans[spans_key]`` labelled with its role as the words say it
    (victim, suspect, reporter, witness, child, related, professional, other) and carrying
    ``span._.sc_person``: ``{"id", "name": [start, end] | None, "tokens" (of the name, lower case),
    "relationship", "gender", "age", "words", "weak", "professional", "plural"}``; mentions of one person
    share the id. For each indicator, the agent is the nearest mention or subject pronoun before it
    in its sentence and the target the first mention or object pronoun after it; a pronoun is
    resolved to the latest mention of its gender. ``span._.sc_agent``/``sc_target`` are roles,
    ``sc_agent_person``/``sc_target_person`` the person ids.
    """

    def __init__(
        self,
        nlp: Language,
        name: str,
        roles_key: str,
        spans_key: str,
        indicators_key: str,
        relationships_key: str,
        vocabulary: str | None = None,
        known_words: list[str] | tuple[str, ...] = (),
    ):
        self.nlp = nlp
        self.name = name
        self.roles_key = roles_key
        self.spans_key = spans_key
        self.indicators_key = indicators_key
        self.relationships_key = relationships_key
        self._build(read_vocabulary(vocabulary) if vocabulary else [], sorted(pattern_words(list(known_words))))

    def _build(self, entries: list[dict[str, Any]], known: list[str]) -> None:
        self.entries, self.known = entries, set(known)
        self.phrases: dict[tuple[str, ...], dict[str, Any]] = {}
        for entry in entries:
            key = tuple(t.lower_ for t in self.nlp.make_doc(entry["word"]))
            self.phrases.setdefault(key, entry)
        self.longest = max((len(key) for key in self.phrases), default=0)
        self.not_names = {token for key in self.phrases for token in key}
        self.titles = {key[0]: e for key, e in self.phrases.items() if e["kind"] == "title" and len(key) == 1}
        # "friends", "neighbours", "witnesses": plurals of vocabulary words are never "he" or "she".
        self.plurals = {
            key
            for key in self.phrases
            if key[-1].endswith("s") and {(*key[:-1], key[-1][:-1]), (*key[:-1], key[-1][:-2])} & set(self.phrases)
        }
        self.stop_words = set(self.nlp.Defaults.stop_words)

    # Role words -----------------------------------------------------------------------------

    def _lookup(self, lowers: list[str], i: int, size: int) -> dict[str, Any] | None:
        entry = self.phrases.get(tuple(lowers[i : i + size]))
        if entry is None and size == 1 and lowers[i].endswith("."):
            entry = self.phrases.get((lowers[i].rstrip("."),))
        return entry

    def vocabulary_matches(self, doc: Doc) -> list[tuple[int, int, dict[str, Any]]]:
        """Role words in the doc, longest first, left to right: (start, end, vocabulary entry)."""
        lowers = [t.lower_ for t in doc]
        out, i = [], 0
        while i < len(doc):
            for size in range(min(self.longest, len(doc) - i), 0, -1):
                entry = self._lookup(lowers, i, size)
                if entry is not None:
                    out.append((i, i + size, entry))
                    i += size
                    break
            else:
                i += 1
        return out

    def _anchors(self, doc: Doc, matches: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Role, relationship and job words that stand for a person ("former partner", "unknown male")."""
        relationship_spans = list(doc.spans.get(self.relationships_key, []))
        anchors = []
        for start, end, entry in matches:
            kind, label = entry["kind"], entry["label"]
            if kind in ("relationship", "person"):
                # The relationship cue ending on the word says more ("former partner", "unknown male").
                cover = next((s for s in relationship_spans if s.start <= start and s.end == end), None)
                if cover is not None:
                    start, kind, label = cover.start, "relationship", cover.label_
                    anchors = [a for a in anchors if a["end"] <= start]  # "ex-employee" is not an ex
            if kind in ("person", "title"):
                continue
            anchors.append(
                {
                    "start": start,
                    "end": end,
                    "kind": kind,
                    "label": label,
                    "gender": entry["gender"],
                    "weak": entry["weak"],
                }
            )
        # Contextual role patterns in the role ruler's own file.
        for span in doc.spans.get(self.roles_key, []):
            if not any(a["start"] < span.end and span.start < a["end"] for a in anchors):
                anchor = {"start": span.start, "end": span.end, "kind": "role", "label": span.label_}
                anchors.append(dict(anchor, gender=None, weak=False))
        return sorted(anchors, key=lambda a: a["start"])

    @staticmethod
    def _same_line(doc: Doc, start: int, end: int) -> bool:
        return not any("\n" in t.text or (t.is_sent_start and t.i > start) for t in doc[start:end])

    def _chains(self, doc: Doc, anchors: list[dict[str, Any]]) -> list[_Chain]:
        chains: list[_Chain] = []
        for anchor in anchors:
            if chains:
                last = chains[-1]
                gap = doc[last.end : anchor["start"]]
                roles_differ = anchor["kind"] == "role" and last.roles() and anchor["label"] not in last.roles()
                joined = len(gap) == 0 or (len(gap) == 1 and gap[0].text in JOINERS)
                if joined and len(gap) == 1 and gap[0].text == ":" and self._account_follows(doc, last, anchor):
                    joined = False  # "Caller: ex-partner punched her": the caller's account, not the caller
                # "OP is her ex-partner": the later word describes the earlier (not "OP is the IP").
                copula = (
                    1 <= len(gap) <= 2
                    and gap[0].lower_ in COPULAS
                    and all(t.lower_ in DETERMINERS for t in gap[1:])
                    and anchor["kind"] in ("relationship", "professional")
                    and not (anchor["end"] < len(doc) and doc[anchor["end"]].lower_ in POSSESSIVES)
                )
                if (joined or copula) and not roles_differ and self._same_line(doc, last.start, anchor["end"]):
                    last.anchors.append(anchor)
                    continue
            chains.append(_Chain(anchor))
        return chains

    # The words an act may stand after its doer's relationship word: "ex-partner has punched her".
    ACT_LEAD = 3

    def _account_follows(self, doc: Doc, last: _Chain, anchor: dict[str, Any]) -> bool:
        """A reporter's label, a colon, then a relationship word that does an act ("Caller: ex-partner
        punched her", "RP: husband has hit her"): the colon opens the reporter's account (as in
        ``_reports``), so the relationship word is someone else. Not when a reporting verb comes
        first ("RP: neighbour reports shouting") or nothing is done ("RP: mother of IP")."""
        if anchor["kind"] != "relationship" or "reporter" not in last.roles():
            return False
        starts = {span.start for span in doc.spans.get(self.indicators_key, [])}
        for token in doc[anchor["end"] : min(anchor["end"] + self.ACT_LEAD, len(doc))]:
            if token.is_sent_start or token.lower_ in REPORTING_VERBS or token.is_punct:
                return False
            if token.i in starts:
                return True
        return False

    # Names ----------------------------------------------------------------------------------

    @staticmethod
    def _case_modes(doc: Doc) -> list[str]:
        """Per token, its sentence's case: "upper" (ALL CAPS log), "lower" (no capitals) or "mixed"."""
        modes = ["mixed"] * len(doc)
        sentences = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        for sentence in sentences:
            cased = [t for t in sentence if t.is_alpha and len(t) > 1]
            upper = sum(t.is_upper for t in cased)
            if len(cased) >= 3 and upper >= 0.7 * len(cased):
                mode = "upper"
            elif cased and not any(c.isupper() for t in cased for c in t.text):
                mode = "lower"
            else:
                mode = "mixed"
            for token in sentence:
                modes[token.i] = mode
        return modes

    def _is_title(self, token) -> bool:
        return token.lower_.rstrip(".") in self.titles

    def _name_like(self, token, mode: str, entity: str | None) -> bool:
        text, lower = token.text, token.lower_
        if len(text) < 2 or not text[0].isalpha() or not all(c.isalpha() or c in NAME_PUNCT for c in text):
            return False
        if lower in self.not_names or lower.rstrip(".") in self.not_names or lower in self.stop_words:
            return False
        if mode == "mixed":
            return text[0].isupper() and (entity is not None or lower not in self.known)
        return entity is not None and lower not in self.known

    def _name_groups(self, doc: Doc, modes: list[str], entities: dict[int, str]) -> list[tuple[int, int]]:
        """Runs of name-like tokens, with the titles before them ("Mrs Ann HOLT"): (start, end)."""
        groups, i = [], 0
        while i < len(doc):
            j = i
            while j < len(doc) and self._is_title(doc[j]):
                j += 1
                if j < len(doc) and doc[j].text == ".":
                    j += 1
            k = j
            while k < len(doc) and k - j < 4 and self._name_like(doc[k], modes[k], entities.get(k)):
                k += 1
            if k > j:
                groups.append((i, k))
                i = k
            else:
                i = max(i + 1, j)
        return groups

    def _name_tokens(self, doc: Doc, start: int, end: int) -> set[str]:
        return {t.lower_ for t in doc[start:end] if not self._is_title(t) and t.text != "."}

    def _entity_names(self, doc: Doc, modes: list[str], entities: dict[int, str]) -> list[tuple[int, int]]:
        """PERSON entities, less role words at either end; none with a non-name word inside
        ("Brindle Family Hub"): (start, end), titles kept."""
        out = []
        for ent in doc.ents:
            if ent.label_ != "PERSON":
                continue
            tokens = [t for t in ent if t.text.strip()]
            ok = [self._name_like(t, modes[t.i], entities.get(t.i)) or self._is_title(t) for t in tokens]
            while tokens and not ok[0]:
                tokens, ok = tokens[1:], ok[1:]
            while tokens and not ok[-1]:
                tokens, ok = tokens[:-1], ok[:-1]
            if tokens and all(ok) and any(not self._is_title(t) for t in tokens):
                out.append((tokens[0].i, tokens[-1].i + 1))
        return out

    @staticmethod
    def _age(doc: Doc, start: int, end: int) -> int | None:
        """An age written beside a mention: "(29)", ", 34,", ", a female aged 30", "14yo son", "34-year-old"."""

        def number(token) -> int | None:
            match = _AGE_TOKEN.match(token.lower_)
            value = int(match.group(1)) if match else int(token.text) if token.text.isdigit() else None
            return value if value is not None and 0 < value < 110 else None

        j = end
        if j < len(doc) and doc[j].text in {"(", ","}:
            j += 1
        while j < len(doc) and j - end <= 3 and (doc[j].lower_ in {"a", "an"} or doc[j].lower_ in {"female", "male"}):
            j += 1
        if j < len(doc) and doc[j].lower_ in {"aged", "age"}:
            j += 1
        if j < len(doc) and (value := number(doc[j])) is not None:
            if _AGE_TOKEN.match(doc[j].lower_):
                return value
            after = doc[j + 1] if j + 1 < len(doc) else None
            closes = after is None or after.text in {")", ",", ".", ";"} or after.lower_ in AGE_UNITS or after.is_space
            if closes and doc[j - 1].lower_ in {"aged", "age", "(", ","}:
                return value
        # Before: "14yo son", "a 34-year-old man", "her 16 year old son" (not "2 sons": a unit is needed).
        k = start - 1
        while k >= 0 and start - k <= 5 and doc[k].lower_ in AGE_UNITS:
            k -= 1
        if k >= 0 and (value := number(doc[k])) is not None and (k < start - 1 or _AGE_TOKEN.match(doc[k].lower_)):
            return value
        return None

    def _gender(self, doc: Doc, start: int, end: int) -> str | None:
        """Gender from the role words and titles of a mention, the word just before it ("Female
        caller", "the male suspect"), or an apposition after it ("IP, a female"); possessive
        pronouns ("her partner") say nothing."""
        tokens = list(doc[max(0, start - 1) : end])
        if end < len(doc) and doc[end].text in {",", "("}:
            tokens += list(doc[end : min(len(doc), end + 4)])
        genders = set()
        for token in tokens:
            entry = self.phrases.get((token.lower_.rstrip("."),))
            if entry is not None and entry["gender"]:
                genders.add(entry["gender"])
        return genders.pop() if len(genders) == 1 else None

    # Mentions -------------------------------------------------------------------------------

    def _mentions(self, doc: Doc) -> list[Span]:
        modes = self._case_modes(doc)
        entities = {t.i: ent.label_ for ent in doc.ents if ent.label_ not in NUMERIC_ENTS for t in ent}
        chains = self._chains(doc, self._anchors(doc, self.vocabulary_matches(doc)))
        groups = self._name_groups(doc, modes, entities)
        group_at = {start: (start, end) for start, end in groups}
        group_ending = {end: (start, end) for start, end in groups}
        used: set[tuple[int, int]] = set()
        persons: list[set[str]] = []  # name tokens per person id

        def person_for(name: tuple[int, int] | None) -> int:
            if name is not None:
                tokens = self._name_tokens(doc, *name)
                matching = [i for i, known in enumerate(persons) if known and (tokens <= known or known <= tokens)]
                if len(matching) == 1:
                    persons[matching[0]] |= tokens
                    return matching[0]
                persons.append(tokens)
            else:
                persons.append(set())
            return len(persons) - 1

        mentions: list[tuple[int, int, str, dict[str, Any]]] = []
        officer_ends = [c.end for c in chains if c.officer]
        for chain in chains:
            if chain.officer:
                continue
            name = None
            # Apposition: "Jason PLATT (susp)", "Farrah QURESHI, IDVA,", "Dale FINCH, her partner,".
            k = chain.start - 1 if chain.start > 0 and doc[chain.start - 1].lower_ in DETERMINERS else chain.start
            closed = chain.end >= len(doc) or doc[chain.end].text in CLOSERS or doc[chain.end].is_space
            if k > 1 and doc[k - 1].text in {"(", ","} and closed and (k - 1) in group_ending:
                name = group_ending[k - 1]
            # After: "IP Donna KEYS", "husband Piotr", "S1 DEAN HOLT", "RP - Mrs Ann HOLT".
            if name is None:
                j = chain.end + (1 if chain.end < len(doc) and doc[chain.end].text in {"(", ":", "-", "–"} else 0)
                name = group_at.get(j) or group_at.get(chain.end)
            if name is not None and (
                name in used or not self._same_line(doc, min(name[0], chain.start), max(name[1], chain.end))
            ):
                name = None
            if name is not None:
                used.add(name)
            start = min(chain.start, name[0]) if name else chain.start
            end = max(chain.end, name[1]) if name else chain.end
            relationship = chain.relationship
            owner = self._owner(doc, chain, chains)
            if relationship and owner is not None:
                relationship = possessive_relationship(owner, relationship)
            words = [tuple(t.lower_ for t in doc[a["start"] : a["end"]]) for a in chain.anchors]
            plural = len(words) == 1 and words[0] in self.plurals
            info = {
                "id": person_for(name),
                "name": list(name) if name else None,
                "tokens": sorted(self._name_tokens(doc, *name)) if name else [],
                "relationship": relationship,
                "gender": None if plural else self._gender(doc, start, end),
                "age": self._age(doc, start, end),
                "words": [doc[a["start"] : a["end"]].text for a in chain.anchors],
                "weak": not chain.roles(weak=False) and bool(chain.roles(weak=True)),
                "professional": chain.professional,
                "plural": plural,
            }
            mentions.append((start, end, chain.label(), info))
        # Names on their own: PERSON entities, "First SURNAME", a name with an age, or a name seen before.
        taken = [(s, e) for s, e, _, _ in mentions]
        candidates = set(self._entity_names(doc, modes, entities))
        for start, end in groups:
            tokens = [t for t in doc[start:end] if not self._is_title(t)]
            first_surname = (
                modes[start] == "mixed"
                and len(tokens) >= 2
                and tokens[-1].is_upper
                and len(tokens[-1]) > 1
                and tokens[0].is_title
            )
            aged = end < len(doc) - 1 and doc[end].text == "(" and doc[end + 1].text.isdigit()
            known = any(self._name_tokens(doc, start, end) <= p for p in persons if p)
            if first_surname or aged or known:
                candidates.add((start, end))
        for start, end in sorted(candidates):
            if any(s < end and start < e for s, e in taken):
                continue
            if any(e <= start <= e + 1 for e in officer_ends):
                continue  # "PC Smith", "DC 1234 Jones"
            taken.append((start, end))
            info = {
                "id": person_for((start, end)),
                "name": [start, end],
                "tokens": sorted(self._name_tokens(doc, start, end)),
                "relationship": None,
                "gender": self._gender(doc, start, end),
                "age": self._age(doc, start, end),
                "words": [],
                "weak": False,
                "professional": False,
                "plural": False,
            }
            mentions.append((start, end, "other", info))
        spans = []
        for start, end, label, info in sorted(mentions, key=lambda m: m[0]):
            span = Span(doc, start, end, label=label)
            span._.sc_person = info
            spans.append(span)
        return spans

    @staticmethod
    def _owner(doc: Doc, chain: _Chain, chains: list[_Chain]) -> str | None:
        """For "<X>'s <chain>" where X is a relationship word, X's relationship ("neighbour's son")."""
        if chain.start >= 2 and doc[chain.start - 1].lower_ in POSSESSIVES:
            owner = next((c for c in chains if c.end == chain.start - 1), None)
            if owner is not None and not owner.roles():
                return owner.relationship
        return None

    # Who did what to whom -------------------------------------------------------------------

    def __call__(self, doc: Doc) -> Doc:
        mentions = self._mentions(doc)
        doc.spans[self.spans_key] = mentions
        indicators = doc.spans.get(self.indicators_key, [])
        if not indicators:
            return doc
        # Timeline of (start, end, role, gender, person id, can be a doer): mentions, and pronouns
        # resolved as we go ("her", "him", "his", "me" are never the doer of an act).
        timeline: list[tuple[int, int, str, str | None, int | None, bool]] = []
        mention_at = {m.start: m for m in mentions}
        plural = {m._.sc_person["id"] for m in mentions if m._.sc_person["plural"]}
        last_by_gender: dict[str, tuple[str, int | None]] = {}

        def key(entry: tuple) -> Any:
            return entry[4] if entry[4] is not None else entry[2]

        i = 0
        while i < len(doc):
            mention = mention_at.get(i)
            if mention is not None:
                info = mention._.sc_person
                gender = info["gender"]
                # "at a friend's house": the owner of something is not the doer
                owner = mention.end < len(doc) and doc[mention.end].lower_ in POSSESSIVES
                timeline.append((mention.start, mention.end, mention.label_, gender, info["id"], not owner))
                if gender:
                    last_by_gender[gender] = (mention.label_, info["id"])
                i = mention.end
                continue
            lower = doc[i].lower_
            if lower in ("her", "his") and i + 1 in mention_at:
                i += 1  # "her son", "his ex": a possessive, the person is the mention after it
                continue
            gender = SUBJECT_PRONOUNS.get(lower) or OBJECT_PRONOUNS.get(lower)
            if lower in ("his",):
                gender = "m"
            if gender == "reporter":
                timeline.append((i, i + 1, "reporter", None, None, lower == "i"))
            elif gender:
                resolved = last_by_gender.get(gender)
                if resolved is None:
                    # No mention of that gender yet: a subject pronoun takes the latest ungendered
                    # mention ("OP ... he"), an object pronoun the one before the latest, as the
                    # latest is usually the doer ("IP states OP punched her").
                    taken = {p if p is not None else r for r, p in last_by_gender.values()}
                    ungendered = [
                        t
                        for t in timeline
                        if t[3] is None and t[2] != "unknown" and key(t) not in taken and t[4] not in plural
                    ]
                    if (lower in SUBJECT_PRONOUNS or lower == "his") and ungendered:
                        resolved = (ungendered[-1][2], ungendered[-1][4])
                    elif len(ungendered) >= 2:
                        resolved = (ungendered[-2][2], ungendered[-2][4])
                    elif (
                        ungendered
                        and lower not in SUBJECT_PRONOUNS
                        and (not timeline or key(ungendered[-1]) != key(timeline[-1]))
                    ):
                        resolved = (ungendered[-1][2], ungendered[-1][4])
                    if resolved is not None:
                        last_by_gender[gender] = resolved
                role, pid = resolved if resolved is not None else ("unknown", None)
                timeline.append((i, i + 1, role, gender, pid, lower in SUBJECT_PRONOUNS))
            i += 1
        for span in indicators:
            sentence_start = span.sent.start if doc.has_annotation("SENT_START") else 0
            sentence_end = span.sent.end if doc.has_annotation("SENT_START") else len(doc)
            before = [t for t in timeline if sentence_start <= t[0] and t[1] <= span.start and t[5]]
            after = [t for t in timeline if span.start <= t[0] < min(sentence_end, span.end + 4)]
            if before and self._reports(before[-1], doc[before[-1][1] : span.start]):
                before = []  # the reporter of the act, not its doer
            agent = before[-1] if before else None
            target = after[0] if after else None
            # Passive: "being threatened by neighbour", "punched twice by Cameron SHAW".
            by = next((t.i for t in doc[span.end : min(sentence_end, span.end + 3)] if t.lower_ == "by"), None)
            if by is not None:
                doer = next((t for t in timeline if by < t[0] <= by + 3 and t[0] < sentence_end), None)
                if doer is not None:
                    agent, target = doer, agent
            if agent is not None:
                span._.sc_agent, span._.sc_agent_person = agent[2], agent[4]
            # "X hit her": an object pronoun is not the doer (that would be "herself").
            if target is not None and not (agent is not None and target[4] is not None and target[4] == agent[4]):
                span._.sc_target, span._.sc_target_person = target[2], target[4]
        return doc

    @staticmethod
    def _reports(mention: tuple, gap: Span) -> bool:
        """The words between a mention and an act introduce what the mention reports: a reporting
        verb ("OP states male punched her"), or a colon after the reporter's label ("RP: male
        pass kicked him"), where the words after the colon are the reporter's account."""
        return any(t.lower_ in REPORTING_VERBS for t in gap) or (
            mention[2] == "reporter" and len(gap) > 0 and gap[0].text == ":"
        )

    def to_disk(self, path, exclude=tuple()):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "vocabulary.json", self.entries)
        srsly.write_json(path / "known_words.json", sorted(self.known))

    def from_disk(self, path, exclude=tuple()):
        path = Path(path)
        if (path / "vocabulary.json").exists():
            self._build(srsly.read_json(path / "vocabulary.json"), srsly.read_json(path / "known_words.json"))
        return self


@Language.factory(
    "sc_people",
    default_config={
        "roles_key": "sc_roles",
        "spans_key": "sc_people",
        "indicators_key": "sc_indicators",
        "relationships_key": "sc_relationships",
        "vocabulary": "role_words.jsonl",
        "known_words": ["indicators.jsonl", "relationships.jsonl", "reporters.jsonl", "roles.jsonl", "context.jsonl"],
    },
)
def make_people(
    nlp: Language,
    name: str,
    roles_key: str,
    spans_key: str,
    indicators_key: str,
    relationships_key: str,
    vocabulary: str | None,
    known_words: list[str],
) -> PeopleComponent:
    return PeopleComponent(nlp, name, roles_key, spans_key, indicators_key, relationships_key, vocabulary, known_words)
