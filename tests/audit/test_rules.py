"""Rule checks: a positive and negative case (at least) for every rule."""

from __future__ import annotations

from typing import Any

import pytest

from secondary_crimes.recording_rules import RULES, check_rules, check_scored_record, load_rules
from secondary_crimes.records import Incident


def make_incident(**fields: Any) -> Incident:
    base = {
        "incident_id": "T-1",
        "call_log": "0900 caller reports an argument.",
        "officer_narrative": "",
        "closing_code": "ADVICE GIVEN",
        "recorded_crimes": [],
    }
    return Incident.model_validate({**base, **fields})


def offence(label: str, p: float = 0.9, threshold: float = 0.5, evidence=None) -> dict[str, Any]:
    return {"offence": label, "probability": p, "threshold": threshold, "reason": "", "evidence": evidence or []}


def scored(*offences: dict[str, Any], reporter: str = "victim") -> dict[str, Any]:
    return {"offences": list(offences), "reporter": reporter}


def rules_of(incident: Incident, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    flags = check_rules(incident, record)
    for flag in flags:
        assert set(flag) >= {"rule", "reason", "evidence"}
        assert flag["rule"] in RULES and flag["reason"]
        for span in flag["evidence"]:
            text = incident.text(span["field"])
            assert text[span["start"] : span["end"]] == span["text"]
    return {flag["rule"]: flag for flag in flags}


def test_rules_yaml_loads():
    config = load_rules()
    assert config.max_hours == 24
    assert "rape" in config.sexual_offences


# --- professional_third_party_nothing_recorded ---------------------------------------------

PROF = "professional_third_party_nothing_recorded"


def test_professional_by_call_log_words():
    incident = make_incident(call_log="1010 Call from teacher at Hill Primary, pupil says dad hit him with a belt.")
    flags = rules_of(incident, scored(offence("child_cruelty"), reporter="third_party_public"))
    assert PROF in flags
    assert any("teacher" in span["text"] for span in flags[PROF]["evidence"])
    assert flags[PROF]["offences"] == ["child_cruelty"]


def test_professional_by_scored_reporter():
    incident = make_incident(call_log="1010 caller concerned about a pupil, bruising seen.")
    assert PROF in rules_of(incident, scored(offence("assault_with_injury"), reporter="third_party_professional"))


def test_professional_cue_later_in_log():
    incident = make_incident(call_log="1010 CAD opened.\n1012 referral from the IDVA: client strangled by ex.")
    assert PROF in rules_of(incident, scored(offence("non_fatal_strangulation")))


@pytest.mark.parametrize(
    ("call_log", "recorded", "offences", "reporter"),
    [
        # a professional, but a crime was recorded
        ("1010 Call from social worker, child hit.", ["common_assault"], [offence("common_assault")], "victim"),
        # a professional, but no offence is predicted
        ("1010 Call from social worker, family struggling.", [], [], "third_party_professional"),
        # an offence, nothing recorded, but the victim called; a role word outside the caller line
        ("1010 F caller, partner slapped her.\n1020 IDVA referral offered.", [], [offence("common_assault")], "victim"),
    ],
)
def test_professional_negatives(call_log, recorded, offences, reporter):
    incident = make_incident(call_log=call_log, recorded_crimes=recorded)
    assert PROF not in rules_of(incident, scored(*offences, reporter=reporter))


# --- sexual_offence_not_recorded -------------------------------------------------------------

SEX = "sexual_offence_not_recorded"


def test_sexual_predicted_not_recorded():
    incident = make_incident(call_log="1100 F caller states a man put his hand on her bottom on the bus.")
    flags = rules_of(incident, scored(offence("sexual_assault", 0.8, 0.4)))
    assert SEX in flags and "N100" in flags[SEX]["reason"]


def test_sexual_disclosure_words_without_prediction():
    incident = make_incident(
        officer_narrative="IP disclosed she was raped by her ex-partner last month.", recorded_crimes=["common_assault"]
    )
    flags = rules_of(incident, scored(offence("common_assault")))
    assert SEX in flags
    assert flags[SEX]["evidence"][0]["text"] == "raped"
    assert "no sexual offence was recorded" in flags[SEX]["reason"]


@pytest.mark.parametrize(
    ("fields", "offences"),
    [
        ({"officer_narrative": "IP was raped by her partner.", "recorded_crimes": ["rape"]}, [offence("rape")]),
        ({"officer_narrative": "IP denies being sexually assaulted."}, []),
        ({"officer_narrative": "No sexual assault disclosed."}, []),
        ({"officer_narrative": "Bunch of grapes stolen from the shop."}, [offence("theft")]),
        ({"call_log": "1400 ISVA calling, the rape is already recorded under CR/24/1."}, []),
        ({"officer_narrative": "Groped on the bus.", "recorded_crimes": ["sexual_assault"]}, []),
    ],
)
def test_sexual_negatives(fields, offences):
    assert SEX not in rules_of(make_incident(**fields), scored(*offences))


# --- late_recording ----------------------------------------------------------------------------

LATE = "late_recording"


def test_late_recording_positive():
    incident = make_incident(
        reported_at="2024-03-01T10:00:00", crime_recorded_at="2024-03-02T12:30:00", recorded_crimes=["theft"]
    )
    flags = rules_of(incident, scored(offence("theft")))
    assert LATE in flags and "26.5 hours" in flags[LATE]["reason"]
    assert flags[LATE]["evidence"] == []


def test_late_recording_with_time_zones():
    incident = make_incident(
        reported_at="2024-03-01T10:00:00+00:00",
        crime_recorded_at="2024-03-02T10:30:00+01:00",
        recorded_crimes=["theft"],
    )
    assert LATE not in rules_of(incident, scored())  # 24.5 h on the clocks, 23.5 h in UTC


@pytest.mark.parametrize(
    "fields",
    [
        {"reported_at": "2024-03-01T10:00:00", "crime_recorded_at": "2024-03-02T09:59:00"},
        {"reported_at": "2024-03-01T10:00:00", "crime_recorded_at": "2024-03-02T10:00:00"},  # exactly 24 h
        {"reported_at": "2024-03-01T10:00:00"},  # no recording time in the input
        {"crime_recorded_at": "2024-03-05T10:00:00"},  # no report time
    ],
)
def test_late_recording_negatives(fields):
    incident = make_incident(recorded_crimes=["theft"], **fields)
    assert LATE not in rules_of(incident, scored(offence("theft")))


# --- victim_wishes_reason ----------------------------------------------------------------------

WISHES = "victim_wishes_reason"


@pytest.mark.parametrize(
    "phrase",
    [
        "IP did not want to make a complaint.",
        "IP does not support police action. NFA.",
        "She declined to provide a statement.",
        "IP does not wish to pursue the matter.",
        "Victim doesn't want to make a complaint.",
        "He is not making a complaint.",
        "IP would not support a prosecution.",
    ],
)
def test_victim_wishes_positive(phrase):
    incident = make_incident(officer_narrative=f"IP states partner slapped her. {phrase}")
    flags = rules_of(incident, scored(offence("common_assault")))
    assert WISHES in flags and flags[WISHES]["offences"] == ["common_assault"]


def test_victim_wishes_names_the_principal_crime_not_the_lesser_one_within_it():
    incident = make_incident(officer_narrative="IP states partner punched her, black eye. IP did not want to "
                                               "make a complaint.")
    flags = rules_of(incident, scored(offence("assault_with_injury"), offence("common_assault")))
    assert flags[WISHES]["offences"] == ["assault_with_injury"]


def test_victim_wishes_names_a_lesser_crime_the_model_is_surer_of_than_the_greater_one():
    incident = make_incident(officer_narrative="IP states partner slapped her, red mark. IP did not want to "
                                               "make a complaint.")
    flags = rules_of(incident, scored(offence("assault_with_injury", p=0.55), offence("common_assault", p=0.95)))
    assert flags[WISHES]["offences"] == ["assault_with_injury", "common_assault"]


@pytest.mark.parametrize(
    ("narrative", "recorded", "offences"),
    [
        # the phrase, but the offence was recorded
        ("IP did not want to make a complaint; crimed regardless.", ["common_assault"], [offence("common_assault")]),
        # the phrase, but the recorded crime covers the predicted one (ABH covers the battery)
        ("IP did not support police action.", ["assault_with_injury"], [offence("common_assault")]),
        # the phrase, but no offence predicted
        ("Verbal argument only. IP did not want to make a complaint.", [], []),
        # an unrecorded offence, but no victim-wishes phrasing
        ("IP states partner slapped her. Log closed.", [], [offence("common_assault")]),
    ],
)
def test_victim_wishes_negatives(narrative, recorded, offences):
    incident = make_incident(officer_narrative=narrative, recorded_crimes=recorded)
    assert WISHES not in rules_of(incident, scored(*offences))


# --- no_crime_closing_with_offence -------------------------------------------------------------

NO_CRIME = "no_crime_closing_with_offence"


@pytest.mark.parametrize("code", ["DOMESTIC - NO CRIME", "NO CRIME", "No Crime - Advice", "NO OFFENCES", "NOT CRIMED"])
def test_no_crime_positive(code):
    span = {"field": "officer_narrative", "start": 0, "end": 14, "text": "Partner pushed"}
    incident = make_incident(closing_code=code, officer_narrative="Partner pushed IP into the wall.")
    flags = rules_of(incident, scored(offence("common_assault", 0.7, 0.4, evidence=[span])))
    assert NO_CRIME in flags and code in flags[NO_CRIME]["reason"]
    assert flags[NO_CRIME]["evidence"] == [span]


@pytest.mark.parametrize(
    ("code", "offences"),
    [
        ("DOMESTIC - NO CRIME", []),  # no offence predicted
        ("DOMESTIC - NO CRIME", [offence("common_assault", 0.3, 0.4)]),  # below threshold
        ("ADVICE GIVEN", [offence("common_assault")]),  # not a 'no crime' code
        ("CRIME RECORDED", [offence("common_assault")]),
    ],
)
def test_no_crime_negatives(code, offences):
    assert NO_CRIME not in rules_of(make_incident(closing_code=code), scored(*offences))


# --- the whole set -----------------------------------------------------------------------------


def test_clean_incident_has_no_flags():
    incident = make_incident(
        call_log="0900 F caller, partner punched her, lip bleeding.",
        officer_narrative="ABH crimed.",
        closing_code="CRIME RECORDED",
        recorded_crimes=["assault_with_injury"],
        reported_at="2024-01-01T09:00:00",
        crime_recorded_at="2024-01-01T15:00:00",
    )
    assert check_rules(incident, scored(offence("assault_with_injury"), offence("common_assault"))) == []


def test_check_scored_record_rebuilds_incident():
    record = {
        "incident_id": "T-9",
        "offences": [offence("common_assault")],
        "reporter": "victim",
        "incident": {
            "call_log": "0900 F caller, pushed by partner.",
            "officer_narrative": "IP does not support police action.",
            "closing_code": "DOMESTIC - NO CRIME",
            "recorded_crimes": [],
            "reported_at": None,
        },
    }
    assert {flag["rule"] for flag in check_scored_record(record)} == {WISHES, NO_CRIME}
