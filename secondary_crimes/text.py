"""Text helpers shared by the models: the text a model reads, and sentences with offsets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from secondary_crimes.extract.types import Span
from secondary_crimes.records import TEXT_FIELDS, Incident

# A sentence ends at . ! ? followed by space, or at a line break (logs are line-per-entry).
_SENTENCE = re.compile(r"[^\n.!?]*(?:[.!?](?=\s|$)|[^\n.!?])+[.!?]?|[^\n]+")


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
