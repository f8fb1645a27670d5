"""Personal data out of logged artifacts: pseudonymised texts, and name-like terms in model vocabularies.

- ``pseudonymise`` / ``pseudonymise_incident``: names, street addresses, postcodes, phone numbers,
  emails, vehicle registrations, dates of birth and online accounts become stable tokens
  (``[NAME_1]``, ``[ADDRESS_1]``, ...), for every text logged to MLflow.
- ``placeholder_text``: the text the TF-IDF n-grams read, lower-cased, with the names and
  identifiers that the rules find as placeholders (``_person_``, ``_address_``, ...).
- ``name_like_terms``: which terms of a fitted model's word vocabularies are names found in
  the training texts (what the placeholders missed).
"""

from secondary_crimes.privacy.placeholders import placeholder_text
from secondary_crimes.privacy.pseudonymise import NOT_NAMES, pseudonymise, pseudonymise_incident
from secondary_crimes.privacy.vocabulary import name_like_terms, vocabularies

__all__ = ["NOT_NAMES", "name_like_terms", "placeholder_text", "pseudonymise", "pseudonymise_incident",
           "vocabularies"]
