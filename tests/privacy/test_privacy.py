"""Pseudonymisation of logged texts (handwritten cases and the corpus) and name-like vocabulary terms."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from secondary_crimes.privacy import name_like_terms, pseudonymise, pseudonymise_incident, vocabularies
from secondary_crimes.privacy.names import usable
from secondary_crimes.reader import load_gold
from secondary_crimes.records import TEXT_FIELDS, GoldIncident

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def _incident(call_log: str, narrative: str = "", **extra) -> GoldIncident:
    return GoldIncident.model_validate(
        {"incident_id": "T-1", "reported_at": "2024-01-01T10:00:00", "closed_at": "2024-01-02T10:00:00",
         "opening_code": "DOMESTIC INCIDENT", "closing_code": "NO CRIME", "call_log": call_log,
         "officer_narrative": narrative, "recorded_crimes": [], "offences": [], "missed": [], **extra}
    )


def _absent(words: list[str], text: str) -> list[str]:
    """The words still in ``text`` (whole words, any case)."""
    return [w for w in words if re.search(rf"(?<![\w\[]){re.escape(w)}(?![\w\]])", text, re.IGNORECASE)]


@pytest.mark.parametrize(
    ("text", "personal", "kept"),
    [
        ("spoke to j. smith and mr p raman at the door", ["smith", "raman", "j.", " p "], ["spoke to", "at the door"]),
        ("her husband Piotr punched her; husband piotr left", ["Piotr"], ["punched her", "her husband"]),
        ("female caller kirsty allonby says her partner jonjo has pushed her", ["kirsty", "allonby", "jonjo"],
         ["female caller", "says her partner", "has pushed her"]),
        ("address 11 sorrel way fellbridge, then seen on Gorse Lane and at Flat 2, 14 Tanner's Yard",
         ["sorrel", "Gorse", "Tanner"], ["address", "then seen on"]),
        ("the light outside number 40 on orchard way is out", ["orchard", "40"], ["the light outside", "is out"]),
        ("postcode ab1 2cd, home FE12 9XY", ["ab1 2cd", "FE12 9XY"], ["postcode", "home"]),
        ("rang back from 07700 900318 and +44 7700 900123", ["07700 900318", "7700 900123"], ["rang back from"]),
        ("email jo.bloggs@example.co.uk", ["bloggs", "example.co.uk"], ["email"]),
        ("silver Ford Focus reg AB12 CDE, later partial reg 'RX16'; van ab12cde", ["AB12 CDE", "RX16", "ab12cde"],
         ["silver Ford Focus"]),
        ("DOB 03/04/1990, born 3rd March 1990", ["03/04/1990", "3rd March 1990"], ["DOB"]),
        ("Officers attended 10 minutes down the road. He was 3 times over the limit.", [],
         ["10 minutes down the road", "3 times over the limit"]),
    ],
)
def test_handwritten_personal_data_is_replaced_and_ordinary_words_kept(text, personal, kept):
    out = pseudonymise(text)
    for value in personal:
        assert value.lower() not in out.lower(), (value, out)
    for value in kept:
        assert value in out, (value, out)


def test_a_name_written_once_properly_is_hidden_in_every_field_in_any_case():
    incident = _incident(
        "caller says her ex jonjo is outside // address 11 sorrel way",
        "Spoke to the IP Kirsty ALLONBY at 11 Sorrel Way. Jonjo TODHUNTER had left. kirsty declined DASH.",
        evidence={"common_assault": "jonjo todhunter pushed kirsty"}, rationale="Todhunter pushed Allonby.",
    )
    row = pseudonymise_incident(incident, extraction=False)
    blob = json.dumps(row)
    assert not _absent(["kirsty", "allonby", "jonjo", "todhunter", "sorrel"], blob), blob
    assert row["call_log"].startswith("caller says her ex [NAME_")
    # One token per person across fields.
    assert re.search(r"\[NAME_(\d)\]", row["call_log"]).group(0) in row["officer_narrative"]
    assert "DASH" in row["officer_narrative"]


def test_people_only_the_extraction_finds_are_hidden():
    incident = _incident("Caller reports a man she knew from college, Ben Hartley, followed her home.")
    assert "Hartley" not in json.dumps(pseudonymise_incident(incident))


# ----------------------------------------------------------------------------- the corpus
def _corpus() -> list[GoldIncident]:
    if not CORPUS.is_dir() or not list(CORPUS.glob("*.jsonl")):
        pytest.skip("../shared/corpus is absent")
    return [incident for path in sorted(CORPUS.glob("*.jsonl")) for incident in load_gold(path)[0]]


def _written_names_and_streets(incident: GoldIncident) -> list[str]:
    """Names and streets by the linking code's own patterns (an independent reading of the text)."""
    from secondary_crimes.link.identifiers import FORE_SURNAME, TITLE_NAME, addresses

    found: list[str] = []
    for field in TEXT_FIELDS:
        text = incident.text(field)
        for m in [*FORE_SURNAME.finditer(text), *TITLE_NAME.finditer(text)]:
            words = [w for w in m.groups() if w]
            if all(usable(w) for w in words):  # not "Harbour DA", "Pub CCTV"
                found += [w for w in words if len(w) >= 3]
        found += [street for _, street, _, _ in addresses(text)]
    return found


def test_no_corpus_incident_keeps_an_address_or_a_written_name():
    leaks = {}
    for incident in _corpus():
        row = pseudonymise_incident(incident, extraction=False)
        kept = _absent(_written_names_and_streets(incident), " ".join(row[f] or "" for f in TEXT_FIELDS))
        if kept:
            leaks[incident.incident_id] = kept
    assert not leaks, leaks


@pytest.mark.slow
def test_no_corpus_incident_keeps_a_person_the_extraction_finds():
    from secondary_crimes.extract.extractor import extract
    from secondary_crimes.link.identifiers import identify

    incidents = _corpus()
    leaks = {}
    for incident, extraction in zip(incidents, extract(incidents), strict=True):
        words = [w for p in identify(incident, extraction).people for w in (p.forename + " " + p.surname).split()
                 if len(w) >= 3 and usable(w)]  # not shorthand read as a name ("CSC", "DISPUTE")
        row = pseudonymise_incident(incident)
        kept = _absent(words, " ".join(row[f] or "" for f in TEXT_FIELDS))
        if kept:
            leaks[incident.incident_id] = kept
    assert not leaks, leaks


# ----------------------------------------------------------------------------- vocabularies
class _Model:
    """A stand-in for a fitted model: a pipeline of word and character TF-IDF in an attribute."""

    def __init__(self, texts: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        self.features_ = FeatureUnion([("words", TfidfVectorizer(ngram_range=(1, 2))),
                                       ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4)))])
        self.features_.fit(texts)


def test_name_like_vocabulary_terms_are_reported():
    incidents = [
        _incident("IP Donna KEYS states ex Jason PLATT punched her", "PLATT arrested."),
        _incident("caller says her husband piotr kicked the door", "Piotr WOZNIAK spoken to."),
    ]
    model = _Model([i.call_log + " " + i.officer_narrative for i in incidents])
    assert list(vocabularies(model)) == ["features_.transformer_list.0.1"]  # the word vectorizer only
    (terms,) = name_like_terms(model, incidents).values()
    assert {"platt", "jason platt", "keys", "piotr", "husband piotr", "wozniak"} <= set(terms)
    assert not {"punched", "husband", "door", "arrested"} & set(terms)
