from __future__ import annotations

from pathlib import Path

import pytest

from secondary_crimes.taxonomy import LABELS, load_taxonomy

FORMAT = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "FORMAT.md"


def test_seventeen_labels_with_groups_and_sentences():
    taxonomy = load_taxonomy()
    assert len(LABELS) == 17 == len(set(LABELS))
    assert all(o.group and o.max_sentence > 0 and o.name for o in taxonomy.offences.values())


@pytest.mark.skipif(not FORMAT.exists(), reason="shared corpus not present")
def test_labels_match_the_corpus_format():
    text = FORMAT.read_text(encoding="utf-8")
    assert all(f"| `{label}` |" in text for label in LABELS)


def test_greater_covers_lesser_but_not_the_reverse():
    taxonomy = load_taxonomy()
    assert "common_assault" in taxonomy.covered(["assault_with_injury"])
    assert "assault_with_injury" not in taxonomy.covered(["common_assault"])
    assert "harassment" in taxonomy.covered(["stalking"])
    assert "stalking" not in taxonomy.covered(["harassment"])
    assert "criminal_damage" not in taxonomy.covered(["burglary"])  # a separate act is recorded separately


def test_a_flagged_greater_offence_accounts_for_the_lesser_and_a_recorded_one_for_both():
    taxonomy = load_taxonomy()
    assert taxonomy.unrecorded(["assault_with_injury", "common_assault"], []) == ["assault_with_injury"]
    assert taxonomy.unrecorded(["stalking", "harassment", "malicious_communications", "theft"], []) == [
        "stalking", "theft"]
    assert taxonomy.unrecorded(["common_assault", "criminal_damage"], []) == ["common_assault", "criminal_damage"]
    assert taxonomy.unrecorded(["harassment", "stalking"], ["harassment"]) == ["stalking"]  # the lesser recorded
    assert taxonomy.unrecorded(["burglary", "theft"], ["burglary"]) == []
    assert taxonomy.unrecorded([], ["theft"]) == []
    # with probabilities, only a covering flag at least as probable absorbs
    sure = {"harassment": 0.6, "malicious_communications": 0.97, "theft": 0.7}
    assert taxonomy.unrecorded(["malicious_communications", "theft", "harassment"], [], sure) == [
        "malicious_communications", "theft", "harassment"]
    assert taxonomy.unrecorded(["harassment", "malicious_communications"], [], {**sure, "harassment": 0.97}) == [
        "harassment"]
    assert taxonomy.unrecorded(["malicious_communications"], ["harassment"], sure) == []  # recorded covers regardless
    assert taxonomy.absorbing("malicious_communications", ["stalking", "harassment"],
                              {"stalking": 0.5, "harassment": 0.9, "malicious_communications": 0.8}) == "harassment"
    assert taxonomy.absorbing("theft", ["burglary"], {"burglary": 0.5, "theft": 0.9}) is None
    assert taxonomy.absorbing("theft", ["burglary"]) == "burglary"


def test_principal_crime_is_the_most_serious():
    taxonomy = load_taxonomy()
    assert taxonomy.principal(["common_assault", "rape", "theft"]) == "rape"
    assert taxonomy.principal([]) is None
