"""Crime-recording rule checks: each a flag type of its own, with its reason and evidence.

The rules mirror what a crime data integrity auditor looks for on every incident, beyond the
model's missed offences:

- ``professional_third_party_nothing_recorded``: a professional reported it, the account
  discloses an offence, and nothing was recorded.
- ``sexual_offence_not_recorded``: a rape or sexual offence is predicted or disclosed and no
  sexual offence was recorded (an N100 case: record it, or document why not).
- ``late_recording``: the crime was recorded more than 24 hours after the report.
- ``victim_wishes_reason``: "did not want to make a complaint" / "did not support" given
  where an offence was predicted and not recorded (a victim's wishes do not remove the duty
  to record).
- ``no_crime_closing_with_offence``: a 'no crime' closing code on an account that discloses
  an offence.

Phrase lists and codes are data, in ``resources/recording_rules.yaml``. ``decide`` applies
these checks to every scored incident and ``audit`` to old output, so they live here, upstream
of both (data flows read -> extract -> classify -> decide -> queue/audit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from secondary_crimes.extract.types import Span
from secondary_crimes.records import TEXT_FIELDS, Incident
from secondary_crimes.settings import resource_path
from secondary_crimes.taxonomy import load_taxonomy

RULES = (
    "professional_third_party_nothing_recorded",
    "sexual_offence_not_recorded",
    "late_recording",
    "victim_wishes_reason",
    "no_crime_closing_with_offence",
)
MAX_EVIDENCE = 3


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@dataclass(frozen=True)
class RuleConfig:
    roles: re.Pattern[str]
    role_cues: re.Pattern[str]
    first_line_chars: int
    sexual_offences: tuple[str, ...]
    disclosure: re.Pattern[str]
    negations: re.Pattern[str]
    already_recorded: re.Pattern[str]
    max_hours: float
    victim_wishes: re.Pattern[str]
    no_crime_codes: re.Pattern[str]


def rules_path() -> Path:
    return resource_path("recording_rules.yaml")


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> RuleConfig:
    """Read and compile ``recording_rules.yaml`` (or another file of the same shape)."""
    raw = yaml.safe_load(Path(path or rules_path()).read_text(encoding="utf-8"))
    prof = raw["professional_third_party_nothing_recorded"]
    sexual = raw["sexual_offence_not_recorded"]
    roles = "|".join(f"(?:{p})" for p in prof["roles"])
    cues = "|".join(f"(?:{c})" for c in prof["cues"])
    unknown = set(sexual["offences"]) - set(load_taxonomy().offences)
    if unknown:
        raise ValueError(f"recording_rules.yaml: unknown sexual offence labels {sorted(unknown)}")
    return RuleConfig(
        roles=re.compile(rf"(?<![\w-])(?:{roles})(?![\w-])", re.IGNORECASE),
        role_cues=re.compile(rf"(?:{cues})(?:{roles})(?![\w-])", re.IGNORECASE),
        first_line_chars=int(prof.get("first_line_chars", 250)),
        sexual_offences=tuple(sexual["offences"]),
        disclosure=_compile(sexual["disclosure"]),
        negations=_compile(sexual["negations"]),
        already_recorded=_compile(sexual.get("already_recorded") or [r"(?!x)x"]),
        max_hours=float(raw["late_recording"]["max_hours"]),
        victim_wishes=_compile(raw["victim_wishes_reason"]["phrases"]),
        no_crime_codes=_compile(raw["no_crime_closing_with_offence"]["closing_codes"]),
    )


# ----------------------------------------------------------------------------- helpers


def _span(field: str, text: str, start: int, end: int) -> dict[str, Any]:
    """The evidence span of ``text[start:end]`` as scored output writes it (``Span.to_dict``)."""
    return Span(field, start, end, text[start:end]).to_dict()


def _find(pattern: re.Pattern[str], incident: Incident, fields=TEXT_FIELDS) -> list[dict[str, Any]]:
    spans = []
    for field in fields:
        text = incident.text(field)
        spans.extend(_span(field, text, m.start(), m.end()) for m in pattern.finditer(text))
    return spans


def says_already_recorded(incident: Incident, config: RuleConfig | None = None) -> bool:
    """The account says its offence is already recorded under another reference (``already_recorded``
    in recording_rules.yaml): an update on an existing crime, not a new one to record. The sexual
    offence check stands down on it, and the default stack reads it (``classify.ensemble``)."""
    return bool(_find((config or load_rules()).already_recorded, incident))


def _sentence_before(text: str, start: int) -> str:
    """The text from the start of the sentence (or line) containing ``start`` up to it."""
    cut = max(text.rfind(mark, 0, start) for mark in (".", "\n", ";", "!", "?"))
    return text[cut + 1 : start]


def _predicted(scored: dict[str, Any]) -> list[dict[str, Any]]:
    """Scored offences at or above their threshold (all of them, in ``decide``'s output)."""
    out = []
    for entry in scored.get("offences") or []:
        threshold = entry.get("threshold")
        if threshold is None or float(entry.get("probability", 0.0)) >= float(threshold):
            out.append(entry)
    return out


def _uncovered(scored: dict[str, Any], incident: Incident) -> list[dict[str, Any]]:
    """Predicted offences still to be recorded: not accounted for by the recorded crimes, nor by a
    greater predicted one at least as probable (``Taxonomy.unrecorded``, as the scored record's ``missed``)."""
    predicted = _predicted(scored)
    sure = ({entry["offence"]: float(entry["probability"]) for entry in predicted}
            if all("probability" in entry for entry in predicted) else None)
    unrecorded = set(load_taxonomy().unrecorded([entry["offence"] for entry in predicted], incident.recorded_crimes,
                                                sure))
    return [entry for entry in predicted if entry["offence"] in unrecorded]


def _offence_evidence(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spans = []
    for entry in entries:
        spans.extend(entry.get("evidence") or [])
    return spans


def _names(entries: list[dict[str, Any]]) -> str:
    offences = load_taxonomy().offences
    labels = list(dict.fromkeys(entry["offence"] for entry in entries))
    return ", ".join(offences[label].name if label in offences else label for label in labels)


def _flag(rule: str, reason: str, evidence: list[dict[str, Any]], offences: list[str]) -> dict[str, Any]:
    unique: list[dict[str, Any]] = []
    for span in evidence:  # drop repeats and spans inside another span of the same field
        inside = any(
            span.get("field") == other.get("field")
            and other is not span
            and other.get("start", 0) <= span.get("start", 0)
            and span.get("end", 0) <= other.get("end", 0)
            and (other.get("start"), other.get("end")) != (span.get("start"), span.get("end"))
            for other in evidence
        )
        if not inside and not any(
            (u.get("field"), u.get("start"), u.get("end")) == (span.get("field"), span.get("start"), span.get("end"))
            for u in unique
        ):
            unique.append(span)
    return {
        "rule": rule,
        "reason": reason,
        "evidence": unique[:MAX_EVIDENCE],
        "offences": list(dict.fromkeys(offences)),
    }


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


# ----------------------------------------------------------------------------- the rules


def professional_reporter_spans(incident: Incident, config: RuleConfig | None = None) -> list[dict[str, Any]]:
    """Professional roles in the call log's description of the caller."""
    config = config or load_rules()
    text = incident.call_log
    first_line = text.split("\n", 1)[0][: config.first_line_chars]
    spans = [_span("call_log", text, m.start(), m.end()) for m in config.roles.finditer(first_line)]
    spans += [_span("call_log", text, m.start(), m.end()) for m in config.role_cues.finditer(text)]
    return spans


def _professional(incident: Incident, scored: dict[str, Any], config: RuleConfig) -> list[dict[str, Any]]:
    if incident.recorded_crimes:
        return []
    predicted = _predicted(scored)
    if not predicted:
        return []
    spans = professional_reporter_spans(incident, config)
    if scored.get("reporter") != "third_party_professional" and not spans:
        return []
    who = f"'{spans[0]['text']}'" if spans else "a professional third party"
    reason = (
        f"Reported by {who}; the account supports {_names(predicted)} and nothing was recorded. "
        "A report from a professional acting for the victim is enough to record the crime."
    )
    return [_flag(RULES[0], reason, spans + _offence_evidence(predicted), [e["offence"] for e in predicted])]


def sexual_disclosure_spans(incident: Incident, config: RuleConfig | None = None) -> list[dict[str, Any]]:
    """Sexual offence disclosure words that are not negated in their sentence."""
    config = config or load_rules()
    spans = []
    for span in _find(config.disclosure, incident):
        before = _sentence_before(incident.text(span["field"]), span["start"])
        if not config.negations.search(before):
            spans.append(span)
    return spans


def _sexual(incident: Incident, scored: dict[str, Any], config: RuleConfig) -> list[dict[str, Any]]:
    taxonomy = load_taxonomy()
    recorded_sexual = [
        c
        for c in incident.recorded_crimes
        if c in config.sexual_offences or taxonomy.offences[c].group == "sexual_offences"
    ]
    if recorded_sexual:
        return []
    predicted = [e for e in _predicted(scored) if e["offence"] in config.sexual_offences]
    spans = sexual_disclosure_spans(incident, config)
    if not predicted and not spans:
        return []
    if says_already_recorded(incident, config):
        return []
    if predicted:
        what = f"the account supports {_names(predicted)}"
    else:
        what = f"the account discloses a sexual offence ('{spans[0]['text']}')"
    nothing = "nothing was recorded" if not incident.recorded_crimes else "no sexual offence was recorded"
    reason = (
        f"Sexual offence not recorded: {what} and {nothing}. Record it, or document it as an "
        "N100 (a reported rape or sexual offence not recorded as a crime) with the reason."
    )
    return [_flag(RULES[1], reason, _offence_evidence(predicted) + spans, [e["offence"] for e in predicted])]


def _late(incident: Incident, scored: dict[str, Any], config: RuleConfig) -> list[dict[str, Any]]:
    if incident.crime_recorded_at is None or incident.reported_at is None:
        return []
    hours = (_naive_utc(incident.crime_recorded_at) - _naive_utc(incident.reported_at)).total_seconds() / 3600
    if hours <= config.max_hours:
        return []
    reason = (
        f"Crime recorded {hours:.1f} hours after the report (reported {incident.reported_at:%Y-%m-%d %H:%M}, "
        f"recorded {incident.crime_recorded_at:%Y-%m-%d %H:%M}); the limit is {config.max_hours:g} hours."
    )
    return [_flag(RULES[2], reason, [], list(incident.recorded_crimes))]


def _victim_wishes(incident: Incident, scored: dict[str, Any], config: RuleConfig) -> list[dict[str, Any]]:
    spans = _find(config.victim_wishes, incident)
    if not spans:
        return []
    missed = _uncovered(scored, incident)
    if not missed:
        return []
    reason = (
        f"The victim's wishes ('{spans[0]['text']}') were given as the reason for not recording, "
        f"but the account supports {_names(missed)}, which was not recorded. A victim's wish not to "
        "make a complaint does not remove the duty to record."
    )
    return [_flag(RULES[3], reason, spans + _offence_evidence(missed), [e["offence"] for e in missed])]


def _no_crime(incident: Incident, scored: dict[str, Any], config: RuleConfig) -> list[dict[str, Any]]:
    code = incident.closing_code or ""
    if not config.no_crime_codes.search(code):
        return []
    predicted = _predicted(scored)
    if not predicted:
        return []
    reason = (
        f"Closed as '{code}' but the account supports {_names(predicted)} "
        f"(p={max(float(e['probability']) for e in predicted):.2f})."
    )
    return [_flag(RULES[4], reason, _offence_evidence(predicted), [e["offence"] for e in predicted])]


CHECKS = (_professional, _sexual, _late, _victim_wishes, _no_crime)


def check_rules(
    incident: Incident, scored: dict[str, Any], *, config: RuleConfig | None = None
) -> list[dict[str, Any]]:
    """Every rule flag for one scored incident: ``{"rule", "reason", "evidence", "offences"}``.

    ``scored`` is the incident's record from :func:`secondary_crimes.decide.decide` (only its
    ``offences`` and ``reporter`` keys are read). ``evidence`` spans point into the incident's
    ``call_log`` / ``officer_narrative``; ``offences`` names the offences the flag is about.
    """
    config = config or load_rules()
    flags: list[dict[str, Any]] = []
    for check in CHECKS:
        flags.extend(check(incident, scored, config))
    return flags


def check_scored_record(record: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`check_rules` on a line of ``score`` output (the incident is rebuilt from it)."""
    incident = Incident.model_validate({**record["incident"], "incident_id": record["incident_id"]})
    return check_rules(incident, record)
