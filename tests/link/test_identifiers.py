"""Identifiers of one incident: UK phones, registrations, DOBs, addresses, accounts, and names as police write them."""

from __future__ import annotations

from secondary_crimes.extract.types import Extraction, Person, Span
from secondary_crimes.link.identifiers import accounts, addresses, dobs, identify, phones, vehicle_prefixes, vehicles
from secondary_crimes.records import Incident


def _identify(call_log: str, narrative: str = ""):
    incident = Incident(incident_id="I-1", call_log=call_log, officer_narrative=narrative)
    return identify(incident, Extraction(incident_id="I-1"))


def test_identifier_patterns() -> None:
    assert [p for p, _, _ in phones("mob 07700 900388, landline 01632 960441, +44 7700 900214")] == [
        "07700900388", "01632960441", "07700900214"]
    assert [v for v, _, _ in vehicles("GREY VAUXHALL ASTRA RX16 KHT")] == ["RX16KHT"]
    assert vehicles("SX01 SX03 DOG UNIT REQ") == []  # call signs, no vehicle word before them
    assert [v for v, _, _ in vehicle_prefixes("Caller got partial reg 'RX16'.")] == ["RX16"]
    assert [d for d, _, _ in dobs("DEAN FENWICK (dob 11/09/1979)")] == ["1979-09-11"]
    found = [(key, street) for key, street, _, _ in addresses("RP Bethany STRAND, Flat 6, 7 Tanner's Yard, and "
                                                              "14 GORSE LANE ASKERBY and 48 Orchard Tce")]
    assert found == [("6/7 tanners yard", "tanners yard"), ("14 gorse lane", "gorse lane"),
                     ("48 orchard terrace", "orchard terrace")]
    assert [a for a, _, _ in accounts("an account called 'Rushmere Truth Teller' and @liamsgirl_j")] == [
        "rushmere truth teller", "liamsgirl_j"]


def test_names_written_the_police_way() -> None:
    parties = _identify(
        "CALLER HANNAH WHITLOCK 9 SEXTON WAY OLDHYTHE. STATES HER EX RYAN COXALL HAS BEEN SAT OUTSIDE.",
        "Mrs P Raman called. Man from her group, Clive (thinks surname is MAYHEW). RP T NOWAK rang back.")
    names = {(p.forename, p.surname) for p in parties.people}
    assert {("hannah", "whitlock"), ("ryan", "coxall"), ("p", "raman"), ("clive", "mayhew"), ("t", "nowak")} <= names
    ryan = next(p for p in parties.people if p.surname == "coxall")
    assert ryan.perpetrator  # "HER EX RYAN COXALL"


def test_an_identifier_written_after_a_name_is_theirs() -> None:
    parties = _identify("2015 RP Shannon PIKE, 31 Millrace Rd, Cawley Bridge, mob 07700 900388. Messages from "
                        "Jade MORROW. Car seen: white Fiat 500 reg LC21 ABC.")
    shannon = next(p for p in parties.people if p.surname == "pike")
    assert shannon.phones == ("07700900388",) and shannon.addresses == ("31 millrace road",)
    assert [(p.kind, p.vehicles) for p in parties.parties if p.kind == "vehicle"] == [("vehicle", ("LC21ABC",))]


def test_one_person_written_several_ways_in_one_incident_is_one_party() -> None:
    parties = _identify("Caller MARCIA FENWICK, 22 LARCH RISE. Ex husband DEAN FENWICK.",
                        "Saw Marcia at home. Dean arrested. Mr TOLLEY next door. Later Kevin TOLLEY said no.")
    names = sorted((p.forename, p.surname) for p in parties.people)
    assert names == [("dean", "fenwick"), ("kevin", "tolley"), ("marcia", "fenwick")]


def test_two_people_with_one_surname_stay_two() -> None:
    parties = _identify("Neighbour reports raised voices from no.17 (FENWICK).",
                        "Spoke to Carl FENWICK (52) and Tina FENWICK (50) separately.")
    assert sorted(p.forename for p in parties.people) == ["carl", "tina"]


def test_form_fields_and_services_are_not_people() -> None:
    text = "23:44 Risk: HIGH. Vulnerability: Y. Hate: N. Child present: Y. Referred to Harbour SARC."
    incident = Incident(incident_id="I-1", call_log=text)
    people = [Person(name, "other", Span("call_log", text.index(name), text.index(name) + len(name), name))
              for name in ("Y. Hate", "Harbour SARC")]
    assert identify(incident, Extraction(incident_id="I-1", people=people)).people == []
