"""Every text a run logs goes through ``privacy.pseudonymise_incident`` (names, addresses, phones, ...)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from secondary_crimes.privacy import NOT_NAMES, pseudonymise, pseudonymise_incident
from secondary_crimes.records import GoldIncident

__all__ = ["NOT_NAMES", "examples", "pseudonymise", "pseudonymise_incident"]


def examples(incidents: Sequence[GoldIncident], records: Sequence[dict], limit: int = 5) -> str:
    """A few held-out incidents (highest review priority first) as JSON lines, names pseudonymised."""
    order = np.argsort([-r["review_priority"] for r in records], kind="stable")[:limit]
    lines = []
    for i in order:
        row = pseudonymise_incident(incidents[i])
        lines.append(
            json.dumps(
                {
                    "incident_id": row["incident_id"],
                    "call_log": row["call_log"],
                    "officer_narrative": row["officer_narrative"],
                    "recorded_crimes": row["recorded_crimes"],
                    "gold_offences": row.get("offences"),
                    "gold_missed": row.get("missed"),
                    "predicted_offences": [e["offence"] for e in records[i]["offences"]],
                    "predicted_missed": [e["offence"] for e in records[i]["missed"]],
                    "review_priority": records[i]["review_priority"],
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(lines) + "\n"
