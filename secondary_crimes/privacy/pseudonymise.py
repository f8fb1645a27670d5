"""Replace personal data in free text with stable tokens: ``[NAME_1]``, ``[ADDRESS_2]``, ``[PHONE_1]``, ...

Identifiers (``identifiers``) are replaced where they are written; names (``names``) and street
names found anywhere in an incident are replaced wherever they recur in it, in any case
("Kirsty ALLONBY" in the narrative also hides "kirsty" in a lower-case call log). A shared
``mapping`` keeps one token per person or identifier across the fields of an incident. It
over-redacts rather than under-redacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from secondary_crimes.privacy.identifiers import Found, identifiers, streets
from secondary_crimes.privacy.names import COMMON, SHORTHAND, Name, cued_names, incident_names, rule_names
from secondary_crimes.records import Incident

NOT_NAMES = SHORTHAND  # upper-case words kept as they are (police shorthand, codes, closing codes)
# An initial left before a name's token ("j. [SURNAME_1]", "mr p [SURNAME_2]"); not "a" or "I" without a dot.
_INITIAL = re.compile(r"(?<![\w.])(?:[A-Za-z]\.\s*|[B-HJ-Zb-hj-z]\s+)(?=\[(?:NAME|SURNAME)_\d+\])")


def _token(mapping: dict[str, str], key: str, kind: str) -> str:
    if key not in mapping:
        count = sum(1 for v in mapping.values() if v.startswith(f"[{kind}_")) + 1
        mapping[key] = f"[{kind}_{count}]"
    return mapping[key]


def _bounded(pattern: str) -> str:
    """``pattern`` as a whole word, never inside a token already written (``[NAME_1]``)."""
    return rf"(?<![\w\[]){pattern}(?![\w\]])"


def _replace_identifiers(text: str, mapping: dict[str, str]) -> str:
    """Each identifier span (the earliest, then the longest, of overlapping ones) becomes its token."""
    chosen: list[Found] = []
    for found in sorted(identifiers(text), key=lambda f: (f.start, f.start - f.end)):
        if not chosen or found.start >= chosen[-1].end:
            chosen.append(found)
    for found in reversed(chosen):
        token = _token(mapping, f"{found.kind}:{found.key}", found.kind)
        text = text[: found.start] + token + text[found.end:]
    return text


def _merge(names: Iterable[Name]) -> dict[str, Name]:
    """One entry per name (lower case): the first kind found; any case if any finding allows it."""
    merged: dict[str, Name] = {}
    for name in names:
        key = name.word.lower()
        any_case = name.any_case and key not in COMMON
        if key in merged:
            merged[key] = merged[key]._replace(any_case=merged[key].any_case or any_case)
        else:
            merged[key] = name._replace(any_case=any_case)
    return merged


def pseudonymise(
    text: str, mapping: dict[str, str] | None = None, names: Iterable[Name] = (), street_names: Iterable[str] = (),
    *, find_names: bool = True,
) -> str:
    """``text`` with names, addresses, streets, postcodes, phones, emails, registrations and DOBs as tokens.

    Names come from the text itself and ``names`` (e.g. found in the incident's other fields);
    ``street_names`` likewise. Pass ``mapping`` to keep tokens consistent across texts.
    ``find_names=False`` replaces ``names`` only (the caller chose its detectors: the tagger
    of ``cued_names`` costs about 10 ms a text).
    """
    mapping = {} if mapping is None else mapping
    found = _merge([*(rule_names(text) + cued_names(text) if find_names else []), *names])
    for key, name in found.items():  # tokens numbered in order of discovery, before any replacement
        _token(mapping, f"name:{key}", name.kind)
    street_names = {*streets(text), *street_names}
    text = _replace_identifiers(text, mapping)
    for street in sorted(street_names, key=len, reverse=True):
        pattern = r"\s+".join(re.escape(word) for word in street.split())
        token = _token(mapping, f"street:{street}", "STREET")
        text = re.sub(_bounded(pattern), token, text, flags=re.IGNORECASE)
    for key in sorted(found, key=len, reverse=True):
        name = found[key]
        token = mapping[f"name:{key}"]
        if name.any_case:
            text = re.sub(_bounded(re.escape(key)), token, text, flags=re.IGNORECASE)
        else:
            text = re.sub(_bounded(re.escape(name.word)), token, text)
    return _INITIAL.sub("", text)


def pseudonymise_incident(incident: Incident, *, extraction: bool = True) -> dict[str, Any]:
    """The incident's fields with its free text pseudonymised (one mapping for all its fields).

    Names and streets found in any field are replaced in every field; ``extraction`` adds the
    people that the extraction pipeline finds (slower: it runs spaCy's NER and our components).
    """
    row = incident.model_dump(mode="json")
    evidence = row.get("evidence") if isinstance(row.get("evidence"), dict) else {}
    extra_texts = [*evidence.values(), row.get("rationale") or ""]
    names = incident_names(incident, extra_texts, extraction=extraction)
    texts = [row.get("call_log") or "", row.get("officer_narrative") or "", *extra_texts]
    street_names = {street for text in texts for street in streets(text)}
    mapping: dict[str, str] = {}

    def clean(text: str) -> str:
        return pseudonymise(text, mapping, names, street_names)

    for field in ("call_log", "officer_narrative"):
        row[field] = clean(row.get(field) or "")
    if evidence:
        row["evidence"] = {k: clean(v) for k, v in evidence.items()}
    if row.get("rationale"):
        row["rationale"] = clean(row["rationale"])
    return row
