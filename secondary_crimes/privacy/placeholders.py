"""The text a TF-IDF vectorizer reads, with people's names and identifiers as placeholders, lower-cased.

``placeholder_text`` is the vectorizers' ``preprocessor`` (at fit and at predict time alike), so a
fitted vocabulary holds ``_person_``, ``ip _person_``, ``_address_`` where it held ``platt``,
``jason platt``, ``11 sorrel way``. It reuses the pseudonymiser (``pseudonymise``): its
identifiers (addresses, streets, postcodes, phones, emails, registrations, dates of birth,
online accounts) and its rule-based names (``names.rule_names``), one placeholder per kind
instead of a numbered token. A run of names ("Jason PLATT") is one ``_person_``.

Rule-based names only: the tagger of ``names.cued_names`` costs about 10 ms a text, this about
0.7-1 ms a corpus incident (or its sentences), and it runs on every scored incident (and on every
sentence of the sentence model). So a name in lower case with no capital anywhere in the text ("her husband piotr") is
kept. Upper-case lines (more than 60% capitals: a control-room log, an opening code) do not take
a lone capitalised word for a name, since there every word is one; names written there with a
title ("MRS PATEL", "MR P RAMAN") are replaced, and one written in mixed case elsewhere in the
text is replaced in every case.
"""

from __future__ import annotations

import re
from functools import lru_cache

from secondary_crimes.privacy.names import Name, mostly_upper, rule_names, usable
from secondary_crimes.privacy.pseudonymise import pseudonymise

# The pseudonymiser's token kinds ([NAME_1], [ADDRESS_2], ...) -> one placeholder a kind; words
# that no log writes, so they do not merge with "person", "address" or "phone" as written.
PLACEHOLDERS = {
    "NAME": "_person_", "SURNAME": "_person_", "ADDRESS": "_address_", "STREET": "_street_",
    "POSTCODE": "_postcode_", "PHONE": "_phone_", "EMAIL": "_email_", "VRM": "_vehicle_", "DOB": "_dob_",
    "ACCOUNT": "_account_",
}
_TOKEN = re.compile(r"\[([A-Z]+)_\d+\]")
_PEOPLE = re.compile(r"_person_(?:[ \t]+_person_)+")


def _placeholder(match: re.Match) -> str:
    kind = match.group(1)
    return PLACEHOLDERS.get(kind, f"_{kind.lower()}_")


def text_names(text: str) -> list[Name]:
    """The names that ``rule_names`` finds line by line (no lone capitals in an upper-case line), usable ones."""
    return [name for line in text.splitlines() for name in rule_names(line, lone_capitals=not mostly_upper(line))
            if usable(name.word)]


@lru_cache(maxsize=4096)
def placeholder_text(text: str) -> str:
    """``text`` lower-cased, its names and identifiers replaced by placeholders (``_person_``, ...).

    Cached (4,096 texts, in memory only): the word and the character vectorizer each read the
    same texts, one after the other.
    """
    out = pseudonymise(text, names=text_names(text), find_names=False)
    return _PEOPLE.sub("_person_", _TOKEN.sub(_placeholder, out)).lower()
