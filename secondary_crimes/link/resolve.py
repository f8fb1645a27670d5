"""Entity resolution of the parties of a batch of incidents, with splink (Fellegi-Sunter, DuckDB).

Each party (a named person, or a loose phone, vehicle, address, account) is one record. splink
compares only the pairs that share a blocking key, never all pairs: the full name, a phone, a DOB,
an address, the first four characters of a vehicle registration, an account (``own``); and a forename or a
surname alone only between incidents that share one of those, or two name words (``keys``:
"Jason" and "Jason PLATT" when both incidents name Kerry ASHBY or 14 Wren Close; "Daniel" and
"Leanne" written in both).
A common forename alone is never a block, which at 100,000 incidents would be quadratic. Every rule
also requires the two incidents to be at most ``LinkConfig.window_days`` apart (``series`` would drop
the pair anyway), so a batch longer than the window compares each party only with its window. A key
held by more than ``LinkConfig.max_block_size`` records (or incidents) is split into time
neighbourhoods (``_neighbourhoods``): its holders in time order, in overlapping runs of
``max_block_size``, so no block is larger than that and its pairs grow linearly with its holders; the
pairs of holders that share no run are counted as left out (``Resolution.blocking``) and logged.

It scores each pair with fixed m/u probabilities (no training: a batch may be a handful of
incidents), except that an exact forename or surname match is weighed by how common the name is
(splink's term-frequency adjustment, ``_name_frequencies``): a name written more often than its
fixed u-probability assumes, in the batch and (with a person store) in the store, counts for less,
so two "Smith"s at 30,000 incidents are weaker evidence than two "Fenwick"s. The score is kept as
evidence in bits (log2 Bayes factor, the prior left out) for ``series``; pairs at or above
``LinkConfig.person_threshold`` are joined into people (``person_of``).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.identifiers import Parties, Party

# Prior that two blocked records are the same person: the match weights below are relative to it.
PRIOR = 1e-3
ARRAY_COLUMNS = ("phones", "dobs", "addresses", "streets", "vehicles", "vehicle_prefixes", "accounts")
# The fixed u-probability of an exact match (two different people with the same name): a name written
# more often than this in the batch and store gets its own, higher u (term-frequency adjustment).
NAME_U = {"forename": 0.006, "surname": 0.002}
NAME_COLUMNS = tuple(NAME_U)
EPOCH = datetime(1970, 1, 1)

log = logging.getLogger(__name__)


@dataclass
class Resolution:
    """splink's evidence for pairs of parties in different incidents, and people resolved from it."""

    bits: dict[tuple[str, str], float] = field(default_factory=dict)  # (uid, uid), uid order sorted
    person_of: dict[str, str] = field(default_factory=dict)  # party uid -> person id (the first uid of the cluster)
    # How blocking went: keys split into time neighbourhoods (more than max_block_size holders), the
    # pairs of their holders in a shared neighbourhood, and those left out (no block held both).
    blocking: dict[str, int] = field(default_factory=dict)

    def evidence(self, a: Party, b: Party) -> float | None:
        key = (a.uid, b.uid) if a.uid < b.uid else (b.uid, a.uid)
        return self.bits.get(key)


