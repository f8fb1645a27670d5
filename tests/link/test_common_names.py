"""At scale (issue 14): common names weighed by their frequency, and a huge block split in time.

Real components throughout: the log-convention identifiers, splink on DuckDB, series. The incidents
are given empty extractions (as in benchmarks/linking.py) so that thousands of them run in seconds;
names then come from the police-log conventions ("Caller John SMITH").
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

import pytest

from secondary_crimes.extract.types import Extraction
from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.identifiers import Parties, Party
from secondary_crimes.link.resolve import resolve
from secondary_crimes.link.run import link_batch
from secondary_crimes.link.store import PersonStore
from secondary_crimes.records import Incident

START = datetime(2024, 1, 1, 9, 0)
FORENAMES = ("John", "David", "Paul", "Mark", "Peter")  # John and David: one in five each
STREETS = ("Mill Road", "Station Road", "Church Lane", "Park Avenue", "Victoria Street", "Albert Road")


def _incident(incident_id: str, when: datetime, call_log: str) -> Incident:
    return Incident(incident_id=incident_id, reported_at=when.isoformat(), call_log=call_log)


def _link(incidents: list[Incident], store: PersonStore | None = None):
    return link_batch(incidents, [Extraction(i.incident_id) for i in incidents], config=LinkConfig.from_settings(),
                      store=store)


# Two different pairs of people with very common names, in two towns, a month apart.
SMITH_A = ("C-1", START + timedelta(days=20),
           "Caller John SMITH, 12 Mill Road, Dunmoor. His neighbour David JONES has been shouting threats "
           "at him over the fence.")
SMITH_B = ("C-2", START + timedelta(days=50),
           "Caller John SMITH, 40 Larch Avenue, Kingsport. His neighbour David JONES keeps shouting threats "
           "at him in the street.")
# A rare name at the same address, and the same perpetrator.
RARE_A = ("R-1", START + timedelta(days=30),
          "Caller Zofia WROBLEWSKA, 7 Heron Close, Dunmoor. Her ex-partner Tobiasz KRZEMINSKI has sent her "
          "abusive messages all night.")
RARE_B = ("R-2", START + timedelta(days=44),
          "Caller Zofia WROBLEWSKA, 7 Heron Close, Dunmoor. Her ex-partner Tobiasz KRZEMINSKI has turned up at "
          "the door again shouting.")


def _background(n: int, seed: int = 1) -> list[Incident]:
    """``n`` one-off thefts reported by a SMITH or a JONES, forenames from five: in this batch one
    surname in two is SMITH, one in two JONES, and one forename in five John, one in five David."""
    rng = random.Random(seed)
    return [_incident(f"B-{k}", START + timedelta(hours=2 * k),
                      f"Caller {rng.choice(FORENAMES)} {rng.choice(('SMITH', 'JONES'))}, {rng.randint(1, 400)} "
                      f"{rng.choice(STREETS)}, Town{rng.randint(1, 300)}. His bike was taken from the drive.")
            for k in range(n)]


@pytest.fixture(scope="module")
def common_batch():
    incidents = _background(3000) + [_incident(*one) for one in (SMITH_A, SMITH_B, RARE_A, RARE_B)]
    return _link(incidents)


def _party(result, incident_id: str, surname: str) -> Party:
    parties = next(p for p in result.parties if p.incident_id == incident_id)
    return next(p for p in parties.people if p.surname == surname)


def test_in_a_small_batch_the_common_names_still_link() -> None:
    """The control: without a batch that shows how common they are, the fixed weights link them."""
    result = _link([_incident(*SMITH_A), _incident(*SMITH_B)])
    assert result.linked.get("C-2") == ["C-1"]


def test_different_people_sharing_very_common_names_in_different_places_are_not_linked(common_batch) -> None:
    result = common_batch
    assert not result.linked.get("C-2")
    john_a, john_b = _party(result, "C-1", "smith"), _party(result, "C-2", "smith")
    david_a, david_b = _party(result, "C-1", "jones"), _party(result, "C-2", "jones")
    config = LinkConfig.from_settings()
    # not the same person: below the least evidence a party needs (the fixed weights gave about 13 bits)
    assert (result.resolution.evidence(john_a, john_b) or 0) < config.min_party_bits
    assert result.resolution.person_of[john_a.uid] != result.resolution.person_of[john_b.uid]
    assert (result.resolution.evidence(david_a, david_b) or 0) < 10  # 15.7 bits in the two-incident batch


def test_a_rare_shared_name_at_the_same_address_is_linked_in_the_same_batch(common_batch) -> None:
    result = common_batch
    assert result.linked.get("R-2") == ["R-1"]
    zofia_a, zofia_b = _party(result, "R-1", "wroblewska"), _party(result, "R-2", "wroblewska")
    assert result.resolution.evidence(zofia_a, zofia_b) > 25  # full name (16 bits) and the house (10)
    assert result.resolution.person_of[zofia_a.uid] == result.resolution.person_of[zofia_b.uid]


def test_a_stores_name_counts_weigh_a_later_small_batch(db_url) -> None:
    """Across runs the frequencies come from the person store: after a run that wrote SMITH and JONES
    thousands of times, a later run of just the two incidents does not link them (alone, it does)."""
    with PersonStore(db_url) as store:
        _link(_background(3000), store)
        result = _link([_incident(*SMITH_A), _incident(*SMITH_B)], store)
    assert not result.linked.get("C-2")
    john_a, john_b = _party(result, "C-1", "smith"), _party(result, "C-2", "smith")
    assert (result.resolution.evidence(john_a, john_b) or 0) < LinkConfig.from_settings().min_party_bits


def test_the_pairs_of_a_planted_huge_block_stay_bounded(caplog) -> None:
    """One full name at 2,000 addresses: its block is split into time neighbourhoods of at most
    ``max_block_size``, so at most n x (max_block_size - 1) pairs are compared, not n(n-1)/2, while
    the mentions nearest in time are still compared (dropping the key, as before, compared none)."""
    n, config = 2000, LinkConfig.from_settings()
    batch = [Parties(f"H-{k}", START + timedelta(hours=k), [Party(
        f"H-{k}", 0, forename="john", surname="smith", addresses=(f"{k} mill road",), streets=("mill road",))])
        for k in range(n)]
    with caplog.at_level(logging.INFO, logger="secondary_crimes.link.resolve"):
        resolution = resolve(batch, config)
    compared = len(resolution.bits)
    assert compared <= n * (config.max_block_size - 1)  # linear in n: 98,000 at most
    assert compared < n * (n - 1) // 2 / 10  # the whole block: 1,999,000
    assert resolution.blocking["split_keys"] >= 1
    assert resolution.blocking["left_out_pairs"] >= n * (n - 1) // 2 - n * config.max_block_size
    assert all(resolution.evidence(batch[k].parties[0], batch[k + 1].parties[0]) is not None for k in range(n - 1))
    assert "split into time neighbourhoods" in caplog.text and "left out" in caplog.text
