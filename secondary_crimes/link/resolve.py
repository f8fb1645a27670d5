"""Entity resolution of the parties of a batch of incidents, with splink (Fellegi-Sunter, DuckDB).

Each party (a named person, or a loose phone, vehicle, address, account) is one record. splink
compares only the pairs that share a blocking key, never all pairs: the full name, a phone, a DOB,
an address, the first four characters of a vehicle registration, an account (``own``); and a forename or a
surname alone only between incidents that share one of those, or two name words (``keys``:
"Jason" and "Jason PLATT" when both incidents name Kerry ASHBY or 14 Wren Close; "Daniel" and
"Leanne" written in both).
A common forename alone is never a block, which at 100,000 incidents would be quadratic, and a key
in more than ``LinkConfig.max_block_size`` records or incidents is not used, so no block grows with
the batch: the pairs compared grow linearly. It scores
each with fixed m/u probabilities (no training: a batch may be a handful of incidents). The score
is kept as evidence in bits (log2 Bayes factor, the prior left out) for ``series``; pairs at or
above ``LinkConfig.person_threshold`` are joined into people (``person_of``).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from secondary_crimes.link.config import LinkConfig
from secondary_crimes.link.identifiers import Parties, Party

# Prior that two blocked records are the same person: the match weights below are relative to it.
PRIOR = 1e-3
ARRAY_COLUMNS = ("phones", "dobs", "addresses", "streets", "vehicles", "vehicle_prefixes", "accounts")


@dataclass
class Resolution:
    """splink's evidence for pairs of parties in different incidents, and people resolved from it."""

    bits: dict[tuple[str, str], float] = field(default_factory=dict)  # (uid, uid), uid order sorted
    person_of: dict[str, str] = field(default_factory=dict)  # party uid -> person id (the first uid of the cluster)

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


def splink_settings():
    """The splink model: comparisons with fixed m/u probabilities and the blocking rules."""
    import splink.comparison_level_library as cll
    from splink import SettingsCreator, block_on

    def prefix(column: str):
        return cll.CustomLevel(
            f"length({column}_l) >= 3 AND length({column}_r) >= 3 AND "
            f"(substr({column}_l, 1, length({column}_r)) = {column}_r OR "
            f"substr({column}_r, 1, length({column}_l)) = {column}_l)"
        )

    forename = _levels("forename", [
        cll.ExactMatchLevel("forename"),
        cll.Or(cll.JaroWinklerLevel("forename", 0.88), prefix("forename")),  # "Beth"/"Bethany", "Nat"/"Natalie"
        cll.CustomLevel("(length(forename_l) = 1 OR length(forename_r) = 1) AND "
                        "substr(forename_l, 1, 1) = substr(forename_r, 1, 1)"),  # "P" and "Priya"
        cll.ElseLevel(),
    ], m=[0.85, 0.08, 0.04, 0.03], u=[0.006, 0.01, 0.04, 0.944])
    surname = _levels("surname", [
        cll.ExactMatchLevel("surname"), cll.JaroWinklerLevel("surname", 0.92), cll.ElseLevel(),
    ], m=[0.88, 0.07, 0.05], u=[0.002, 0.005, 0.993])
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
            block_on("own", arrays_to_explode=["own"]),
            block_on("forename", "keys", arrays_to_explode=["keys"]),
            block_on("surname", "keys", arrays_to_explode=["keys"]),
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


def _common(values: Iterable[Iterable[str]], limit: int) -> set[str]:
    counts = Counter(value for group in values for value in set(group))
    return {value for value, count in counts.items() if count > limit}


def _records(batch: Sequence[Parties], max_block: int | None = None) -> list[dict]:
    """One row per comparable party; ``own`` and ``keys`` (blocking) without values more common than
    ``max_block`` (a full name written in 60 incidents of a batch blocks nothing on its own)."""
    keys_of = {parties.incident_id: incident_keys(parties) for parties in batch}
    parties = [party for one in batch for party in one.parties
               if party.named or any(getattr(party, column) for column in ARRAY_COLUMNS)]  # not "her ex" alone
    own_of = {party.uid: own_keys(party) for party in parties}
    common = (_common(keys_of.values(), max_block) | _common(own_of.values(), max_block)) if max_block else set()
    rows = []
    for party in parties:
        row = {"unique_id": party.uid, "incident_id": party.incident_id,
               "forename": party.forename or None, "surname": party.surname or None,
               "own": [k for k in own_of[party.uid] if k not in common] or None,
               "keys": [k for k in keys_of[party.incident_id] if k not in common] or None}
        row.update({column: list(getattr(party, column)) or None for column in ARRAY_COLUMNS})
        rows.append(row)
    return rows


def resolve(batch: Sequence[Parties], config: LinkConfig | None = None) -> Resolution:
    """splink's evidence for the blocked pairs of parties in different incidents, and the people it makes."""
    import pandas as pd
    from splink import DuckDBAPI, Linker

    config = config or LinkConfig.from_settings()
    rows = _records(batch, config.max_block_size)
    resolution = Resolution()
    if len(rows) < 2:
        return resolution
    frame = pd.DataFrame(rows)
    for column in ("forename", "surname"):
        frame[column] = frame[column].astype(object)
    linker = Linker(DuckDBAPI().register(frame), splink_settings(), log_level=logging.WARNING)
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
