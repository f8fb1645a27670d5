"""Label quality (issue 13): likely label errors among the corpus's labels and the auditors' decisions.

Each labelled incident is scored by a model that never trained on it, and confident learning
(cleanlab's multi-label filter: one present/absent problem per offence) picks the
(incident, offence) labels that the model contradicts with more confidence than that
offence's labels are usually given. The list is ranked by the model's probability of the
label as given (lowest first) and written as JSON Lines; the review queue shows the latest
list to supervisors (``/label-issues``). Nothing is changed: a person decides.

Two ways to get the out-of-sample probabilities:

- the corpus alone (default): leave one corpus file out (``crossval.cross_validate_by_source``),
  so each file is scored by a model that saw neither it nor its force's writing;
- with ``--decisions`` (the ``queue export`` file): k folds over the corpus and the auditors'
  decisions together, laid over the corpus as training reads them (``training_data.assemble``).
  A decision that settles only some offences trains on those offences (the others are
  ``UNKNOWN`` to the models), and is scored and checked on those offences only.

The course-of-conduct labels (harassment, stalking, coercive control, breach of an order) of a
series file's incidents (``series_*``) are not checked: they rest on the series' other
incidents, which one incident's text does not carry.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer
from pydantic import BaseModel, ConfigDict, ValidationError

from secondary_crimes.records import GoldIncident
from secondary_crimes.taxonomy import LABELS

log = logging.getLogger(__name__)

ISSUES_FILE = "label_issues.jsonl"  # the name the queue's supervisor page reads in its data folder
DEFAULT_CONFIG = Path("training/baseline.yaml")
DECISIONS_SOURCE = "decisions"  # the source of an auditors' decision on an incident the corpus lacks
EVIDENCE_CHARS = 300


class LabelIssue(BaseModel):
    """One doubted label: an offence given present (or absent) that the model says is the other way."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rank: int
    incident_id: str
    source: str  # the corpus file's stem, or "decisions"
    labelled_by: Literal["corpus", "auditors"]
    offence: str
    given: bool  # the label: offence present
    suggested: bool  # what the model says (always not ``given``)
    probability: float  # the out-of-sample model's probability that the offence is present
    threshold: float | None = None  # that model's decision threshold for the offence
    quality: float  # the model's probability of the label as given: the lower, the likelier an error
    evidence: str | None = None  # the labeller's evidence quote (given present) or the model's sentence
    evidence_from: Literal["label", "model"] | None = None
    run_at: str = ""
    method: str = ""  # how the probabilities were cross-fitted, and the config


@dataclasses.dataclass
class OutOfSample:
    """Labelled incidents with probabilities from models that never trained on them."""

    incidents: list[GoldIncident]
    sources: list[str]
    probabilities: np.ndarray  # (incidents x offences)
    thresholds: np.ndarray  # (incidents x offences): the scoring model's thresholds
    known: np.ndarray  # (incidents x offences) bool: the label is decided
    by_auditors: np.ndarray  # (incidents x offences) bool: decided by the auditors (else by the corpus)
    records: list[dict]  # the scored records (the model's evidence)
    method: str = ""


def doubtful(Y: np.ndarray, proba: np.ndarray, known: np.ndarray | None = None, *,
             filter_by: str = "prune_by_noise_rate") -> list[tuple[int, int, float]]:
    """``(row, offence, quality)`` of every known label confident learning doubts, most doubtful first.

    ``proba`` must be out-of-sample probabilities. Which labels: with every label known,
    cleanlab's ``multilabel_classification.filter.find_multilabel_issues_per_class`` (the
    per-offence masks behind its ``find_label_issues``); with some unknown, the same
    one-vs-rest reduction over each offence's known rows only. ``quality`` is the model's
    probability of the label as given (cleanlab's self-confidence, its default ranking).
    """
    Y = np.asarray(Y, dtype=int)
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    known = np.ones(Y.shape, bool) if known is None else np.asarray(known, bool)
    if Y.shape != proba.shape or Y.shape != known.shape:
        raise ValueError(f"labels {Y.shape}, probabilities {proba.shape} and known {known.shape} differ in shape")
    everything = known.all()
    with warnings.catch_warnings():  # "too few examples" of a rare offence: it is flagged less, as documented
        warnings.filterwarnings("ignore", message="May not flag all label issues", category=UserWarning)
        return _doubtful(Y, proba, known, everything, filter_by)


