"""The identifiers of one incident: its people (with roles), and phones, vehicles, addresses, DOBs, accounts.

``identify(incident, extraction)`` turns an incident and its ``Extraction`` into ``Parties``: one
``Party`` per person (named, or only described as "her ex") and one per identifier that no name
stands next to (a vehicle registration, a phone number, an address, an online account). People
come from the extraction (``Extraction.people``, with their roles and relationship words) and from
the naming conventions of police logs that it can miss ("CALLER HANNAH WHITLOCK", "Mrs P Raman",
"Clive (thinks surname is MAYHEW)"); an identifier written just after a name ("RP Shannon PIKE,
mob 07700 900388") is that person's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from secondary_crimes.extract.types import Extraction
from secondary_crimes.records import TEXT_FIELDS, Incident

# Relationship words (Person.described_as) of someone who is plausibly the perpetrator, by class.
RELATION_CLASSES: dict[str, str] = {
    **dict.fromkeys(
        ("ex", "ex husband", "ex-husband", "ex partner", "ex-partner", "ex-bf", "ex bf", "ex-boyfriend",
         "ex boyfriend", "ex-girlfriend", "ex girlfriend", "ex-wife", "ex wife"), "ex_partner"),
    **dict.fromkeys(("bf", "boyfriend", "girlfriend", "partner", "husband", "wife", "fiance", "fiancee"),
                    "intimate_partner"),
    **dict.fromkeys(("landlord", "ex-landlord", "ex landlord"), "landlord"),
    "neighbour": "neighbour",
    "brother": "brother",
}
SUSPECT_WORDS = {"suspect", "susp", "s1", "offender", "perpetrator"}
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "cllr", "pc", "ds", "dc", "sgt", "pcso", "insp"}
OFFICER_TITLES = {"pc", "ds", "dc", "sgt", "pcso", "insp", "dr"}  # officers and doctors are never a party
# Words that look like names in logs but are not: control-room and police shorthand, sentence starters.
NOT_NAMES = {
    "advised", "allocated", "attended", "caller", "closed", "closing", "conveying", "customer", "dancefloor",
    "desc", "driver", "email", "grade", "handler", "info", "licensee", "linked", "partial", "patrols",
    "resolution", "voicemail", "flat", "agent", "police", "officer", "update", "updates", "states", "says",
    "reports", "spoke", "saw", "found", "arrested", "charged", "crime", "crimes", "no", "not", "the", "her", "his",
    "she", "he", "has", "had", "is", "was", "been", "now", "and", "at", "in", "on", "to", "of", "for", "from",
    "with", "who", "that", "this", "then", "also", "again", "today", "tonight", "yesterday", "rp", "ip", "op",
    "susp", "bf", "ex", "mob", "tel", "dob", "vrm", "reg", "anon", "female", "male", "man", "woman", "mum", "dad",
    "son", "daughter", "brother", "sister", "husband", "wife", "partner", "neighbour", "landlord", "staff",
    "member", "manager", "wants", "want", "hasnt", "doesnt", "cant", "wont", "didnt", "isnt", "approx", "since",
    "about", "after", "before", "outside", "inside", "there", "here", "yes", "ok", "nfa", "thrive", "dash",
    "marac", "mash", "idva", "isva", "cctv", "anpr", "pnc", "pnd", "nmo", "npt", "bwv", "cad", "eta", "rui",
    "cpw", "pha", "poa", "asb", "wm", "wf", "high", "medium", "standard", "low", "grey", "white", "black", "blue",
    "red", "silver", "green", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "facebook", "instagram", "snapchat", "whatsapp", "messenger", "apple", "airtag",
    "ring", "nissan", "ford", "vauxhall", "astra", "fiat", "skoda", "kia", "toyota", "citroen", "honda",
    "da", "dv", "ds", "dc", "pc", "sgt", "insp", "gp", "dsl", "csi", "ppu", "cfw", "mr", "mrs", "ms", "miss", "mx",
    "dr", "cllr", "play", "out", "go", "went", "come", "came", "get", "got", "said", "tell", "told",
    # form fields ("Vulnerability: Y. Hate: N.") and services ("Harbour SARC", "Amb requested")
    "hate", "risk", "vulnerability", "present", "amb", "ambulance", "sarc", "custody", "hospital", "unit", "team",
    "service", "services", "centre", "center", "surgery", "practice", "school", "council", "station", "hub",
}
STREET_SUFFIXES = {
    "street": "street", "st": "street", "road": "road", "rd": "road", "lane": "lane", "ln": "lane", "way": "way",
    "avenue": "avenue", "ave": "avenue", "close": "close", "court": "court", "ct": "court", "mews": "mews",
    "drive": "drive", "rise": "rise", "row": "row", "terrace": "terrace", "tce": "terrace",
    "yard": "yard", "cottages": "cottages", "house": "house", "walk": "walk", "hill": "hill",
    "crescent": "crescent", "gardens": "gardens", "place": "place", "square": "square", "green": "green",
    "bank": "bank", "grove": "grove", "parade": "parade", "market": "market", "bridge": "bridge",
    "cross": "cross", "park": "park", "estate": "estate",
}
_SUFFIX = "|".join(sorted(STREET_SUFFIXES, key=len, reverse=True))

PHONE = re.compile(r"(?<![\d])(?:\+44\s?\(?0?\)?\s?|0)([1-37]\d{3})[\s-]?(\d{3})[\s-]?(\d{3,4})(?![\d])")
# Current GB registrations (AB12 CDE); a partial one ("partial reg 'RX16'").
VRM = re.compile(r"\b([A-Z]{2}\d{2})\s?([A-Z]{3})\b")
VRM_CONTEXT = re.compile(r"(?i)\b(?:reg|vrm|registration|index|plate|anpr|hotlist|pnc|car|van|vehicle|keeper|"
                         r"astra|transit|fiat|vauxhall|ford|skoda|octavia|berlingo|punto|yaris|jazz|juke|golf|"
                         r"corsa|focus|bmw|audi|mercedes|toyota|honda|nissan|kia|citroen|peugeot|renault)\b")
VRM_PARTIAL = re.compile(r"(?i)\bpartial\s+(?:reg|vrm|index|plate)\b[^A-Za-z0-9]{0,4}([A-Z]{2}\d{2}|[A-Z]{2}\d{2}"
                         r"\s?[A-Z]{1,2})\b")
POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s?(\d[A-Z]{2})\b")
DOB = re.compile(r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|born)[:\s]+(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b")
# Street names are capitalised ("14 Gorse Lane", "9 SEXTON WAY"), the suffix in any case.
ADDRESS = re.compile(
    rf"(?:\b(?i:flat)\s+(\d+[a-z]?)[,\s]+)?\b(\d{{1,4}}[a-z]?),?\s+((?:[A-Z][A-Za-z']*\s+){{0,2}}?[A-Z][A-Za-z']*)"
    rf"\s+((?i:{_SUFFIX}))\b\.?"
)
HANDLE = re.compile(
    r"(?i)\b(?:account|profile|page|username|user\s?name|handle)\s+(?:called|named|name[d]?|is)?\s*"
    r"['\"\u2018\u201c]([^'\"\u2019\u201d\n]{3,40})['\"\u2019\u201d]"
)
AT_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.]{3,30})\b")
# Names written the police way: a title, "Forename SURNAME", cues before a name in upper-case logs.
TITLE_NAME = re.compile(
    r"\b(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Cllr)\.?|MR|MRS|MS|MISS|DR|CLLR)\s+"
    r"(?:([A-Z][a-z]+|[A-Z])\.?\s+)?([A-Z][A-Za-z'-]+)"
)
FORE_SURNAME = re.compile(r"\b([A-Z][a-z]+)\s+([A-Z][A-Z'-]*[A-Z])\b")
CUE_NAME = re.compile(
    r"(?i:\b(?:caller|rp|ip|victim|staff member|ex[- ]?(?:partner|husband|wife|bf|boyfriend|girlfriend)?|"
    r"husband|wife|partner|bf|boyfriend|girlfriend|brother|sister|son|daughter|susp|suspect|it was))"
    r"[:\s]+([A-Z][A-Z'-]+|[A-Z](?=\s+[A-Z]{2}))(?:\s+([A-Z][A-Z'-]+))?\b"
)
SURNAME_IS = re.compile(r"\b([A-Z][A-Za-z]+)[\s,(]+(?:thinks\s+)?surname\s+(?:is\s+)?([A-Z][A-Za-z'-]+)")
PERP_CUE = re.compile(r"(?i)\b(?:ex[- ]?(?:partner|husband|wife|bf|boyfriend|girlfriend)?|bf|boyfriend|husband|"
                      r"susp(?:ect)?(?: details)?|landlord|order in place v|nmo v|v ex|respondent)[:\s]+$")


@dataclass(frozen=True)
class Party:
    """A person in an incident, or an identifier no name stands next to (``kind`` says which).

    People: ``kind`` "person"; ``forename``/``surname`` lower case (either may be empty; a lone
    initial is a forename of one letter), ``relation`` the class of their relationship words when
    those make them a plausible perpetrator ("ex_partner" for "her ex"), ``perpetrator`` when the
    extraction or the wording makes them one. Identifiers: ``kind`` "phone", "vehicle", "address",
    "account" or "dob", with the value in the matching tuple.
    """

    incident_id: str
    index: int
    kind: str = "person"
    forename: str = ""
    surname: str = ""
    role: str = "other"
    relation: str | None = None
    perpetrator: bool = False
    text: str = ""
    phones: tuple[str, ...] = ()
    dobs: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    vehicles: tuple[str, ...] = ()
    vehicle_prefixes: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    @property
    def uid(self) -> str:
        return f"{self.incident_id}#{self.index}"

    @property
    def named(self) -> bool:
        return bool(self.forename or self.surname)

    @property
    def perpetrator_side(self) -> bool:
        """Plausibly the perpetrator: a suspect, an ex or partner, their vehicle or account."""
        return self.perpetrator or self.relation is not None or self.kind in ("vehicle", "account")


@dataclass
class Parties:
    """Everything ``identify`` found in one incident."""

    incident_id: str
    reported_at: datetime | None
    parties: list[Party] = field(default_factory=list)

    @property
    def people(self) -> list[Party]:
        return [p for p in self.parties if p.kind == "person"]


@dataclass
class _Name:
    forename: str
    surname: str
    role: str = "other"
    relation: str | None = None
    perpetrator: bool = False
    text: str = ""
    positions: list[tuple[str, int, int]] = field(default_factory=list)  # (field, start, end) of mentions


# Identifiers ------------------------------------------------------------------------------------


def normalise_phone(match: re.Match) -> str:
    return "0" + "".join(match.groups())


def phones(text: str) -> list[tuple[str, int, int]]:
    """UK phone numbers as 11 digits from 0, with their offsets."""
    return [(normalise_phone(m), m.start(), m.end()) for m in PHONE.finditer(text)]


def vehicles(text: str) -> list[tuple[str, int, int]]:
    """Full registrations (no space, upper case) written near a vehicle word."""
    out = []
    for m in VRM.finditer(text):
        if VRM_CONTEXT.search(text[max(0, m.start() - 60): m.start()]):
            out.append((m.group(1) + m.group(2), m.start(), m.end()))
    return out


def vehicle_prefixes(text: str) -> list[tuple[str, int, int]]:
    """Partial registrations ("partial reg 'RX16'"): the first four characters."""
    return [(re.sub(r"\s", "", m.group(1)).upper()[:4], m.start(), m.end()) for m in VRM_PARTIAL.finditer(text)]


def dobs(text: str) -> list[tuple[str, int, int]]:
    out = []
    for m in DOB.finditer(text):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 1900 if year > 30 else 2000
        if 1 <= day <= 31 and 1 <= month <= 12:
            out.append((f"{year:04d}-{month:02d}-{day:02d}", m.start(), m.end()))
    return out


def street_key(name: str, suffix: str) -> str:
    words = re.sub(r"[^a-z ]", "", name.lower().replace("'", "")).split()
    return " ".join([*words, STREET_SUFFIXES[suffix.lower()]])


def addresses(text: str) -> list[tuple[str, str, int, int]]:
    """House addresses as (full key, street key, start, end): "Flat 6, 7 Tanner's Yard" is "6/7 tanners yard"."""
    out = []
    for m in ADDRESS.finditer(text):
        flat, number, name, suffix = m.groups()
        if name.lower().split()[0] in NOT_NAMES | {"am", "pm", "hrs", "mins", "minutes", "days", "weeks", "times"}:
            continue
        street = street_key(name, suffix)
        number = number.lower()
        out.append((f"{flat.lower()}/{number} {street}" if flat else f"{number} {street}", street, m.start(), m.end()))
    return out


def accounts(text: str) -> list[tuple[str, int, int]]:
    """Online accounts: "an account called 'Rushmere Truth Teller'", "@liamsgirl_j"."""
    out = [(" ".join(m.group(1).lower().split()), m.start(), m.end()) for m in HANDLE.finditer(text)]
    out += [(m.group(1).lower(), m.start(), m.end()) for m in AT_HANDLE.finditer(text)]
    return out


# Names ------------------------------------------------------------------------------------------


def _mostly_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) > 0.8 * len(letters)


def _name_word(word: str) -> bool:
    bare = word.lower().strip(".'-")
    return len(bare) >= 2 and bare.isalpha() and bare not in NOT_NAMES | TITLES and bare not in STREET_SUFFIXES


def _places(incident: Incident) -> set[str]:
    """Words used as place names in the incident (street names, towns after an address)."""
    out: set[str] = set()
    for name in TEXT_FIELDS:
        text = incident.text(name)
        for m in ADDRESS.finditer(text):
            out.update(m.group(3).lower().split())
            tail = re.match(r"[,\s]+([A-Z][A-Za-z]+)\b", text[m.end(): m.end() + 40])
            if tail:
                out.add(tail.group(1).lower())  # the town: "22 LARCH RISE, WENDLECOMBE"
        for m in re.finditer(rf"\b([A-Z][A-Za-z']+)\s+(?i:{_SUFFIX})\b", text):
            out.add(m.group(1).lower().replace("'", ""))  # "Gorse Lane", "Fennick Market"
    return out - {"mr", "mrs", "ms", "miss", "dr"}


def _split(text: str) -> tuple[str, str] | None:
    """(forename, surname) of a written name, or None when it is not a person's name."""
    words = [w for w in re.split(r"\s+", text.strip()) if w]
    titled = bool(words) and words[0].lower().strip(".") in TITLES
    if titled and words[0].lower().strip(".") in OFFICER_TITLES:
        return None
    words = [w.strip(".,()") for w in words if w.lower().strip(".") not in TITLES]
    if not words or len(words) > 3 or not all(_name_word(w) or (len(w) == 1 and w.isalpha()) for w in words):
        return None
    if len(words[0]) == 1 and not titled:  # "Y. Hate": an initial needs a title ("Mrs F LATHBURY")
        return None
    if len(words) == 1:
        word = words[0].lower()
        if len(word) < 2:
            return None
        return ("", word) if titled else (word, "")  # "Mrs FENWICK" is a surname, "Hannah" a forename
    return words[0].lower().strip("'"), words[-1].lower().strip("'")


