"""Export what the auditors decided, in the corpus format (FORMAT.md), as extra training data.

Only decisions become labels, never the model's guesses. For each incident with a final
decision (the latest on a flag is "record" or "no crime", and no supervisor disagreed with it):

- ``offences``: the offences the auditors recorded: a flag confirmed, or recorded as another
  offence (added);
- ``known_offences``: those plus the flagged offences they rejected. Every other offence is
  unknown: nobody was asked about it. A rejection whose reason says the offence belongs
  elsewhere (``already_recorded_elsewhere``, ``transferred``), a flag recorded as another
  offence, contradictory decisions on one offence and a disputed decision leave it unknown too;
- ``missed``: the recorded offences not among ``recorded_crimes``;
- ``evidence``: for a confirmed flag, the verbatim text of the evidence span the auditor saw
  (the model's); none for an added offence (the queue records no span for it);
- ``domestic``/``relationship``/``reporter``: only as an auditor corrected them (the latest
  correction), never the model's call;
- an offence an auditor added (a missed offence): present, its evidence the span they selected;
- a check item (queue/checks.py: an incident the model did not flag, sampled at load): an offence
  recorded on it is present (no evidence: the queue records no span for it); an undisputed "no
  crime" on it (not for a reason that puts the offence elsewhere) says nothing was missed, so every
  offence the recorded crimes do not cover is absent, unless decided present or flagged on the
  incident (then its flag's decisions say). With nothing recorded or flagged that is a full
  negative: ``known_offences`` is null, every offence decided, as in the corpus;
- a series flag (a course-of-conduct offence decided once for a whole series, queue/series.py): its
  latest decision, when final (record / no crime) and undisputed, labels each incident of the series
  as it stood when decided (``SeriesDecision.incident_ids``) that carries the offence: whose scored
  ``course_of_conduct`` held it for the series (``SeriesFlag.carried_by``; always the incident the flag
  was on, the series' latest then). Confirmed (recorded as the flagged offence): present in each,
  its evidence the incident's own span (the corpus convention for series: the quote comes from this
  incident). Rejected ("no crime", not for a reason that puts it elsewhere): absent in each. Recorded
  as another offence: that offence present in the flag's incident only, the flagged one unknown.
  A flag reopened by a later load keeps exporting its earlier decision for the incidents it covered.
  No series id, person or identifier is written;
- ``wrong_evidence``: the model's spans auditors marked as not evidence of an offence, and
  ``roles``: people's corrected roles (fields the corpus does not have; training ignores them).
  Recorded crimes stay input (``recorded_crimes``), not labels.

Incidents nobody flagged, checked, corrected or decided in a series are never exported: they hold no decision.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from secondary_crimes.queue import audit_log
from secondary_crimes.queue.corrections import effective
from secondary_crimes.queue.models import (
    CHECK_OFFENCE,
    DECIDED,
    NO_CRIME_REASONS,
    Correction,
    Decision,
    Flag,
    Incident,
    SeriesDecision,
    SeriesFlag,
    User,
)
from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS, load_taxonomy

# "No crime" because the offence is recorded or to be recorded somewhere else (a duplicate
# incident's offence belongs to the incident it repeats): it happened, so
# it is not absent from this incident; only "not missed here".
ELSEWHERE_REASONS = frozenset({"already_recorded_elsewhere", "transferred", "duplicate"})


@dataclass
class ExportSummary:
    """What an export wrote: incidents, offences decided present / absent, decisions left out."""

    incidents: int = 0
    present: int = 0
    absent: int = 0
    disputed: int = 0  # final decisions a supervisor disagreed with: not exported
    corrected: int = 0  # incidents with an auditor's correction of the model
    series: int = 0  # labels (incident, offence) from decisions on series flags

    def __str__(self) -> str:
        from_series = f"; {self.series} label(s) from series decisions" if self.series else ""
        return (f"{self.incidents} incident(s) with decided offences ({self.present} present, "
                f"{self.absent} absent; {self.disputed} disputed decision(s) left out; "
                f"{self.corrected} corrected by auditors{from_series})")


@dataclass
class SeriesLabel:
    """What one decision on a series flag says about one incident of the series."""

    offence: str
    present: bool
    spans: list[dict[str, Any]]  # the incident's own evidence spans (a confirmed flag's offence)
    rationale: str


def _quote(incident: Incident, spans: list[dict[str, Any]]) -> str | None:
    """The verbatim text of the first evidence span that still lies in the incident's text."""
    for span in spans:
        text = (incident.call_log if span.get("field") == "call_log" else incident.officer_narrative) or ""
        quoted = (span.get("text") or "").strip()
        sliced = text[int(span.get("start", 0)) : int(span.get("end", 0))].strip()
        if quoted and quoted in text:
            return quoted
        if sliced and (not quoted or sliced == quoted):
            return sliced
    return None


