"""One real extraction pipeline (the packaged spaCy model plus our components) per test session."""

from __future__ import annotations

import pytest

from secondary_crimes.extract.extractor import Extractor
from secondary_crimes.records import Incident


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    return Extractor(use_cache=False)


@pytest.fixture(scope="session")
def nlp(extractor):
    return extractor.nlp


@pytest.fixture(scope="session")
def extract_one(extractor):
    def run(call_log: str, narrative: str = "", opening_code: str = "", incident_id: str = "T-1"):
        incident = Incident(
            incident_id=incident_id, call_log=call_log, officer_narrative=narrative, opening_code=opening_code
        )
        return extractor.extract([incident])[0]

    return run
