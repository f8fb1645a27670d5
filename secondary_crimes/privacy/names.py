"""People's names in police logs: the writing conventions, role cues in any case, and the extraction's people.

Three sources, each returning ``Name``s (the word as written; kind ``NAME``, a forename or a
name of unknown part, or ``SURNAME``):

- ``rule_names``: "Forename SURNAME", titles ("Mrs Patel", "mr p raman"), initials ("j. smith",
  "P Raman"), a lone upper-case word that is not shorthand, a capitalised word after a role or
  reporting cue ("RP states Platt", "her ex Dean");
- ``cued_names``: a word after a role or kinship cue in any case ("husband piotr", "caller
  kirsty allonby says") when spaCy's tagger reads it as a noun or proper noun, not a verb;
- ``extracted_names``: the people of the extraction (``extract``) as the linking code reads
  them (``link.identifiers.identify``), which adds names written without any of these cues.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language

from secondary_crimes.link.identifiers import NOT_NAMES as LINK_NOT_NAMES
from secondary_crimes.link.identifiers import STREET_SUFFIXES
from secondary_crimes.records import TEXT_FIELDS, Incident

# Upper-case words that are control-room shorthand, codes or units, not surnames.
_SHORTHAND = """
A&E ABH AKA ASB ATM BTP CAD CAID CCTV CID CPS CSC CSE CSP DA DASH DC DCI DI DOB DS DVPN DVPO EDT ETA
FLO GBH GP HMP IDVA IOPC IP ISVA MARAC MASH NFA NHS OCG OIC OP PC PCSO PNC PND PPN RP RTC SARC SC SGT
SOCO SMS TV UK USA VAT VRN WPC ICU AM PM GMT BST ID OK NO SOS IC IC1 IC2 IC3 W/M W/F B/M B/F FB ICO
CRIME RECORDED DOMESTIC INCIDENT NO CONCERN FOR WELFARE CHILD SUSPICIOUS CIRCUMSTANCES THEFT ASSAULT
HARASSMENT ADVICE GIVEN RESOLVED BY PHONE CIVIL DISPUTE REFERRED TO PARTNER AGENCY SEXUAL OFFENCE
"""
SHORTHAND = frozenset(_SHORTHAND.split())
_NOT_CUED_WORDS = (
    "The This That She He His Her They Their There Then Police Officers Officer Units Unit Male Female "
    "Caller Victim Suspect Ambulance Crime Advice Words Nothing None Not No Yes All Both One Two Three "
    "Statement Attended When While After Before Was Has Had Will Would"
)
# Words (lower case) never taken for a name: English stop words, the linking code's non-names, cue words.
_ROLE_WORDS = (
    "ip rp op susp suspect victim caller partner ex husband wife boyfriend girlfriend bf gf son daughter mother "
    "father mum dad brother sister friend neighbour named called witness informant child baby stepdad stepmum "
    "uncle aunt nan grandad grandmother grandfather cousin nephew niece fiance fiancee landlord tenant carer "
    "lodger colleague manager teacher nurse doctor male female man woman lady lad boy girl youth person"
)
ROLE_WORDS = frozenset(_ROLE_WORDS.split())
COMMON = frozenset(STOP_WORDS) | LINK_NOT_NAMES | ROLE_WORDS | {w.lower() for w in _NOT_CUED_WORDS.split()}

_FULL_NAME = re.compile(r"\b([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\s+((?:Mc|Mac|O')?[A-Z]{2,}(?:-[A-Z]{2,})?)\b")
_TITLE_NAME = re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr|PC|DC|DS|PS|Sgt|Insp)\.?\s+([A-Z][a-z]+|[A-Z]{2,})\b")
# Any case, with an optional initial: "mr p raman", "Mrs F LATHBURY", "MS J. Holt".
_TITLE_INITIAL = re.compile(r"(?i)\b(mr|mrs|ms|miss|mx|dr)\.?\s+(?:([a-z])\.?\s+)?([a-z][a-z'-]+)\b")
# An initial and a surname: "j. smith", "J SMITH", "P Raman" (no dot needs a capital initial other than A or I).
_INITIAL_NAME = re.compile(r"(?<![\w.'\u2019])(?:([A-Za-z])\.\s*|([B-HJ-Z])\s+)([A-Za-z][A-Za-z'-]{2,})\b")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z'\-]{1,}[A-Z]\b")
_CUED_NAME = re.compile(
    r"\b(?:IP|RP|OP|[Ss]usp(?:ect)?|[Vv]ictim|[Cc]aller|[Pp]artner|ex|[Hh]usband|[Ww]ife|[Bb]oyfriend|"
    r"[Gg]irlfriend|son|daughter|[Mm]other|[Ff]ather|brother|sister|friend|neighbour|named|called|"
    r"states|stated|says|said|reports|informant|[Ww]itness|[Mm]um|[Dd]ad)\s+([A-Z][a-z]{2,}(?:-[A-Z][a-z]+)?)\b"
)
_NOT_CUED = frozenset(_NOT_CUED_WORDS.split())
# Cues after which a noun in any case is a name: "her husband piotr", "caller kirsty allonby says".
_CUES = (
    "ip rp op susp suspect victim caller partner ex husband wife boyfriend girlfriend bf gf son daughter mother "
    "father mum dad brother sister friend neighbour named called informant witness stepdad stepmum uncle aunt "
    "nan cousin fiance fiancee landlord carer lodger mr mrs ms miss mx ch handler"
)
CUES = frozenset(_CUES.split())


class Name(NamedTuple):
    """A name word as written, its token kind, and whether its other spellings are the same person.

    ``any_case`` is False for a lone upper-case word (in an upper-case log "HIT" is no name, so
    "hit" elsewhere is kept) and for common words ("Will", "May"): only those spellings are replaced.
    """

    word: str
    kind: str
    any_case: bool = True


def usable(word: str) -> bool:
    """A word that can be a name: letters, two or more, not a common word, shorthand or street suffix."""
    bare = word.strip(".'-")
    return (len(bare) >= 2 and bare.replace("-", "").replace("'", "").isalpha() and bare.lower() not in COMMON
            and bare.upper() not in SHORTHAND and bare.lower() not in STREET_SUFFIXES)


def rule_names(text: str, *, lone_capitals: bool = True) -> list[Name]:
    """Names found by the logs' writing conventions, in order of discovery.

    ``lone_capitals=False`` leaves out the lone upper-case word, which in an upper-case log is
    any word ("HIT", "STATES"), not a name.
    """
    out: list[Name] = []
    for forename, surname in _FULL_NAME.findall(text):
        if surname not in SHORTHAND:
            out += [Name(forename, "NAME", usable(forename)), Name(surname, "SURNAME", usable(surname))]
    for _, name in _TITLE_NAME.findall(text):
        if name not in SHORTHAND:
            out.append(Name(name, "SURNAME" if name.isupper() else "NAME", usable(name)))
    for title, initial, name in _TITLE_INITIAL.findall(text):
        if usable(name) and not (title[0].isupper() and name[0].islower()):  # not "Dr asked him"
            out.append(Name(name, "SURNAME" if initial or name.isupper() else "NAME"))
    for m in _INITIAL_NAME.finditer(text):
        if usable(m.group(3)):
            out.append(Name(m.group(3), "SURNAME"))
    for word in _CAPS_WORD.findall(text) if lone_capitals else ():
        if word not in SHORTHAND and len(word) >= 3:
            out.append(Name(word, "SURNAME", False))
    for name in _CUED_NAME.findall(text):
        if name not in _NOT_CUED:
            out.append(Name(name, "NAME", usable(name)))
    return out


@lru_cache(maxsize=1)
def tagger() -> Language:
    """The packaged spaCy model's tagger alone (the extraction pipeline keeps its NER only)."""
    import spacy

    from secondary_crimes.settings import get_settings

    return spacy.load(get_settings()["spacy_model"], exclude=["parser", "ner", "lemmatizer", "senter"])


