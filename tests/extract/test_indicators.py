"""Offence indicators on handwritten sentences, with their ConText modifiers and offsets."""

from __future__ import annotations

import pytest
from extract_helpers import find


@pytest.mark.parametrize(
    ("text", "kind", "offence"),
    [
        ("He punched her in the face.", "punch", "common_assault"),
        ("The male shoved the victim into the wall.", "push", "common_assault"),
        ("She was spat at by the suspect.", "spit", "common_assault"),
        ("Bruising to her left arm and a split lip.", "injury", "assault_with_injury"),
        ("Susp put both hands around her neck and squeezed.", "strangulation", "non_fatal_strangulation"),
        ("He grabbed her by the throat against the fridge.", "strangulation", "non_fatal_strangulation"),
        ("He had his hand pressed over her mouth and nose.", "strangulation", "non_fatal_strangulation"),
        ("He held a pillow tightly over her face.", "strangulation", "non_fatal_strangulation"),
        ("She clamped her hand over his mouth so he could not shout.", "strangulation", "non_fatal_strangulation"),
        ("Hand over her mouth, he dragged her back inside.", "strangulation", "non_fatal_strangulation"),
        ("He held his hand over the victim's mouth.", "strangulation", "non_fatal_strangulation"),
        ("Hussain held his hand tightly over his mouth to stop him screaming.", "strangulation",
         "non_fatal_strangulation"),
        ("He told her 'I'm going to kill you' as he left.", "threat_to_kill", "threats_to_kill"),
        ("He smashed her mobile phone on the floor.", "damage", "criminal_damage"),
        ("Ex has sent her 45 messages since Friday.", "contact_count", "harassment"),
        ("He has been waiting outside her work every evening.", "loitering", "stalking"),
        ("He followed her home from the bus stop.", "following", "stalking"),
        ("He takes her bank card and gives her an allowance.", "control_money", "coercive_control"),
        ("She is not allowed to see her friends.", "control_movement", "coercive_control"),
        ("There is a non-molestation order in place.", "court_order", "breach_of_order"),
        ("He groped her breasts on the dance floor.", "sexual_touching", "sexual_assault"),
        ("He raped her at his flat.", "rape", "rape"),
        ("Male took a bottle of vodka and left without paying.", "shoplifting", "theft"),
        ("Entry was forced through the rear door and the house ransacked.", "burglary_entry", "burglary"),
        ("Two children aged 3 and 5 were left alone overnight.", "child_neglect", "child_cruelty"),
        ("Her passport was taken by the boss and she works for no pay.", "exploitation_control", "modern_slavery"),
        # whose, how many and which part may stand between a damage verb and the property
        ("Someone slashed both front tyres on her van overnight.", "damage", "criminal_damage"),
        ("He kicked the passenger wing mirror off the car.", "damage", "criminal_damage"),
        ("Male booted in the back door of the flat and left.", "damage", "criminal_damage"),
        ("Youths have spray-painted the shop shutters again.", "damage", "criminal_damage"),
        ("They threw paint over his new fence panels.", "damage", "criminal_damage"),
        ("A brick through the kitchen window at 0200.", "damage", "criminal_damage"),
        ("Someone has dragged a key along the side of her car.", "damage", "criminal_damage"),
        ("Her ex kicked her front door until the panel split.", "damage", "criminal_damage"),
        # racist abuse however it is quoted
        ("He shouted 'go back where you came from' at the family.", "abuse", "public_order"),
        ("Told them to go back to their own country.", "abuse", "public_order"),
        # a course of conduct told by where and how often
        ("Her ex has been parked across from her flat three nights running.", "loitering", "stalking"),
        ("He sat at the end of the cul-de-sac watching the house for an hour.", "monitoring", "stalking"),
        ("The abuse over the fence has been going on for months.", "repeated_contact", "harassment"),
        ("He rings her, she hangs up, he rings again, day after day.", "repeated_contact", "harassment"),
        # entry by a key, a window or prying
        ("Her ex has been letting himself in with a spare key while she is at work.", "burglary_entry", "burglary"),
        ("A male was seen climbing out of the back bedroom window with a holdall.", "burglary_entry", "burglary"),
        ("Unknown person pried open the rear door overnight.", "burglary_entry", "burglary"),
        # words the tokenizer splits ("won't" is wo n't, "gonna" gon na, "self-inflicted" self - inflicted)
        ("He won't let her see her mum.", "control_movement", "coercive_control"),
        ("He said he's gonna kill her.", "threat_to_kill", "threats_to_kill"),
        ("Report of a break-in at the community centre.", "burglary_entry", "burglary"),
        ("She cant breathe, he is on top of her.", "strangulation", "non_fatal_strangulation"),
        # elements by their plain meaning (handwritten, none from the corpus)
        ("He locked the children in their bedroom all weekend as a punishment.", "child_harm", "child_cruelty"),
        ("She left her 2-year-old strapped in the car while she went to the bingo.", "child_neglect",
         "child_cruelty"),
        ("The baby was left alone in the car outside the pub.", "child_neglect", "child_cruelty"),
        ("He threatened to set fire to the house with her and the kids inside.", "threat_to_kill", "threats_to_kill"),
        ("He pulled a belt tight around her neck until she nearly blacked out.", "strangulation",
         "non_fatal_strangulation"),
        ("He broke her nose with a headbutt.", "serious_injury", "assault_with_injury"),
        ("A lad took her phone off the cafe table and ran off.", "theft", "theft"),
        ("The male ran off with her handbag.", "theft", "theft"),
        ("He controls all the money and gives her twenty pounds a week for food.", "control_money", "coercive_control"),
        ("She has had dozens of abusive calls from her ex's new partner this week.", "repeated_contact", "harassment"),
        ("The neighbour bangs on her wall and shouts at her every single night.", "repeated_contact", "harassment"),
        ("Victim reported that she is being stalked by a classmate.", "following", "stalking"),
        ("He has been harassing her since she moved out.", "repeated_contact", "harassment"),
        ("Two bikes were taken from the rack outside the station.", "theft", "theft"),
        ("Someone helped themselves to the tools in the back of his van.", "theft", "theft"),
        ("His catalytic converter has been sawn off overnight.", "theft", "theft"),
        ("A male walked out of the shop with a basket full of meat.", "shoplifting", "theft"),
        ("The customer threw his coffee over the barista.", "throw_at", "common_assault"),
        ("Two unknown males struck a man on the head with their hands as he walked on the sidewalk.", "punch",
         "common_assault"),
        ("He said if she went to the police she would end up dead.", "threat_to_kill", "threats_to_kill"),
        ("He held a knife to her and said this is the last night of your life.", "threat_to_kill", "threats_to_kill"),
        ("He is going to come round and shoot the lot of them.", "threat_to_kill", "threats_to_kill"),
        ("The workers sleep at the nail bar and hand all their wages to the owner.", "exploitation_control",
         "modern_slavery"),
        ("He works 16 hours a day on the farm and is told he owes a debt for his travel.", "exploitation_control",
         "modern_slavery"),
        ("She works unpaid for the family and is never allowed out.", "forced_labour", "modern_slavery"),
        ("The rear window was forced and jewellery taken from the bedroom.", "burglary_entry", "burglary"),
        ("He bit her on the arm and drew blood.", "injury", "assault_with_injury"),
        # a blow to a person named by a noun, not a pronoun
        ("A man, who appeared intoxicated, struck another man for no apparent reason.", "punch", "common_assault"),
        ("Male struck the victim with a bottle.", "punch", "common_assault"),
        ("He hit his wife during the argument.", "punch", "common_assault"),
        ("Struck the security guard as he was detained.", "punch", "common_assault"),
        # the worker is the one not paid
        ("She was never paid for the work she did at the house.", "forced_labour", "modern_slavery"),
        ("He hasn't been paid in months and the boss keeps his passport.", "forced_labour", "modern_slavery"),
        ("Workers not being paid, living above the nail bar.", "forced_labour", "modern_slavery"),
        # sex by compulsion in any tense: "make" takes a bare infinitive, "force into", the passive
        ("Her husband makes her have sex when she doesn't want to.", "rape", "rape"),
        ("He forces me to have sex with him every weekend.", "rape", "rape"),
        ("He forced her into having sex.", "rape", "rape"),
        ("He pressured me into sex after the party.", "rape", "rape"),
        ("She was made to have sex with his friends.", "rape", "rape"),
        # a door or window forced with a word before it
        ("Suspect forced the rear door and took the TV.", "burglary_entry", "burglary"),
        # "you're dead" in reported speech, on a condition of what the person does
        ("He told her she is dead if she goes to the police.", "threat_to_kill", "threats_to_kill"),
        ("He told her she was dead if she left him.", "threat_to_kill", "threats_to_kill"),
        # the blow and the intimate touch in the passive
        ("He was hit over the head with a bottle.", "punch", "common_assault"),
        ("She was struck in the face during the row.", "punch", "common_assault"),
        # ... and at the end of a one-line report with no full stop (the closing guard has no word to read)
        ("Member of public reports her son was hit over the head", "punch", "common_assault"),
        ("She was touched between her legs on the train.", "sexual_touching", "sexual_assault"),
        ("She was touched inappropriately by her manager.", "sexual_touching", "sexual_assault"),
        ("The baby was shaken by his father.", "child_harm", "child_cruelty"),
    ],
)
def test_offence_indicators(extract_one, text, kind, offence):
    indicator = find(extract_one(text), kind)
    assert offence in indicator.offences
    assert indicator.affirmed, indicator


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("He was wearing a tie round his neck and a flat cap.", "strangulation"),
        ("She left her bag in the car while she paid for fuel.", "child_neglect"),
        ("The male ran off when police arrived.", "theft"),
        ("Her son locked the door in the morning as usual.", "child_harm"),
        ("He set fire to the car with the keys still in it.", "threat_to_kill"),
        ("A statement was taken from the witness at the scene.", "theft"),
        ("The patient was brought to the hospital by her son.", "exploitation_control"),
        ("He says his brother owes him money for the car.", "exploitation_control"),
        ("Referred to the stalking advocacy service for support.", "following"),
        ("The call was cut off before the address was given.", "theft"),
        # struck by a vehicle, a ball or a falling branch: an accident, not a blow; a man's car is not the man
        ("A car hit a man crossing the road.", "punch"),
        ("The ball hit a boy on the head during the match.", "punch"),
        ("A branch struck a cyclist in the storm.", "punch"),
        ("He hit a man's car while parking.", "punch"),
        # someone who has not paid is not a worker unpaid; "not being" alone is no pay at all
        ("Man reports his ex-wife has not paid her half of the mortgage this month.", "forced_labour"),
        ("The tenant has not paid rent for two months.", "forced_labour"),
        ("She has thought about not being here any more.", "forced_labour"),
        # compelled to do something else; forcing or gaining a person, not a way in
        ("He made her do her homework before tea.", "rape"),
        ("She was made to have a bath.", "rape"),
        ("He pushed her into the wall.", "rape"),
        ("He forced her to have a drink.", "burglary_entry"),
        ("He gained her trust over months.", "burglary_entry"),
        ("He forced a smile.", "burglary_entry"),
        # a death, or a life saved, is not a threat
        ("She was dead when paramedics arrived.", "threat_to_kill"),
        ("He would be dead if the ambulance had not come so quickly.", "threat_to_kill"),
        # hit by a falling thing or a ball; touched or grabbed where it is not intimate
        ("He was hit on the head by a falling branch.", "punch"),
        ("He was hit in the face by a ball.", "punch"),
        ("He was touched on the shoulder by a stranger.", "sexual_touching"),
        ("She was grabbed on the arm.", "sexual_touching"),
        # "shaken up" is upset
        ("The child was shaken up after the crash.", "child_harm"),
    ],
)
def test_plain_meaning_rows_need_their_whole_element(extract_one, text, kind):
    assert kind not in {i.kind for i in extract_one(text).indicators}


