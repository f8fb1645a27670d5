"""Evaluation figures on hand-made predictions whose answers are known."""

from __future__ import annotations

import pytest

from secondary_crimes.evaluate import evaluate
from secondary_crimes.records import GoldIncident


def gold(incident_id, offences, recorded=(), relationship="stranger"):
    missed = [o for o in offences if o not in recorded]
    return GoldIncident(incident_id=incident_id, call_log="x", recorded_crimes=list(recorded),
                        offences=list(offences), missed=missed, relationship=relationship)


def scored(incident_id, offences, missed, priority, relationship=None):
    return {"incident_id": incident_id, "offences": [{"offence": o} for o in offences],
            "missed": [{"offence": o} for o in missed], "review_priority": priority,
            "relationship": relationship}


def test_figures_for_a_known_case():
    golds = [gold("1", ["common_assault"]), gold("2", ["theft"], ["theft"]), gold("3", []),
             gold("4", ["stalking"], relationship="ex_partner")]
    scores = [scored("1", ["common_assault"], ["common_assault"], 0.9, "stranger"),
              scored("2", ["theft"], [], 0.1, "stranger"),
              scored("3", ["public_order"], ["public_order"], 0.6, None),
              scored("4", [], [], 0.7, "intimate_partner")]
    report = evaluate(golds, scores)
    missed = report["missed"]
    assert missed["per_offence"]["common_assault"]["f1"] == 1.0
    assert missed["per_offence"]["stalking"]["recall"] == 0.0
    assert missed["micro"]["precision"] == pytest.approx(0.5)  # 1 of 2 flags right
    assert missed["micro"]["recall"] == pytest.approx(0.5)  # 1 of 2 missed crimes found
    level = report["incident_level"]
    assert (level["needing_review"], level["flagged"]) == (2, 2)
    assert level["precision"] == 0.5 and level["recall"] == 0.5
    # Priority order 1 (0.9), 4 (0.7), 3, 2: the top 30% (2 incidents) hold both missed crimes.
    assert level["missed_found_in_top"]["30%"] == 1.0
    assert level["missed_found_in_top"]["10%"] == 0.5
    assert report["relationship"]["accuracy"] == pytest.approx(0.5)
    assert report["offences"]["per_offence"]["theft"]["f1"] == 1.0


def test_nothing_scored_is_an_error():
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate([gold("1", [])], [])


def test_review_priority_is_checked_as_a_probability():
    # needs review: 1 and 4; priorities 0.9, 0.1, 0.6, 0.7
    golds = [gold("1", ["common_assault"]), gold("2", ["theft"], ["theft"]), gold("3", []),
             gold("4", ["stalking"])]
    scores = [scored("1", [], [], 0.9), scored("2", [], [], 0.1), scored("3", [], [], 0.6), scored("4", [], [], 0.7)]
    calibration = evaluate(golds, scores)["incident_level"]["priority_calibration"]
    expected_brier = ((0.9 - 1) ** 2 + 0.1 ** 2 + 0.6 ** 2 + (0.7 - 1) ** 2) / 4
    assert calibration["brier"] == pytest.approx(expected_brier)
    bands = {b["bin"]: (b["n"], b["observed_rate"]) for b in calibration["bins"]}
    assert bands == {"0.0-0.2": (1, 0.0), "0.6-0.8": (2, 0.5), "0.8-1.0": (1, 1.0)}
    # ECE: 1/4*|0.1-0| + 2/4*|0.65-0.5| + 1/4*|0.9-1|
    assert calibration["ece"] == pytest.approx(0.25 * 0.1 + 0.5 * 0.15 + 0.25 * 0.1)


def test_context_check_counts_offences_mentioned_only_negated_or_hypothetically():
    from secondary_crimes.evaluate import context_check

    golds = [GoldIncident(incident_id="N1", call_log="He pushed her. No injuries.", offences=["common_assault"],
                          missed=["common_assault"]),
             GoldIncident(incident_id="N2", call_log="She is worried he might smash the car.", offences=[],
                          missed=[])]
    quiet = [scored("N1", ["common_assault"], ["common_assault"], 0.8), scored("N2", [], [], 0.1)]
    noisy = [scored("N1", ["common_assault", "assault_with_injury"], [], 0.8),
             scored("N2", ["criminal_damage"], [], 0.6)]
    assert context_check(golds, quiet) == {"pairs": 2, "flagged": 0, "flagged_pairs": []}
    assert context_check(golds, noisy)["flagged_pairs"] == ["N1:assault_with_injury", "N2:criminal_damage"]


def test_linked_course_of_conduct_flags_count_as_flags():
    """A record's course-of-conduct flags (the linking pass) are flags the output carries: a missed one
    counts as a missed-crime flag, and any one as an offence found."""
    golds = [gold("1", ["harassment"]), gold("2", ["stalking"], ["stalking"]), gold("3", [])]
    scores = [scored("1", [], [], 0.2), scored("2", [], [], 0.1), scored("3", [], [], 0.1)]
    assert evaluate(golds, scores)["missed"]["micro"]["recall"] == 0.0
    scores[0]["course_of_conduct"] = [{"offence": "harassment", "missed": True}]
    scores[1]["course_of_conduct"] = [{"offence": "stalking", "missed": False}]
    scores[2]["course_of_conduct"] = []
    report = evaluate(golds, scores)
    assert report["missed"]["micro"]["recall"] == 1.0 and report["missed"]["micro"]["precision"] == 1.0
    assert report["offences"]["per_offence"]["stalking"]["recall"] == 1.0  # found, recorded: not a missed flag
    assert report["incident_level"]["flagged"] == 1
