"""Synthetic labelled incidents (FORMAT.md records) for training and benchmarks.

The phrase banks are data (``phrases/*.yaml``); this module only assembles them.

Recording model (what the audit module's estimators should recover): for every
incident, each true offence is put in ``recorded_crimes`` independently with
probability ``recording_rate``. When an offence is not recorded and it has a
``lesser`` label that is not itself a true offence, the lesser label is recorded
instead with probability ``LESSER_SHARE`` (common assault for an ABH, harassment
for stalking). The lesser label is never a true offence, so the expected share of
true offences found in ``recorded_crimes`` is exactly ``recording_rate``.
``missed`` is ``offences`` minus ``recorded_crimes``.

Voices. An ``acts`` or ``passing`` entry is a plain string (a third-person sentence that
fits the call log and the narrative, given a "caller states" / "IP states" prefix) or a
one-key mapping ``{voice: text}`` for a sentence written in a particular voice (``VOICES``):
``said`` carries its own attribution ("she says he ..."), ``log`` is a control-room line
with its own attribution ("caller states ..."), ``first`` is the victim's own words ("my
ex keeps ...", an online report), ``pro`` is a professional's referral ("on examination
..."), ``stranger`` / ``first_stranger`` name no suspect ("unknown suspect(s) pried
open ...") and ``known`` / ``first_known`` need a suspect the victim knows ("he still has a
key"). A voice limits where the sentence may go and which reporter and relationship it fits,
so the gold ``reporter`` and ``relationship`` never contradict the text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from secondary_crimes.taxonomy import load_taxonomy

PHRASES = Path(__file__).with_name("phrases")
NOTHING_SHARE = 0.40  # incidents with nothing to record
SECONDARY_SHARE = 0.28  # incidents with something to record that get a second offence
THIRD_SHARE = 0.15  # of those, the share that get a third
PASSING_SHARE = 0.25  # offences with a passing form that are written in passing
SECOND_VICTIM_SHARE = 0.08
LESSER_SHARE = 0.3
STYLES = ("terse", "formal", "first_person", "phone_only", "summary")
STYLE_WEIGHTS = (0.27, 0.27, 0.18, 0.18, 0.1)  # "summary": a one-line log entry, no narrative
DOMESTIC_RELATIONSHIPS = load_taxonomy().domestic_relationships
_SLOT = re.compile(r"\{(\w+)\}")
_SPACES = re.compile(r"\s{2,}")
_SPACE_PUNCT = re.compile(r"\s+([,.;:])")
_DOUBLE_PUNCT = re.compile(r"([,.;:])[,.;:]+")


@dataclass(frozen=True)
class Voice:
    reporters: frozenset[str] | None  # the reporters it fits (None: any)
    places: tuple[str, ...]  # "call" and/or "narrative"
    prefix: str | None  # lexicon list of call-log prefixes ("says"), or None for no prefix
    relationships: frozenset[str] | None = None  # the relationships it fits (None: any)


_UNKNOWN = frozenset({"stranger", "none"})
_KNOWN = frozenset({"intimate_partner", "ex_partner", "family", "acquaintance", "neighbour"})
VOICES: dict[str, Voice] = {
    "any": Voice(None, ("call", "narrative"), "says"),
    "said": Voice(None, ("call", "narrative"), None),
    "log": Voice(None, ("call",), None),
    "first": Voice(frozenset({"victim"}), ("call",), "first_says"),
    "pro": Voice(frozenset({"third_party_professional"}), ("call",), "pro_says"),
    "stranger": Voice(None, ("call", "narrative"), "says", _UNKNOWN),
    "first_stranger": Voice(frozenset({"victim"}), ("call",), "first_says", _UNKNOWN),
    "known": Voice(None, ("call", "narrative"), "says", _KNOWN),
    "first_known": Voice(frozenset({"victim"}), ("call",), "first_says", _KNOWN),
}


def phrasing(entry: str | dict[str, str]) -> tuple[str, str]:
    """(voice, template) of one ``acts`` or ``passing`` entry."""
    if isinstance(entry, str):
        return "any", entry
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ValueError(f"a phrasing is a string or a one-key {{voice: text}} mapping, not {entry!r}")
    ((voice, text),) = entry.items()
    if voice not in VOICES or not isinstance(text, str):
        raise ValueError(f"unknown voice {voice!r} in {entry!r} (known: {sorted(VOICES)})")
    return voice, text


def fitting(entries: list[Any], reporter: str, where: str, relationship: str) -> list[tuple[str, str]]:
    """The (voice, template) entries that may be written at ``where`` for this reporter and relationship."""
    out = []
    for entry in entries:
        voice, text = entry if isinstance(entry, tuple) else phrasing(entry)
        spec = VOICES[voice]
        if (
            where in spec.places
            and (spec.reporters is None or reporter in spec.reporters)
            and (spec.relationships is None or relationship in spec.relationships)
        ):
            out.append((voice, text))
    return out


@dataclass(frozen=True)
class Bank:
    lexicon: dict[str, list[str]]
    offences: dict[str, dict[str, Any]]
    negatives: list[dict[str, Any]]
    frame: dict[str, Any]


@lru_cache(maxsize=1)
def load_bank() -> Bank:
    """Read the phrase banks once."""

    def read(name: str) -> dict[str, Any]:
        return yaml.safe_load((PHRASES / name).read_text(encoding="utf-8"))

    frame = read("frame.yaml")
    lexicon = dict(read("lexicon.yaml")["lexicon"])
    lexicon.update(frame["places"])
    lexicon["prof"] = frame["profs"]
    offences = read("offences.yaml")["offences"]
    missing = set(load_taxonomy().labels) - set(offences)
    if missing:
        raise ValueError(f"phrases/offences.yaml lacks {sorted(missing)}")
    for label, spec in offences.items():
        for entry in spec["acts"] + (spec.get("passing") or []):
            phrasing(entry)
        if not all(fitting(spec["acts"], "witness", "narrative", rel) for rel in spec["relationships"]):
            raise ValueError(f"phrases/offences.yaml: {label} needs an act that any reporter may give")
    negatives = read("negatives.yaml")["negatives"]
    for scenario in negatives:
        variants = scenario.get("variants") or [{}]
        if not all(variant.get("call", []) + scenario.get("call", []) for variant in variants):
            raise ValueError(f"phrases/negatives.yaml: {scenario['name']} has a variant with no call sentences")
    return Bank(lexicon, offences, negatives, frame)


class _Renderer:
    """Fills {slots} from the incident's people first, then from the lexicon.

    Within one sentence a slot used twice draws two different words ("{control_act} and
    {control_act}" never repeats itself).
    """

    def __init__(self, rng: random.Random, bank: Bank, ctx: dict[str, str]):
        self.rng, self.bank, self.ctx = rng, bank, ctx
        self._used: dict[str, set[str]] = {}

    def _slot(self, match: re.Match[str]) -> str:
        key = match.group(1)
        if key in self.ctx:
            return self.ctx[key]
        # a "<slot>_f" / "<slot>_m" list, when there is one, fits the victim's sex ("{garment}": skirt, shorts)
        options = self.bank.lexicon.get(f"{key}_{self.ctx.get('Vsex', '')}") or self.bank.lexicon.get(key)
        if options is None:
            raise KeyError(f"unknown phrase slot {{{key}}}")
        used = self._used.setdefault(key, set())
        choice = self.rng.choice(([o for o in options if o not in used] or options) if used else options)
        used.add(choice)
        return self.fill(choice, _nested=True)

    def fill(self, template: str, _nested: bool = False) -> str:
        if not _nested:
            self._used = {}
        text = _SLOT.sub(self._slot, template) if "{" in template else template
        text = _SPACE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()
        return _DOUBLE_PUNCT.sub(r"\1", text).strip(" ,;")

    def pick(self, options: list[str]) -> str:
        return self.fill(self.rng.choice(options))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _pronouns(prefix: str, gender: str) -> dict[str, str]:
    male = gender == "m"
    return {
        f"{prefix}p": "he" if male else "she",
        f"{prefix}o": "him" if male else "her",
        f"{prefix}poss": "his" if male else "her",
        f"{prefix}self": "himself" if male else "herself",
        f"{prefix}gender": ("male" if male else "female"),
    }


def _person_refs(
    rng: random.Random,
    first: str,
    last: str,
    gender: str,
    role: str,
    style: str,
    rel_ref: str,
    shared_surname: bool = False,
) -> tuple[str, str]:
    """(first mention, later mentions) for one person, in a style's manner."""
    full = rng.choice(
        [
            f"{first} {last}",
            f"{first} {last}",
            f"{first[0]}. {last.title()}",
            f"{first} {last.title()}",
            f"{last} {first}",
        ]
    )
    gender_word = "male" if gender == "m" else "female"
    if role == "suspect":
        short = [last, last.title(), first, f"the {gender_word}", rel_ref]
        if style == "terse":
            short += ["susp", "the susp", rel_ref]
        if style == "formal":
            short += ["the suspect", last]
    else:
        short = (
            [first, first, f"the {gender_word}"]
            if shared_surname
            else [first, last, last.title(), f"the {gender_word}"]
        )
        short += ["the IP", "IP"] if style == "terse" else ["the IP", "the victim", first]
    return full, rng.choice(short)


def _fmt_time(moment: datetime, fmt: str) -> str:
    if fmt == "12h":
        hour = moment.hour % 12 or 12
        return f"{hour}.{moment.minute:02d}{'am' if moment.hour < 12 else 'pm'}"
    return moment.strftime(fmt)


class _Builder:
    """Assembles one incident from segments so that evidence quotes stay verbatim."""

    def __init__(self, rng: random.Random, bank: Bank, index: int, reported: datetime):
        self.rng, self.bank, self.index, self.reported = rng, bank, index, reported
        self.style = rng.choices(STYLES, STYLE_WEIGHTS)[0]
        self.casing = "as_is"
        if self.style == "terse":
            self.casing = rng.choices(["lower", "as_is", "upper"], [0.5, 0.4, 0.1])[0]
        elif self.log_only:
            self.casing = rng.choices(["lower", "as_is", "upper"], [0.2, 0.7, 0.1])[0]
        self.time_format = rng.choice(bank.frame["time_formats"])
        terms = {
            term: choice
            for term, options in bank.frame.get("role_terms", {}).items()
            if (choice := rng.choice(options)) != term
        }
        self.role_terms = (re.compile(r"\b(" + "|".join(map(re.escape, terms)) + r")\b"), terms) if terms else None
        self.call: list[list[tuple[str, str | None]]] = []  # lines of (segment, evidence label)
        self.narrative: list[tuple[str, str | None]] = []
        self.evidence: dict[str, str] = {}

    @property
    def log_only(self) -> bool:
        """No officer narrative: a phone-only resolution or a one-line summary."""
        return self.style in ("phone_only", "summary")

    # --- people -------------------------------------------------------------------------
    def people(self, relationship: str, victim_child: bool = False, suspect_male: bool = False) -> None:
        rng, frame = self.rng, self.bank.frame
        names = frame["names"]
        v_gender = "f" if rng.random() < 0.78 else "m"
        s_gender = "m" if suspect_male or rng.random() < 0.85 else "f"
        if relationship == "intimate_partner" and v_gender == s_gender and rng.random() < 0.8:
            v_gender = "f" if s_gender == "m" else "m"
        v_last = rng.choice(names["surname"])
        s_last = rng.choice(names["surname"]) if relationship not in DOMESTIC_RELATIONSHIPS else v_last
        if relationship in {"intimate_partner", "ex_partner"} and rng.random() < 0.6:
            s_last = rng.choice(names["surname"])
        if victim_child:
            v_first = rng.choice(names["child"])
            rel_word = rng.choice(frame["parent_words"][s_gender])
        else:
            v_first = rng.choice(names["female" if v_gender == "f" else "male"])
            rel_word = rng.choice(frame["relation_words"][relationship][s_gender])
        s_first = rng.choice(names["male" if s_gender == "m" else "female"])
        v_pron, s_pron = _pronouns("V", v_gender), _pronouns("S", s_gender)
        if relationship in {"stranger", "none"}:
            rel_ref = f"the {rel_word}"
            s_rel = f"{'an' if rel_word[0] in 'aeiou' else 'a'} {rel_word}"
        else:
            rel_ref = s_rel = f"{v_pron['Vposs']} {rel_word}"
        v_full, v_short = _person_refs(rng, v_first, v_last, v_gender, "victim", self.style, "", s_last == v_last)
        s_full, s_short = _person_refs(rng, s_first, s_last, s_gender, "suspect", self.style, rel_ref)
        if victim_child:
            v_full = f"{v_full} ({rng.randint(1, 12)})"
            v_short = rng.choice([v_first, "the child", "the boy" if v_gender == "m" else "the girl"])
        elif rng.random() < 0.5:
            v_full = f"{v_full} ({rng.randint(17, 68)})"
        mine = frame.get("my_words", {}).get(relationship, {}).get(s_gender) or [f"my {rel_word}"]
        s_my = rng.choice(mine).replace("{first}", s_first.title())
        v2_gender = rng.choice("mf")
        v2_first = rng.choice(names["male" if v2_gender == "m" else "female"])
        v2 = _pronouns("V2", v2_gender)
        addr = f"{rng.randint(1, 120)} {rng.choice(self.bank.lexicon['street'])}"
        if rng.random() < 0.6:
            addr += f", {rng.choice(self.bank.lexicon['town'])}"
        self.ctx: dict[str, str] = {
            **v_pron,
            **s_pron,
            "V": v_short,
            "S": s_short,
            "V_full": v_full,
            "S_full": s_full,
            "S_rel": s_rel,
            "S_my": s_my,
            "Vsex": v_gender,
            "V2": f"{v2_first} {rng.choice(names['surname']).title()}",
            "V2p": v2["V2p"],
            "V2o": v2["V2o"],
            "addr": addr,
            "num": str(rng.randint(100, 9999)),
            "t": _fmt_time(self.reported + timedelta(minutes=rng.randint(8, 70)), self.time_format),
            "ref": f"{rng.randint(10, 99)}/{rng.randint(1000, 99999)}/{self.reported.year % 100:02d}",
        }
        if self.style == "terse":
            self.ctx["Vgender"] = rng.choice(["F", "female", "fem"]) if v_gender == "f" else rng.choice(["M", "male"])
        self.r = _Renderer(rng, self.bank, self.ctx)
        self.ctx["prof"] = self.r.pick(self.bank.lexicon["prof"])  # one professional per incident
        self.victim_child = victim_child

    # --- text ---------------------------------------------------------------------------
    def statement(
        self, label: str | None, template: str, where: str, prefix_kind: str | None, voice: str = "any"
    ) -> None:
        """Add an offence (or context) sentence to the call log or the narrative.

        ``voice`` (see ``VOICES``) picks the call-log prefix list; a voice with its own
        attribution takes no "says" prefix.
        """
        r = self.r
        body = r.fill(template)
        says = VOICES[voice].prefix
        if says is None and prefix_kind != "also":
            prefix_kind = None
        if where == "call":
            prefix = r.pick(self.bank.lexicon[says or "says"]) if prefix_kind and self.rng.random() < 0.7 else ""
            segments = [(prefix, None)] if prefix else []
            segments.append((body if prefix else _cap(body), label))
            self.call.append(segments)
        else:
            options = self.bank.frame["narrative_says"][self.style if self.style != "phone_only" else "terse"]
            if prefix_kind == "also":
                prefix = r.pick(self.bank.lexicon["also"])
            elif prefix_kind:
                prefix = r.pick(options) if self.rng.random() < 0.75 else ""
            else:
                prefix = ""
            if prefix:
                self.narrative.append((_cap(prefix), None))
            self.narrative.append((body if prefix else _cap(body), label))

    def call_line(self, text: str) -> None:
        text = self.r.fill(text)
        if text:
            self.call.append([(_cap(text), None)])

    def narrative_line(self, text: str) -> None:
        text = self.r.fill(text)
        if text:
            self.narrative.append((_cap(text), None))

    def _transform(self, text: str) -> str:
        if self.role_terms:
            pattern, terms = self.role_terms
            text = pattern.sub(lambda match: terms[match.group(1)], text)
        if self.style == "terse":
            for long, short in self.bank.frame["terse_abbreviations"].items():
                if long in text:
                    text = re.sub(rf"\b{re.escape(long)}\b", short, text)
        if self.casing == "lower":
            return text.lower()
        if self.casing == "upper":
            return text.upper()
        return text

    def render(self) -> tuple[str, str, datetime]:
        """(call_log, officer_narrative, last log time), recording evidence quotes."""
        moment = self.reported
        lines: list[str] = []
        for number, segments in enumerate(self.call):
            parts = []
            for text, label in segments:
                text = self._transform(text)
                if label and label not in self.evidence:
                    self.evidence[label] = text
                parts.append(text)
            body = " ".join(p for p in parts if p)
            if body and body[-1] not in ".!?'":
                body += "."
            if self.style == "summary":
                lines.append(body)
                continue
            if number:
                moment += timedelta(minutes=self.rng.randint(1, 25))
            lines.append(f"{_fmt_time(moment, self.time_format)} {body}")
        if self.style == "summary":
            return " ".join(lines), "", moment
        sentences = []
        for index, (text, label) in enumerate(self.narrative):
            text = self._transform(text)
            if label and label not in self.evidence:
                self.evidence[label] = text
            joins_next = (
                index + 1 < len(self.narrative)
                and self.narrative[index + 1][1]
                and label is None
                and not text.endswith((".", ":"))
            )
            sentences.append(text if joins_next or text.endswith((".", "!", "?", ":")) else text + ".")
        return "\n".join(lines), " ".join(sentences), moment


@lru_cache(maxsize=4096)
def _fitting(label: str, kind: str, reporter: str, where: str, relationship: str) -> tuple[tuple[str, str], ...]:
    """``fitting`` for an offence's ``acts`` or ``passing``, computed once per combination."""
    entries = load_bank().offences[label].get(kind) or []
    return tuple(fitting(entries, reporter, where, relationship))


def _choose_offences(rng: random.Random, bank: Bank) -> list[str]:
    labels = list(bank.offences)
    weights = [bank.offences[label]["weight"] for label in labels]
    chosen = [rng.choices(labels, weights)[0]]
    taxonomy = load_taxonomy()
    if rng.random() < SECONDARY_SHARE:
        for _ in range(2 if rng.random() < THIRD_SHARE else 1):
            pool = [
                label
                for label in bank.offences[chosen[0]]["secondary"]
                if label not in taxonomy.covered(chosen) and not set(chosen) & taxonomy.covered([label])
            ]
            if pool:
                chosen.append(rng.choice(pool))
    return chosen


def _record(rng: random.Random, bank: Bank, offences: list[str], rate: float) -> tuple[list[str], list[str]]:
    """(recorded_crimes, lesser labels recorded instead of the truth)."""
    recorded, lesser_used = [], []
    for label in offences:
        if rng.random() < rate:
            recorded.append(label)
            continue
        lesser = bank.offences[label].get("lesser")
        if lesser and lesser not in offences and lesser not in recorded and rng.random() < LESSER_SHARE:
            recorded.append(lesser)
            lesser_used.append(label)
    return recorded, lesser_used


def _names(labels: list[str]) -> str:
    names = [load_taxonomy().offences[label].name.lower() for label in labels]
    names = [re.sub(r"\s*\(.*?\)", "", name) for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _positive(b: _Builder, rate: float) -> dict[str, Any]:
    rng, bank = b.rng, b.bank
    offences = _choose_offences(rng, bank)
    primary = bank.offences[offences[0]]
    relationship = rng.choice(primary["relationships"])
    reporter = rng.choice(primary["reporters"])
    b.people(
        relationship,
        primary.get("victim_child", False),
        any(bank.offences[label].get("suspect_male") for label in offences),
    )
    frame = bank.frame
    caller = b.r.pick(frame["callers"][reporter])
    if rng.random() < 0.5:
        caller += f", {b.ctx['addr']}"
    summary = b.style == "summary"  # only what happened, on one line: no caller, dispatch or narrative
    phone_only = b.log_only
    in_passing: set[str] = set()
    recorded, lesser_used = _record(rng, bank, offences, rate)
    openings = primary["opening_codes"]
    if relationship not in DOMESTIC_RELATIONSHIPS:
        openings = [code for code in openings if "DOMESTIC" not in code] or ["INFORMATION RECEIVED"]
    opening = rng.choice(openings)
    if not summary:
        b.call_line(caller)
    if not phone_only:
        b.narrative_line(rng.choice(frame["narrative_open"][b.style]))
    for position, label in enumerate(offences):
        passing = _fitting(label, "passing", reporter, "call" if phone_only else "narrative", relationship)
        if passing and rng.random() < PASSING_SHARE:
            in_passing.add(label)
            voice, template = rng.choice(passing)
            b.statement(label, template, "call" if phone_only else "narrative", None, voice)
            continue
        if position == 0:
            where = "call" if phone_only or rng.random() < 0.5 else "narrative"
            if where == "narrative" and rng.random() < 0.8:
                reasons = frame["call_reasons"]
                b.call.append([(_cap(b.r.pick(reasons.get(opening, reasons["default"]))), None)])
            voice, template = rng.choice(_fitting(label, "acts", reporter, where, relationship))
            b.statement(label, template, where, "says", voice)
            if where == "call" and not phone_only:
                b.call_line(rng.choice(frame["dispatch_lines"]))
        else:
            where = "call" if phone_only else "narrative"
            voice, template = rng.choice(_fitting(label, "acts", reporter, where, relationship))
            b.statement(label, template, where, "also" if where == "narrative" else "says", voice)
        if label in frame["second_victim"] and rng.random() < SECOND_VICTIM_SHARE:
            b.statement(None, rng.choice(frame["second_victim"][label]), "call" if phone_only else "narrative", None)
    if len(b.call) < 2 and not summary:
        b.call_line(rng.choice(frame["dispatch_lines"]))
    contexts = [c["text"] for c in frame["context"] if not set(c["not_with"]) & set(offences)]
    for text in rng.sample(contexts, 0 if summary else rng.randint(0, 2)):
        (b.call_line if phone_only else b.narrative_line)(text)
    crime_names = ", ".join(rng.choice(bank.offences[label]["crime_names"]) for label in recorded)
    if recorded:
        outcome = rng.choice(frame["outcome_recorded"]).replace("{crimes}", crime_names)
    else:
        outcome = rng.choice(frame["outcome_not_recorded"])
    if not summary or rng.random() < 0.5:
        (b.call_line if phone_only else b.narrative_line)(outcome)
    call_log, narrative, last = b.render()
    missed = [label for label in offences if label not in recorded]
    domestic = relationship in DOMESTIC_RELATIONSHIPS and not primary.get("victim_child", False)
    if recorded:
        closing = "CRIME RECORDED"
    elif reporter == "third_party_professional" and rng.random() < 0.5:
        closing = "REFERRED TO PARTNER AGENCY"
    elif domestic and rng.random() < 0.6:
        closing = "DOMESTIC - NO CRIME"
    elif phone_only and rng.random() < 0.5:
        closing = "RESOLVED BY PHONE"
    else:
        closing = rng.choice(["ADVICE GIVEN", "NO CRIME", "NO FURTHER ACTION", "NO COMPLAINT", "FILED"])
    return {
        "opening_code": opening,
        "closing_code": closing,
        "call_log": call_log,
        "officer_narrative": narrative,
        "recorded_crimes": recorded,
        "offences": offences,
        "missed": missed,
        "domestic": domestic,
        "relationship": relationship,
        "reporter": reporter,
        "evidence": dict(b.evidence),
        "rationale": _rationale(rng, frame, offences, recorded, missed, lesser_used, in_passing, reporter),
        "_last": last,
    }


def _rationale(
    rng: random.Random,
    frame: dict[str, Any],
    offences: list[str],
    recorded: list[str],
    missed: list[str],
    lesser_used: list[str],
    in_passing: set[str],
    reporter: str,
) -> str:
    templates = frame["rationale"]
    if lesser_used:
        truth = lesser_used[0]
        lesser = next(label for label in recorded if label not in offences)
        return rng.choice(templates["lesser"]).format(truth=_names([truth]), lesser=_names([lesser]))
    if not missed:
        text = rng.choice(templates["all_recorded"])
        values = {"offences": _names(offences), "it_they": "it was" if len(offences) == 1 else "they were"}
    elif not [label for label in offences if label in recorded]:
        why_kind = "passing" if in_passing else "professional" if reporter == "third_party_professional" else "default"
        text = rng.choice(templates["missed_all"])
        values = {"offences": _names(offences), "missed": _names(missed), "why": rng.choice(templates["why"][why_kind])}
    else:
        text = rng.choice(templates["missed_some"])
        values = {"recorded": _names([label for label in offences if label in recorded]), "missed": _names(missed)}
    values.update({f"{k[0].upper()}{k[1:]}": _cap(v) for k, v in values.items()})
    return text.format(**values)


def _negative(b: _Builder) -> dict[str, Any]:
    rng, bank = b.rng, b.bank
    weights = [scenario["weight"] for scenario in bank.negatives]
    scenario = rng.choices(bank.negatives, weights)[0]
    relationship = rng.choice(scenario["relationships"])
    reporter = rng.choice(scenario["reporters"])
    b.people(relationship)
    summary = b.style == "summary"
    caller = b.r.pick(bank.frame["callers"][reporter])
    if rng.random() < 0.5:
        caller += f", {b.ctx['addr']}"
    if not summary:
        b.call_line(caller)
    # a variant keeps a report and what settles it together (a smashed window and the storm
    # that did it); the scenario's own lists follow the variant's
    variant = rng.choice(scenario["variants"]) if scenario.get("variants") else {}
    call_lists = variant.get("call", []) + scenario.get("call", [])
    narrative_lists = variant.get("narrative", []) + scenario.get("narrative", [])
    call = [b.r.pick(options) for options in call_lists]
    call = [text if text[-1] in ".!?" else text + "." for text in call if text]
    b.call.append([(_cap(" ".join(call[:2])), None)])
    for text in call[2:]:
        b.call_line(text)
    if narrative_lists and b.log_only:
        # no officer attended (or one line sums it up): what settles it still goes in the log,
        # or the incident would read as an unresolved report and teach the wrong label
        for options in narrative_lists:
            b.call_line(rng.choice(options))
    elif not narrative_lists:
        if len(b.call) < 3 and not summary:
            b.call_line(
                rng.choice(
                    [
                        "advice given.",
                        "RP happy with advice.",
                        "no further police action.",
                        rng.choice(bank.frame["dispatch_lines"]),
                    ]
                )
            )
    else:
        b.narrative_line(rng.choice(bank.frame["narrative_open"][b.style]))
        for options in narrative_lists:
            b.narrative_line(rng.choice(options))
    call_log, narrative, last = b.render()
    return {
        "opening_code": rng.choice(scenario["opening_codes"]),
        "closing_code": rng.choice(scenario["closing_codes"]),
        "call_log": call_log,
        "officer_narrative": narrative,
        "recorded_crimes": [],
        "offences": [],
        "missed": [],
        "domestic": relationship in DOMESTIC_RELATIONSHIPS,
        "relationship": relationship,
        "reporter": reporter,
        "evidence": {},
        "rationale": scenario["rationale"],
        "_last": last,
    }


def iter_incidents(
    n: int, seed: int = 0, recording_rate: float = 0.85, start: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` synthetic FORMAT.md records (input and gold fields), deterministically for a seed.

    Memory stays flat: one incident is built at a time.
    """
    if not 0.0 <= recording_rate <= 1.0:
        raise ValueError("recording_rate must be between 0 and 1")
    bank = load_bank()
    rng = random.Random(seed)
    clock = start or datetime(2024, 1, 1, 0, 5)
    for index in range(n):
        clock += timedelta(minutes=rng.randint(1, 90))
        reported = clock.replace(second=0, microsecond=0)
        builder = _Builder(rng, bank, index, reported)
        row = _negative(builder) if rng.random() < NOTHING_SHARE else _positive(builder, recording_rate)
        last = row.pop("_last")
        closed = last + timedelta(minutes=rng.randint(10, 60 * 24 * 6))
        yield {
            "incident_id": f"SYN-{reported.year % 100:02d}-{index + 1:06d}",
            "reported_at": reported.isoformat(),
            "closed_at": closed.isoformat(timespec="seconds"),
            **row,
        }


def generate_incidents(
    n: int, seed: int = 0, recording_rate: float = 0.85, start: datetime | None = None
) -> list[dict[str, Any]]:
    """``n`` synthetic records as a list (see ``iter_incidents``)."""
    return list(iter_incidents(n, seed=seed, recording_rate=recording_rate, start=start))