def test_contact_count_value(extract_one):
    assert find(extract_one("Over the weekend he sent 45 texts."), "contact_count").value == 45


@pytest.mark.parametrize(
    "text",
    [
        "No injuries.",
        "IP denies any injury.",
        "Nil injuries seen by officers.",
        "No visible injuries to the IP.",
    ],
)
def test_negated_injury(extract_one, text):
    indicator = find(extract_one(text), "injury")
    assert indicator.negated and not indicator.affirmed


def test_negation_scope_ends_at_but(extract_one):
    extraction = extract_one("No weapons, but he punched her twice.")
    assert find(extraction, "weapon").negated
    assert find(extraction, "punch").affirmed


@pytest.mark.parametrize(
    "text, kind",
    [
        ("For no reason he punched the victim in the face.", "punch"),
        ("For no apparent reason he punched the victim.", "punch"),
        ("With no warning he hit her across the head.", "punch"),
        ("Without warning he hit her.", "punch"),
        ("Male refused travel with no fare spat in his face.", "spit"),
        ("He had no ticket and kicked the driver in the shin.", "kick"),
    ],
)
def test_a_no_that_is_about_something_else_does_not_negate_the_act(extract_one, text, kind):
    """"No" before a reason, a warning or a fare is not a negation of the act after it (ConText
    pseudo-negations)."""
    assert find(extract_one(text), kind).affirmed