def _doubtful(Y: np.ndarray, proba: np.ndarray, known: np.ndarray, everything: bool,
              filter_by: str) -> list[tuple[int, int, float]]:
    from cleanlab.filter import find_label_issues
    from cleanlab.multilabel_classification.filter import find_multilabel_issues_per_class

    if everything:
        labels = [list(np.flatnonzero(row)) for row in Y]
        issues = np.asarray(find_multilabel_issues_per_class(labels, proba, filter_by=filter_by, n_jobs=1), bool)
    else:
        issues = np.zeros(Y.shape, bool)
    for j in range(Y.shape[1]):
        rows = np.flatnonzero(known[:, j])
        if len(rows) < 2:
            issues[:, j] = False
            continue
        binary = np.column_stack([1.0 - proba[rows, j], proba[rows, j]])
        if not everything:
            issues[rows, j] = find_label_issues(Y[rows, j], binary, filter_by=filter_by, n_jobs=1)
    issues &= known
    quality = np.where(Y == 1, proba, 1.0 - proba)
    found = [(int(i), int(j), float(quality[i, j])) for i, j in zip(*np.nonzero(issues), strict=True)]
    return sorted(found, key=lambda hit: (hit[2], hit[0], hit[1]))


def _model_evidence(record: dict, offence: str) -> str | None:
    for entry in record.get("offences") or []:
        if entry.get("offence") == offence:
            for span in entry.get("evidence") or []:
                if span.get("text"):
                    return span["text"]
    return None


def find(scored: OutOfSample, *, filter_by: str = "prune_by_noise_rate", run_at: str | None = None,
         ) -> list[LabelIssue]:
    """The ranked list of doubted labels of ``scored``."""
    from secondary_crimes.training_data import label_matrix

    run_at = run_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    hits = doubtful(label_matrix(scored.incidents), scored.probabilities, scored.known, filter_by=filter_by)
    issues = []
    for rank, (i, j, quality) in enumerate(hits, 1):
        incident, offence = scored.incidents[i], LABELS[j]
        given = offence in (incident.offences or [])
        evidence = (incident.evidence or {}).get(offence) if given else _model_evidence(scored.records[i], offence)
        if evidence and len(evidence) > EVIDENCE_CHARS:
            evidence = evidence[: EVIDENCE_CHARS - 1] + "…"
        issues.append(LabelIssue(
            rank=rank, incident_id=incident.incident_id, source=scored.sources[i],
            labelled_by="auditors" if scored.by_auditors[i, j] else "corpus", offence=offence,
            given=given, suggested=not given, probability=round(float(scored.probabilities[i, j]), 4),
            threshold=round(float(scored.thresholds[i, j]), 4), quality=round(quality, 4),
            evidence=evidence or None, evidence_from=("label" if given else "model") if evidence else None,
            run_at=run_at, method=scored.method))
    return issues


def _series_conduct_unknown(sources: Sequence[str], known: np.ndarray) -> np.ndarray:
    """``known`` less the course-of-conduct offences of a series file's incidents: those labels rest on the
    series' other incidents, which one incident's text does not carry (as ``crossval.SERIES_PREFIX``)."""
    from secondary_crimes.crossval import SERIES_PREFIX
    from secondary_crimes.link.conduct import CONDUCT_OFFENCES

    known = known.copy()
    rows = [i for i, source in enumerate(sources) if source.startswith(SERIES_PREFIX)]
    columns = [LABELS.index(offence) for offence in CONDUCT_OFFENCES]
    known[np.ix_(rows, columns)] = False
    return known


