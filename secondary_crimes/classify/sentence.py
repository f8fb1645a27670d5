"""A sentence-level offence model: the packaged MiniLM, fine-tuned to say which offences one sentence states.

Every unit of an incident (a sentence, or a window over a long run-on one, and with
``clause_units`` the clauses of each long sentence too: ``text.sentence_units``) is scored
for each offence, and the incident's score for an offence
is pooled over its units (``pooling``: ``max`` of the logits, or ``noisy_or`` of the
probabilities). One sentence that states an offence is then enough however long or short the
log, and that sentence is the evidence span.

Training targets come from the auditors' evidence quotes (``sentence_labels``): the sentence
holding an offence's quote is a positive, every sentence of an incident without the offence
a negative, and the rest are left out of the loss. Each epoch takes every positive sentence
and a fresh draw of ``negatives_per_positive`` negatives for each.

The encoder is the packaged ``all-MiniLM-L6-v2`` (loaded from its folder, never from a hub).
Two heads:

- ``trainable_layers: 0`` (the CPU default): the encoder stays as pretrained and each
  offence gets a class-balanced logistic regression, fitted on every known sentence, over the
  sentence's ``features``: its normalised mean-pooled MiniLM embedding (meaning in other
  words) and its own word and character n-grams (TF-IDF of the sentence alone, so a cue
  counts as much in a one-line account as in a long log). Cheap enough to refit once per
  corpus file for out-of-source predictions on a 2-core CPU.
- ``trainable_layers: k >= 1``: the top k encoder layers and a linear head are fine-tuned
  (binary cross-entropy, pos_weight per offence); each epoch takes every positive sentence
  and a fresh draw of ``negatives_per_positive`` negatives for each. On a 2-core CPU one
  layer needs ~8 epochs and minutes per thousand sentences to beat the frozen head by a few
  points; it is the configuration for a GPU.

Either way, what the frozen layers compute for a sentence while fitting is kept in an
``EncoderCache`` (two bounded least-recently-used maps), so repeated fits on the same sentences
(cross-validation, out-of-source predictions: a fresh model per fold) pay for them once. By
default (``encoder_cache=None``) a model uses the process's shared cache for its encoder,
``ENCODER_CACHES.for_encoder(path)``; ``ENCODER_CACHES.clear()`` (or ``clear_state_cache()``)
frees it. Pass an ``EncoderCache`` of your own to keep fits apart or to bound them otherwise.
While scoring, a model remembers only the embeddings of the units it scored last
(``RECENT_UNITS``, its own), so the evidence pass reuses the scoring pass's. The pickled model
holds the head (and any fine-tuned layers) only; the frozen encoder is reloaded from the
package and a cache is never saved.

The frozen encoder computes in ``encoder_precision``: ``float32`` (the default), or
``bfloat16`` under ``torch.autocast``, or ``auto`` (bfloat16 on a CPU that does it natively,
AVX-512 BF16 or AMX; float32 on a GPU or an older CPU). bfloat16 encodes 1.8x faster on 2 cores
with embeddings within cosine 0.9999 of float32's, but a sentence's embedding then depends on
the batch it is encoded in (up to 1e-3, against 1e-7 in float32), so an incident's probability
can move by a few thousandths with the incidents scored beside it: not the default, for scores
that must be reproducible whatever the batching (resumed runs, Spark partitions, the queue).

Incident probabilities are calibrated on a validation split of incidents (drawn with
``random_state``) that the fine-tune never sees: Platt scaling of the pooled logit per offence
where the split holds ``min_calibration_positives`` positives, one shared scaling for the rest.
"""

from __future__ import annotations

import io
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from secondary_crimes.classify.base import Analysis, OffenceModel, known_mask
from secondary_crimes.extract.types import Span
from secondary_crimes.records import Incident
from secondary_crimes.sentence_labels import sentence_examples
from secondary_crimes.text import split_units

log = logging.getLogger(__name__)

# The default bounds of an EncoderCache: frozen lower-layer outputs (fp16, tokens x hidden: about
# 25 KB for a 30-token sentence) and whole-encoder sentence embeddings (float32, 384 numbers).
STATE_CACHE_SIZE = 60_000
EMBEDDING_CACHE_SIZE = 4 * STATE_CACHE_SIZE