@pytest.mark.parametrize(
    "text, kind",
    [
        ("No money was taken from the till.", "theft"),
        ("There is no reason to believe he hit her.", "punch"),
        ("No punches were thrown.", "punch"),
    ],
)
def test_a_no_about_the_act_still_negates_it(extract_one, text, kind):
    assert find(extract_one(text), kind).negated


def test_victim_withdrawal_does_not_negate(extract_one):
    extraction = extract_one("IP does not want to make a complaint but states he slapped her.")
    assert find(extraction, "slap").affirmed


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("RP is worried he might smash her car.", "damage"),
        ("She is scared he will follow her home.", "following"),
        ("Advised re what to do if he turns up at her work.", "loitering"),
    ],
)
def test_hypothetical(extract_one, text, kind):
    indicator = find(extract_one(text), kind)
    assert indicator.hypothetical and not indicator.affirmed


def test_threat_is_not_hypothetical(extract_one):
    indicator = find(extract_one("He said if she left he would kill her."), "threat_to_kill")
    assert indicator.affirmed


@pytest.mark.parametrize(
    "text",
    [
        "He previously assaulted her in 2019.",
        "History of him assaulting her when they were together.",
        "He assaulted her last year, already recorded under crime ref 44/1234/23.",
    ],
)
def test_historical(extract_one, text):
    indicator = find(extract_one(text), "assault")
    assert indicator.historical and not indicator.affirmed


