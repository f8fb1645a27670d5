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


def sentence_units(incident: Incident, max_words: int = 40, overlap: int = 10) -> list[Span]:
    """The units a sentence-level model reads: each sentence, and overlapping windows of
    ``max_words`` words (``overlap`` shared) over any longer one (run-on logs have no full stops)."""
    units: list[Span] = []
    for span in sentences(incident):
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
    return units
