"""Synthetic incidents with planted series: gold `linked`, varied naming, distractors, and the linker on them."""

from __future__ import annotations

import json
from collections import defaultdict

from secondary_crimes.link.evaluate import pairwise, read_gold_linked
from secondary_crimes.link.run import link_batch
from secondary_crimes.records import GoldIncident
from secondary_crimes.synthetic.series import iter_planted, write_planted


def test_gold_linked_is_the_earlier_incidents_of_each_series() -> None:
    rows = list(iter_planted(400, seed=5, series_share=0.3))
    assert rows == list(iter_planted(400, seed=5, series_share=0.3))  # deterministic
    assert len(rows) == 400 and len({r["incident_id"] for r in rows}) == 400
    assert [r["reported_at"] for r in rows] == sorted(r["reported_at"] for r in rows)
    series = defaultdict(list)
    for row in rows:
        if row["series"]:
            assert row["linked"] == series[row["series"]]
            series[row["series"]].append(row["incident_id"])
        else:
            assert row["linked"] == []
    assert all(2 <= len(ids) <= 5 for ids in series.values())
    assert sum(map(len, series.values())) >= 0.3 * 400
    text = " ".join(r["call_log"] for r in rows if r["series"])
    for form in ("Her ex-partner ", "Her ex, calling from 07", "Her ex, in his ", "Caller Mrs ", "RP "):
        assert form in text
    assert any(f"Her ex {r['call_log'].split('Her ex ')[1].split()[0]} " in r["call_log"]
               for r in rows if "Her ex " in r["call_log"])  # the forename only
    GoldIncident.model_validate(rows[0])  # FORMAT.md records


def test_distractors_share_a_series_surname_at_another_address() -> None:
    rows = list(iter_planted(300, seed=2, series_share=0.3))
    series_words = {w for r in rows if r["series"] for w in r["call_log"].split() if w.isupper() and len(w) > 3}
    one_offs = [r for r in rows if not r["series"]]
    assert any(set(r["call_log"].split()) & series_words for r in one_offs)


def test_the_linker_finds_the_planted_series(tmp_path) -> None:
    path = write_planted(tmp_path / "planted.jsonl", 150, seed=7, series_share=0.3)
    gold = read_gold_linked(path)
    incidents = [GoldIncident.model_validate(json.loads(line)) for line in path.read_text().splitlines()]
    result = link_batch(incidents)
    report = pairwise(gold, result.linked)
    assert report["gold"] >= 40
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9, report


def test_a_key_more_common_than_max_block_size_is_split_into_time_neighbourhoods() -> None:
    from datetime import datetime

    from secondary_crimes.link.identifiers import Parties, Party
    from secondary_crimes.link.resolve import _records

    # written in time order 4, 3, 2, 1, 0 (the batch order is not the time order)
    batch = [Parties(f"I-{n}", datetime(2024, 1, 10 - n), [Party(
        f"I-{n}", 0, forename="john", surname="smith", addresses=(f"{n} mill road",) if n else ("9 mill road",))])
        for n in range(5)]
    blocking: dict[str, int] = {}
    rows = {row["unique_id"]: row for row in _records(batch, max_block=4, blocking=blocking)}
    # in 5 records, more than 4: runs of 4 overlapping by 2, in time order (I-4 first)
    assert rows["I-4#0"]["own"] == ["name:john smith@0", "addresses:4 mill road"]
    assert rows["I-0#0"]["own"] == ["name:john smith@1", "name:john smith@2", "addresses:9 mill road"]
    assert rows["I-0#0"]["keys"] == ["addresses:9 mill road", "names:john smith@1", "names:john smith@2"]
    # per key: I-4, I-3 (runs 0) and I-0 (runs 1, 2) share no run; the other 8 of the 10 pairs do
    assert blocking == {"split_keys": 2, "neighbourhood_pairs": 16, "left_out_pairs": 4}
    assert _records(batch, max_block=5)[0]["own"] == ["name:john smith", "addresses:9 mill road"]  # not split


def test_two_full_registrations_that_differ_are_not_a_partial_match() -> None:
    from secondary_crimes.link.identifiers import Parties, Party
    from secondary_crimes.link.resolve import resolve

    def car(incident_id: str, full: str, prefix: str) -> Parties:
        return Parties(incident_id, None, [Party(incident_id, 0, kind="vehicle", vehicles=(full,) if full else (),
                                                 vehicle_prefixes=(prefix,), text=full or prefix)])

    batch = [car("A", "DD21FMM", "DD21"), car("B", "DD21GEX", "DD21"), car("C", "", "DD21")]
    resolution = resolve(batch)
    a, b, c = (parties.parties[0] for parties in batch)
    assert resolution.evidence(a, b) < 0  # "DD21 FMM" and "DD21 GEX": different cars
    assert resolution.evidence(a, c) > 9  # partial reg "DD21" fits "DD21 FMM"