def _regex_names(incident: Incident) -> list[tuple[str, str, bool, str, int, int]]:
    """(forename, surname, perpetrator cue, field, start, end) for names found by the logs' conventions."""
    out = []
    for name in TEXT_FIELDS:
        text = incident.text(name)
        upper = _mostly_upper(text)
        found: list[tuple[str, str, int, int]] = []
        for m in TITLE_NAME.finditer(text):
            title = text[m.start(): m.start() + 5].lower().split()[0].strip(".")
            if title in OFFICER_TITLES:
                continue
            fore, sur = m.group(1) or "", m.group(2)
            if _name_word(sur) and (not fore or len(fore) == 1 or _name_word(fore)):
                found.append((fore.lower(), sur.lower(), m.start(), m.end()))
        if not upper:
            for m in FORE_SURNAME.finditer(text):
                fore, sur = m.groups()
                if _name_word(fore) and _name_word(sur) and len(sur) >= 3 and re.search("[AEIOUY]", sur) and not \
                        re.search(r"\b(?:Dr|PC|DC|DS|Sgt|PCSO)\.?\s*$", text[max(0, m.start() - 6): m.start()]):
                    found.append((fore.lower(), sur.lower(), m.start(), m.end()))
        for m in SURNAME_IS.finditer(text):
            fore, sur = m.groups()
            if _name_word(fore) and _name_word(sur):
                found.append((fore.lower(), sur.lower(), m.start(), m.end()))
        for m in CUE_NAME.finditer(text):
            fore, sur = m.group(1), m.group(2)
            if not (_name_word(fore) or (len(fore) == 1 and sur)):  # "RP T NOWAK": an initial
                continue
            sur = sur if sur and _name_word(sur) else ""
            found.append((fore.lower(), sur.lower(), m.start(1), m.end(2 if sur else 1)))
        for fore, sur, start, end in found:
            cue = bool(PERP_CUE.search(text[max(0, start - 30): start]))
            out.append((fore, sur, cue, name, start, end))
    return out