def cued_names(text: str) -> list[Name]:
    """Up to two noun or proper-noun words after a role or kinship cue, in any case."""
    if not text.strip() or mostly_upper(text):  # upper-case logs: the tagger guesses, _CAPS_WORD covers them
        return []
    return list(_cued_names(text))


def mostly_upper(text: str) -> bool:
    """More than 60% of the letters are capitals (an upper-case log or line)."""
    letters = sum(map(str.isalpha, text))
    return bool(letters) and sum(map(str.isupper, text)) > 0.6 * letters


def _name_token(token, first: bool) -> bool:
    """A tagged word that can be a name after a cue: a proper noun, or (first only) a noun that is not
    a lower-case plural or -ing form ("caller accepts", "RP answering")."""
    if not usable(token.text):
        return False
    if token.pos_ == "PROPN":
        return True
    lower = token.text.islower()
    return first and token.pos_ == "NOUN" and not (lower and (token.tag_ == "NNS" or token.text.endswith("ing")))


@lru_cache(maxsize=4096)
def _cued_names(text: str) -> tuple[Name, ...]:
    doc = tagger()(text)
    out: list[Name] = []
    for i, token in enumerate(doc):
        if token.lower_ not in CUES:
            continue
        j = i + 1
        while j < len(doc) and doc[j].lower_ in CUES:  # "ex partner", "mr and mrs"
            j += 1
        words = []
        while j < len(doc) and len(words) < 2 and _name_token(doc[j], not words):
            words.append(doc[j].text)
            j += 1
        out += [Name(w, "NAME" if n == 0 else "SURNAME") for n, w in enumerate(words)]
    return tuple(out)


def extracted_names(incident: Incident) -> list[Name]:
    """The names of the incident's people as extraction and the linking code read them."""
    from secondary_crimes.extract.extractor import extract
    from secondary_crimes.link.identifiers import identify

    parties = identify(incident, extract([incident])[0])
    out: list[Name] = []
    for party in parties.people:
        out += [Name(w, "NAME") for w in party.forename.split() if usable(w)]
        out += [Name(w, "SURNAME") for w in party.surname.split() if usable(w)]
    return out


def incident_names(incident: Incident, texts: Iterable[str] = (), *, extraction: bool = True) -> list[Name]:
    """Every name in the incident's text fields (and ``texts``, e.g. its evidence), by all three sources."""
    fields = [incident.text(f) for f in TEXT_FIELDS] + [t for t in texts if t]
    out = [found for text in fields for found in rule_names(text)]
    out += [found for text in fields for found in cued_names(text)]
    if extraction:
        out += extracted_names(incident)
    return out
