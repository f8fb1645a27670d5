"""Tune the packaged MiniLM contrastively on the generated and sample incidents (an experiment).

The SetFit recipe: the sentences that each incident's evidence quotes locate (one offence
each) and as many sentences of incidents without any offence, labelled by offence, pull
together by ``BatchAllTripletLoss``. The corpus is never read, so one tuned encoder serves
every by-source fold without a leak. Point a sentence member at the result
(``params.model_path``) and compare it with ``compare_by_source.py``.

    python training/contrastive_encoder.py --out runs/encoders/contrastive [--epochs 1]

Measured (docs/evaluation.md, 4 December night): the sentence member alone gains, the
stack does not; not part of the default.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from secondary_crimes.classify.transformer import packaged_encoder_path
from secondary_crimes.sentence_labels import sentence_examples
from secondary_crimes.train import TrainConfig
from secondary_crimes.training_data import assemble


def labelled_sentences(config: TrainConfig, seed: int = 13) -> tuple[list[str], list[int]]:
    """Distinct single-offence evidence sentences (label = offence index) and as many offence-free
    sentences (label = the number of offences), from the config's non-corpus data."""
    dataset = assemble(config.data, include_corpus=False)
    examples = sentence_examples(dataset.incidents, dataset.Y)
    n_labels = examples.Y.shape[1]
    single = np.flatnonzero(examples.Y.sum(1) == 1)
    clean = np.flatnonzero((examples.Y.sum(1) == 0) & examples.known.all(1))
    texts, labels, seen = [], [], set()

    def take(rows: np.ndarray) -> None:
        for i in rows:
            if examples.texts[i] not in seen:
                seen.add(examples.texts[i])
                texts.append(examples.texts[i])
                labels.append(int(examples.Y[i].argmax()) if examples.Y[i].any() else n_labels)

    take(single)
    take(np.random.default_rng(seed).choice(clean, min(len(clean), len(texts)), replace=False))
    return texts, labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("training/sentence.yaml"), help="whose data to read")
    parser.add_argument("--out", type=Path, required=True, help="folder for the tuned encoder")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import BatchAllTripletLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    texts, labels = labelled_sentences(TrainConfig.from_file(args.config))
    print(f"{len(texts)} sentences, per label: {np.bincount(labels).tolist()}")
    model = SentenceTransformer(packaged_encoder_path(), device="cpu")
    # warmup_steps below 1 is a fraction of the steps (transformers 5; warmup_ratio is deprecated)
    training = SentenceTransformerTrainingArguments(
        output_dir=str(args.out.with_name(args.out.name + "-checkpoints")), num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, learning_rate=args.lr, warmup_steps=0.1,
        batch_sampler=BatchSamplers.GROUP_BY_LABEL, seed=13, report_to=[], save_strategy="no")
    started = time.perf_counter()
    SentenceTransformerTrainer(model=model, args=training, loss=BatchAllTripletLoss(model),
                               train_dataset=Dataset.from_dict({"sentence": texts, "label": labels})).train()
    model.save(str(args.out))
    print(f"tuned in {time.perf_counter() - started:.0f} s, saved to {args.out}")


if __name__ == "__main__":
    main()
