"""Label quality (issue 13): confident learning finds deliberately flipped labels and ranks them first."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("cleanlab")

from secondary_crimes import label_quality
from secondary_crimes.cli import app
from secondary_crimes.label_quality import doubtful, read_issues
from secondary_crimes.synthetic.generator import generate_incidents
from secondary_crimes.taxonomy import LABELS

# Damage in the generator's commonest words ("smashed her mobile phone", "kicked the front door in"):
# what even the tiny model of these tests has read many times, so its doubt about a label taken off is
# confident. A rarer phrasing ("smashed the panes of her greenhouse", "vandalised his car") is plain to a
# person but seen a few times only in 1,500 generated incidents.
PLAIN_DAMAGE = re.compile(r"\bsmashed (?:her|his|their) (?:mobile phone|TV|laptop|front door|kitchen window|"
                          r"bedroom door|car windscreen|glass table|games console)\b|kicked the front door in")


def _noisy(seed: int = 0, n: int = 400, k: int = 5, flips: int = 8):
    """True labels, out-of-sample-like probabilities that mostly agree, and labels with ``flips`` cells flipped."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, k)) < 0.3).astype(int)
    proba = np.where(truth == 1, rng.beta(8, 2, (n, k)), rng.beta(2, 8, (n, k)))
    sure = np.argwhere(np.where(truth == 1, proba, 1 - proba) > 0.95)
    chosen = sure[rng.choice(len(sure), flips, replace=False)]
    given = truth.copy()
    for i, j in chosen:
        given[i, j] = 1 - given[i, j]
    return given, proba, {(int(i), int(j)) for i, j in chosen}


def test_flipped_labels_rank_first() -> None:
    given, proba, flipped = _noisy()
    found = doubtful(given, proba)
    assert {(i, j) for i, j, _ in found[: len(flipped)]} == flipped
    qualities = [quality for _, _, quality in found]
    assert qualities == sorted(qualities)  # most doubtful first
    assert all(q < 0.05 for q in qualities[: len(flipped)])


def test_unknown_labels_are_never_doubted_and_known_ones_as_cleanlab_does() -> None:
    from cleanlab.multilabel_classification.filter import find_multilabel_issues_per_class

    given, proba, flipped = _noisy(seed=1)
    known = np.ones(given.shape, bool)
    hidden = {cell for cell in flipped if cell[1] == min(j for _, j in flipped)}
    for i, j in hidden:
        known[i, j] = False  # e.g. an offence the auditors were never asked about
    found = {(i, j) for i, j, _ in doubtful(given, proba, known)}
    assert not found & hidden
    assert flipped - hidden <= found
    # A column with every label known gives exactly cleanlab's multi-label answer.
    full = find_multilabel_issues_per_class([list(np.flatnonzero(row)) for row in given], proba)
    hidden_column = next(iter(hidden))[1]
    for j in range(given.shape[1]):
        if j != hidden_column:
            assert {i for i, column in found if column == j} == set(np.flatnonzero(full[:, j]))


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _flip(row: dict, offence: str, present: bool) -> None:
    if present:
        row["offences"] = [label for label in LABELS if label in {*row["offences"], offence}]
    else:
        row["offences"] = [label for label in row["offences"] if label != offence]
        row["evidence"] = {k: v for k, v in (row.get("evidence") or {}).items() if k != offence}
    row["missed"] = [label for label in row["offences"] if label not in row["recorded_crimes"]]


@pytest.fixture()
def flipped_corpus(tmp_path: Path) -> tuple[list[str], set[tuple[str, str]], Path]:
    """Two small synthetic 'corpus files' with four labels flipped in each: criminal damage taken off two
    incidents that plainly show it, and threats to kill put on two with nothing to record."""
    rows = generate_incidents(160, seed=5)
    flips: set[tuple[str, str]] = set()
    for part in (rows[:80], rows[80:]):
        removed = [r for r in part if PLAIN_DAMAGE.search((r.get("evidence") or {}).get("criminal_damage", ""))][:2]
        added = [r for r in part if not r["offences"]][:2]
        for row in removed:
            _flip(row, "criminal_damage", present=False)
            flips.add((row["incident_id"], "criminal_damage"))
        for row in added:
            _flip(row, "threats_to_kill", present=True)
            flips.add((row["incident_id"], "threats_to_kill"))
    patterns = []
    for name, part in (("east", rows[:80]), ("west", rows[80:])):
        _write(tmp_path / f"{name}.jsonl", part)
        patterns.append(str(tmp_path / f"{name}.jsonl"))
    config = {"kind": "baseline", "params": {"max_features": 3000},
              "data": {"corpus": patterns, "sample": [], "synthetic_n": 1500, "synthetic_seed": 11},
              "threshold_strategy": "holdout", "seed": 1}
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return patterns, flips, config_path


