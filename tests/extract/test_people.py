"""Roles (control-room shorthand), who did what to whom, relationship, reporter and domestic."""

from __future__ import annotations

import pytest
from extract_helpers import find

from secondary_crimes.extract.components import read_vocabulary
from secondary_crimes.records import Incident


def roles(extraction) -> dict[str, str]:
    return {p.text: p.role for p in extraction.people}


def test_shorthand_roles(extract_one):
    extraction = extract_one("RP Mrs Ann HOLT reports IP is her daughter. OP Jason PLATT left on foot. W1 saw it.")
    people = roles(extraction)
    assert people.get("Mrs Ann HOLT") == "reporter"  # the name, without the role word
    assert people.get("Jason PLATT") == "suspect"
    unnamed = {p.role: p.described_as for p in extraction.people if not p.text}
    # "IP is her daughter": one person, the victim, described by both words
    assert unnamed["victim"] == ("ip", "daughter") and unnamed["witness"] == ("w1",)


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
    assert {p.text for p in extraction.people} == {"Sarah JONES", ""}
    for person in extraction.people:
        assert call[person.span.start : person.span.end] == person.span.text
        # the span is the name, or the role words of someone the log does not name
        assert person.span.text == person.text if person.text else person.span.text.lower() in person.described_as


def test_who_did_what_to_whom(extract_one):
    extraction = extract_one("IP Donna KEYS states OP punched her twice.")
    punch = find(extraction, "punch")
    assert punch.agent == "suspect"
    assert punch.target == "victim"


@pytest.mark.parametrize(
    "call",
    [
        "0755 Bus driver RP: male pass kicked him in the shin, no inj.",
        "RP states male pass kicked him in the shin, no inj.",
    ],
)
def test_the_reporters_account_after_a_colon_is_not_their_own_act(extract_one, call):
    """"RP: male kicked him" is what the reporter says happened: the reporter is not the doer."""
    kick = find(extract_one(call), "kick")
    assert kick.agent != "reporter"


def test_a_colon_after_another_role_keeps_its_doer(extract_one):
    kick = find(extract_one("IP Donna KEYS states OP: kicked her twice."), "kick")
    assert kick.agent == "suspect"


@pytest.mark.parametrize(
    "call",
    ["Caller: ex-partner punched her in the face.", "RP: husband has punched her, 2 kids in the house."],
)
def test_a_relationship_word_doing_the_act_after_the_reporters_colon_is_someone_else(extract_one, call):
    """"Caller: ex-partner punched her": the colon opens the caller's account; the ex-partner is the doer."""
    extraction = extract_one(call)
    punch = find(extraction, "punch")
    assert punch.agent == "suspect"
    doer = next(p for p in extraction.people if {"ex-partner", "husband"} & set(p.described_as))
    assert doer.role == "suspect"
    assert not {"caller", "rp"} & set(doer.described_as)


@pytest.mark.parametrize(
    "call, word", [("RP: mother of IP, says her son was punched.", "mother"),
                   ("RP: neighbour reports shouting and a woman screaming.", "neighbour")],
)
def test_a_relationship_word_after_the_reporters_colon_still_describes_the_reporter(extract_one, call, word):
    reporter = next(p for p in extract_one(call).people if p.role == "reporter")
    assert word in reporter.described_as


def test_pronoun_resolution(extract_one):
    extraction = extract_one("Spoke to IP, a female aged 30, and to the male suspect. He pushed her into the door.")
    push = find(extraction, "push")
    assert (push.agent, push.target) == ("suspect", "victim")


