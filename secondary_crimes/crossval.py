"""Cross-validation on a labelled corpus: each fold's model never sees that fold's incidents.

Every fold trains on the config's other sources (synthetic, sample, extra labels) plus the
other folds of the corpus, chooses thresholds on its own out-of-fold predictions, and scores
the held-out fold. The scored folds are then evaluated together.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.model_selection import KFold

from secondary_crimes.records import GoldIncident
from secondary_crimes.score import score_incidents
from secondary_crimes.train import TrainConfig, fit_bundle
from secondary_crimes.training_data import Dataset, assemble, read_labelled

log = logging.getLogger(__name__)


def cross_validate(config: TrainConfig, corpus_patterns: list[str], *, folds: int = 5,
                   seed: int = 0) -> tuple[list[GoldIncident], list[dict]]:
    """Out-of-fold scored records for every labelled incident of the corpus files."""
    corpus, _ = read_labelled(corpus_patterns)
    if len(corpus) < folds:
        raise ValueError(f"{corpus_patterns}: {len(corpus)} labelled incidents, fewer than {folds} folds")
    background = assemble(config.data, include_corpus=False)
    held_ids = {incident.incident_id for incident in corpus}
    background_index = [i for i, row in enumerate(background.incidents) if row.incident_id not in held_ids]
    background_rows = [background.incidents[i] for i in background_index]
    background_weights = background.weights[background_index]
    corpus_weight = config.data.weight("corpus")
    scored: list[dict] = []
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (train_index, test_index) in enumerate(splitter.split(np.arange(len(corpus))), 1):
        train_rows = background_rows + [corpus[i] for i in train_index]
        sources = dict(background.sources, corpus_folds=len(train_index))
        weights = np.concatenate([background_weights, np.full(len(train_index), corpus_weight)])
        bundle = fit_bundle(config, Dataset(train_rows, sources, weights))
        test_rows = [corpus[i] for i in test_index]
        scored.extend(score_incidents(test_rows, bundle))
        log.info("fold %d/%d scored %d incidents", number, folds, len(test_rows))
    return corpus, scored

