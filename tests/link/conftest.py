"""Handwritten incidents for the linking tests (fictional people and places), and one real extraction."""

from __future__ import annotations

import pytest

from secondary_crimes.extract.extractor import Extractor
from secondary_crimes.link.run import LinkResult, link_batch
from secondary_crimes.records import Incident


def incident(incident_id: str, reported_at: str, call_log: str, narrative: str = "", *,
             opening_code: str = "", recorded: list[str] | None = None) -> Incident:
    return Incident(incident_id=incident_id, reported_at=reported_at, call_log=call_log,
                    officer_narrative=narrative, opening_code=opening_code, recorded_crimes=recorded or [])


# One course of conduct: Jason PLATT, then "Jason", then "her ex", against Kerry ASHBY at 14 Wren Close.
PLATT_1 = incident(
    "T-101", "2024-01-05T21:10:00",
    "21:10 Caller Kerry ASHBY, 14 Wren Close, Dunmoor, mob 07700 900555. Her ex-partner Jason PLATT has "
    "sent her 30 texts tonight saying 'you'll regret leaving me'. Caller upset, doesn't want him arrested.",
    "Spoke to Kerry by phone. Texts viewed. Words of advice to Jason PLATT. NFA.",
    opening_code="DOMESTIC INCIDENT",
)
PLATT_2 = incident(
    "T-102", "2024-01-19T23:05:00",
    "23:05 RP Kerry ASHBY, 14 Wren Close, Dunmoor. Jason has turned up at her door again, banging on the "
    "windows and shouting 'let me in'. He has now walked off.",
    "Attended. Kerry shaken, says he keeps coming round since they split. Jason not located. Advice given.",
    opening_code="DOMESTIC INCIDENT",
)
PLATT_3 = incident(
    "T-103", "2024-02-02T20:40:00",
    "20:40 Caller Kerry ASHBY, 14 Wren Close, Dunmoor. Says her ex has been sat outside in his car watching "
    "the house for two hours. She is frightened to go out.",
    "Car gone on arrival. Kerry says she has stopped going out at night. No offences disclosed. Closed.",
    opening_code="SUSPICIOUS CIRCUMSTANCES",
)
# Same surname, different people at a different address.
ASHBY_OTHER = incident(
    "T-201", "2024-01-12T18:00:00",
    "18:00 Caller Mrs Joan ASHBY, 3 Mill Road, Dunmoor. Her husband Peter ASHBY shouted at her during an "
    "argument about money. No violence. She wants advice.",
    "Spoke to Joan and Peter ASHBY. Verbal argument only. Advice given.",
    opening_code="DOMESTIC INCIDENT",
)
PLATT_OTHER = incident(
    "T-202", "2024-01-25T09:30:00",
    "09:30 RP Mr Gary PLATT, 88 Station Road, Dunmoor. His bike was stolen from his garden overnight.",
    opening_code="THEFT",
)
# The same neighbour calling about noise, twice: not a course of conduct.
NOISE_1 = incident(
    "T-301", "2024-01-08T23:30:00",
    "23:30 RP Mr Alan BRISCOE, 7 Orchard Way, Dunmoor. Loud music from no.9 again. No threats, nobody "
    "outside. Advised council noise line.",
    opening_code="ASB - NOISE",
)
NOISE_2 = incident(
    "T-302", "2024-01-27T00:15:00",
    "00:15 Mr Alan BRISCOE, 7 Orchard Way, Dunmoor. Party at no.9, music loud again. Nobody abusive. "
    "Just wants it logged.",
    opening_code="ASB - NOISE",
)

BATCH = [PLATT_1, ASHBY_OTHER, NOISE_1, PLATT_2, PLATT_OTHER, NOISE_2, PLATT_3]


@pytest.fixture(scope="session")
def batch() -> list[Incident]:
    return list(BATCH)


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    return Extractor(use_cache=False)


@pytest.fixture(scope="session")
def extractions(extractor):
    return {e.incident_id: e for e in extractor.extract(BATCH)}


@pytest.fixture(scope="session")
def linked(extractions) -> LinkResult:
    return link_batch(BATCH, [extractions[i.incident_id] for i in BATCH])