def _merge(names: list[_Name]) -> list[_Name]:
    """One name per person: "Marcia" and "MARCIA FENWICK", "Mr TOLLEY" and "Kevin TOLLEY", "Nat" and "Natalie",
    "Mrs F DALDALE" and "Fiona"."""
    order = {"suspect": 0, "victim": 1, "reporter": 2, "witness": 3, "child": 4, "other": 5}

    def absorb(into: _Name, other: _Name) -> None:
        if len(into.forename) <= 1 and other.forename and other.forename != into.surname:  # not "DALDALE" twice
            into.forename = other.forename
        into.surname = into.surname or other.surname
        into.role = min(into.role, other.role, key=lambda r: order.get(r, 9))
        into.relation = into.relation or other.relation
        into.perpetrator = into.perpetrator or other.perpetrator
        into.positions.extend(other.positions)
        into.text = into.text if len(into.text) >= len(other.text) else other.text

    full: list[_Name] = []
    for name in sorted(names, key=lambda n: (not (n.forename and n.surname), -len(n.forename))):
        if name.forename and name.surname:
            same = [f for f in full if f.surname == name.surname and (
                f.forename == name.forename or min(len(f.forename), len(name.forename)) == 1
                and f.forename[0] == name.forename[0])]
            if same:
                absorb(same[0], name)
            else:
                full.append(name)
    partial: list[_Name] = []
    for name in names:
        if name.forename and name.surname:
            continue
        token = name.forename or name.surname
        candidates = [f for f in full if (name.surname and f.surname == name.surname) or (
            name.forename and (f.forename == token or f.surname == token
                               or (len(token) >= 3 and f.forename.startswith(token))
                               or (len(f.forename) == 1 and token.startswith(f.forename))))]  # "Mrs F X", "Fiona"
        if len(candidates) == 1:
            absorb(candidates[0], name)
            continue
        if candidates:  # "FENWICK" with Carl and Tina FENWICK: cannot say which
            continue
        same = [p for p in partial if (p.forename or p.surname) == token]
        if same:  # "TOLLEY" and "Mr TOLLEY": the titled one says it is a surname
            surname = bool(name.surname or same[0].surname)
            absorb(same[0], name)
            same[0].forename, same[0].surname = ("", token) if surname else (token, "")
        else:
            partial.append(name)
    return full + partial


