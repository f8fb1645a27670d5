"""Evidence digests: a labelled incident cut down to the sentences that state its offences.

A force that writes one-line reports, or buries the disclosure in a long narrative, shows the
model the same facts in a fraction of the words. A digest teaches that: for a labelled
incident, the sentences holding the auditor's ``evidence`` quotes, alone, as a short account
carrying the same offences (a sentence that states an offence is enough, however little
surrounds it). An incident with nothing to record gives its opening sentences as a short
account with nothing to record, so a short text is not taken for an offence because it is
short. Digests keep their incident's group (its corpus file), so a model that holds a file
out holds out that file's digests too; their relationship, reporter and domestic stay unknown
(the sentences that say who called are usually cut).
"""

from __future__ import annotations

import numpy as np

from secondary_crimes.records import GoldIncident
from secondary_crimes.sentence_labels import locate_quote
from secondary_crimes.text import sentences

DIGEST_SUFFIX = "#digest"
NEGATIVE_SENTENCES = 2


def origin_id(incident_id: str) -> str:
    """The incident a row came from: itself, or the incident a digest was cut from."""
    return incident_id.removesuffix(DIGEST_SUFFIX)


def is_digest(incident_id: str) -> bool:
    """Whether a row is an evidence digest (``evidence_digest``), not an incident as written."""
    return incident_id.endswith(DIGEST_SUFFIX)


def evidence_digest(incident: GoldIncident) -> GoldIncident | None:
    """The incident's evidence sentences as a one-paragraph account with its labels, or None
    when it is not a complete record or a quote cannot be found (the labels would not hold)."""
    if incident.offences is None or incident.known_offences is not None:
        return None
    units = list(sentences(incident))
    if not units:
        return None
    if incident.offences:
        evidence = incident.evidence or {}
        chosen: set[int] = set()
        for label in incident.offences:
            quote = evidence.get(label)
            spans = locate_quote(incident, quote) if quote else []
            if not spans:
                return None
            for span in spans:
                chosen.update(k for k, unit in enumerate(units) if unit.overlaps(span))
        if not chosen:
            return None
        kept = [units[k] for k in sorted(chosen)]
    else:
        kept = units[:NEGATIVE_SENTENCES]
    text = " ".join(unit.text for unit in kept)
    recorded = set(incident.recorded_crimes)
    return incident.model_copy(update={
        "incident_id": incident.incident_id + DIGEST_SUFFIX,
        "opening_code": "",
        "closing_code": "",
        "call_log": text,
        "officer_narrative": "",
        "missed": [label for label in incident.offences if label not in recorded],
        "evidence": ({label: quote for label, quote in (incident.evidence or {}).items() if label in incident.offences}
                     or None),
        "relationship": None,
        "reporter": None,
        "domestic": None,
    })


def digest_rows(incidents: list[GoldIncident], groups: list[str], weights: np.ndarray, *, weight: float,
                group_prefix: str) -> tuple[list[GoldIncident], list[str], np.ndarray]:
    """Digests of the incidents whose group starts with ``group_prefix`` (the corpus files), each
    in its incident's group at ``weight`` times its incident's weight."""
    rows, row_groups, row_weights = [], [], []
    for incident, group, w in zip(incidents, groups, weights, strict=True):
        if not group.startswith(group_prefix):
            continue
        digest = evidence_digest(incident)
        if digest is not None:
            rows.append(digest)
            row_groups.append(group)
            row_weights.append(w * weight)
    return rows, row_groups, np.asarray(row_weights, dtype=float)