def _levels(name: str, levels: list, m: list[float], u: list[float], null: str | None = None):
    """A comparison: a null level on ``null`` (default ``name``), then ``levels`` with their m and u."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    configured = [cll.NullLevel(null or name)]
    configured += [level.configure(m_probability=mp, u_probability=up) for level, mp, up in zip(levels, m, u,
                                                                                                 strict=True)]
    return cl.CustomComparison(output_column_name=name, comparison_levels=configured)


def _exact_name(column: str):
    """An exact name match with splink's term-frequency adjustment: its u is the name's frequency
    (the lookup ``resolve`` registers), never below the fixed ``NAME_U`` (a rare name counts as
    much as before, a common one less)."""
    import splink.comparison_level_library as cll

    return cll.ExactMatchLevel(column, term_frequency_adjustments=True).configure(
        tf_minimum_u_value=NAME_U[column])


def _blocking_rule(condition: str, explode: str, window_days: float | None):
    """A blocking rule on an exploded array column, for pairs reported at most ``window_days`` apart
    (as ``series`` links them; a party of an incident with no time is compared with any)."""
    from splink.blocking_rule_library import CustomRule

    if window_days is not None:
        seconds = window_days * 86400 + 1  # a second to spare: never fewer pairs than series would accept
        condition += f" AND (l.seconds IS NULL OR r.seconds IS NULL OR abs(l.seconds - r.seconds) <= {seconds!r})"
    return CustomRule(condition, arrays_to_explode=[explode])


def splink_settings(window_days: float | None = None):
    """The splink model: comparisons with fixed m/u probabilities (exact names adjusted by their
    frequency) and the blocking rules, for pairs at most ``window_days`` apart (None: any)."""
    import splink.comparison_level_library as cll
    from splink import SettingsCreator

    def prefix(column: str):
        return cll.CustomLevel(
            f"length({column}_l) >= 3 AND length({column}_r) >= 3 AND "
            f"(substr({column}_l, 1, length({column}_r)) = {column}_r OR "
            f"substr({column}_r, 1, length({column}_l)) = {column}_l)"
        )

    forename = _levels("forename", [
        _exact_name("forename"),
        cll.Or(cll.JaroWinklerLevel("forename", 0.88), prefix("forename")),  # "Beth"/"Bethany", "Nat"/"Natalie"
        cll.CustomLevel("(length(forename_l) = 1 OR length(forename_r) = 1) AND "
                        "substr(forename_l, 1, 1) = substr(forename_r, 1, 1)"),  # "P" and "Priya"
        cll.ElseLevel(),
    ], m=[0.85, 0.08, 0.04, 0.03], u=[NAME_U["forename"], 0.01, 0.04, 0.944])
    surname = _levels("surname", [
        _exact_name("surname"), cll.JaroWinklerLevel("surname", 0.92), cll.ElseLevel(),
    ], m=[0.88, 0.07, 0.05], u=[NAME_U["surname"], 0.005, 0.993])
    phones = _levels("phones", [cll.ArrayIntersectLevel("phones", 1), cll.ElseLevel()],
                     m=[0.7, 0.3], u=[1e-5, 1 - 1e-5])
    dobs = _levels("dobs", [cll.ArrayIntersectLevel("dobs", 1), cll.ElseLevel()], m=[0.9, 0.1], u=[1e-4, 1 - 1e-4])
    addresses = _levels("addresses", [
        cll.ArrayIntersectLevel("addresses", 1), cll.ArrayIntersectLevel("streets", 1), cll.ElseLevel(),
    ], m=[0.6, 0.2, 0.2], u=[5e-4, 0.01, 0.9895], null="streets")
    vehicles = _levels("vehicles", [
        cll.ArrayIntersectLevel("vehicles", 1),
        # a partial registration that fits a full one ("RX16" and "RX16 KHT"); two full ones that differ do not
        cll.And(cll.CustomLevel("(vehicles_l IS NULL OR vehicles_r IS NULL)"),
                cll.ArrayIntersectLevel("vehicle_prefixes", 1)),
        cll.ElseLevel(),
    ], m=[0.6, 0.3, 0.1], u=[1e-5, 3e-4, 1 - 3.1e-4], null="vehicle_prefixes")
    accounts = _levels("accounts", [cll.ArrayIntersectLevel("accounts", 1), cll.ElseLevel()],
                       m=[0.8, 0.2], u=[1e-5, 1 - 1e-5])
    return SettingsCreator(
        link_type="dedupe_only",
        probability_two_random_records_match=PRIOR,
        comparisons=[forename, surname, phones, dobs, addresses, vehicles, accounts],
        blocking_rules_to_generate_predictions=[
            _blocking_rule("l.own = r.own", "own", window_days),
            _blocking_rule("l.forename = r.forename AND l.keys = r.keys", "keys", window_days),
            _blocking_rule("l.surname = r.surname AND l.keys = r.keys", "keys", window_days),
        ],
        additional_columns_to_retain=["incident_id"],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def incident_keys(parties: Parties) -> list[str]:
    """What two incidents must share before a forename or surname alone is compared across them: an
    identifier (phone, DOB, address, vehicle, account) or two name words (a full name, or the
    forenames of two people: "Daniel" and "Leanne" in both)."""
    words = sorted({w for p in parties.people for w in (p.forename, p.surname) if len(w) > 1})
    keys = {f"names:{a} {b}" for n, a in enumerate(words) for b in words[n + 1:]}
    for party in parties.parties:
        for column in ("phones", "dobs", "addresses", "vehicles", "accounts"):
            keys.update(f"{column}:{value}" for value in getattr(party, column))
    return sorted(keys)


def own_keys(party: Party) -> list[str]:
    """A party's own blocking values: its full name and identifiers."""
    keys = [f"name:{party.forename} {party.surname}"] if party.forename and party.surname else []
    for column in ("phones", "dobs", "addresses", "vehicle_prefixes", "accounts"):
        keys += [f"{column}:{value}" for value in getattr(party, column)]
    return keys


