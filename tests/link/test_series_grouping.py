"""Series on handwritten incidents: one person written three ways, distractors, a repeat noise complainant."""

from __future__ import annotations

import pytest

from secondary_crimes.link.conduct import score_series
from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.run import annotate, link_batch, model_offences


def test_a_person_named_three_ways_is_one_series(linked) -> None:
    # "Jason PLATT", then "Jason", then "her ex", all against Kerry ASHBY at 14 Wren Close
    assert [s.incident_ids for s in linked.series] == [["T-101", "T-102", "T-103"]]
    assert linked.linked["T-102"] == ["T-101"]
    assert linked.linked["T-103"] == ["T-101", "T-102"]
    link = next(lk for lk in linked.series[0].links if (lk.a, lk.b) == ("T-101", "T-103"))
    hows = {(m.a.text, m.b.relation, m.how) for m in link.matches}
    assert ("Jason PLATT", "ex_partner", "relationship") in hows  # "her ex" is Jason PLATT there


def test_the_same_surname_at_another_address_is_not_linked(linked) -> None:
    in_series = {i for s in linked.series for i in s.incident_ids}
    assert not in_series & {"T-201", "T-202"}  # Joan and Peter ASHBY, Gary PLATT
    people = {p.uid: p for parties in linked.parties for p in parties.parties}
    kerry = next(p for p in people.values() if p.incident_id == "T-101" and p.forename == "kerry")
    joan = next(p for p in people.values() if p.incident_id == "T-201" and p.forename == "joan")
    bits = linked.resolution.evidence(kerry, joan)  # None: not even compared (no strong identifier shared)
    assert bits is None or bits < LinkConfig().min_party_bits


def test_a_repeat_noise_complainant_is_not_a_course_of_conduct(linked) -> None:
    assert "T-301" not in linked.linked and "T-302" not in linked.linked
    assert not set(linked.flags) & {"T-301", "T-302"}
    briscoe = [p for parties in linked.parties for p in parties.people if p.surname == "briscoe"]
    assert len({linked.resolution.person_of[p.uid] for p in briscoe}) == 1  # the same man, but no perpetrator


def test_series_flags_carry_evidence_from_each_incident(linked) -> None:
    assert "T-101" not in linked.flags  # the first incident alone is no course of conduct
    (flag,) = linked.flags["T-103"]
    assert flag.offence == "stalking" and flag.missed
    assert flag.linked == ("T-101", "T-102")
    assert [e["incident_id"] for e in flag.evidence] == ["T-101", "T-102", "T-103"]
    assert all(e["spans"] for e in flag.evidence)
    record = annotate([{"incident_id": "T-103", "offences": []}], linked)[0]
    assert record["linked"] == ["T-101", "T-102"] and record["course_of_conduct"][0]["offence"] == "stalking"


def test_a_recorded_crime_that_covers_the_flag_is_not_missed(linked, extractions, batch) -> None:
    incidents = {i.incident_id: i for i in batch}
    incidents["T-103"] = incidents["T-103"].model_copy(update={"recorded_crimes": ["stalking"]})
    flags = score_series(linked.series, incidents, extractions)
    assert [(f.offence, f.missed) for f in flags["T-103"]] == [("stalking", False)]


def test_a_model_offence_counts_as_an_indicator(linked, extractions, batch) -> None:
    incidents = {i.incident_id: i for i in batch}
    flags = score_series(linked.series, incidents, extractions, {"T-102": ["coercive_control"]})
    assert flags["T-103"][0].offence == "stalking"  # an ex, not a current partner: not coercive control


def test_incidents_further_apart_than_the_window_are_not_linked(extractions, batch) -> None:
    result = link_batch(batch, [extractions[i.incident_id] for i in batch], config=LinkConfig(window_days=7))
    assert result.series == []


def test_only_pairs_sharing_a_blocking_key_are_compared(linked) -> None:
    uids = {p.uid: p for parties in linked.parties for p in parties.parties}
    for a, b in linked.resolution.bits:
        x, y = uids[a], uids[b]
        shared = ({x.forename, x.surname} & {y.forename, y.surname}) - {""} or set(x.phones) & set(y.phones) or \
            set(x.addresses) & set(y.addresses)
        assert shared, (x, y)


def test_small_and_bad_batches(batch, extractions) -> None:
    assert link_batch([], []).series == []
    one = link_batch(batch[:1], [extractions[batch[0].incident_id]])
    assert one.series == [] and one.linked == {} and one.flags == {}
    with pytest.raises(ValueError, match="unique"):
        link_batch([batch[0], batch[0]], [extractions[batch[0].incident_id]] * 2)


def test_offences_in_scored_records_are_read(batch, extractions) -> None:
    scored = [{"incident_id": "T-101", "offences": [{"offence": "malicious_communications"}]}, {"incident_id": "T-102"}]
    assert model_offences(scored) == {"T-101": ["malicious_communications"], "T-102": []}
    result = link_batch(batch, [extractions[i.incident_id] for i in batch], scored=scored)
    assert result.linked["T-103"] == ["T-101", "T-102"]
