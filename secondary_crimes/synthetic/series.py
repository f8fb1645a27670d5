"""Synthetic incidents with courses of conduct planted in them, and gold ``linked`` (issue 14.4).

Apart from ``generate_incidents`` (whose output the default model trains on, unchanged): one-off
incidents (neighbour disputes, thefts, domestic arguments, noise) among which series of 2-5
incidents are planted, each with the same victim and perpetrator, reported days to weeks apart.
The perpetrator is named in varied ways: the full name the first time, then the full name, the
forename only, "her ex" with his phone number, or "her ex" with his car's registration. The
victim is written "Caller Kerry ASHBY", "RP Kerry ASHBY" or "Mrs K ASHBY", with her address.
Distractors share a series' surname at another address. Names are drawn from pools with a
Zipf-like skew, so common forenames recur as they do in real logs.

Each record has the FORMAT.md input fields and gold ``linked`` (the earlier incidents of its
series; ``[]`` for the rest) and ``series`` (the planted series' key, or null).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FEMALE = _words("Emma Olivia Sophie Jessica Chloe Lucy Hannah Charlotte Amy Laura Sarah Rebecca Katie Gemma Lauren "
                "Megan Rachel Natalie Kerry Nicola Claire Leanne Donna Joanne Michelle Stacey Kelly Danielle Jade Zoe "
                "Abigail Bethany Holly Ellie Amber Paige Shannon Courtney Leah Molly Grace Ruby Freya Isla Poppy Evie "
                "Millie Daisy Priya Aisha Fatima Amira Zainab Maryam Anya Kasia Agnieszka Marta Ioana Elena Siobhan "
                "Niamh Aoife Bronwen Carys Rhian Tegan Yasmin Sadia Nadia Roxanne Tamsin Imogen Harriet Eleanor Fiona "
                "Gillian Maureen Pauline Denise Tracey Lorraine Sharon Julie Karen Wendy Beverley Jacqueline Deborah "
                "Alison Helen")
MALE = _words("Jason Daniel James Thomas Ryan Liam Connor Jack Callum Jordan Kieran Lewis Aaron Nathan Adam Craig "
              "Dean Darren Lee Wayne Gary Paul Mark Stephen Andrew Neil Shaun Carl Scott Jamie Luke Ben Sam Josh "
              "Tyler Reece Brandon Kyle Bradley Mason Harvey Alfie Charlie Harry Oscar Leo Archie Mohammed Imran "
              "Tariq Bilal Hassan Kamil Piotr Tomasz Marius Andrei Vlad Declan Ciaran Owen Rhys Gethin Dylan Ashley "
              "Stuart Graham Keith Trevor Clive Nigel Barry Colin Derek Terry Kevin Anthony Martin Simon Richard "
              "Robert Michael Christopher")
ROOTS = _words("ASH BRACK COLD DUN FEN GLAS HAL KEL LATH MAR NOR OAK PEN RAD SAL THORN WAL WEST WOOD BRAD CAR DAL EL "
               "FAR GRIM HOL KIRK LOW MEL NEW PRES RED SHEP STAN TAL UP WHIT WIN YAR BURN")
ENDINGS = _words("BY TON FORD WELL HAM LEY WORTH FIELD MORE RIDGE STONE WOOD SON BURY CROFT DALE")
STREET_ROOTS = _words("Wren Heron Gorse Larch Sexton Tannery Coldharbour Beacon Orchard Harrier Kestrel Bramble "
                      "Juniper Quarry Foundry Chapel Mill Ropewalk Saltings Fennick Millpond Copper Linnet Plover "
                      "Sandpiper Warren Thistle Heather Bracken Hawthorn Rowan Alder Hazel Elder Aspen Poplar "
                      "Sycamore Chestnut Medlar Quince Damson Cobble Flint Slate Granite Marl Pewter Tinker "
                      "Weaver Fuller Cooper Tanner Glover Chandler Saddler Cordwainer Wheelwright Ostler Drover")
STREET_SUFFIXES = ("Close", "Road", "Street", "Lane", "Way", "Avenue", "Drive", "Rise", "Walk", "Grove")
TOWNS = ("Dunmoor", "Brackenridge", "Kingsport", "Highfell", "Northmoor", "Severnside", "Wendlecombe",
         "Rushmere", "Hollowby", "Easterleigh", "Marlhaven", "Tollbridge")
CARS = ("silver Astra", "black Corsa", "white Transit", "blue Focus", "red Fiat Punto", "grey Golf")


def _zipf(n: int, exponent: float = 0.5) -> list[float]:
    return list(accumulate(1 / (rank + 1) ** exponent for rank in range(n)))


@dataclass(frozen=True)
class Person:
    forename: str
    surname: str
    address: str
    town: str
    phone: str

    @property
    def full(self) -> str:
        return f"{self.forename} {self.surname}"


class _Pools:
    """Names, addresses and phone numbers drawn with a fixed seed."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.surnames = [root + end for root in ROOTS for end in ENDINGS]
        rng.shuffle(self.surnames)
        self.female, self.male = list(FEMALE), list(MALE)
        rng.shuffle(self.female)
        rng.shuffle(self.male)
        self.weights = {id(pool): _zipf(len(pool)) for pool in (self.surnames, self.female, self.male)}

    def pick(self, pool: list[str]) -> str:
        return self.rng.choices(pool, cum_weights=self.weights[id(pool)])[0]

    def person(self, female: bool, surname: str | None = None) -> Person:
        rng = self.rng
        street = f"{rng.choice(STREET_ROOTS)} {rng.choice(STREET_SUFFIXES)}"
        return Person(self.pick(self.female if female else self.male), surname or self.pick(self.surnames),
                      f"{rng.randint(1, 180)} {street}", rng.choice(TOWNS),
                      f"07{rng.randint(100, 999)} {rng.randint(0, 999_999):06d}")

    def reg(self) -> str:
        letters = "ABCDEFGHJKLMNOPRSTVWXY"
        rng = self.rng
        return (f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(10, 24)} "
                f"{''.join(rng.choice(letters) for _ in range(3))}")