@dataclass
class NameCounts:
    """How many records (parties) write each forename and surname, and how many write one at all."""

    values: dict[str, Counter] = field(default_factory=lambda: {column: Counter() for column in NAME_COLUMNS})
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NAME_COLUMNS, 0))

    @classmethod
    def of(cls, batch: Iterable[Parties]) -> NameCounts:
        counts = cls()
        for parties in batch:
            for party in parties.people:
                for column in NAME_COLUMNS:
                    value = getattr(party, column)
                    if value:
                        counts.values[column][value] += 1
                        counts.totals[column] += 1
        return counts

    def __add__(self, other: NameCounts) -> NameCounts:
        return NameCounts({c: self.values[c] + other.values[c] for c in NAME_COLUMNS},
                          {c: self.totals[c] + other.totals[c] for c in NAME_COLUMNS})


def _name_frequencies(counts: NameCounts, prior_records: int,
                      present: Mapping[str, Iterable[str]] | None = None) -> dict[str, dict[str, float]]:
    """Each name's u-probability of an exact match (its frequency), for the names of ``present``
    (default: all counted) that are more common than ``NAME_U`` says.

    The frequency is smoothed towards ``NAME_U``: (count + prior_records x u) / (records + prior_records),
    as if the fixed u had been seen in ``prior_records`` records. A batch of 70 incidents, where a
    series writes its victim's name five times, leaves the fixed weights almost as they were; at
    30,000 incidents the batch's own counts decide. Names no more common than ``NAME_U`` are left out
    (the fixed u applies: the adjustment never makes a name stronger evidence than before)."""
    out: dict[str, dict[str, float]] = {}
    for column in NAME_COLUMNS:
        u, total, seen = NAME_U[column], counts.totals[column], counts.values[column]
        names = seen if present is None else set(present[column])
        frequency = {name: (seen.get(name, 0) + prior_records * u) / (total + prior_records) for name in names}
        out[column] = {name: f for name, f in frequency.items() if f > u}
    return out


def _order(when: datetime | None, position: int) -> tuple:
    """Time order of holders: reported time (zone dropped; unknown times last), then batch order."""
    return (when is None, when.replace(tzinfo=None) if when is not None else datetime.min, position)