def _relation(words: Iterable[str]) -> str | None:
    for word in words:
        if word in RELATION_CLASSES:
            return RELATION_CLASSES[word]
    return None


def _attach(names: list[_Name], field_name: str, start: int, window: int = 45) -> _Name | None:
    """The name written nearest before an identifier (at most ``window`` characters before it)."""
    best, best_end = None, -1
    for name in names:
        for f, _s, e in name.positions:
            if f == field_name and e <= start and start - e <= window and e > best_end:
                best, best_end = name, e
    return best


def _positions(incident: Incident, name: _Name, shared_surnames: set[str]) -> list[tuple[str, int, int]]:
    """Where the name is written: its own mentions, its forename, and its surname unless someone else has it."""
    out = list(name.positions)
    tokens = {name.forename} if len(name.forename) > 1 else set()
    if name.surname and (name.surname not in shared_surnames or not tokens):
        tokens.add(name.surname)
    for token in tokens:
        for f in TEXT_FIELDS:
            out.extend((f, m.start(), m.end()) for m in re.finditer(rf"(?i)\b{re.escape(token)}\b", incident.text(f)))
    return out


def identify(incident: Incident, extraction: Extraction, places: set[str] | None = None,
             known_accounts: Iterable[str] = ()) -> Parties:
    """The parties of one incident (its people and its loose identifiers). ``places``: place words
    from other incidents of the batch (towns written after an address); ``known_accounts``: online
    accounts named elsewhere ("an account called 'Rushmere Truth Teller'"), found here when quoted."""
    places = _places(incident) | (places or set())
    names: list[_Name] = []
    relational: list[_Name] = []
    for person in extraction.people:
        relation = _relation(person.described_as)
        perpetrator = person.role == "suspect" or bool(SUSPECT_WORDS & set(person.described_as))
        if person.text:
            split = _split(person.text)
            if split is None or split[0] in places or (not split[0] and split[1] in places):
                continue
            names.append(_Name(*split, role=person.role, relation=relation, perpetrator=perpetrator,
                               text=person.text, positions=[(person.span.field, person.span.start, person.span.end)]))
        elif (relation or perpetrator) and person.role not in ("reporter", "witness", "child"):
            relational.append(_Name("", "", role=person.role, relation=relation, perpetrator=perpetrator,
                                    text=" ".join(person.described_as)))
    for fore, sur, cue, f, start, end in _regex_names(incident):
        if fore in places or (sur in places and not fore):
            continue
        names.append(_Name(fore, sur, perpetrator=cue, text=incident.text(f)[start:end], positions=[(f, start, end)]))
    names = _merge(names)
    surnames = [n.surname for n in names if n.surname]
    shared = {s for s in surnames if surnames.count(s) > 1}
    for name in names:
        name.positions = _positions(incident, name, shared)
    # A relational mention ("her ex") that a named person already is ("her ex Ryan") adds nothing.
    named_relations = {n.relation for n in names if n.relation}
    relational = [r for r in relational if r.relation not in named_relations or r.relation is None]
    relational = [r for r in relational if r.relation]  # a bare "suspect" says nothing across incidents
    relational = list({r.relation: r for r in relational}.values())

    attached: dict[int, dict[str, list[str]]] = {id(n): {} for n in names}
    loose: list[tuple[str, str, str]] = []  # (kind, value, street)

    def put(kind: str, value: str, f: str, start: int, street: str = "", attach: bool = True) -> None:
        owner = _attach(names, f, start) if attach else None
        if owner is None:
            loose.append((kind, value, street))
        else:
            attached[id(owner)].setdefault(kind, []).append(value)
            if street:
                attached[id(owner)].setdefault("street", []).append(street)

    for f in TEXT_FIELDS:
        text = incident.text(f)
        for value, start, _ in phones(text):
            put("phone", value, f, start)
        for value, start, _ in dobs(text):
            put("dob", value, f, start)
        for key, street, start, _ in addresses(text):
            put("address", key, f, start, street)
        for value, start, _ in vehicles(text):
            put("vehicle", value, f, start, attach=False)
        for value, start, _ in vehicle_prefixes(text):
            put("vehicle_prefix", value, f, start, attach=False)
        for value, start, _ in accounts(text):
            put("account", value, f, start, attach=False)
        for value in known_accounts:
            for m in re.finditer(rf"['\"\u2018\u201c]{re.escape(value)}['\"\u2019\u201d]", text, re.IGNORECASE):
                put("account", value, f, m.start(), attach=False)

    parties: list[Party] = []

    def add(**values) -> None:
        parties.append(Party(incident.incident_id, len(parties), **values))

    for name in names:
        ids = attached[id(name)]
        add(forename=name.forename, surname=name.surname, role=name.role, relation=name.relation,
            perpetrator=name.perpetrator, text=name.text, phones=_uniq(ids.get("phone")),
            dobs=_uniq(ids.get("dob")), addresses=_uniq(ids.get("address")), streets=_uniq(ids.get("street")))
    for name in relational:
        add(role=name.role, relation=name.relation, perpetrator=name.perpetrator, text=name.text)
    full_vehicles = {value for kind, value, _ in loose if kind == "vehicle"}
    seen = {(kind, value) for ids in attached.values() for kind, values in ids.items() for value in values}
    for kind, value, street in loose:
        if (kind, value) in seen:
            continue
        seen.add((kind, value))
        if kind == "phone":
            add(kind="phone", phones=(value,), text=value)
        elif kind == "dob":
            add(kind="dob", dobs=(value,), text=value)
        elif kind == "address":
            add(kind="address", addresses=(value,), streets=(street,), text=value)
        elif kind == "vehicle":
            add(kind="vehicle", vehicles=(value,), vehicle_prefixes=(value[:4],), text=value)
        elif kind == "vehicle_prefix" and not any(v.startswith(value) for v in full_vehicles):
            add(kind="vehicle", vehicle_prefixes=(value,), text=value)
        elif kind == "account":
            add(kind="account", accounts=(value,), text=value)
    return Parties(incident.incident_id, incident.reported_at, parties)


def _uniq(values: list[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values or ()))


def identify_all(incidents: Sequence[Incident], extractions: Sequence[Extraction]) -> list[Parties]:
    """``identify`` for each incident with its extraction (in the same order), with the batch's place words."""
    places: set[str] = set()
    known: set[str] = set()
    for incident in incidents:
        places |= _places(incident)
        for name in TEXT_FIELDS:
            known.update(value for value, _, _ in accounts(incident.text(name)))
    known_accounts = sorted(known)
    return [identify(incident, extraction, places, known_accounts)
            for incident, extraction in zip(incidents, extractions, strict=True)]
