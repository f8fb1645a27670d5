"""Names and identifiers become placeholders in the text the TF-IDF models read; no name in their vocabularies."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from secondary_crimes.classify.baseline import BaselineModel
from secondary_crimes.privacy import name_like_terms
from secondary_crimes.privacy.placeholders import placeholder_text
from secondary_crimes.records import GoldIncident
from secondary_crimes.text import model_text
from secondary_crimes.training_data import label_matrix


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'/]+", text)


@pytest.mark.parametrize(
    ("text", "gone", "expected"),
    [
        ("RP states Jason PLATT punched her", ["jason", "platt"], "rp states _person_ punched her"),
        ("mrs patel says her ex threatened to kill her", ["patel"], "mrs _person_ says her ex threatened to kill her"),
        ("spoke to j. smith, who admits smashing the window", ["smith", "j"],
         "spoke to _person_, who admits smashing the window"),
        ("IP Kirsty ALLONBY strangled on the landing; kirsty declined DASH", ["kirsty", "allonby"],
         "ip _person_ strangled on the landing; _person_ declined dash"),
        ("Mr P Raman at 11 Sorrel Way, tel 07700 900318, DOB 03/04/1990", ["raman", "sorrel", "07700", "1990"],
         "mr _person_ at _address_, tel _phone_, dob _dob_"),
    ],
)
def test_corpus_style_names_and_identifiers_become_placeholders(text, gone, expected):
    out = placeholder_text(text)
    assert out == expected
    assert not set(gone) & set(_words(out))


def test_upper_case_logs_keep_their_words_and_lose_titled_names():
    """In an upper-case line every word is a capitalised word: only titled names are taken."""
    out = placeholder_text("DOMESTIC INCIDENT\n23:41 [OP 4471] IP STATES S1 HIT HER, MRS PATEL NEXT DOOR HEARD IT")
    assert out == "domestic incident\n23:41 [op 4471] ip states s1 hit her, mrs _person_ next door heard it"


def test_texts_without_personal_data_are_only_lower_cased():
    text = "Caller says her Partner punched her in the face and threw her phone // CRIME RECORDED: ABH"
    assert placeholder_text(text) == text.lower()


def _incident(number: int, call_log: str, narrative: str, offences: list[str]) -> GoldIncident:
    return GoldIncident.model_validate(
        {"incident_id": f"T-{number}", "reported_at": "2024-01-01T10:00:00", "closed_at": "2024-01-02T10:00:00",
         "opening_code": "DOMESTIC INCIDENT", "closing_code": "NO CRIME", "call_log": call_log,
         "officer_narrative": narrative, "recorded_crimes": [], "offences": offences, "missed": offences}
    )


def _incidents() -> list[GoldIncident]:
    assault, damage = ["common_assault"], ["criminal_damage"]
    rows = [
        ("RP states Jason PLATT punched her in the face", "Spoke to IP Donna KEYS. PLATT arrested.", assault),
        ("IP Donna KEYS says ex Jason PLATT punched her again", "Jason PLATT interviewed, admits punching.", assault),
        ("mrs patel reports her neighbour j. smith smashed her window", "Mrs Patel shown damage, j. smith NFA.",
         damage),
        ("Mrs PATEL says j. smith kicked her door in", "Door damaged. Spoke to Mr Smith at 11 Sorrel Way.", damage),
        ("Caller Tracy HOLT says husband Gary pushed her over", "Gary HOLT arrested, Tracy HOLT declined.", assault),
        ("Tracy HOLT called again, Gary HOLT pushed her", "Mrs Holt safe, Gary HOLT left 11 Sorrel Way.", assault),
        ("Caller Kirsty ALLONBY reports noise from next door", "Words of advice to Kirsty ALLONBY, no offences.", []),
        ("Kirsty ALLONBY says music is loud again", "No offences. Mr P Raman (neighbour) spoken to.", []),
        ("mr p raman says his car window was smashed", "Damage to car, Mr Raman has no suspect.", damage),
        ("RP Mr Raman reports car keyed overnight", "Mr P Raman shown CCTV, no suspect.", damage),
        ("Caller worried about her neighbour Jason PLATT", "Checked, PLATT fine. No offences.", []),
        ("Tracy HOLT asking for advice about her ex Gary", "Advice given to Tracy HOLT.", []),
    ]
    return [_incident(i, log, narrative, offences) for i, (log, narrative, offences) in enumerate(rows)]


@pytest.fixture(scope="module")
def fitted():
    incidents = _incidents()
    return incidents, BaselineModel(max_features=2000).fit(incidents, label_matrix(incidents))


def test_names_would_be_in_a_plain_vocabulary():
    """The control: the same texts and vectorizer without placeholders keep the names."""

    class Plain:
        def __init__(self, texts):
            self.words_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit(texts)

    incidents = _incidents()
    (terms,) = name_like_terms(Plain([model_text(i) for i in incidents]), incidents).values()
    assert {"platt", "jason platt", "keys", "patel", "smith", "holt", "allonby", "raman"} <= set(terms)


def test_a_fitted_baseline_has_no_name_in_its_vocabularies_and_still_scores(fitted):
    incidents, model = fitted
    assert name_like_terms(model, incidents) == {}
    words = model.features_.named_steps["tfidf"].transformer_list[0][1].vocabulary_
    assert {"_person_", "punched", "smashed", "ip _person_"} <= set(words)
    assert not {"sorrel", "07700"} & set(words)
    chars = model.features_.named_steps["tfidf"].transformer_list[1][1].vocabulary_
    assert not [gram for gram in chars if "platt" in gram or "allonby" in gram]
    new = [_incident(99, "RP states Wayne PILLING punched her", "PILLING arrested.", ["common_assault"]),
           _incident(98, "Caller says music is loud", "Advice given.", [])]
    proba = model.predict_proba(new)
    assert proba.shape == (2, label_matrix(new).shape[1]) and np.all((proba >= 0) & (proba <= 1))


def test_a_pickled_baseline_scores_the_same(fitted):
    incidents, model = fitted
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict_proba(incidents), model.predict_proba(incidents))


def test_the_attribute_models_vocabularies_hold_no_name():
    """The hybrid's learned relationship/reporter/domestic read the same placeholders (real extraction)."""
    from secondary_crimes.classify.attributes import AttributeModel
    from secondary_crimes.extract.extractor import extract

    incidents = _incidents()
    model = AttributeModel().fit(incidents, extract(incidents))
    found = name_like_terms(model, incidents)
    assert set(model.words_.vocabulary_) >= {"_person_", "punched"} and found == {}
