"""The transformer's fine-tune on ``transformers.Trainer`` (``TransformerModel.fit`` imports this).

- ``OffenceTrainer`` (a ``Trainer``): ``compute_loss`` is the masked, pos-weighted binary
  cross-entropy per incident (unknown cells left out), scaled by each incident's sample weight,
  plus ``aux_weight`` times the auxiliary heads' cross-entropy; evaluated on the validation split
  it is the unweighted offence loss alone. ``create_optimizer`` keeps two AdamW groups: the
  encoder at ``lr``, the heads at ``head_lr`` (weight decay on all, as before).
- ``EpochReport`` (a ``TrainerCallback``): after each epoch (after its evaluation, when there is a
  validation split) hands ``train_loss``, ``epoch_seconds``, ``train_incidents_per_s`` and
  ``val_loss``, ``val_micro_f1`` to the model's epoch callbacks.
- ``validation_metrics``: the Trainer's ``compute_metrics``; ``val_loss`` is what early stopping
  (``EarlyStoppingCallback``) and the best checkpoint go by.

The batches come from ``transformer.ChunkCollator`` (every window of an incident in one batch).
Needs ``accelerate`` (the Trainer's backend: ``pip install -e .[transformer]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812
from transformers import Trainer, TrainerCallback

from secondary_crimes.classify.base import UNKNOWN


def offence_loss(logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    """Each incident's mean pos-weighted BCE over its decided offences (``labels``: 1, 0 or UNKNOWN)."""
    known = (labels != UNKNOWN).to(logits.dtype)
    cells = F.binary_cross_entropy_with_logits(logits, labels.clamp(min=0).to(logits.dtype),
                                               pos_weight=pos_weight.to(logits.device), reduction="none")
    return (cells * known).sum(dim=1) / known.sum(dim=1).clamp(min=1.0)


def micro_f1(y_true: np.ndarray, predicted: np.ndarray) -> float:
    y_true = np.asarray(y_true).astype(bool)
    tp = float(np.sum(predicted & y_true))
    denominator = float(np.sum(predicted) + np.sum(y_true))
    return 2 * tp / denominator if denominator else 0.0


def validation_metrics(pos_weight: np.ndarray) -> Callable:
    """``compute_metrics`` for the Trainer: the validation split's loss and micro F1 (known cells only)."""

    def compute(prediction) -> dict[str, float]:
        logits = np.asarray(prediction.predictions, dtype=np.float32)
        labels = np.asarray(prediction.label_ids, dtype=np.float32)
        loss = offence_loss(torch.from_numpy(logits), torch.from_numpy(labels), torch.from_numpy(pos_weight))
        known = labels != UNKNOWN
        return {"val_loss": float(loss.mean()), "val_micro_f1": micro_f1(labels[known] == 1, logits[known] >= 0.0)}

    return compute


class EpochReport(TrainerCallback):
    """Counts each epoch's training loss and incidents and reports them once the epoch is evaluated."""

    def __init__(self, report: Callable[[int, dict[str, float]], None], evaluates: bool):
        self.report, self.evaluates = report, evaluates
        self.epoch = 0
        self.losses: list[torch.Tensor] = []
        self.incidents = 0
        self.pending: dict[str, float] | None = None
        self.best_epoch: int | None = None
        self.best_loss = float("inf")

    def add(self, loss: torch.Tensor, incidents: int) -> None:
        self.losses.append(loss.detach())
        self.incidents += incidents

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch += 1
        self.losses, self.incidents = [], 0
        self.started = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        seconds = time.perf_counter() - self.started
        self.pending = {
            "train_loss": float(torch.stack(self.losses).float().mean()) if self.losses else float("nan"),
            "epoch_seconds": seconds,
            "train_incidents_per_s": self.incidents / max(seconds, 1e-9),
        }
        if not self.evaluates:
            self._send()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.pending is None:  # an evaluation outside an epoch's end
            return
        metrics = metrics or {}
        self.pending["val_loss"] = float(metrics.get("eval_val_loss", float("nan")))
        self.pending["val_micro_f1"] = float(metrics.get("eval_val_micro_f1", float("nan")))
        if self.pending["val_loss"] < self.best_loss:  # the Trainer's own test for a better checkpoint
            self.best_loss, self.best_epoch = self.pending["val_loss"], self.epoch
        self._send()

    def _send(self) -> None:
        metrics, self.pending = self.pending, None
        self.report(self.epoch, metrics)


class OffenceTrainer(Trainer):
    """``Trainer`` with the offence loss, the auxiliary heads and two learning rates."""

    def __init__(self, *args, pos_weight: np.ndarray, aux_weight: float, head_lr: float, epoch_report: EpochReport,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.pos_weight = torch.tensor(pos_weight, dtype=torch.float32)
        self.aux_weight = aux_weight
        self.head_lr = head_lr
        self.epoch_report = epoch_report
        self.add_callback(epoch_report)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            net = self.model if model is None else model
            encoder = [p for p in net.encoder.parameters() if p.requires_grad]
            heads = [p for n, p in net.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
            self.optimizer = torch.optim.AdamW(
                [{"params": encoder, "lr": self.args.learning_rate}, {"params": heads, "lr": self.head_lr}],
                weight_decay=self.args.weight_decay,
            )
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        row_weight = inputs.pop("row_weight", None)
        aux_targets = {key[len("aux_"):]: inputs.pop(key) for key in list(inputs) if key.startswith("aux_")}
        logits, aux_logits = model(**inputs)
        logits = logits.float()
        per_row = offence_loss(logits, labels, self.pos_weight)
        if model.training:
            loss = (per_row * row_weight).mean() if row_weight is not None else per_row.mean()
            for name, out in aux_logits.items():
                wanted = aux_targets.get(name)
                if wanted is not None and (wanted >= 0).any():
                    loss = loss + self.aux_weight * F.cross_entropy(out.float(), wanted, ignore_index=-100)
            self.epoch_report.add(loss, len(labels))
        else:  # the validation loss: the offence loss alone, unweighted
            loss = per_row.mean()
        return (loss, {"logits": logits}) if return_outputs else loss