# What the frozen encoder may compute in (``SentenceModel.encoder_precision``).
ENCODER_PRECISIONS = ("auto", "float32", "bfloat16")

# Units a scoring instance remembers (about four scoring batches of real-length incidents, ~6 MB).
RECENT_UNITS = 4096


class EncoderCache:
    """What the frozen encoder computed for each text, kept for later fits on the same sentences.

    Two least-recently-used maps, each bounded: ``states`` (key ``(encoder path, depth,
    max_length, text)``, the frozen lower layers' output, fp16 tokens x hidden; at most
    ``max_states``) and ``embeddings`` (key ``(encoder path, max_length, text)``, the whole
    frozen encoder's normalised mean-pooled embedding, float32; at most ``max_embeddings``).
    ``hits`` and ``misses`` count look-ups. A cache is shared, not copied: ``copy``,
    ``deepcopy`` and ``sklearn.base.clone`` of a model that holds one keep the same cache, and
    a pickled one comes back empty with the same bounds.
    """

    def __init__(self, max_states: int = STATE_CACHE_SIZE, max_embeddings: int = EMBEDDING_CACHE_SIZE):
        self.max_states = max_states
        self.max_embeddings = max_embeddings
        self.states: OrderedDict[tuple, Any] = OrderedDict()
        self.embeddings: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _get(table: OrderedDict, key: tuple):
        value = table.get(key)
        if value is not None:
            table.move_to_end(key)
        return value

    @staticmethod
    def _put(table: OrderedDict, key: tuple, value, bound: int) -> None:
        if bound <= 0:
            return
        table[key] = value
        table.move_to_end(key)
        while len(table) > bound:
            table.popitem(last=False)

    def get_state(self, key: tuple):
        value = self._get(self.states, key)
        self._count(value)
        return value

    def put_state(self, key: tuple, value) -> None:
        self._put(self.states, key, value, self.max_states)

    def get_embedding(self, key: tuple) -> np.ndarray | None:
        value = self._get(self.embeddings, key)
        self._count(value)
        return value

    def put_embedding(self, key: tuple, value: np.ndarray) -> None:
        self._put(self.embeddings, key, value, self.max_embeddings)

    def _count(self, value) -> None:
        if value is None:
            self.misses += 1
        else:
            self.hits += 1

    def clear(self) -> None:
        """Forget everything (the counts too)."""
        self.states.clear()
        self.embeddings.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self.states) + len(self.embeddings)

    def __repr__(self) -> str:
        return (f"EncoderCache(max_states={self.max_states}, max_embeddings={self.max_embeddings}; "
                f"holds {len(self.states)} states, {len(self.embeddings)} embeddings)")

    def __copy__(self) -> EncoderCache:
        return self

    def __deepcopy__(self, memo: dict) -> EncoderCache:
        return self

    def __reduce__(self):
        return type(self), (self.max_states, self.max_embeddings)


class EncoderCaches:
    """The process's shared ``EncoderCache``s, one per encoder path, made on first use: what a
    ``SentenceModel`` without an ``encoder_cache`` of its own uses, so the fresh model of each
    cross-validation fold finds the sentences the last one encoded."""

    def __init__(self, max_states: int = STATE_CACHE_SIZE, max_embeddings: int = EMBEDDING_CACHE_SIZE):
        self.max_states = max_states
        self.max_embeddings = max_embeddings
        self._by_path: dict[str, EncoderCache] = {}

    def for_encoder(self, path: str) -> EncoderCache:
        if path not in self._by_path:
            self._by_path[path] = EncoderCache(self.max_states, self.max_embeddings)
        return self._by_path[path]

    def clear(self) -> None:
        """Free every shared cache."""
        for cache in self._by_path.values():
            cache.clear()
        self._by_path.clear()


ENCODER_CACHES = EncoderCaches()


def clear_state_cache() -> None:
    """Free the shared encoder caches (``ENCODER_CACHES.clear()``)."""
    ENCODER_CACHES.clear()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


