"""Which terms of a fitted model's vocabularies look like people's names (a report: the check on placeholders).

A TF-IDF vectorizer keeps every n-gram seen in enough training texts, names included ("platt",
"jason platt"). The baseline's n-grams (``classify.baseline.ngram_tfidf``: the baseline, the
hybrid's text features, the sentence model) read ``placeholders.placeholder_text``, which
replaces the names its rules find with ``_person_`` before features are built; the hybrid's
attribute models (``classify.attributes``) do not yet. ``name_like_terms`` lists the word terms
that still contain a name found in the training incidents (``names.incident_names``: rules and
the tagger, optionally the extraction's people): the names the placeholder rules miss (lower
case with no cue, upper-case logs without a title), the vectorizers without placeholders, and
some ordinary words the tagger took for names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from secondary_crimes.privacy.names import incident_names, usable
from secondary_crimes.records import Incident

_MAX_DEPTH = 12


def _children(obj: Any, root: bool = False) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        yield from ((str(k), v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        yield from ((str(i), v) for i, v in enumerate(obj))
    elif hasattr(obj, "__dict__") and (root or type(obj).__module__.split(".")[0] in ("sklearn", "secondary_crimes")):
        yield from vars(obj).items()


def vocabularies(model: Any) -> dict[str, dict[str, int]]:
    """Every fitted word vocabulary (``vocabulary_`` of a word-analyser vectorizer) inside ``model``, by path.

    Walks the model's attributes, lists and dicts (scikit-learn and project objects only);
    character n-gram vectorizers are left out: their terms are fragments, not names.
    """
    found: dict[str, dict[str, int]] = {}
    seen: set[int] = set()

    def walk(obj: Any, path: str, depth: int) -> None:
        if id(obj) in seen or depth > _MAX_DEPTH:
            return
        seen.add(id(obj))
        vocabulary = getattr(obj, "vocabulary_", None)
        if isinstance(vocabulary, dict) and getattr(obj, "analyzer", "word") == "word":
            found[path or type(obj).__name__] = vocabulary
        for key, child in _children(obj, root=depth == 0):
            walk(child, f"{path}.{key}" if path else key, depth + 1)

    walk(model, "", 0)
    return found


def name_like_terms(
    model: Any, incidents: Sequence[Incident], *, extraction: bool = False, names: Iterable[str] = ()
) -> dict[str, list[str]]:
    """The terms of each word vocabulary in ``model`` that hold a name of ``incidents`` (or ``names``).

    ``model`` is a fitted model or a ``ModelBundle`` (its ``model`` is searched); ``incidents``
    are the training texts; ``extraction`` adds the extraction's people (slower).
    """
    model = getattr(model, "model", model)
    words = {  # a lone upper-case word ("SHOUTING" in an upper-case log) is not evidence of a name
        n.word.lower() for incident in incidents for n in incident_names(incident, extraction=extraction)
        if n.any_case and usable(n.word)
    }
    words |= {w.lower() for w in names}
    out: dict[str, list[str]] = {}
    for path, vocabulary in vocabularies(model).items():
        terms = sorted(term for term in vocabulary if words & set(term.split()))
        if terms:
            out[path] = terms
    return out