def test_related_person_doing_the_act_is_suspect(extract_one):
    extraction = extract_one("Female caller states her boyfriend has punched her.")
    boyfriend = [p for p in extraction.people if "boyfriend" in p.described_as]
    assert [(p.text, p.role, p.relationship) for p in boyfriend] == [("", "suspect", "intimate_partner")]


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
        # "b/f" is a boyfriend in a UK log; "W/M" describes a stranger (the tokenizer splits both)
        ("Caller states her b/f hit her.", "intimate_partner", True),
        ("Couple abused in the street. Susp: W/M 50s, long grey hair.", "stranger", False),
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
        ("Officers came across a male smashing the bus shelter on Mill Lane.", "police_observed"),
        ("Caller says her son told her he'd finish her off if she ever called the police on him again.", "victim"),
        ("Female caller states her ex-partner punched her. Police were called by a neighbour last week too.", "victim"),
        ("RP is a neighbour, can hear shouting and banging from next door.", "third_party_public"),
        ("Door staff at the Crown report a male punched another male.", "witness"),
        # A school, hospital or surgery names the reporter only when it reports, not where a victim went.
        ("Hospital reporting a male brought in with a stab wound to his leg, says he was jumped.",
         "third_party_professional"),
        ("Call from the surgery: patient disclosed her husband slaps her.", "third_party_professional"),
        ("Oakfield Academy safeguarding lead reports a pupil has bruises and says dad did it.",
         "third_party_professional"),
        ("A&E: female attended with a broken wrist, states partner twisted her arm.", "third_party_professional"),
        ("Caller states her husband pushed her over, she went to hospital for a check up.", "victim"),
        ("IP states her partner punched her in the face last night. A&E confirm a fractured cheekbone.", "victim"),
        ("Female caller says her ex was waiting outside the school when she picked the kids up.", "victim"),
        # A driver who calls is most often the one wronged: the fare dodged, the punch thrown at him.
        ("Taxi driver reports his passenger ran off without paying the fare.", "victim"),
    ],
)
def test_reporter(extract_one, call, reporter):
    assert extract_one(call).reporter == reporter


# Role, kinship and job words are roles and relationships, never a person's name -----------------

ROLE_WORDS = {
    token
    for entry in read_vocabulary("role_words.jsonl")
    for token in entry["word"].replace("-", " ").split()
    if entry["kind"] != "title"
}


def cases(text: str) -> list[str]:
    """A log line as written, in ALL CAPS and in lower case (forces write all three)."""
    return [text, text.upper(), text.lower()]


def named(extraction) -> dict[str, object]:
    return {p.text: p for p in extraction.people if p.text}


def only(extraction, word: str):
    found = [p for p in extraction.people if word in p.described_as]
    assert len(found) == 1, [(p.text, p.role, p.described_as) for p in extraction.people]
    return found[0]


NAME_CASES = [
    "Call from Ms Farrah QURESHI, IDVA. Client Natalia WOZNIAK (29) disclosed husband Piotr controls all her money.",
    "Nurse at A&E reports patient says her partner twisted her arm.",
    "IP STATES EX (S1 DEAN HOLT) KEPT RINGING HER AND THREATENED HER.",
    "Social worker Jane SMITH reports Mum Lisa BROWN hit her son Tom (4).",
    "Complainant states nominal Kyle BRIGGS punched her. Informant is her teacher.",
    "Caller states her boyfriend Jack pushed her. Aggrieved declined a statement, POI left.",
    "Reporting party states subject Ray COLE struck her; victim's mom and his wife present.",
    "V1 Sam LEE states S1 Tom KERR and W1 Amy DALE were at the scene. OP punched V1.",
    "GP Dr Patel reports patient disclosed her fiancé strangled her.",
    "Teacher Mrs Kate LOWE reports Year 5 pupil Noah says his stepdad hit him.",
]


@pytest.mark.parametrize("call", [c for text in NAME_CASES for c in cases(text)])
def test_role_words_are_never_names(extract_one, call):
    extraction = extract_one(call)
    for person in extraction.people:
        words = set(person.text.lower().replace("-", " ").split())
        assert not words & ROLE_WORDS, (person.text, person.role)


@pytest.mark.parametrize("call", cases("Client Natalia WOZNIAK (29) disclosed husband Piotr controls all her money."))
def test_husband_piotr_is_the_suspect_and_an_intimate_partner(extract_one, call):
    extraction = extract_one(call, opening_code="CONCERN FOR WELFARE")
    husband = only(extraction, "husband")
    assert (husband.role, husband.relationship) == ("suspect", "intimate_partner")
    assert only(extraction, "client").role == "victim"  # the IDVA's client is the victim, not a suspect
    assert extraction.relationship == "intimate_partner" and extraction.domestic is True
    if call[0] == "C":  # names need capitals or the NER: as written, and in ALL CAPS
        assert husband.text.lower() == "piotr" and only(extraction, "client").text.lower() == "natalia wozniak"