def _neighbourhoods(holders: Sequence[str], size: int) -> tuple[dict[str, list[int]], int, int]:
    """Blocks for a key too common to block on whole: ``holders`` in time order, in runs of ``size``
    that overlap by half (holder n is in runs n // half - 1 and n // half), so holders close in time
    share a run and no run holds more than ``size``. Returns each holder's runs, the holder pairs
    that share one, and the pairs that share none (left out)."""
    half = max(size // 2, 1)
    runs_of = {holder: sorted({max(n // half - 1, 0), n // half}) for n, holder in enumerate(holders)}
    n = len(holders)
    kept = sum(min(n - 1, (i // half + 2) * half - 1) - i for i in range(n))  # pairs i < j sharing a run
    return runs_of, kept, n * (n - 1) // 2 - kept


def _records(batch: Sequence[Parties], max_block: int | None = None,
             blocking: dict[str, int] | None = None) -> list[dict]:
    """One row per comparable party with its blocking values ``own`` and ``keys``. A value held by more
    than ``max_block`` records (``own``) or incidents (``keys``) is split into time neighbourhoods
    ("name:jason platt@3"): a full name written in 600 incidents of a batch compares each mention with
    the mentions nearest in time, not with all 599. ``blocking`` (when given) gets the counts."""
    keys_of = {parties.incident_id: incident_keys(parties) for parties in batch}
    position = {parties.incident_id: n for n, parties in enumerate(batch)}
    when = {parties.incident_id: parties.reported_at for parties in batch}
    parties = [party for one in batch for party in one.parties
               if party.named or any(getattr(party, column) for column in ARRAY_COLUMNS)]  # not "her ex" alone
    own_of = {party.uid: own_keys(party) for party in parties}
    incident_of = {party.uid: party.incident_id for party in parties}
    salted: dict[tuple[str, str], list[str]] = {}  # (key, holder) -> the key's neighbourhood keys
    counts = Counter(split_keys=0, neighbourhood_pairs=0, left_out_pairs=0)
    if max_block:
        for kind, held in (("keys", keys_of), ("own", own_of)):
            holders: dict[str, list[str]] = {}
            for holder, keys in held.items():
                for key in dict.fromkeys(keys):
                    holders.setdefault(key, []).append(holder)
            for key, who in holders.items():
                if len(who) <= max_block:
                    continue
                incident = (lambda h: h) if kind == "keys" else incident_of.__getitem__
                who = sorted(who, key=lambda h: _order(when[incident(h)], position[incident(h)]))
                runs_of, kept, left_out = _neighbourhoods(who, max_block)
                for holder, runs in runs_of.items():
                    salted[(key, holder)] = [f"{key}@{run}" for run in runs]
                counts.update(split_keys=1, neighbourhood_pairs=kept, left_out_pairs=left_out)
    if blocking is not None:
        blocking.update(counts)

    def blocking_values(keys: list[str], holder: str) -> list[str] | None:
        out = [v for key in keys for v in salted.get((key, holder), (key,))]
        return out or None

    rows = []
    for party in parties:
        reported = when[party.incident_id]
        row = {"unique_id": party.uid, "incident_id": party.incident_id,
               "seconds": (reported.replace(tzinfo=None) - EPOCH).total_seconds() if reported else None,
               "forename": party.forename or None, "surname": party.surname or None,
               "own": blocking_values(own_of[party.uid], party.uid),
               "keys": blocking_values(keys_of[party.incident_id], party.incident_id)}
        row.update({column: list(getattr(party, column)) or None for column in ARRAY_COLUMNS})
        rows.append(row)
    return rows


def resolve(batch: Sequence[Parties], config: LinkConfig | None = None, names: NameCounts | None = None) -> Resolution:
    """splink's evidence for the blocked pairs of parties in different incidents, and the people it makes.

    ``names``: how often each name is written, for the term-frequency adjustment (default: counted in
    ``batch``; with a person store, the new incidents' and the store's counts)."""
    import pandas as pd
    from splink import DuckDBAPI, Linker

    config = config or LinkConfig.from_settings()
    resolution = Resolution()
    rows = _records(batch, config.max_block_size, resolution.blocking)
    if resolution.blocking.get("split_keys"):
        log.info("blocking: %d keys held by more than %d records or incidents split into time neighbourhoods: "
                 "%d pairs of their holders compared, %d left out", resolution.blocking["split_keys"],
                 config.max_block_size, resolution.blocking["neighbourhood_pairs"],
                 resolution.blocking["left_out_pairs"])
    if len(rows) < 2:
        return resolution
    frame = pd.DataFrame(rows)
    for column in NAME_COLUMNS:
        frame[column] = frame[column].astype(object)
    present = {column: {v for v in frame[column] if v} for column in NAME_COLUMNS}
    frequencies = _name_frequencies(names or NameCounts.of(batch), config.name_prior_records, present)
    db_api = DuckDBAPI()
    frame["seconds"] = frame["seconds"].astype("float64")
    linker = Linker(db_api.register(frame), splink_settings(config.window_days), log_level=logging.WARNING)
    for column in NAME_COLUMNS:  # the lookup of each name's u; names not in it keep the fixed one
        lookup = pd.DataFrame({column: pd.Series(list(frequencies[column]), dtype=object),
                               f"tf_{column}": pd.Series(list(frequencies[column].values()), dtype="float64")})
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    predictions = linker.inference.predict().as_pandas_dataframe()
    prior_bits = math.log2(PRIOR / (1 - PRIOR))
    for row in predictions.itertuples(index=False):
        if row.incident_id_l == row.incident_id_r:
            continue
        a, b = sorted((row.unique_id_l, row.unique_id_r))
        resolution.bits[(a, b)] = float(row.match_weight) - prior_bits
    resolution.person_of = _people(rows, resolution, config)
    return resolution


def _people(rows: list[dict], resolution: Resolution, config: LinkConfig) -> dict[str, str]:
    """Connected components of the pairs at or above the person threshold."""
    parent = {row["unique_id"]: row["unique_id"] for row in rows}

    def find(uid: str) -> str:
        while parent[uid] != uid:
            parent[uid] = parent[parent[uid]]
            uid = parent[uid]
        return uid

    prior_bits = math.log2(PRIOR / (1 - PRIOR))
    threshold_bits = math.log2(config.person_threshold / (1 - config.person_threshold)) - prior_bits
    for (a, b), bits in sorted(resolution.bits.items()):
        if bits >= threshold_bits:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {uid: find(uid) for uid in parent}