def by_source(config, patterns: list[str]) -> OutOfSample:
    """Each corpus file scored by a model trained without it (``cross_validate_by_source``)."""
    from secondary_crimes.crossval import FoldOutput, cross_validate_by_source

    outputs: dict[str, FoldOutput] = {}
    gold, records = cross_validate_by_source(config, patterns, outputs=outputs)
    incidents = [row for rows in gold.values() for row in rows]
    sources = [source for source, rows in gold.items() for _ in rows]
    shape = (len(incidents), len(LABELS))
    return OutOfSample(
        incidents=incidents,
        sources=sources,
        probabilities=np.vstack([outputs[source].probabilities for source in gold]),
        thresholds=np.vstack([np.tile(outputs[source].thresholds, (len(rows), 1)) for source, rows in gold.items()]),
        known=_series_conduct_unknown(sources, np.ones(shape, bool)), by_auditors=np.zeros(shape, bool),
        records=[r for source in gold for r in records[source]],
        method=f"{config.kind}, leave one corpus file out")


def cross_fitted(config, patterns: list[str], decisions: list[str], *, folds: int = 5,
                 seed: int = 0) -> OutOfSample:
    """The corpus and the auditors' decisions, each fold scored by a model trained on the other folds.

    The decisions are laid over the corpus as training reads them (``assemble``: an auditor's
    decision on an offence overrides the corpus label). A decision on only some offences of an
    incident the corpus lacks trains on those offences, is scored by its fold's model, and is
    checked on those offences only.
    """
    from sklearn.model_selection import KFold

    from secondary_crimes.classify.base import known_mask
    from secondary_crimes.score import decide_all
    from secondary_crimes.train import fit_bundle
    from secondary_crimes.training_data import CORPUS_GROUP, Dataset, assemble, read_labelled

    hand = assemble(dataclasses.replace(config.data, corpus=list(patterns), sample=[], extra=list(decisions),
                                        synthetic_n=0))
    decided = {row.incident_id: row for row in read_labelled(list(decisions))[0]}
    rows = hand.incidents
    if len(rows) < folds:
        raise ValueError(f"{len(rows)} labelled incidents in {patterns} and {decisions}, fewer than {folds} folds")
    sources = [g.removeprefix(CORPUS_GROUP) if g.startswith(CORPUS_GROUP) else DECISIONS_SOURCE
               for g in hand.groups]
    index = {label: j for j, label in enumerate(LABELS)}
    known = known_mask(hand.Y)  # a decision on some offences, with nothing under it, knows only those
    by_auditors = np.zeros_like(known)
    for i, row in enumerate(rows):
        decision = decided.get(row.incident_id)
        if decision is None:
            continue
        columns = list(range(len(LABELS))) if decision.known_offences is None else \
            [index[label] for label in decision.known_offences]
        by_auditors[i, columns] = True
    ids = {row.incident_id for row in rows}
    background = assemble(dataclasses.replace(config.data, extra=[]), include_corpus=False)
    background = background.subset([i for i, row in enumerate(background.incidents) if row.incident_id not in ids])

    probabilities = np.zeros(known.shape)
    thresholds = np.zeros(known.shape)
    records: list[dict] = [{}] * len(rows)
    for number, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(rows), 1):
        dataset = Dataset(background.incidents + [rows[i] for i in train],
                          dict(background.sources, hand_labelled=len(train)),
                          np.concatenate([background.weights, hand.weights[train]]),
                          background.groups + [hand.groups[i] for i in train])
        bundle = fit_bundle(config, dataset)
        test_rows = [rows[i] for i in test]
        analyses = bundle.model.analyse(test_rows, bundle.thresholds)
        for i, analysis, record in zip(test, analyses, decide_all(test_rows, analyses, bundle), strict=True):
            probabilities[i], thresholds[i], records[i] = analysis.probabilities, bundle.thresholds, record
        log.info("fold %d/%d scored %d incidents", number, folds, len(test_rows))
    known = _series_conduct_unknown(sources, known) | by_auditors  # an auditor's decision is checked
    return OutOfSample(rows, sources, probabilities, thresholds, known, by_auditors, records,
                       method=f"{config.kind}, {folds}-fold over the corpus and the auditors' decisions")


