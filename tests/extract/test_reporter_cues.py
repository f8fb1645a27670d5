"""Caller cues (patterns/caller_cues.jsonl): the caller tells of someone other than themselves.

They are counted in the opening of the call log as the cues "reporter:other_person" and
"reporter:welfare", which the learned attribute model reads; the rules' reporter call is untouched.
"""

from __future__ import annotations

import pytest

from secondary_crimes.extract.components import read_patterns

OTHER = "reporter:other_person"
WELFARE = "reporter:welfare"


def test_caller_cues_are_data():
    labels = {p["label"] for p in read_patterns("caller_cues.jsonl")}
    assert labels == {"other_person", "welfare"}


@pytest.mark.parametrize(
    ("call", "cue"),
    [
        ("Caller reports a male walking down the high street waving a machete.", OTHER),
        ("RP can see two youths trying car door handles on Mill Lane.", OTHER),
        ("Informant states there is a van parked across the drive with its engine running.", OTHER),
        ("RP reports youths on the garage roofs throwing stones.", OTHER),
        ("RP Mr John ELLIS re daughter Kim (19), not home since last night.", OTHER),
        ("Caller ringing about her elderly father at 4 Oak Road.", OTHER),
        ("Caller Ann PRICE (neighbour at no 7) reports shouting next door.", OTHER),
        ("F caller Jo WEST, sister of the IP, says he has taken her phone.", OTHER),
        ("Member of public has found a purse in the bus shelter.", OTHER),
        ("Caller says elderly neighbour not seen for 4 days, no answer at the door.", WELFARE),
        ("Mrs Green reports husband not returned from his walk, phone going straight to voicemail.", WELFARE),
    ],
)
def test_caller_tells_of_someone_else(extract_one, call, cue):
    extraction = extract_one(call)
    assert extraction.cues.get(cue, 0.0) >= 1.0, extraction.cues


@pytest.mark.parametrize(
    "call",
    [
        "Female caller states her partner has punched her in the face and she is scared.",
        "I want to report my ex, he keeps messaging me and turning up at my work.",
        "RP Mrs Sue HALL, tenant of flat 2, says her landlord has threatened her.",
        "Caller says her son has smashed her phone and is kicking off.",
        "Victim reports her car was keyed overnight outside her house.",
    ],
)
def test_a_first_person_victim_has_no_caller_cue(extract_one, call):
    extraction = extract_one(call)
    assert not extraction.cues.get(OTHER) and not extraction.cues.get(WELFARE), extraction.cues


def test_caller_cues_are_kept_apart_from_the_reporter_rules(nlp):
    """The rules' reporter call reads sc_reporters only: a caller cue adds a learned feature, not a call."""
    doc = nlp("Caller reports a man slumped in a car on Beach Road, engine running.")
    assert [s.label_ for s in doc.spans["sc_caller"]] == ["other_person"]
    assert not {"other_person", "welfare"} & {s.label_ for s in doc.spans["sc_reporters"]}


def test_cues_beyond_the_opening_do_not_count(extract_one):
    opening = "Female caller states her partner has punched her in the face. " + "She is scared and upset. " * 8
    extraction = extract_one(opening + "Caller reports a male outside now.")
    assert not extraction.cues.get(OTHER)
