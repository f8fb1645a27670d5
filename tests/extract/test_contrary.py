"""Evidence to the contrary as one incident-level attribute (the kinds marked "contrary" in the patterns)."""

from __future__ import annotations

import pytest

from secondary_crimes.extract.components import read_kinds


def test_the_contrary_kinds_are_marked_in_the_pattern_data():
    kinds = read_kinds("indicator_kinds.jsonl")
    assert {k for k, spec in kinds.items() if spec.get("contrary")} == {
        "accidental", "property_accounted_for", "contrary_evidence"}


@pytest.mark.parametrize("call_log, narrative, expected", [
    ("Caller reports her purse stolen on the bus.", "Called back: she found it in her coat pocket.", True),
    ("RP says his son was assaulted at school.", "School CCTV confirms he slipped on the stairs by accident.", True),
    ("Staff report a male left without paying.", "Till records show he paid at the self-checkout.", True),
    ("Caller reports her purse stolen on the bus.", "No trace of the purse. Crime recorded.", False),
    ("IP states partner punched her in the face.", "Visible swelling to left eye. Partner arrested.", False),
])
def test_contrary_evidence_attribute(extract_one, call_log, narrative, expected):
    assert extract_one(call_log, narrative).attributes["contrary_evidence"] is expected