def write_issues(path: Path, issues: Sequence[LabelIssue]) -> None:
    """The list as JSON Lines (mode 0600: it quotes incidents), replaced atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".tmp")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        for issue in issues:
            handle.write(issue.model_dump_json() + "\n")
    staged.replace(path)


def read_issues(path: Path) -> list[LabelIssue]:
    """The list a run wrote; a bad line is an error naming the file and line."""
    issues = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                issues.append(LabelIssue.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as error:
                raise ValueError(f"{path}:{number}: not a label issue: {str(error).splitlines()[0]}") from None
    return issues


def _cell(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def label_issues(
    config: Annotated[Path, typer.Option(help="Training config (YAML): the model that scores each held-out "
                                              "part (default: the fast baseline)")] = DEFAULT_CONFIG,
    corpus: Annotated[list[str] | None, typer.Option(help="Labelled corpus files (globs; default: the config's)")
                      ] = None,
    decisions: Annotated[list[str] | None, typer.Option(
        help="The auditors' decisions (`queue export` files): check them too, with k folds over the corpus "
             "and the decisions instead of leaving one corpus file out")] = None,
    folds: Annotated[int, typer.Option(min=2, help="With --decisions: how many folds")] = 5,
    out: Annotated[Path, typer.Option(help="Where to write the ranked list (JSON Lines)")] = Path(
        "runs") / ISSUES_FILE,
    queue_db: Annotated[str | None, typer.Option(
        help="Also write the list where the review queue over this database shows it to supervisors "
             f"(its data folder's {ISSUES_FILE})")] = None,
    top: Annotated[int, typer.Option(min=0, help="How many to print")] = 25,
    filter_by: Annotated[str, typer.Option(help="cleanlab's filter_by method")] = "prune_by_noise_rate",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Find likely label errors in the corpus (and the auditors' decisions) by confident learning."""
    from secondary_crimes.cli import _fail, _logging, _train_config, print_table

    _logging(verbose)
    if importlib.util.find_spec("cleanlab") is None:
        raise _fail("label-issues needs cleanlab: pip install 'secondary-crimes[label_quality]'")
    train_config = _train_config(config)
    patterns = corpus or train_config.data.corpus
    if decisions:
        scored = cross_fitted(train_config, patterns, decisions, folds=folds, seed=train_config.seed)
    else:
        scored = by_source(train_config, patterns)
    scored.method += f" ({config})"
    issues = find(scored, filter_by=filter_by)
    targets = [out]
    if queue_db:
        from secondary_crimes.queue.config import data_dir

        targets.append(data_dir(queue_db) / ISSUES_FILE)
    for target in targets:
        write_issues(target, issues)
    checked = int(scored.known.sum())
    typer.echo(f"{scored.method}: {len(issues)} doubted label(s) of {checked} on {len(scored.incidents)} "
               f"incidents; written to {', '.join(map(str, targets))}")
    print_table(["#", "incident", "source", "by", "offence", "given", "suggested", "p", "threshold", "evidence"],
                ([i.rank, i.incident_id, i.source, i.labelled_by, i.offence, "present" if i.given else "absent",
                  "present" if i.suggested else "absent", f"{i.probability:.3f}",
                  "-" if i.threshold is None else f"{i.threshold:.3f}", _cell(i.evidence)]
                 for i in issues[:top]))
