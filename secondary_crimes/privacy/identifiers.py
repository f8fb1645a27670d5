"""Identifiers in free text that are not names: addresses, streets, postcodes, phones, emails, vehicles, DOBs.

The linking code's patterns (``link.identifiers``) are read here and widened for privacy, where
over-redacting costs less than a miss: addresses and postcodes in any case ("11 sorrel way"),
registrations without a vehicle word, any UK-style phone number, dates of birth in words.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from secondary_crimes.link.identifiers import AT_HANDLE, HANDLE, STREET_SUFFIXES, VRM_CONTEXT, VRM_PARTIAL


class Found(NamedTuple):
    """One identifier: its kind (token prefix), a key that is the same however it is written, its offsets."""

    kind: str
    key: str
    start: int
    end: int


_SUFFIXES = sorted(set(STREET_SUFFIXES) | {"cottage", "view", "wharf", "quay", "gate", "end", "vale", "heights"},
                   key=len, reverse=True)
SUFFIX = "|".join(_SUFFIXES)
# Words that a number is followed by without being a house number ("10 minutes down the road").
_NOT_STREET_WORDS = """
a an the of and or to in on at by from into onto over up down off out per for with her his their my your our its
this that these those him them me us it she he they we i is was are were be been being has had have not no am pm
hrs hours hour mins minutes minute secs seconds days day weeks week months month years year yr yrs times old stone
kg yards metres meters miles mile feet foot bed bedroom door storey officers units males females people men women
kids children cars calls texts messages occasions nights floor lads youths dogs more other further different
"""
_NOT_STREET = frozenset(_NOT_STREET_WORDS.split())
_WORD = r"[A-Za-z][A-Za-z'\u2019-]*"
ADDRESS = re.compile(
    rf"(?i)(?:\bflat\s+\d+[a-z]?[,\s]+)?\b(\d{{1,4}}[a-z]?),?\s+((?:{_WORD}\s+){{0,2}}?{_WORD})\s+({SUFFIX})\b"
)
# "number 40 on orchard way", "no. 22 in Larch Rise": the house number written before the street.
NUMBER_ON = re.compile(
    rf"(?i)\b(?:number|no\.?)\s*(\d{{1,4}}[a-z]?)\s+(?:on|in|of)\s+((?:{_WORD}\s+){{0,2}}?{_WORD})\s+({SUFFIX})\b"
)
FLAT = re.compile(r"(?i)\b(?:flat|apartment|apt|unit)\s+\d+[a-z]?\b")
# A street named without a number: capitalised words and a suffix ("Gorse Lane", "SEXTON WAY", "St John's Road").
STREET = re.compile(rf"\b((?:[A-Z][A-Za-z'\u2019]+\s+){{1,2}})((?i:{SUFFIX}))\b(?=[^A-Za-z]|$)")
POSTCODE = re.compile(r"(?i)\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w])")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
VRM = re.compile(r"\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b")
VRM_ANY_CASE = re.compile(r"(?i)\b(?:[A-Z]{2}\d{2}\s?[A-Z]{3}|[A-Z]\d{1,3}\s?[A-Z]{3})\b")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})[a-z]*\.?,?"
         rf"\s+\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}})")
DOB = re.compile(rf"(?i)\b(?:dob|d\.o\.b\.?|date of birth|born(?:\s+on)?)[:\s]+({_DATE})")


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def street_words_ok(words: str) -> bool:
    """A street name rather than "minutes down the" or "times a": no common word in it."""
    return not any(w.lower().strip("'\u2019") in _NOT_STREET for w in words.split())


def addresses(text: str) -> list[Found]:
    """House addresses in any case ("Flat 2, 11 Sorrel Way", "11 sorrel way")."""
    return [Found("ADDRESS", _key(f"{m.group(1)} {m.group(2)} {m.group(3)}"), m.start(), m.end())
            for m in _address_matches(text)]


def _address_matches(text: str) -> list[re.Match]:
    return [m for pattern in (ADDRESS, NUMBER_ON) for m in pattern.finditer(text) if street_words_ok(m.group(2))]


def streets(text: str) -> list[str]:
    """Street names (words and suffix, lower case) written in the text, with or without a number."""
    out = [_key(f"{m.group(2)} {m.group(3)}") for m in _address_matches(text)]
    for m in STREET.finditer(text):
        words = [w for w in m.group(1).split() if w.lower().strip("'\u2019") not in _NOT_STREET]
        if words:
            out.append(_key(" ".join([*words[-2:], m.group(2)])))
    return list(dict.fromkeys(out))


def dobs(text: str) -> list[Found]:
    """Dates of birth after a cue ("DOB 03/04/1990", "born 3rd March 1990"): the date only."""
    return [Found("DOB", _key(m.group(1)), m.start(1), m.end(1)) for m in DOB.finditer(text)]


def vehicles(text: str) -> list[Found]:
    """Current GB registrations anywhere; older or lower-case ones near a vehicle word; partial ones."""
    out = [Found("VRM", _key(m.group(0)).replace(" ", ""), m.start(), m.end()) for m in VRM.finditer(text)]
    for m in VRM_ANY_CASE.finditer(text):
        if VRM_CONTEXT.search(text[max(0, m.start() - 60): m.start()]):
            out.append(Found("VRM", _key(m.group(0)).replace(" ", ""), m.start(), m.end()))
    out += [Found("VRM", _key(m.group(1)).replace(" ", ""), m.start(1), m.end(1)) for m in VRM_PARTIAL.finditer(text)]
    return out


def identifiers(text: str) -> list[Found]:
    """Every identifier in the text, overlapping ones included (the caller keeps the first, longest)."""
    found = [Found("EMAIL", m.group(0).lower(), m.start(), m.end()) for m in EMAIL.finditer(text)]
    found += [Found("ACCOUNT", _key(m.group(1)), m.start(1), m.end(1)) for m in HANDLE.finditer(text)]
    found += [Found("ACCOUNT", m.group(1).lower(), m.start(), m.end()) for m in AT_HANDLE.finditer(text)]
    found += [Found("PHONE", re.sub(r"\D", "", m.group(0)), m.start(), m.end()) for m in PHONE.finditer(text)]
    found += dobs(text)
    found += addresses(text)
    found += [Found("ADDRESS", _key(m.group(0)), m.start(), m.end()) for m in FLAT.finditer(text)]
    found += [Found("POSTCODE", _key(m.group(0)).replace(" ", ""), m.start(), m.end()) for m in POSTCODE.finditer(text)]
    found += vehicles(text)
    return found