def _victim(rng: random.Random, v: Person, phone: bool, female: bool = True) -> str:
    style = rng.randrange(3)
    who = (f"Caller {v.full}", f"RP {v.full}", f"Caller {'Mrs' if female else 'Mr'} {v.forename[0]} {v.surname}")[style]
    return f"{who}, {v.address}, {v.town}" + (f", mob {v.phone}." if phone else ".")


SERIES_ACTS = (
    "has sent her {n} texts tonight saying she will regret leaving him",
    "turned up at her door again, banging on the windows and shouting to be let in",
    "has been sat outside the house in his car watching her for two hours",
    "followed her home from work and stood at the end of the road",
    "keeps ringing her at all hours and hanging up",
    "left flowers and a note on her car saying he is always watching",
    "messaged her friends asking where she is and who she is with",
)


def _series_incident(rng: random.Random, pools: _Pools, v: Person, p: Person, car: str, n: int) -> tuple[str, str]:
    """(call log, narrative) of the ``n``th incident of a series."""
    act = rng.choice(SERIES_ACTS).format(n=rng.randint(5, 60))
    style = "full" if n == 0 else rng.choice(("full", "forename", "ex_phone", "ex_car"))
    if style == "full":
        perp = f"Her ex-partner {p.full}" + (f" (mob {p.phone})" if n == 0 and rng.random() < 0.5 else "")
    elif style == "forename":
        perp = f"Her ex {p.forename}"
    elif style == "ex_phone":
        perp = f"Her ex, calling from {p.phone},"
    else:
        perp = f"Her ex, in his {car},"
    call = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} {_victim(rng, v, n == 0 or rng.random() < 0.3)} " \
           f"{perp} {act}. Caller upset, does not want him arrested."
    narrative = rng.choice((f"Spoke to {v.forename} by phone. Words of advice. NFA.",
                            f"Attended. {v.forename} shaken, says it keeps happening since they split. Advice given.",
                            "No offences disclosed. Closed as a one-off."))
    return call, narrative


