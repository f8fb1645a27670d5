"""Moving ``@champion`` safely: a registered version is compared with the champion first.

A version is refused (unless forced) when it is worse than the champion on the primary figure
(held-out missed micro F1) or on most headline figures, and when the two were not evaluated on
the same incidents: each tracked run records ``test_split_sha256``, the content hash of the
incidents it was evaluated on (its model's registered evaluation set, ``evaluation_set``), and
figures are compared only when the two hashes are equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CHAMPION = "champion"
TEST_SPLIT_TAG = "test_split_sha256"  # the content hash of the incidents a run was evaluated on
SET_TAG = "evaluation_set_sha256"  # the registered evaluation set they were drawn from (evaluation_set)
PRIMARY = "test_missed_micro_f1"
# The figures promote compares and the model card reports, in order.
KEY_METRICS = [
    "test_missed_micro_f1",
    "test_missed_macro_f1",
    "test_incident_recall",
    "test_incident_precision",
    "test_review_priority_ap",
    "test_offences_micro_f1",
    "test_offences_macro_f1",
    "test_brier",
    "test_inference_incidents_per_s",
]
LOWER_IS_BETTER = frozenset({"test_brier"})
# Shown but not counted: speed depends on the machine and its load as much as on the model.
NOT_COUNTED = frozenset({"test_inference_incidents_per_s"})


class PromotionRefused(ValueError):
    """The candidate is worse than the champion, or cannot be compared with it."""


@dataclass
class Side:
    """One version as compared: its label, its run's metrics, the hash of the incidents it was
    evaluated on and of the registered evaluation set they came from."""

    label: str
    metrics: dict[str, float] = field(default_factory=dict)
    split: str | None = None
    evaluation_set: str | None = None


def _side(client: MlflowClient, version: ModelVersion, label: str) -> Side:
    try:
        run = client.get_run(version.run_id) if version.run_id else None
    except MlflowException:
        run = None
    if run is None:
        return Side(label)
    return Side(label, dict(run.data.metrics), run.data.tags.get(TEST_SPLIT_TAG), run.data.tags.get(SET_TAG))


def _worse(key: str, candidate: float, champion: float) -> bool:
    return candidate > champion + 1e-9 if key in LOWER_IS_BETTER else candidate < champion - 1e-9


def _known(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def problems(candidate: Side, champion: Side) -> list[str]:
    """Why ``candidate`` should not replace ``champion`` (nothing: it may)."""
    if candidate.split is None or champion.split is None:
        missing = " and ".join(side.label for side in (candidate, champion) if side.split is None)
        return [f"cannot tell whether {candidate.label} and {champion.label} were evaluated on the same "
                f"incidents: {missing} records no {TEST_SPLIT_TAG} (trained before it was recorded, or untracked)"]
    if candidate.split != champion.split:
        why = _why_different(candidate, champion)
        return [f"{candidate.label} and {champion.label} were evaluated on different incidents "
                f"({TEST_SPLIT_TAG} {candidate.split[:12]} vs {champion.split[:12]}{why}): "
                "their figures do not compare"]
    new, old = candidate.metrics, champion.metrics
    if not (_known(new.get(PRIMARY)) and _known(old.get(PRIMARY))):
        return [f"{PRIMARY} is missing for {candidate.label if not _known(new.get(PRIMARY)) else champion.label}"]
    found = []
    if _worse(PRIMARY, new[PRIMARY], old[PRIMARY]):
        found.append(f"worse than {champion.label} on the primary figure {PRIMARY} "
                     f"({new[PRIMARY]:.4f} < {old[PRIMARY]:.4f})")
    counted = [k for k in KEY_METRICS if k not in NOT_COUNTED and _known(new.get(k)) and _known(old.get(k))]
    worse = [k for k in counted if _worse(k, new[k], old[k])]
    if 2 * len(worse) > len(counted):
        found.append(f"worse than {champion.label} on {len(worse)} of {len(counted)} headline figures")
    return found


def _why_different(candidate: Side, champion: Side) -> str:
    sets = (candidate.evaluation_set, champion.evaluation_set)
    if None in sets:
        missing = " and ".join(side.label for side in (candidate, champion) if side.evaluation_set is None)
        return f"; {missing} evaluated on a split of its own, not a registered evaluation set"
    if sets[0] != sets[1]:
        return f"; different evaluation sets, {sets[0][:12]} vs {sets[1][:12]}"
    return (f"; the same evaluation set {sets[0][:12]}, but one run's data lacked some of its incidents "
            "or labelled them differently")


def evaluated_on(candidate: Side, champion: Side | None) -> str:
    """One line: which incidents the figures below are on, and whether the two sides share them."""
    def name(side: Side) -> str:
        return f"{side.split[:12]}" if side.split else "unknown incidents"

    if champion is None:
        return f"evaluated on: {TEST_SPLIT_TAG} {name(candidate)}"
    if candidate.split is not None and candidate.split == champion.split:
        return f"evaluated on: the same incidents ({TEST_SPLIT_TAG} {name(candidate)})"
    return (f"evaluated on: different incidents ({champion.label} {name(champion)}, {candidate.label} "
            f"{name(candidate)}): the figures are shown, not compared")


def table(candidate: Side, champion: Side | None) -> list[str]:
    """The figures side by side, marked better/worse only when both come from the same incidents."""
    lines = [evaluated_on(candidate, champion),
             f"{'metric':32s} {champion.label if champion else 'no champion':>16s} {candidate.label:>12s}"]
    comparable = champion is not None and candidate.split is not None and candidate.split == champion.split
    for key in KEY_METRICS:
        before = champion.metrics.get(key) if champion else None
        after = candidate.metrics.get(key)
        mark = ""
        if comparable and _known(before) and _known(after) and key not in NOT_COUNTED:
            mark = "  worse" if _worse(key, after, before) else ("  better" if _worse(key, before, after) else "")
        lines.append(f"{key:32s} {f'{before:.4f}' if _known(before) else '-':>16s} "
                     f"{f'{after:.4f}' if _known(after) else '-':>12s}{mark}")
    return lines


def promote(client: MlflowClient, version: str, name: str, *, force: bool = False, dry_run: bool = False) -> str:
    """Print ``version``'s held-out figures beside the champion's, then make it champion.

    Raises ``PromotionRefused`` (after printing the comparison) when ``problems`` finds any and
    ``force`` is off; ``dry_run`` prints the comparison and the verdict and changes nothing.
    """
    try:
        candidate = client.get_model_version(name, str(version))
    except MlflowException as error:
        raise ValueError(f"model {name!r} has no version {version!r}: {error.message}") from None
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    new = _side(client, candidate, f"v{candidate.version}")
    old = _side(client, current, f"champion v{current.version}") if current is not None else None
    kind = candidate.tags.get("kind") or (client.get_run(candidate.run_id).data.tags.get("kind", "?")
                                          if candidate.run_id else "?")
    lines = [f"{'Comparing' if dry_run else 'Promoting'} {name} v{candidate.version} ({kind}) to @{CHAMPION}",
             *table(new, old)]
    same = current is not None and str(current.version) == str(candidate.version)
    found = problems(new, old) if old is not None and not same else []
    if same:
        lines.append(f"v{candidate.version} is already the champion.")
    lines += [f"! {problem}" for problem in found]
    if found and not force:
        verdict = f"{name} v{candidate.version} not promoted: {'; '.join(found)} (--force promotes it anyway)"
        if dry_run:
            lines.append(f"dry run: would refuse: {verdict}")
            return _say(lines)
        _say(lines)
        raise PromotionRefused(verdict)
    if dry_run:
        lines.append(f"dry run: would move {name}@{CHAMPION} to v{candidate.version}"
                     + (" (forced)" if found else ""))
        return _say(lines)
    client.set_registered_model_alias(name, CHAMPION, str(candidate.version))
    client.set_model_version_tag(name, str(candidate.version), "promoted_at", datetime.now(UTC).isoformat())
    if found:
        lines.append("--force: promoted despite the above")
        client.set_model_version_tag(name, str(candidate.version), "promoted_despite", "; ".join(found)[:5000])
    lines.append(f"{name}@{CHAMPION} -> v{candidate.version}")
    return _say(lines)


def _say(lines: list[str]) -> str:
    text = "\n".join(lines)
    print(text)
    return text