def test_current_after_historical(extract_one):
    extraction = extract_one("He previously assaulted her. Today he punched her in the face.")
    assert find(extraction, "assault").historical
    assert find(extraction, "punch").affirmed


def test_other_person(extract_one):
    indicator = find(extract_one("In an unrelated incident her friend was punched in town."), "punch")
    assert indicator.other_person and not indicator.affirmed


def test_reported_second_hand_still_affirmed(extract_one):
    indicator = find(extract_one("RP has heard that he hit her at the weekend."), "punch")
    assert indicator.reported and indicator.affirmed


def test_attributes(extract_one):
    extraction = extract_one("He was drunk and waving a knife. Two kids asleep upstairs.")
    assert extraction.attributes["weapon"] and extraction.attributes["alcohol"]
    assert extraction.attributes["children_present"]
    assert not extract_one("No weapons involved.").attributes["weapon"]


@pytest.mark.parametrize("text, conflict", [
    ("They fell out over money last week.", True),
    ("The couple have fallen out and are shouting.", True),
    ("She fell down the stairs at home.", False),
    ("He was hit on the head by a falling branch.", False),
    ("Elderly male has fallen in the garden.", False),
])
def test_a_falling_out_is_conflict_and_a_fall_is_not(extract_one, text, conflict):
    assert bool(extract_one(text).attributes.get("conflict")) is conflict


def test_evidence_offsets_per_field(extract_one):
    call = "2210 F caller states partner has punched her.\n2211 G1."
    narrative = "Spoke to IP. Swelling to left cheek, photographed. Susp had his hands round her neck."
    extraction = extract_one(call, narrative)
    texts = {"call_log": call, "officer_narrative": narrative}
    assert extraction.indicators
    for indicator in extraction.indicators:
        span = indicator.span
        assert texts[span.field][span.start : span.end] == span.text
    evidence = extraction.evidence("non_fatal_strangulation")
    assert [s.field for s in evidence] == ["officer_narrative"]
    assert evidence[0].text == "hands round her neck"
    assert [s.text for s in extraction.evidence("assault_with_injury")] == ["Swelling"]
    assert [s.field for s in extraction.evidence("common_assault")] == ["call_log"]


def test_negated_indicator_is_not_evidence(extract_one):
    extraction = extract_one("IP states no injuries. He pushed her.")
    assert extraction.evidence("assault_with_injury") == []
    assert [s.text for s in extraction.evidence("common_assault")] == ["pushed her"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Kids next door kicked a football through the window by accident.", "accidental"),
        ("CCTV shows he slipped on the wet steps and hit his head.", "accidental"),
        ("She came off her bike on the cycle path.", "accidental"),
        ("Fence panel blown down in the wind overnight.", "accidental"),
        ("Cuts to her forearm are self-inflicted, she says.", "accidental"),
        ("Purse later found in the lining of her shopping bag.", "property_accounted_for"),
        ("Till records show he paid for the items by card.", "property_accounted_for"),
        ("Her son had borrowed the car, it is now back.", "property_accounted_for"),
        ("Pub CCTV confirms his account.", "contrary_evidence"),
        ("Doorbell footage shows nobody near the car.", "contrary_evidence"),
        ("Injuries consistent with a fall from the ladder.", "contrary_evidence"),
        ("It was a misunderstanding about the parcel.", "contrary_evidence"),
    ],
)
def test_evidence_to_the_contrary(extract_one, text, kind):
    indicator = find(extract_one(text), kind)
    assert indicator.affirmed and indicator.offences == ()


