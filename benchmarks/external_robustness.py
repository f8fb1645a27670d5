"""Robustness on real US police text (../shared/external), which the models never train on.

US offence definitions differ from England & Wales, so this is no accuracy score: it checks
that the acts the text describes still move the model. For each recorded US incident type
mapped to one of our offences, it prints how often the model supports that offence, and how
often it flags anything at all on non-crime rows (lost property, medical calls, ...).

    python benchmarks/external_robustness.py [--model models/default] [--limit 300]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from secondary_crimes.classify.bundle import load_bundle
from secondary_crimes.records import Incident
from secondary_crimes.score import score_incidents

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
VIOLENCE = {"common_assault", "assault_with_injury", "non_fatal_strangulation"}
# UCPD incident type -> the offences any of which counts as "the act was seen".
UCPD = {
    "Theft": {"theft"}, "Theft from Motor Vehicle": {"theft"}, "Burglary": {"burglary", "theft"},
    "Battery": VIOLENCE, "Domestic Battery": VIOLENCE, "Aggravated Battery": VIOLENCE,
    "Criminal Damage to Property": {"criminal_damage"}, "Criminal Damage to Vehicle": {"criminal_damage"},
    "Stalking": {"stalking", "harassment"},
    "Harassment by Electronic Means": {"harassment", "malicious_communications"},
    "Lost Property": set(), "Found Property": set(), "Medical Call": set(), "Injured Person": set(),
    "Mental Health Transport": set(), "Traffic Crash": set(),
}


def ucpd_rows(limit: int) -> list[tuple[str, Incident]]:
    rows, per_type = [], defaultdict(int)
    with (EXTERNAL / "ucpd_incidents_2010_2019.csv").open(encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            kind, text = row["Incident"].strip(), (row["Comments / Nature of Fire"] or "").strip()
            if kind in UCPD and text and per_type[kind] < limit:
                per_type[kind] += 1
                rows.append((kind, Incident(incident_id=f"UCPD-{number}", call_log=text)))
    return rows


def lapd_rows() -> list[tuple[str, Incident]]:
    with (EXTERNAL / "lapd_assault_narratives.csv").open(encoding="utf-8") as handle:
        return [(f"LAPD {row['crime_code']} ({row['classification']})",
                 Incident(incident_id=f"LAPD-{row['DR']}-{i}", officer_narrative=row["NARRATIVE"], call_log=""))
                for i, row in enumerate(csv.DictReader(handle))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=150, help="rows per UCPD incident type")
    args = parser.parse_args()
    if not EXTERNAL.exists():
        raise SystemExit(f"{EXTERNAL} not found")
    bundle = load_bundle(args.model)
    print(f"model {bundle.version}")
    print(f"{'recorded type':<34}{'rows':>6}{'offence seen':>14}{'any flag':>10}")
    for rows in (ucpd_rows(args.limit), lapd_rows()):
        groups: dict[str, list] = defaultdict(list)
        scored = score_incidents([incident for _, incident in rows], bundle)
        for (kind, _), record in zip(rows, scored, strict=True):
            groups[kind].append({o["offence"] for o in record["offences"]})
        for kind, predicted in sorted(groups.items()):
            expected = UCPD.get(kind, VIOLENCE)
            seen = (f"{sum(bool(p & expected) for p in predicted) / len(predicted):>14.2f}"
                    if expected else f"{'(non-crime)':>14}")
            print(f"{kind:<34}{len(predicted):>6}{seen}{sum(bool(p) for p in predicted) / len(predicted):>10.2f}")


if __name__ == "__main__":
    main()