ONE_OFFS = (  # (opening code, caller is a woman, call log, narrative)
    ("NEIGHBOUR DISPUTE", True, "{v} Reports her neighbour {p} shouted abuse at her over parking. No threats made.",
     "Spoke to both parties. Advice given."),
    ("THEFT", False, "{v} His bike was stolen from the garden overnight. No suspects.", "Crime ref given. No CCTV."),
    ("DOMESTIC INCIDENT", True, "{v} Her partner {p} pushed her during an argument about money. No injuries.",
     "Attended. Verbal argument only, both calm. DASH standard."),
    ("ASB - NOISE", False, "{v} Loud music from the house next door again. Nobody abusive.",
     "Advised council noise line."),
    ("SUSPICIOUS CIRCUMSTANCES", True, "{v} A man she did not know tried her car door handles and walked off.",
     "Area searched, nothing found."),
)


def _one_off(rng: random.Random, pools: _Pools, surname: str | None = None) -> tuple[str, str, str]:
    code, female, call, narrative = rng.choice(ONE_OFFS)
    v = pools.person(female=female, surname=surname)
    p = pools.person(female=False)
    call = call.format(v=_victim(rng, v, rng.random() < 0.3, female), p=p.full if rng.random() < 0.7 else p.forename)
    return code, f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} {call}", narrative


def iter_planted(n: int, seed: int = 0, series_share: float = 0.1, per_day: float = 300.0,
                 start: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``n`` incidents, oldest first, about ``series_share`` of them in planted series (see the module)."""
    rng = random.Random(seed)
    pools = _Pools(rng)
    start = start or datetime(2024, 1, 1)
    span = max(n / per_day, 30.0)
    rows: list[tuple[datetime, str, str, str, str | None]] = []  # time, code, call, narrative, series key
    planted = 0
    while planted < n * series_share and n - len(rows) >= 2:
        length = min(rng.randint(2, 5), n - len(rows))
        key = f"S{len(rows):06d}"
        v, p = pools.person(female=True), pools.person(female=False)
        car = f"{rng.choice(CARS)} {pools.reg()}"
        when = start + timedelta(days=rng.uniform(0, span))
        for i in range(length):
            call, narrative = _series_incident(rng, pools, v, p, car, i)
            rows.append((when, "DOMESTIC INCIDENT", call, narrative, key))
            when += timedelta(days=rng.uniform(2, 30), minutes=rng.randint(0, 600))
        planted += length
        if rng.random() < 0.5 and len(rows) < n:  # the same surname, another person at another address
            code, call, narrative = _one_off(rng, pools, rng.choice((v.surname, p.surname)))
            rows.append((start + timedelta(days=rng.uniform(0, span)), code, call, narrative, None))
    while len(rows) < n:
        code, call, narrative = _one_off(rng, pools)
        rows.append((start + timedelta(days=rng.uniform(0, span)), code, call, narrative, None))
    rows.sort(key=lambda row: row[0])
    earlier: dict[str, list[str]] = {}
    for index, (when, code, call, narrative, key) in enumerate(rows):
        incident_id = f"PL-{index + 1:07d}"
        linked = list(earlier.setdefault(key, [])) if key else []
        if key:
            earlier[key].append(incident_id)
        yield {"incident_id": incident_id, "reported_at": when.replace(microsecond=0).isoformat(),
               "opening_code": code, "call_log": call, "officer_narrative": narrative, "recorded_crimes": [],
               "linked": linked, "series": key}


def write_planted(path: str | Path, n: int, seed: int = 0, **options: Any) -> Path:
    """Write ``iter_planted(n, seed, ...)`` as JSON Lines to ``path``."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for row in iter_planted(n, seed, **options):
            handle.write(json.dumps(row) + "\n")
    return path
