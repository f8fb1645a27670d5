"""Link a batch of incidents: identify -> resolve -> series -> course-of-conduct flags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secondary_crimes.extract.types import Extraction
from secondary_crimes.link.conduct import ConductFlag, score_series
from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.identifiers import Parties, identify_all
from secondary_crimes.link.resolve import NameCounts, Resolution, resolve
from secondary_crimes.link.series import Series, link_series, linked_ids
from secondary_crimes.records import Incident

if TYPE_CHECKING:
    from secondary_crimes.link.store import PersonStore


@dataclass
class LinkResult:
    """A batch's series, each incident's ``linked`` ids and its course-of-conduct flags."""

    series: list[Series]
    linked: dict[str, list[str]]
    flags: dict[str, list[ConductFlag]]
    parties: list[Parties] = field(default_factory=list)
    resolution: Resolution = field(default_factory=Resolution)
    stored: dict[str, int] | None = None  # the person store's counts, when one was used

    def record(self, incident_id: str) -> dict[str, Any]:
        """What a scored record gains: ``linked`` and ``course_of_conduct`` (its flags)."""
        return {"linked": list(self.linked.get(incident_id, [])),
                "course_of_conduct": [flag.to_dict() for flag in self.flags.get(incident_id, [])]}


def model_offences(scored: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The offences a model found in each scored record (the `score` command's output)."""
    return {record["incident_id"]: [entry["offence"] for entry in record.get("offences") or []] for record in scored}


def link_batch(incidents: Sequence[Incident], extractions: Sequence[Extraction] | None = None, *,
               scored: Iterable[Mapping[str, Any]] = (), config: LinkConfig | None = None,
               max_evidence: int = 3, store: PersonStore | None = None) -> LinkResult:
    """Series, ``linked`` and course-of-conduct flags for a batch (extracted here unless given).

    With a ``store`` (link/store.py), earlier runs' incidents that share a blocking key with the batch
    are linked with it too (``linked`` and the flags' evidence may name them), and the batch is
    stored for later runs. The result covers the batch's incidents and the series they are in.
    """
    config = config or LinkConfig.from_settings()
    ids = [incident.incident_id for incident in incidents]
    if len(set(ids)) != len(ids):
        raise ValueError("link_batch: incident ids must be unique in a batch")
    if extractions is None:
        from secondary_crimes.extract.extractor import extract

        extractions = extract(incidents)
    parties = identify_all(incidents, extractions)
    if store is None:
        resolution = resolve(parties, config)
        series = link_series(parties, resolution, config)
        flags = score_series(series, {i.incident_id: i for i in incidents},
                             {e.incident_id: e for e in extractions}, model_offences(scored), max_evidence=max_evidence)
        return LinkResult(series, linked_ids(series), flags, parties, resolution)
    from secondary_crimes.link.store import with_stored_series

    offences = model_offences(scored)
    earlier = store.earlier(parties, config)
    everyone = earlier.parties + parties
    # Name frequencies for the term-frequency adjustment: this batch's and the whole store's (not only the
    # earlier incidents read back, which were read because they share names with the batch).
    resolution = resolve(everyone, config, NameCounts.of(parties) + earlier.names)
    series = with_stored_series(link_series(everyone, resolution, config), everyone, earlier.series_of)
    flags = score_series(series, {**earlier.incidents, **{i.incident_id: i for i in incidents}},
                         {**earlier.extractions, **{e.incident_id: e for e in extractions}},
                         {**earlier.model_offences, **offences}, max_evidence=max_evidence)
    stored = store.save(parties, incidents, extractions, offences, series, resolution, earlier)
    mine = set(ids)
    series = [one for one in series if mine.intersection(one.incident_ids)]
    linked = {i: found for i, found in linked_ids(series).items() if i in mine}
    return LinkResult(series, linked, {i: found for i, found in flags.items() if i in mine}, parties, resolution,
                      stored)


def annotate(records: Iterable[dict[str, Any]], result: LinkResult) -> list[dict[str, Any]]:
    """Scored records with ``linked`` and ``course_of_conduct`` added (new dicts)."""
    return [{**record, **result.record(record["incident_id"])} for record in records]