class SentenceModel(OffenceModel):
    """Per-sentence offence scores from a partly fine-tuned MiniLM, pooled per incident."""

    kind = "sentence"

    def __init__(
        self,
        model_path: str | None = None,
        max_length: int = 64,
        max_words: int = 40,
        overlap_words: int = 10,
        clause_units: bool = False,
        clause_exclude: Sequence[str] = (),
        trainable_layers: int = 0,
        features: str = "tfidf+embedding",
        head_C: float = 5.0,  # noqa: N803
        max_features: int = 50000,
        embedding_weight: float = 1.0,
        epochs: int = 8,
        batch_size: int = 32,
        lr: float = 3e-4,
        head_lr: float = 5e-3,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        negatives_per_positive: float = 2.0,
        max_steps: int | None = None,
        dropout: float = 0.1,
        pos_weight_cap: float = 5.0,
        pooling: str = "max",
        validation_fraction: float = 0.15,
        min_calibration_positives: int = 5,
        eval_batch_size: int = 128,
        random_state: int = 13,
        device: str = "auto",
        encoder_precision: str = "float32",
        encoder_cache: EncoderCache | None = None,
    ):
        self.model_path = model_path
        self.max_length = max_length
        self.max_words = max_words
        self.overlap_words = overlap_words
        self.clause_units = clause_units
        self.clause_exclude = clause_exclude
        self.trainable_layers = trainable_layers
        self.features = features
        self.head_C = head_C
        self.max_features = max_features
        self.embedding_weight = embedding_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.negatives_per_positive = negatives_per_positive
        self.max_steps = max_steps
        self.dropout = dropout
        self.pos_weight_cap = pos_weight_cap
        self.pooling = pooling
        self.validation_fraction = validation_fraction
        self.min_calibration_positives = min_calibration_positives
        self.eval_batch_size = eval_batch_size
        self.random_state = random_state
        self.device = device
        self.encoder_precision = encoder_precision
        self.encoder_cache = encoder_cache

    # ----------------------------------------------------------------- runtime pieces
    def _path(self) -> str:
        from secondary_crimes.classify.transformer import packaged_encoder_path

        return self.model_path or packaged_encoder_path()

    def _cache(self) -> EncoderCache:
        """``encoder_cache``, or the process's shared cache for this model's encoder."""
        return self.encoder_cache if self.encoder_cache is not None else ENCODER_CACHES.for_encoder(self._path())

    def _device(self):
        import torch

        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _precision(self) -> str:
        """``float32`` or ``bfloat16``: what the frozen encoder computes in (``encoder_precision``).
        ``auto`` is bfloat16 on a CPU that does it natively (AVX-512 BF16 or AMX), else float32."""
        import torch

        if self.encoder_precision not in ENCODER_PRECISIONS:
            raise ValueError(f"encoder_precision must be one of {ENCODER_PRECISIONS}, not {self.encoder_precision!r}")
        if self.encoder_precision != "auto":
            return self.encoder_precision
        if self._device().type != "cpu":
            return "float32"
        try:
            native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            native = False
        return "bfloat16" if native else "float32"

    def _autocast(self, precision: str):
        """The frozen encoder's forward pass in ``precision`` (``_precision()``): bfloat16 matrix
        products under ``torch.autocast`` (layer norms and softmax stay float32), or as loaded."""
        import contextlib

        import torch

        if precision == "bfloat16":
            return torch.autocast(self._device().type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _tokenizer(self):
        if getattr(self, "_tok", None) is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self._path(), local_files_only=True)
        return self._tok

    def _encoder(self):
        """The packaged encoder with its pretrained weights (the frozen part is never changed)."""
        if getattr(self, "_enc", None) is None:
            from transformers import AutoModel
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            encoder = AutoModel.from_pretrained(self._path(), local_files_only=True)
            encoder.eval()
            for parameter in encoder.parameters():
                parameter.requires_grad_(False)
            self._enc = encoder.to(self._device())
        return self._enc

    @property
    def frozen_depth(self) -> int:
        """How many encoder layers stay pretrained (0: only the embeddings)."""
        layers = self._encoder().config.num_hidden_layers
        if not 0 <= self.trainable_layers <= layers:
            raise ValueError(f"trainable_layers must be between 0 and {layers}, not {self.trainable_layers}")
        return layers - self.trainable_layers

    @property
    def frozen(self) -> bool:
        """No encoder layer is fine-tuned: a linear head over the pretrained sentence embedding."""
        return self.trainable_layers == 0

    def _build_top(self):
        """The trainable part: copies of the top encoder layers, dropout and a linear head."""
        import copy

        from torch import nn

        encoder = self._encoder()
        layers = nn.ModuleList(copy.deepcopy(layer) for layer in encoder.encoder.layer[self.frozen_depth:])
        for parameter in layers.parameters():
            parameter.requires_grad_(True)
        top = nn.ModuleDict({
            "layers": layers,
            "dropout": nn.Dropout(self.dropout),
            "head": nn.Linear(encoder.config.hidden_size, len(self.labels)),
        })
        return top.to(self._device())

    def _top(self):
        """The fine-tuned top, rebuilt from the pickled weights on first use after loading."""
        if getattr(self, "_top_module", None) is None:
            import torch

            if not hasattr(self, "top_bytes_"):
                raise RuntimeError("SentenceModel is not fitted")
            top = self._build_top()
            top.load_state_dict(torch.load(io.BytesIO(self.top_bytes_), map_location="cpu", weights_only=True))
            top.eval()
            self._top_module = top
        return self._top_module

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_tok", "_enc", "_top_module", "_recent_embeddings"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A model pickled before ``encoder_precision`` or ``clause_units`` existed keeps computing as it was fitted."""
        super().__setstate__({"encoder_precision": "float32", "clause_units": False, "clause_exclude": (), **state})

    # ----------------------------------------------------------------- the frozen part
    def _frozen_states(self, texts: Sequence[str], *, remember: bool) -> list:
        """The frozen layers' output for each text (fp16, tokens x hidden), cached by text."""
        import torch

        path, depth, cache, precision = self._path(), self.frozen_depth, self._cache(), self._precision()
        out: list = [None] * len(texts)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            out[i] = cache.get_state((path, depth, self.max_length, precision, text))
            if out[i] is None:
                todo.setdefault(text, []).append(i)
        if todo:
            encoder, tokenizer, device = self._encoder(), self._tokenizer(), self._device()
            pending = sorted(todo, key=len)
            with torch.inference_mode(), self._autocast(precision):
                for start in range(0, len(pending), self.eval_batch_size):
                    chunk = pending[start: start + self.eval_batch_size]
                    batch = tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                      return_tensors="pt").to(device)
                    hidden = encoder(**batch, output_hidden_states=True).hidden_states[depth]
                    lengths = batch["attention_mask"].sum(1).tolist()
                    for text, states, length in zip(chunk, hidden, lengths, strict=True):
                        value = states[:length].to("cpu", torch.float16).clone()
                        for i in todo[text]:
                            out[i] = value
                        if remember:
                            cache.put_state((path, depth, self.max_length, precision, text), value)
        return out

    def _recent(self) -> EncoderCache:
        """This instance's embeddings of the units it scored last (``RECENT_UNITS``, never pickled):
        the evidence pass over the flagged incidents of a batch reuses the scoring pass's."""
        if getattr(self, "_recent_embeddings", None) is None:
            self._recent_embeddings = EncoderCache(max_states=0, max_embeddings=RECENT_UNITS)
        return self._recent_embeddings

    def _embeddings(self, texts: Sequence[str], *, remember: bool) -> np.ndarray:
        """The frozen encoder's normalised mean-pooled embedding of each text (cached by text:
        while training, in the ``EncoderCache``; while scoring, in this instance's recent units)."""
        import torch

        path, cache, precision = self._path(), self._cache(), self._precision()
        recent = self._recent()
        out = np.zeros((len(texts), self._encoder().config.hidden_size), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            key = (path, self.max_length, precision, text)
            cached = cache.get_embedding(key)
            if cached is None:
                cached = recent.get_embedding(key)
            if cached is not None:
                out[i] = cached
            else:
                todo.setdefault(text, []).append(i)
        if todo:
            encoder, tokenizer, device = self._encoder(), self._tokenizer(), self._device()
            pending = sorted(todo, key=len)
            with torch.inference_mode(), self._autocast(precision):
                for start in range(0, len(pending), self.eval_batch_size):
                    chunk = pending[start: start + self.eval_batch_size]
                    batch = tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                      return_tensors="pt").to(device)
                    hidden = encoder(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                    pooled = torch.nn.functional.normalize(pooled.float(), dim=1).cpu().numpy()
                    for text, vector in zip(chunk, pooled, strict=True):
                        out[todo[text]] = vector
                        (cache if remember else recent).put_embedding((path, self.max_length, precision, text), vector)
        return out

    def _linear_features(self, texts: Sequence[str], *, remember: bool = False):
        """What the linear head reads for each unit: the sentence's word and character n-grams
        (TF-IDF) and/or its frozen MiniLM embedding (``features``)."""
        from scipy import sparse

        parts = []
        if "tfidf" in self.features:
            parts.append(self.tfidf_.transform(texts))
        if "embedding" in self.features:
            parts.append(sparse.csr_matrix(self._embeddings(texts, remember=remember) * self.embedding_weight))
        return sparse.hstack(parts, format="csr")

    def _fit_linear_head(self, examples, unit_weight: np.ndarray) -> None:
        """One class-balanced logistic regression per offence over each sentence's features."""
        from secondary_crimes.classify.baseline import ngram_tfidf
        from secondary_crimes.classify.calibrated import linear_classifier

        unknown = set(self.features.split("+")) - {"tfidf", "embedding"}
        if unknown or not self.features:
            raise ValueError(f"features must be tfidf, embedding or tfidf+embedding, not {self.features!r}")
        if "tfidf" in self.features:
            self.tfidf_ = ngram_tfidf(self.max_features).fit(examples.texts)
        features = self._linear_features(examples.texts, remember=True)
        n_labels = len(self.labels)
        self.head_coef_ = np.zeros((n_labels, features.shape[1]), dtype=np.float32)
        self.head_intercept_ = np.full(n_labels, -10.0, dtype=np.float32)
        for j in range(n_labels):
            rows = np.flatnonzero(examples.known[:, j])
            y = examples.Y[rows, j]
            positives = int(y.sum())
            if positives < 2 or len(y) - positives < 2:
                continue
            model = linear_classifier(self.head_C).fit(features[rows], y, sample_weight=unit_weight[rows])
            self.head_coef_[j], self.head_intercept_[j] = model.coef_[0], model.intercept_[0]

    def _forward(self, top, states: list):
        """Unit logits (batch x labels) from frozen states through the trainable top."""
        import torch

        device = self._device()
        width = max(int(s.shape[0]) for s in states)
        hidden = torch.zeros(len(states), width, states[0].shape[1], dtype=torch.float32)
        mask = torch.zeros(len(states), width, dtype=torch.float32)
        for k, s in enumerate(states):
            hidden[k, : s.shape[0]] = s.float()
            mask[k, : s.shape[0]] = 1.0
        hidden, mask = hidden.to(device), mask.to(device)
        additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for layer in top["layers"]:
            hidden = layer(hidden, attention_mask=additive)
            if isinstance(hidden, tuple):
                hidden = hidden[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return top["head"](top["dropout"](pooled))

    def unit_logits(self, texts: Sequence[str], *, remember: bool = False) -> np.ndarray:
        """Per-unit logits (n_units x labels)."""
        import torch

        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if self.frozen:
            if not hasattr(self, "head_coef_"):
                raise RuntimeError("SentenceModel is not fitted")
            features = self._linear_features(texts, remember=remember)
            return np.asarray(features @ self.head_coef_.T) + self.head_intercept_
        top = self._top()
        top.eval()
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.eval_batch_size):
                rows = order[start: start + self.eval_batch_size]
                states = self._frozen_states([texts[i] for i in rows], remember=remember)
                out[rows] = self._forward(top, states).float().cpu().numpy()
        return out

    # ----------------------------------------------------------------- fitting
    def fit(self, X: Sequence[Incident], Y: np.ndarray, sample_weight: np.ndarray | None = None,
            groups: Sequence[str] | None = None) -> SentenceModel:
        """Fine-tune on the sentences the evidence quotes locate; calibrate on held-out incidents."""
        import torch
        from transformers import get_linear_schedule_with_warmup

        X, Y = list(X), np.asarray(Y)
        weights = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if not (len(X) == len(Y) == len(weights)):
            raise ValueError(f"{len(X)} incidents but {len(Y)} label rows and {len(weights)} weights")
        unknown = sorted(set(self.clause_exclude) - set(self.labels))
        if unknown:
            raise ValueError(f"clause_exclude names no offence: {unknown}")
        started = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        order = rng.permutation(len(X))
        n_val = int(round(len(X) * self.validation_fraction)) if len(X) >= 20 else 0
        val_rows, fit_rows = np.sort(order[:n_val]), np.sort(order[n_val:])

        examples = sentence_examples([X[i] for i in fit_rows], Y[fit_rows], max_words=self.max_words,
                                     overlap=self.overlap_words, with_clauses=self.clause_units,
                                     clause_exclude=self.clause_exclude)
        self.training_summary_: dict[str, Any] = {
            "incidents": len(fit_rows), "validation_incidents": len(val_rows), "units": len(examples.units),
            "positive_units": int(examples.Y.sum()), "unlocated_quotes": examples.unlocated,
        }
        unit_weight = weights[fit_rows][examples.owner] if len(examples.units) else np.zeros(0)
        if self.frozen:
            self._fit_linear_head(examples, unit_weight)
            self._fit_calibration([X[i] for i in val_rows], Y[val_rows])
            self.training_summary_["seconds"] = round(time.perf_counter() - started, 1)
            log.info("sentence model fitted (frozen encoder): %s", self.training_summary_)
            return self
        top = self._build_top()
        self._top_module = top
        if len(examples.units):
            positive = np.flatnonzero(examples.Y.max(axis=1) > 0)
            negative = np.flatnonzero(examples.Y.max(axis=1) == 0)
            n_negative = min(len(negative), int(round(max(1, len(positive)) * self.negatives_per_positive)))
            per_epoch = len(positive) + n_negative
            steps_per_epoch = max(1, int(np.ceil(per_epoch / self.batch_size)))
            total = steps_per_epoch * self.epochs if self.max_steps is None else min(
                self.max_steps, steps_per_epoch * self.epochs)
            pos = examples.Y.sum(0)
            neg = (examples.known & (examples.Y == 0)).sum(0) * (n_negative / max(1, len(negative)))
            pos_weight = torch.tensor(np.clip(neg / np.maximum(pos, 1), 1.0, self.pos_weight_cap), dtype=torch.float32)
            head = list(top["head"].parameters())
            body = list(top["layers"].parameters())
            optimiser = torch.optim.AdamW([{"params": body, "lr": self.lr}, {"params": head, "lr": self.head_lr}],
                                          weight_decay=self.weight_decay)
            schedule = get_linear_schedule_with_warmup(optimiser, int(total * self.warmup_ratio), total)
            loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.to(self._device()), reduction="none")
            texts = examples.texts
            step = 0
            for epoch in range(self.epochs):
                drawn = np.concatenate([positive, rng.choice(negative, n_negative, replace=False)]) \
                    if n_negative else positive
                drawn = rng.permutation(drawn)
                # Batches of similar length (less padding), in random order.
                groups = [drawn[i: i + self.batch_size * 20] for i in range(0, len(drawn), self.batch_size * 20)]
                batches = []
                for group in groups:
                    group = group[np.argsort([len(texts[i]) for i in group], kind="stable")]
                    batches.extend(group[i: i + self.batch_size] for i in range(0, len(group), self.batch_size))
                top.train()
                running = 0.0
                for b in rng.permutation(len(batches)):
                    rows = batches[b]
                    states = self._frozen_states([texts[i] for i in rows], remember=True)
                    logits = self._forward(top, states)
                    target = torch.from_numpy(examples.Y[rows]).to(logits.device)
                    known = torch.from_numpy(examples.known[rows].astype(np.float32)).to(logits.device)
                    weight = torch.from_numpy(unit_weight[rows].astype(np.float32)).to(logits.device)[:, None]
                    loss = (loss_fn(logits, target) * known * weight).sum() / (known * weight).sum().clamp(min=1.0)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(top.parameters(), 1.0)
                    optimiser.step()
                    schedule.step()
                    optimiser.zero_grad()
                    running += float(loss.detach())
                    step += 1
                    if step >= total:
                        break
                log.info("sentence model epoch %d: loss %.4f over %d steps", epoch + 1, running / max(1, len(batches)),
                         len(batches))
                if step >= total:
                    break
        top.eval()
        buffer = io.BytesIO()
        torch.save(top.state_dict(), buffer)
        self.top_bytes_ = buffer.getvalue()
        self._fit_calibration([X[i] for i in val_rows], Y[val_rows])
        self.training_summary_["seconds"] = round(time.perf_counter() - started, 1)
        log.info("sentence model fitted: %s", self.training_summary_)
        return self

    def _fit_calibration(self, X: list[Incident], Y: np.ndarray) -> None:
        """Per-offence Platt scaling of the pooled logit where the split allows, else one shared."""
        from sklearn.linear_model import LogisticRegression

        n_labels = len(self.labels)
        self.calibration_ = np.tile([1.0, 0.0], (n_labels, 1))
        if not X:
            return
        pooled, _, _ = self._pooled(X, remember=True)
        y = np.asarray(Y)
        known = known_mask(y)
        if 0 < (y[known] == 1).sum() < known.sum():
            shared = LogisticRegression(C=1.0).fit(pooled[known].reshape(-1, 1), y[known])
            self.calibration_[:] = [shared.coef_[0, 0], shared.intercept_[0]]
        for j in range(n_labels):
            rows = np.flatnonzero(known[:, j])
            positives = int(y[rows, j].sum())
            if positives >= self.min_calibration_positives and len(rows) - positives >= self.min_calibration_positives:
                model = LogisticRegression(C=1.0).fit(pooled[rows][:, [j]], y[rows, j])
                self.calibration_[j] = [model.coef_[0, 0], model.intercept_[0]]

    # ----------------------------------------------------------------- predicting
    def _pooled(self, X: Sequence[Incident], *, remember: bool = False):
        """Pooled logits per incident, each unit's probabilities, and the units themselves."""
        split = [split_units(incident, self.max_words, self.overlap_words, with_clauses=self.clause_units)
                 for incident in X]
        per_incident = [whole + parts for whole, parts in split]
        texts = [unit.text for units in per_incident for unit in units]
        logits = self.unit_logits(texts, remember=remember)
        excluded = [j for j, label in enumerate(self.labels) if label in set(self.clause_exclude)]
        if excluded:
            # the offences read from whole sentences only: their clause units take no part
            offset = 0
            for whole, parts in split:
                logits[offset + len(whole): offset + len(whole) + len(parts), excluded] = -20.0
                offset += len(whole) + len(parts)
        pooled = np.full((len(X), len(self.labels)), -20.0, dtype=np.float32)
        blocks, offset = [], 0
        for i, units in enumerate(per_incident):
            block = logits[offset: offset + len(units)]
            offset += len(units)
            blocks.append(block)
            if not len(units):
                continue
            if self.pooling == "max":
                pooled[i] = block.max(axis=0)
            elif self.pooling == "noisy_or":
                p = 1.0 - np.prod(1.0 - _sigmoid(block), axis=0)
                p = np.clip(p, 1e-6, 1 - 1e-6)
                pooled[i] = np.log(p / (1 - p))
            else:
                raise ValueError(f"pooling must be 'max' or 'noisy_or', not {self.pooling!r}")
        return pooled, blocks, per_incident

    def _calibrate(self, pooled: np.ndarray) -> np.ndarray:
        a, b = self.calibration_[:, 0], self.calibration_[:, 1]
        return _sigmoid(pooled * a + b)

    def predict_proba(self, X: Sequence[Incident]) -> np.ndarray:
        X = list(X)
        if not X:
            return np.zeros((0, len(self.labels)))
        return self._calibrate(self._pooled(X)[0])

    def analyse(self, X: Sequence[Incident], thresholds: np.ndarray | None = None) -> list[Analysis]:
        """Probabilities, and for each flagged offence the units that state it most strongly."""
        X = list(X)
        if not X:
            return []
        pooled, blocks, per_incident = self._pooled(X)
        proba = self._calibrate(pooled)
        out = []
        for row, block, units in zip(proba, blocks, per_incident, strict=True):
            analysis = Analysis(probabilities=row)
            if thresholds is not None and len(units):
                for j in np.flatnonzero(row >= thresholds):
                    analysis.evidence[self.labels[j]] = self.evidence_units(block[:, j], units)
            out.append(analysis)
        return out

    def evidence_units(self, logits: np.ndarray, units: list[Span]) -> list[Span]:
        """The units scoring within a whisker of the best for one offence, at most ``max_evidence``; a unit
        overlapping a better one (a clause of a chosen sentence, the sentence of a chosen clause) is left out."""
        order = np.argsort(-logits, kind="stable")
        best = _sigmoid(logits[order[0]])
        chosen: list[Span] = []
        for i in order:
            if len(chosen) == self.max_evidence or _sigmoid(logits[i]) < 0.5 * best:
                break
            unit = units[i]
            if not any(unit.overlaps(c) for c in chosen):
                chosen.append(unit)
        return sorted(chosen, key=lambda s: (s.field != "call_log", s.start))
