"""Offence indicators written in plain, idiomatic English (issue 10): a broken or cracked body part,
broken skin, a bite on "a doorman", touching with words between the verb and the body part, and
threats to kill said as idioms; and the everyday phrases that must not read as any of them."""

from __future__ import annotations

import pytest


def _kinds(extraction, affirmed_only: bool = True) -> set[tuple[str, str]]:
    return {(i.kind, i.span.text.lower()) for i in extraction.indicators
            if not affirmed_only or not (i.negated or i.hypothetical)}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("IP states 2x males kicked him while he was on the floor. A&E confirm 2x cracked ribs.",
         ("serious_injury", "cracked ribs")),
        ("Victim has a chipped tooth and a dislocated shoulder after the fight.", ("serious_injury", "chipped tooth")),
        ("She needed stitches to her eyebrow.", ("serious_injury", "stitches")),
        ("F being ejected bit a doorman on the forearm, teeth marks and broken skin.", ("bite", "bit a doorman")),
        ("F being ejected bit a doorman on the forearm, teeth marks and broken skin.", ("injury", "broken skin")),
        ("Officers saw a male grab a young woman's crotch as she walked past.",
         ("sexual_touching", "grab a young woman's crotch")),
        ("Her son told her he'd 'finish her off' if she called the police again.",
         ("threat_to_kill", "finish her off")),
        ("Texted the landlord that he'll put him in the ground.", ("threat_to_kill", "put him in the ground")),
        ("Neighbour screamed he'd cave her head in.", ("threat_to_kill", "cave her head in")),
        ("He said he would take her life if she left.", ("threat_to_kill", "take her life")),
    ],
)
def test_plain_idioms_are_indicators(extract_one, call, expected):
    assert expected in _kinds(extract_one(call))


@pytest.mark.parametrize(
    "call",
    [
        "Caller says he was a bit late home and they had a bit of a row, nothing physical.",
        "He finished his shift off and went home.",
        "She put them in the box room for the night.",
        "The car's back window was cracked by a stone on the motorway.",
        "Entry gained through the broken back door.",
        "Caller wants to bury the hatchet with her neighbour.",
        "He touched base with the caller this morning.",
    ],
)
def test_everyday_phrases_are_not_these_indicators(extract_one, call):
    kinds = {kind for kind, _ in _kinds(extract_one(call), affirmed_only=False)}
    assert not kinds & {"serious_injury", "bite", "sexual_touching", "threat_to_kill"}, kinds


def test_a_denied_injury_is_not_affirmed(extract_one):
    (indicator,) = [i for i in extract_one("No cracked ribs, X-ray clear.").indicators if i.kind == "serious_injury"]
    assert indicator.negated