def _final(flag: Flag) -> Decision | None:
    """The flag's latest decision when it is final and undisputed."""
    decision = flag.latest_decision
    if flag.status not in DECIDED or decision is None or decision.action not in ("record", "no_crime"):
        return None
    return decision


def _known(known: list[str]) -> list[str] | None:
    """``known_offences``: null when every offence is decided (complete gold, as the corpus)."""
    return None if len(known) == len(LABELS) else known


def _disputed(decision: Decision) -> bool:
    return any(not review.agree for review in decision.reviews)


def series_labels(session: Session, summary: ExportSummary | None = None) -> dict[str, list[SeriesLabel]]:
    """Per incident id, the labels decisions on series flags give it (the rule in the module's docstring)."""
    summary = summary if summary is not None else ExportSummary()
    out: dict[str, list[SeriesLabel]] = {}
    flags = session.scalars(
        select(SeriesFlag).where(SeriesFlag.decisions.any())
        .options(selectinload(SeriesFlag.decisions).selectinload(SeriesDecision.reviews))
        .order_by(SeriesFlag.id)
    )
    for flag in flags:
        decision = flag.latest_decision
        if decision is None or decision.action not in ("record", "no_crime") or not decision.incident_ids:
            continue
        if _disputed(decision):
            summary.disputed += 1
            continue
        note = f": {decision.note}" if decision.note else "."
        occasions = len(decision.incident_ids)
        carriers = set(flag.carried_by or []) | {decision.incident_ids[-1]}
        scope = [incident_id for incident_id in decision.incident_ids if incident_id in carriers]
        spans = {entry.get("incident_id"): list(entry.get("spans") or []) for entry in flag.evidence}
        if decision.action == "record" and decision.offence and decision.offence != flag.offence:
            out.setdefault(decision.incident_ids[-1], []).append(SeriesLabel(
                decision.offence, True, [],
                f"{decision.offence} should have been recorded (a course of conduct over {occasions} incidents, "
                f"flagged as {flag.offence}){note}"))
        elif decision.action == "record":
            for incident_id in scope:
                out.setdefault(incident_id, []).append(SeriesLabel(
                    flag.offence, True, spans.get(incident_id, []),
                    f"{flag.offence} should have been recorded (a course of conduct over {occasions} "
                    f"incidents){note}"))
        elif decision.reason_code not in ELSEWHERE_REASONS:
            reason = NO_CRIME_REASONS.get(decision.reason_code or "", decision.reason_code or "no reason given")
            for incident_id in scope:
                out.setdefault(incident_id, []).append(SeriesLabel(
                    flag.offence, False, [],
                    f"{flag.offence} not a course of conduct to record over {occasions} incidents ({reason}){note}"))
    return out