def test_evidence_to_the_contrary_is_negated_and_never_offence_evidence(extract_one):
    extraction = extract_one("It was not an accident: he smashed the window on purpose.")
    assert find(extraction, "accidental").negated
    assert [s.text for s in extraction.evidence("criminal_damage")] == ["smashed the window"]


def test_no_one_else_involved_does_not_negate_what_follows(extract_one):
    extraction = extract_one("No one else was involved and he punched her twice.")
    assert find(extraction, "contrary_evidence").affirmed
    assert find(extraction, "punch").affirmed


def test_footage_of_the_offence_is_not_evidence_to_the_contrary(extract_one):
    extraction = extract_one("Doorbell camera shows him forcing the back door.")
    assert not [i for i in extraction.indicators if i.kind == "contrary_evidence"]


def test_hand_on_her_bottom_is_sexual_touching(extract_one):
    indicator = find(extract_one("A man stood behind her and put his hand on her bottom."), "sexual_touching")
    assert "sexual_assault" in indicator.offences and indicator.affirmed


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("She woke up at his flat to find him having sex with her.", "rape"),
        ("She woke at about 6am, lying on her front, with him on top of her.", "no_consent"),
        ("He had sex with her while she was asleep.", "rape"),
        ("She told him to stop but he carried on.", "no_consent"),
        ("She said no more than once.", "no_consent"),
        ("She told him she did not want to have sex.", "no_consent"),
        ("He tells her what to wear and who she can see.", "control_movement"),
        ("He was knocked out by the punch.", "serious_injury"),
        ("Her parked car was struck by another vehicle, damage to the wing.", "accidental"),
        ("RTC on the high street, two cars damaged, no injuries.", "accidental"),
        ("He reversed into the gatepost and cracked it.", "accidental"),
        ("Unknown persons entered the house via the rear kitchen window.", "burglary_entry"),
        ("Entry was gained through an insecure back door.", "burglary_entry"),
        ("Unknown person took an unattended laptop from a study pod.", "theft"),
        ("Bicycle taken from the rack outside the library.", "theft"),
        ("The offender made off with her handbag.", "theft"),
        ("Her wallet was removed from her coat pocket while she queued.", "theft"),
    ],
)
def test_consent_capacity_control_collision_entry_and_theft_phrasings(extract_one, text, kind):
    assert find(extract_one(text), kind).affirmed


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Officers told him to leave the address.", "no_consent"),
        ("She did not want to make a complaint.", "no_consent"),
        ("She does not want him arrested.", "no_consent"),
        ("She has never told him where she works.", "control_movement"),
        ("RP was out when the van arrived.", "serious_injury"),
        ("Officer took possession of a bicycle for safekeeping.", "theft"),
        ("Officers took a statement from the caller.", "theft"),
        ("She left her bag unattended on the bus.", "child_neglect"),
        ("He was kicked in the car park and punched in the face.", "damage"),
        ("The male was seen running down the road towards the park.", "damage"),
        ("He threw a stone at the victim, missing her.", "damage"),
        ("She kicked off at the staff when asked to leave.", "damage"),
        ("She went back to where she came from to get her coat.", "abuse"),
        ("Her ex tagged her in a Facebook post calling her a liar.", "damage"),
        ("She put her hand over her mouth in shock.", "strangulation"),
        ("She had her hands over her face and was crying.", "strangulation"),
        ("He put his own hand over his mouth and said nothing.", "strangulation"),
        ("She clamped her hand over her mouth to stop herself screaming.", "strangulation"),
        ("She sat with her hands pressed over her face.", "strangulation"),
    ],
)
def test_everyday_phrasings_and_property_handling_are_not_indicators(extract_one, text, kind):
    assert all(i.kind != kind for i in extract_one(text).indicators)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("He confirmed a male he didn't know punched him once to the side of the face.", "punch"),
        ("Victim states a man she did not know put his hand up her skirt on the bus.", "sexual_touching"),
        ("She said a woman she didn't recognise pushed her over in the queue.", "push"),
    ],
)
def test_someone_the_victim_did_not_know_is_a_stranger_not_a_negation(extract_one, text, kind):
    """"a male he didn't know punched him": the "didn't" belongs to knowing the man, not to the act."""
    assert find(extract_one(text), kind).affirmed


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("He did not punch him, he only shouted.", "punch"),
        ("Caller doesn't know where he went.", "monitoring"),
        ("She does not know where he goes at night.", "monitoring"),
    ],
)
def test_not_knowing_someone_leaves_other_negations_as_they_were(extract_one, text, kind):
    assert find(extract_one(text), kind).negated