def test_the_command_ranks_the_flipped_corpus_labels_first(flipped_corpus, tmp_path: Path) -> None:
    patterns, flips, config = flipped_corpus
    out = tmp_path / "issues.jsonl"
    result = CliRunner().invoke(app, ["label-issues", "--config", str(config), "--out", str(out), "--top", "8"])
    assert result.exit_code == 0, result.output
    issues = read_issues(out)
    ranks = {(issue.incident_id, issue.offence): issue.rank for issue in issues}
    assert flips <= set(ranks), [(i.incident_id, i.offence, i.quality) for i in issues[:12]]
    # The flips fill the top of the list, bar two places: the tiny model's own confident mistakes (a
    # synthetic hard negative, a child describing a video game, read as child cruelty; and one more).
    assert max(ranks[flip] for flip in flips) <= len(flips) + 2, sorted(ranks.items(), key=lambda kv: kv[1])[:12]
    assert sum(ranks[flip] <= len(flips) for flip in flips) >= len(flips) - 1
    assert [issue.rank for issue in issues] == list(range(1, len(issues) + 1))
    first = issues[0]
    assert first.source in {"east", "west"} and first.labelled_by == "corpus"
    assert first.suggested is not first.given and first.quality == pytest.approx(
        first.probability if first.given else 1 - first.probability, abs=1e-3)
    assert "leave one corpus file out" in first.method
    assert first.incident_id in result.output and "suggested" in result.output  # the printed table
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_auditors_decisions_are_checked_on_the_offences_they_decided(flipped_corpus, tmp_path: Path) -> None:
    """An export: a wrong decision on a corpus incident and a partial decision on a new one."""
    patterns, _, config = flipped_corpus
    rows = generate_incidents(200, seed=5)  # a seed whose 200 incidents hold a plain damage-only one
    damage = next(r for r in rows if r["offences"] == ["criminal_damage"]  # a door kicked in, nothing else
                  and PLAIN_DAMAGE.search((r.get("evidence") or {}).get("criminal_damage", "")))
    nothing = next(r for r in rows if not r["offences"])
    # Auditors rejected the criminal damage that is plainly there, and recorded a rape on an
    # incident with nothing in it; neither incident is in the corpus, and they decided only these.
    for row, offence, present in ((damage, "criminal_damage", False), (nothing, "rape", True)):
        _flip(row, offence, present)
        row.update(incident_id="Q-" + row["incident_id"], known_offences=[offence],
                   offences=[offence] if present else [], evidence={})
        row["missed"] = [label for label in row["offences"] if label not in row["recorded_crimes"]]
    export = tmp_path / "decisions.jsonl"
    _write(export, [damage, nothing])
    from secondary_crimes.train import TrainConfig

    scored = label_quality.cross_fitted(TrainConfig.from_file(config), patterns, [str(export)], folds=2)
    decided = [i for i, row in enumerate(scored.incidents) if row.incident_id.startswith("Q-")]
    assert len(decided) == 2 and all(scored.sources[i] == "decisions" for i in decided)
    assert all(scored.known[i].sum() == 1 and scored.by_auditors[i].sum() == 1 for i in decided)
    issues = label_quality.find(scored)
    by_auditors = [(issue.incident_id, issue.offence) for issue in issues if issue.labelled_by == "auditors"]
    assert set(by_auditors) == {(damage["incident_id"], "criminal_damage"), (nothing["incident_id"], "rape")}


def test_a_wide_table_is_not_cut_when_piped(capsys) -> None:
    """The command's table (cli.print_table) is wider than 80 columns; piped, no cell is cut."""
    from secondary_crimes.cli import print_table

    print_table(["incident", "evidence"], [["SYN-24-000001", "x" * 70 + " end"], ["SYN-24-000002", "y" * 90]])
    out = capsys.readouterr().out
    assert "x" * 70 + " end" in out and "y" * 90 in out and "…" not in out
