"""Text helpers shared by the models: the text a model reads, and sentences with offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secondary_crimes.extract.types import Span
from secondary_crimes.records import TEXT_FIELDS, Incident

# A sentence ends at . ! ? followed by space, or at a line break (logs are line-per-entry);
# "3.5" and "A.N.Other" do not end one.
_SENTENCE = re.compile(r"[^\n]*?[.!?]+(?=\s|$)|[^\n]+")


def model_text(incident: Incident) -> str:
    """What the text classifiers read: the opening code and both texts."""
    return "\n".join(part for part in (incident.opening_code, incident.call_log,
                                       incident.officer_narrative) if part)


def sentences(incident: Incident, min_chars: int = 8) -> Iterator[Span]:
    """Sentence-like spans of each text field, with offsets into that field."""
    for field in TEXT_FIELDS:
        text = incident.text(field)
        for match in _SENTENCE.finditer(text):
            start, end = match.span()
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end - start >= min_chars:
                yield Span(field, start, end, text[start:end])


_WORD = re.compile(r"\S+")


# Where a sentence breaks into clauses: a comma, semicolon or colon, a spaced dash, or a word that
# starts a new clause ("... in the bar, suspect now outside", "he turned and threw a can at her, hit her",
# "kicked him in the shin when told his pass had expired").
_CLAUSE_BREAK = re.compile(r"\s*[,;:]\s+|\s+[-\u2013\u2014]+\s+|\s+(?=(?:and then|but|when|after|because|while|whilst|"
                           r"so that|until|before|then)\s)", re.IGNORECASE)

_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")


def clauses(span: Span, text: str, min_words: int = 12, min_clause_words: int = 3) -> list[Span]:
    """The clauses of a sentence of at least ``min_words`` words (``span`` in the field's ``text``),
    each of at least ``min_clause_words`` words (a shorter piece joins the next one, or the one before
    at the end); [] for a shorter sentence or one that does not break."""
    if len(_WORD.findall(span.text)) < min_words:
        return []
    pieces: list[tuple[int, int]] = []
    start = 0
    # breaks inside brackets do not count ("shop assistant (Priya, 19) followed him"): mask them, same length
    masked = _BRACKETED.sub(lambda m: "x" * len(m.group(0)), span.text)
    for match in _CLAUSE_BREAK.finditer(masked):
        pieces.append((start, match.start()))
        start = match.end()
    pieces.append((start, len(span.text)))
    out: list[tuple[int, int]] = []
    pending: int | None = None
    for first, last in pieces:
        first = pending if pending is not None else first
        if len(_WORD.findall(span.text[first:last])) < min_clause_words:
            pending = first
            continue
        out.append((first, last))
        pending = None
    if pending is not None and out:
        out[-1] = (out[-1][0], len(span.text))
    if len(out) < 2:
        return []
    return [Span(span.field, span.start + a, span.start + b, text[span.start + a: span.start + b]) for a, b in out]


def sentence_units(incident: Incident, max_words: int = 40, overlap: int = 10, *,
                   with_clauses: bool = False) -> list[Span]:
    """The units a sentence-level model reads: each sentence, and overlapping windows of
    ``max_words`` words (``overlap`` shared) over any longer one (run-on logs have no full stops);
    ``with_clauses`` adds, after them, the clauses of every long sentence (``clauses``), so an act
    stated in one clause of a long sentence is read nearly as it would be alone."""
    units, extra = split_units(incident, max_words, overlap, with_clauses=with_clauses)
    return units + extra


def split_units(incident: Incident, max_words: int = 40, overlap: int = 10, *,
                with_clauses: bool = False) -> tuple[list[Span], list[Span]]:
    """``sentence_units`` as two lists: the sentences and windows, and the clauses ([] without
    ``with_clauses``), for a reader that treats clauses apart."""
    units: list[Span] = []
    extra: list[Span] = []
    for span in sentences(incident):
        if with_clauses:
            extra.extend(clauses(span, incident.text(span.field)))
        words = list(_WORD.finditer(span.text))
        if len(words) <= max_words:
            units.append(span)
            continue
        step = max(1, max_words - overlap)
        starts = list(range(0, len(words) - overlap, step)) or [0]
        for first in starts:
            last = min(first + max_words, len(words)) - 1
            start, end = span.start + words[first].start(), span.start + words[last].end()
            units.append(Span(span.field, start, end, incident.text(span.field)[start:end]))
    return units, extra