def test_sample_incident_smp_0002(extractor):
    import json
    from pathlib import Path

    rows = [json.loads(line) for line in Path("data/sample_incidents.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["incident_id"] == "SMP-24-0002")
    extraction = extractor.extract([Incident(**row)])[0]
    assert {(p.text, p.role) for p in extraction.people} == {
        ("Ms Farrah QURESHI", "reporter"),
        ("Natalia WOZNIAK", "victim"),
        ("Piotr", "suspect"),
    }
    assert (extraction.relationship, extraction.reporter, extraction.domestic) == (
        "intimate_partner",
        "third_party_professional",
        True,
    )
    assert named(extraction)["Natalia WOZNIAK"].age == 29


@pytest.mark.parametrize("call", cases("Nurse at A&E reports patient says her partner twisted her arm."))
def test_reporting_nurse_is_not_a_suspect(extract_one, call):
    extraction = extract_one(call)
    assert extraction.reporter == "third_party_professional"
    assert extraction.relationship == "intimate_partner" and extraction.domestic is True
    assert only(extraction, "nurse").role == "reporter"
    assert only(extraction, "partner").role == "suspect"
    assert only(extraction, "patient").role == "victim"


@pytest.mark.parametrize("call", cases("IP STATES EX (S1 DEAN HOLT) KEPT RINGING HER AND THREATENED HER."))
def test_ex_with_control_room_shorthand(extract_one, call):
    extraction = extract_one(call)
    assert extraction.relationship == "ex_partner" and extraction.domestic is True
    ex = only(extraction, "ex")
    assert (ex.role, ex.relationship, ex.described_as) == ("suspect", "ex_partner", ("ex", "s1"))
    if call.isupper():
        assert ex.text == "DEAN HOLT"


@pytest.mark.parametrize(
    ("call", "relationship", "domestic"),
    [
        *[(c, "family", True) for c in cases("Caller states her son, 34, pushed her.")],
        *[(c, "family", False) for c in cases("Caller states her son, 14, pushed her into the wall.")],
        ("Caller states her adult son, aged 34, pushed her.", "family", True),  # an adult's age is no child
        ("Caller states her stepfather slapped her.", "family", True),
        ("Caller states her grandad grabbed her arm.", "family", True),
        *[(c, "neighbour", False) for c in cases("Caller states a neighbour's son threw a brick at her window.")],
        *[(c, "stranger", False) for c in cases("Caller states an unknown male punched her outside the shop.")],
        *[(c, "acquaintance", False) for c in cases("Caller states her husband's friend punched her at a party.")],
        ("Caller states her ex's new girlfriend keeps sending abusive messages.", "acquaintance", False),
        *[(c, "ex_partner", True) for c in cases("OP is her ex-partner, he sent 40 messages threatening to kill her.")],
        ("RP states her civil partner Alex hit her.", "intimate_partner", True),
        ("Caller states her fiancée slapped him.", "intimate_partner", True),
        ("RP states her ex-husband Gary has been following her.", "ex_partner", True),
        ("Housing officer reports tenant being threatened by neighbour.", "neighbour", False),
    ],
)
def test_kinship_words_give_the_relationship(extract_one, call, relationship, domestic):
    extraction = extract_one(call)
    assert (extraction.relationship, extraction.domestic) == (relationship, domestic)
    suspects = [p for p in extraction.people if p.role == "suspect"]
    assert suspects and suspects[-1].relationship == relationship


def test_age_of_a_relative(extract_one):
    extraction = extract_one("Caller states her son, 34, pushed her.")
    assert [(p.role, p.relationship, p.age) for p in extraction.people if p.described_as == ("son",)] == [
        ("suspect", "family", 34)
    ]


@pytest.mark.parametrize(
    "call",
    cases("Call from the victim's teacher. Pupil, aged 9, says his stepdad hit him with a belt."),
)
def test_teacher_reporting_a_child_is_not_domestic(extract_one, call):
    extraction = extract_one(call)
    assert extraction.reporter == "third_party_professional"
    assert extraction.relationship == "family" and extraction.domestic is False
    assert only(extraction, "teacher").role == "reporter"
    assert only(extraction, "stepdad").role == "suspect"
    assert only(extraction, "pupil").age == 9


def test_child_hit_by_a_parent_is_not_domestic(extract_one):
    extraction = extract_one("Social worker Jane SMITH reports Mum Lisa BROWN hit her son Tom (4).")
    people = named(extraction)
    assert (people["Jane SMITH"].role, people["Lisa BROWN"].role) == ("reporter", "suspect")
    assert (people["Tom"].relationship, people["Tom"].age) == ("family", 4)
    assert extraction.relationship == "family" and extraction.domestic is False


def test_names_beside_role_words(extract_one):
    extraction = extract_one(
        "Call from Ms Farrah QURESHI, IDVA. Jason PLATT (susp) assaulted her client. "
        "Spoke to Kerry ASHWORTH (34) and partner Dale FINCH (37). Kerry said Dale had shoved her."
    )
    people = named(extraction)
    assert people["Ms Farrah QURESHI"].role == "reporter" and people["Ms Farrah QURESHI"].described_as == ("idva",)
    assert people["Jason PLATT"].role == "suspect"
    assert people["Kerry ASHWORTH"].age == 34
    dale = people["Dale FINCH"]
    assert (dale.role, dale.relationship, dale.age) == ("suspect", "intimate_partner", 37)
    assert "Dale" not in people and "Kerry" not in people  # later mentions are the same people


@pytest.mark.parametrize(
    "call",
    [
        "Neighbour calling, 5 Marsh Road. She says the male next door slapped her.",
        "Call from a friend of the IP. Advises her male from the flat upstairs scratched her car.",
        "neighbour at 9 Pelham Walk, Brindle reports shouting and a bang from no 11, female crying.",
    ],
)
def test_a_caller_described_by_a_relationship_is_the_reporter(extract_one, call):
    extraction = extract_one(call)
    assert extraction.reporter == "third_party_public"
    assert "suspect" not in {p.role for p in extraction.people if {"neighbour", "friend"} & set(p.described_as)}


@pytest.mark.parametrize(
    "call",
    cases("Reporting party states her boyfriend punched her; subject left prior to deputies arrival."),
)
def test_us_words(extract_one, call):
    extraction = extract_one(call)
    assert extraction.relationship == "intimate_partner" and extraction.domestic is True
    assert only(extraction, "reporting party").role == "reporter"
    assert only(extraction, "boyfriend").role == "suspect"


def test_client_who_did_it_is_the_suspect(extract_one):
    extraction = extract_one("Probation officer reports client punched his mother at her flat.")
    assert only(extraction, "client").role == "suspect"
    assert only(extraction, "probation officer").role == "reporter"


def test_role_vocabulary_drives_the_rulers(nlp):
    """Every role, relationship and job word of the vocabulary is tagged with its label."""
    keys = {"role": "sc_roles", "relationship": "sc_relationships", "professional": "sc_reporters"}
    entries = [e for e in read_vocabulary("role_words.jsonl") if e["kind"] in keys]
    texts = [f"Spoke to the {e['word']} today." for e in entries]
    for entry, doc in zip(entries, nlp.pipe(texts), strict=True):
        start = len("Spoke to the ")
        spans = [s for s in doc.spans[keys[entry["kind"]]] if s.start_char <= start and s.end_char >= start + 1]
        assert spans and spans[0].label_ == entry["label"], (entry, [(s.text, s.label_) for s in spans])


def test_people_survive_to_disk(nlp, tmp_path):
    import spacy

    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    text = "Client Natalia WOZNIAK disclosed husband Piotr controls all her money."

    def people(doc):
        return [(s.text, s.label_, s._.sc_person["relationship"]) for s in doc.spans["sc_people"]]

    assert people(loaded(text)) == people(nlp(text))
    assert ("husband Piotr", "related", "intimate_partner") in people(nlp(text))


def test_relationship_cues_in_context(extract_one):
    """Each relationship cue comes with where it stands: the caller's mum in the opening, a husband
    as the subject of the punch (the words the learned relationship model reads)."""
    caller = extract_one("Caller Mrs Karen MOUNSEY ringing for her mum. A man in a hi vis came to her door "
                         "and pushed her over.")
    assert {"family", "family w=mum", "family prev=her", "family first"} <= set(caller.cue_contexts)
    assert "family ind" not in caller.cue_contexts  # the push is in the next sentence
    partner = extract_one("Officers attended the address. Her husband punched her in the face.")
    assert {"intimate_partner w=husband", "intimate_partner ind", "intimate_partner next=punched",
            "intimate_partner suspect"} <= set(partner.cue_contexts)
    assert "intimate_partner first" not in partner.cue_contexts
    assert extract_one("Lost wallet handed in at the front counter.").cue_contexts == []