def gold_record(incident: Incident, summary: ExportSummary | None = None,
                series: list[SeriesLabel] | None = None) -> dict[str, Any] | None:
    """The corpus-format record of what the auditors decided on ``incident`` (None: nothing), with the
    labels decisions on its series' flags give it (``series_labels``)."""
    summary = summary if summary is not None else ExportSummary()
    present: dict[str, str | None] = {}  # offence -> evidence quote
    absent: set[str] = set()
    rationale: list[str] = []
    nothing_missed = False  # a check item decided "no crime"
    for flag in incident.flags:
        decision = _final(flag)
        if decision is None:
            continue
        if _disputed(decision):
            summary.disputed += 1
            continue
        note = f": {decision.note}" if decision.note else "."
        if flag.offence == CHECK_OFFENCE:
            if decision.action == "record":
                present[decision.offence] = present.get(decision.offence)
                rationale.append(f"{decision.offence} should have been recorded (found on a check){note}")
            else:
                reason = NO_CRIME_REASONS.get(decision.reason_code or "", decision.reason_code or "no reason given")
                nothing_missed = nothing_missed or decision.reason_code not in ELSEWHERE_REASONS
                rationale.append(f"Checked: nothing missed ({reason}){note}")
            continue
        if decision.action == "record":
            offence = decision.offence or flag.offence
            quote = _quote(incident, flag.evidence) if offence == flag.offence else None
            present[offence] = present.get(offence) or quote
            rationale.append(f"{offence} should have been recorded{note}")
        else:
            reason = NO_CRIME_REASONS.get(decision.reason_code or "", decision.reason_code or "no reason given")
            if decision.reason_code not in ELSEWHERE_REASONS:
                absent.add(flag.offence)
            rationale.append(f"{flag.offence} not a crime to record here ({reason}){note}")
    for label in series or []:
        if label.present:
            present[label.offence] = present.get(label.offence) or _quote(incident, label.spans)
        else:
            absent.add(label.offence)
        rationale.append(label.rationale)
    corrected = effective(incident)
    for offence, added in corrected.added.items():
        present[offence] = present.get(offence) or added.text
        rationale.append(f"{offence} missed by the model{': ' + added.note if added.note else '.'}")
    contradicted = absent & set(present)  # decided both ways on different flags: unknown
    absent -= contradicted
    present = {k: v for k, v in present.items() if k not in contradicted}
    if nothing_missed:  # every offence not recorded (nor covered by one recorded) is absent, but
        # an offence the model flagged on the incident is as its own flag's decisions say.
        flagged = {flag.offence for flag in incident.flags if flag.offence != CHECK_OFFENCE}
        absent |= set(LABELS) - load_taxonomy().covered(incident.recorded_crimes) - set(present) - flagged
    facts = {fact: corrected.facts[fact] for fact in sorted(corrected.corrected)}
    roles = [{"person": i, "text": p.get("text") or "", "role": corrected.roles[i]}
             for i, p in enumerate(incident.people or []) if corrected.roles[i] != p.get("role")]
    wrong = [{"offence": c.offence, "field": c.field, "start": c.start, "end": c.end, "text": c.text}
             for c in corrected.wrong]
    if not present and not absent and not facts and not roles and not wrong:
        return None
    offences = [label for label in LABELS if label in present]
    recorded = list(incident.recorded_crimes)
    record: dict[str, Any] = {
        "incident_id": incident.incident_id,
        "reported_at": incident.reported_at.isoformat() if incident.reported_at else None,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "opening_code": incident.opening_code,
        "closing_code": incident.closing_code,
        "call_log": incident.call_log,
        "officer_narrative": incident.officer_narrative,
        "recorded_crimes": recorded,
        "offences": offences,
        "missed": [label for label in offences if label not in recorded],
        "known_offences": _known([label for label in LABELS if label in present or label in absent]),
        "evidence": {label: present[label] for label in offences if present[label]},
        "rationale": " ".join(rationale),
        **facts,
        "wrong_evidence": wrong,
        "roles": roles,
    }
    GoldIncident.model_validate(record)  # raises, naming the field, if we would write a bad record
    summary.incidents += 1
    summary.corrected += bool(incident.corrections)
    summary.present += len(offences)
    summary.absent += len(absent)
    summary.series += sum(1 for label in series or [] if label.offence in present or label.offence in absent)
    return record


def decided_records(session: Session, summary: ExportSummary | None = None) -> Iterator[dict[str, Any]]:
    labels = series_labels(session, summary)
    query = (
        select(Incident)
        .where(Incident.id.in_(select(Flag.incident_pk).where(Flag.status.in_(DECIDED)))
               | Incident.id.in_(select(Correction.incident_pk))
               | Incident.incident_id.in_(sorted(labels)))
        .options(selectinload(Incident.flags).selectinload(Flag.decisions).selectinload(Decision.reviews),
                 selectinload(Incident.corrections))
        .order_by(Incident.incident_id)
        .execution_options(yield_per=500)
    )
    for incident in session.scalars(query):
        record = gold_record(incident, summary, labels.get(incident.incident_id))
        if record is not None:
            yield record


def export_file(session: Session, out: Path, *, user: User | None = None) -> ExportSummary:
    """Write the auditors' decisions to ``out`` (JSON Lines, mode 0600, atomically)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary()
    tmp = out.with_name(out.name + ".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an old .tmp was left behind with a wider mode
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        for record in decided_records(session, summary):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    detail = {"incidents": summary.incidents, "present": summary.present, "absent": summary.absent,
              "disputed": summary.disputed, "corrected": summary.corrected, "series": summary.series}
    if user is None:
        audit_log.record_cli(session, "export", str(out.resolve()), **detail)
    else:
        audit_log.record(session, user, "export", str(out.resolve()), **detail)
    return summary
