"""Roles (control-room shorthand), who did what to whom, relationship, reporter and domestic."""

from __future__ import annotations

import pytest
from extract_helpers import find


def roles(extraction) -> dict[str, str]:
    return {p.text: p.role for p in extraction.people}


def test_shorthand_roles(extract_one):
    extraction = extract_one("RP Mrs Ann HOLT reports IP is her daughter. OP Jason PLATT left on foot. W1 saw it.")
    people = roles(extraction)
    assert people.get("RP Mrs Ann HOLT") == "reporter"
    assert "IP" in people and people["IP"] == "victim"
    assert any(role == "suspect" and "PLATT" in text for text, role in people.items())
    assert people.get("W1") == "witness"


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("injured party", "victim"),
        ("I/P", "victim"),
        ("O/P", "suspect"),
        ("POI", "suspect"),
        ("susp", "suspect"),
        ("reporting person", "reporter"),
        ("R/P", "reporter"),
        ("the child", "child"),
    ],
)
def test_role_words(extract_one, text, role):
    extraction = extract_one(f"Spoke to {text} at the address.")
    assert role in {p.role for p in extraction.people}, extraction.people


def test_person_spans_have_offsets(extract_one):
    call = "2300 RP Sarah JONES states OP has kicked the door."
    extraction = extract_one(call)
    for person in extraction.people:
        assert call[person.span.start : person.span.end] == person.span.text == person.text


def test_who_did_what_to_whom(extract_one):
    extraction = extract_one("IP Donna KEYS states OP punched her twice.")
    punch = find(extraction, "punch")
    assert punch.agent == "suspect"
    assert punch.target == "victim"


def test_pronoun_resolution(extract_one):
    extraction = extract_one("Spoke to IP, a female aged 30, and to the male suspect. He pushed her into the door.")
    push = find(extraction, "push")
    assert (push.agent, push.target) == ("suspect", "victim")


def test_related_person_doing_the_act_is_suspect(extract_one):
    extraction = extract_one("Female caller states her boyfriend has punched her.")
    assert "suspect" in {p.role for p in extraction.people if p.text.lower() == "boyfriend"}


@pytest.mark.parametrize(
    ("call", "relationship", "domestic"),
    [
        ("F caller states her partner has hit her.", "intimate_partner", True),
        ("Caller states her husband pushed her.", "intimate_partner", True),
        ("RP reports her ex-partner keeps turning up at her house and sent 30 messages.", "ex_partner", True),
        ("Caller states they split up in May and he keeps ringing her. He threatened her.", "ex_partner", True),
        ("Caller states her adult son smashed her TV and pushed her.", "family", True),
        ("RP reports neighbour has damaged his fence and shouted abuse at him.", "neighbour", False),
        ("RP states a work colleague keeps messaging her abusive texts.", "acquaintance", False),
        ("Unknown male punched the RP outside the pub.", "stranger", False),
        ("Caller reports a lost wallet, no suspicion of theft, no offences.", "none", False),
    ],
)
def test_relationship_and_domestic(extract_one, call, relationship, domestic):
    extraction = extract_one(call)
    assert extraction.relationship == relationship
    assert extraction.domestic is domestic


def test_reporter_neighbour_is_not_the_relationship(extract_one):
    extraction = extract_one(
        "RP is neighbour at no. 14, hearing screaming from no. 16. Male pushed female, she says her partner did it."
    )
    assert extraction.reporter == "third_party_public"
    assert extraction.relationship == "intimate_partner"


def test_child_victim_is_not_domestic(extract_one):
    extraction = extract_one("Anon caller states two children aged 2 and 4 left alone by their mum overnight.")
    assert extraction.relationship == "family"
    assert extraction.domestic is False


@pytest.mark.parametrize(
    ("call", "reporter"),
    [
        ("Female caller states her partner hit her.", "victim"),
        (
            "Call from Mrs A SMITH, designated safeguarding lead at Hill Primary. Pupil disclosed dad hits him.",
            "third_party_professional",
        ),
        ("Call from GP Dr Patel. Patient disclosed her husband controls her money.", "third_party_professional"),
        ("IDVA calling on behalf of client, ex-partner breached order.", "third_party_professional"),
        ("Housing officer reports tenant being threatened by neighbour.", "third_party_professional"),
        ("Probation officer reports nominal has contacted his ex contrary to licence.", "third_party_professional"),
        ("Anon caller, won't give name, reports children left alone.", "anonymous"),
        ("Officers on patrol observed a male kicking a car on High Street.", "police_observed"),
        ("RP is a neighbour, can hear shouting and banging from next door.", "third_party_public"),
        ("Door staff at the Crown report a male punched another male.", "witness"),
    ],
)
def test_reporter(extract_one, call, reporter):
    assert extract_one(call).reporter == reporter
