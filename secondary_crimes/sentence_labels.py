"""Sentence-level offence labels from incident-level gold: the evidence quotes say where.

An auditor's ``evidence`` quote for an offence marks the sentence that states it. For each
offence, a unit (sentence or window, ``text.sentence_units``) is

- positive when it overlaps that offence's quote;
- negative when the incident does not carry the offence at all;
- unknown (masked out of the loss) otherwise: other sentences of an incident that has the
  offence may restate it, a quote that cannot be found says nothing about where it is, and an
  offence nobody decided (``base.UNKNOWN`` in the incident's labels) says nothing at all.

A clause unit (``with_clauses``) is positive only when it shares at least ``CLAUSE_WORDS`` words
with the quote, or half of itself or of the quote: a clause that shares a word or two with the
quote may not state the act, so it is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from secondary_crimes.classify.base import UNKNOWN
from secondary_crimes.extract.types import Span
from secondary_crimes.records import TEXT_FIELDS, Incident
from secondary_crimes.taxonomy import LABELS
from secondary_crimes.text import split_units

_ELLIPSIS = re.compile(r"\s*(?:\.\.\.+|…)\s*")


def _pattern(fragment: str) -> re.Pattern[str] | None:
    words = re.findall(r"\w+", fragment)
    if not words:
        return None
    return re.compile(r"\W*".join(re.escape(word) for word in words), re.IGNORECASE)


def locate_quote(incident: Incident, quote: str) -> list[Span]:
    """Where a (near-)verbatim quote lies in the incident's text fields: one span per
    fragment (quotes may skip text with an ellipsis); [] when any fragment is missing.
    Case, punctuation and spacing may differ from the text."""
    fragments = [part for part in _ELLIPSIS.split(quote.strip()) if part.strip()]
    for field in TEXT_FIELDS:
        text = incident.text(field)
        spans, position = [], 0
        for fragment in fragments:
            pattern = _pattern(fragment)
            match = pattern.search(text, position) if pattern else None
            if match is None:
                break
            spans.append(Span(field, match.start(), match.end(), match.group(0)))
            position = match.end()
        if spans and len(spans) == len(fragments):
            return spans
    return []


@dataclass
class SentenceExamples:
    """Units of many incidents with per-offence targets and which of them are known."""

    units: list[Span]
    owner: np.ndarray  # (n_units,) the index of each unit's incident
    Y: np.ndarray  # (n_units, n_labels) 1 = states the offence
    known: np.ndarray  # (n_units, n_labels) bool: the target is known
    unlocated: int = 0  # (incident, offence) positives whose quote could not be found

    @property
    def texts(self) -> list[str]:
        return [unit.text for unit in self.units]


CLAUSE_WORDS = 3  # words a clause must share with a quote to be one of its positives (or half of either)
_WORD = re.compile(r"\w+")


def _clause_states(unit: Span, quote: Span, text: str) -> bool | None:
    """Whether a clause states what the quote does (True), grazes it (None: unknown), or misses it (False)."""
    if not unit.overlaps(quote):
        return False
    start, end = max(unit.start, quote.start), min(unit.end, quote.end)
    shared = len(_WORD.findall(text[start:end]))
    shorter = min(len(_WORD.findall(unit.text)), len(_WORD.findall(quote.text)))
    return True if shared >= CLAUSE_WORDS or 2 * shared >= shorter else None


def sentence_examples(incidents: Sequence[Incident], Y: np.ndarray, *, max_words: int = 40,
                      overlap: int = 10, with_clauses: bool = False,
                      clause_exclude: Sequence[str] = ()) -> SentenceExamples:
    """Unit targets for incidents with incident-level labels ``Y`` (columns in ``LABELS`` order);
    the quotes come from each incident's ``evidence`` (absent on unlabelled incidents). The
    offences in ``clause_exclude`` are read from whole sentences only: unknown on every clause."""
    excluded = [j for j, label in enumerate(LABELS) if label in set(clause_exclude)]
    units: list[Span] = []
    owners: list[int] = []
    targets: list[np.ndarray] = []
    known: list[np.ndarray] = []
    unlocated = 0
    for i, incident in enumerate(incidents):
        whole, parts = split_units(incident, max_words, overlap, with_clauses=with_clauses)
        spans, first_clause = whole + parts, len(whole)
        if not spans:
            continue
        y = np.zeros((len(spans), len(LABELS)), dtype=np.float32)
        k = np.ones((len(spans), len(LABELS)), dtype=bool)
        evidence = getattr(incident, "evidence", None) or {}
        k[:, np.asarray(Y[i]) == UNKNOWN] = False
        for j in np.flatnonzero(np.asarray(Y[i]) == 1):
            k[:, j] = False
            quote = evidence.get(LABELS[j])
            located = locate_quote(incident, quote) if quote else []
            if not located:
                unlocated += 1
                continue
            for u, unit in enumerate(spans):
                if u < first_clause:
                    if any(unit.overlaps(q) for q in located):
                        y[u, j], k[u, j] = 1.0, True
                elif any(_clause_states(unit, q, incident.text(unit.field)) for q in located):
                    y[u, j], k[u, j] = 1.0, True
        k[first_clause:, excluded] = False
        units.extend(spans)
        owners.extend([i] * len(spans))
        targets.append(y)
        known.append(k)
    if not units:
        empty = np.zeros((0, len(LABELS)))
        return SentenceExamples([], np.zeros(0, dtype=int), empty.astype(np.float32), empty.astype(bool), unlocated)
    return SentenceExamples(units, np.asarray(owners, dtype=int), np.vstack(targets), np.vstack(known), unlocated)
