"""Shape of the handwritten acceptance cases, and the corpus-overlap check of ``benchmarks/acceptance.py``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from script_helpers import load_script

from secondary_crimes.taxonomy import LABELS

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def acceptance() -> ModuleType:
    return load_script(BENCHMARKS / "acceptance.py", "acceptance_benchmark")


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    return yaml.safe_load((BENCHMARKS / "acceptance_cases.yaml").read_text(encoding="utf-8"))["cases"]


def test_cases_shape(cases: list[dict]) -> None:
    texts = [case["text"] for case in cases]
    assert all(isinstance(text, str) and text.strip() for text in texts)
    assert len(set(texts)) == len(texts), "duplicate case text"
    for case in cases:
        assert isinstance(case["offences"], list)
        assert set(case["offences"]) <= set(LABELS), case
        assert len(set(case["offences"])) == len(case["offences"]), case
    per_label = Counter(label for case in cases for label in case["offences"])
    assert {label: per_label[label] for label in LABELS if per_label[label] < 4} == {}
    assert sum(not case["offences"] for case in cases) >= 20


def test_load_cases(acceptance: ModuleType, cases: list[dict]) -> None:
    assert len(acceptance.load_cases()) == len(cases)


def test_overlap_check(acceptance: ModuleType) -> None:
    corpus = [("a.jsonl:1", "At 21:40 the caller said that the man pushed her down the stairs and ran off.")]
    found = acceptance.find_overlaps(["Yesterday, the man PUSHED her down the stairs again!"], corpus)
    assert {hit["phrase"] for hit in found} == {"the man pushed her down the", "man pushed her down the stairs"}
    assert found[0]["source"] == "a.jsonl:1"
    assert acceptance.find_overlaps(["A bicycle was taken from outside the library today."], corpus) == []
