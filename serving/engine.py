"""The inference engine: a bundle run by onnxruntime and tokenizers, with no web framework.

The BentoML service, the benchmark and batch scoring all call this class. It is thread-safe:
onnxruntime sessions may be run from several threads, and the tokenizer is only read.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from serving.bundle import INPUT_NAMES, MODEL_FILES, TOKENIZER, BundleError, Manifest, read_bundle

log = logging.getLogger("eventclf.engine")

# Sentences are sorted by length and cut into batches of at most this many tokens (padding included),
# so that one long sentence does not pad a whole batch of short ones.
DEFAULT_MAX_BATCH_TOKENS = 8192
DEFAULT_MAX_BATCH_SIZE = 64


@dataclass
class SentenceResult:
    labels: list[str]
    scores: dict[str, float]
    truncated: bool

    def to_dict(self) -> dict:
        return {"labels": self.labels, "scores": self.scores, "truncated": self.truncated}


@dataclass
class EncodedBatch:
    input_ids: np.ndarray  # int64 [n, longest]
    attention_mask: np.ndarray  # int64 [n, longest]
    order: np.ndarray  # positions in the caller's list


def select_providers(device: str) -> list[str]:
    """onnxruntime providers for the requested device, falling back to CPU with a log line."""
    if device == "cuda":
        available = ort.get_available_providers()
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning(
            "EVENTCLF_DEVICE=cuda but this onnxruntime has no CUDA provider (available: %s); "
            "install onnxruntime-gpu on a machine with a GPU. Falling back to CPU.", ", ".join(available))
    return ["CPUExecutionProvider"]


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the cores between batches and starve tokenisation and the web server.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


class Engine:
    """Score sentences with a bundle: ``classify(["...", ...])`` -> per-sentence labels and scores."""

    def __init__(self, bundle_dir: str | Path, *, precision: str | None = None, device: str = "cpu",
                 threads: int = 0, verify: bool = True,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS):
        self.bundle_dir = Path(bundle_dir)
        self.manifest: Manifest = read_bundle(self.bundle_dir, verify=verify)
        precision = precision or self.manifest.recommended_precision  # None: what export validated
        if precision not in MODEL_FILES:
            raise ValueError(f"precision must be one of {sorted(MODEL_FILES)}, not {precision!r}")
        self.labels = self.manifest.label_ids
        self.thresholds = np.asarray(self.manifest.thresholds, dtype=np.float32)
        self.precision = precision
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.tokenizer = self._load_tokenizer()
        self.session = self._load_session(precision, device, threads)
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        if device == "cuda" and self.device != "cuda":
            log.warning("CUDA provider could not be initialised; serving on CPU")
        self._check_output_width()

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    def _load_tokenizer(self) -> Tokenizer:
        try:
            tokenizer = Tokenizer.from_file(str(self.bundle_dir / TOKENIZER))
        except Exception as err:  # noqa: BLE001 - tokenizers raises plain Exception
            raise BundleError(f"{self.bundle_dir / TOKENIZER} cannot be read ({err}); re-export the model") from None
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.manifest.max_length)
        return tokenizer

    def _load_session(self, precision: str, device: str, threads: int) -> ort.InferenceSession:
        path = self.bundle_dir / MODEL_FILES[precision]
        try:
            return ort.InferenceSession(str(path), sess_options=session_options(threads),
                                        providers=select_providers(device))
        except Exception as err:  # noqa: BLE001 - onnxruntime raises several unrelated types
            raise BundleError(f"{path} is not a loadable ONNX model ({type(err).__name__}: {err}); "
                              "re-export the model with `eventclf export`") from None

    def _check_output_width(self) -> None:
        logits = self._run(np.array([[0, 2]], dtype=np.int64), np.ones((1, 2), dtype=np.int64))
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise BundleError(
                f"the model in {self.bundle_dir} outputs {logits.shape[-1]} scores but bundle.json lists "
                f"{len(self.labels)} labels; the bundle was assembled from different exports: re-export it")

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = dict(zip(INPUT_NAMES, (input_ids, attention_mask)))
        return self.session.run(None, feeds)[0]

    def encode(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token ids per text (prefix and special tokens included) and whether each was truncated."""
        prefix = self.manifest.text_prefix
        encodings = self.tokenizer.encode_batch([prefix + text for text in texts])
        truncated = np.fromiter((len(e.overflowing) > 0 for e in encodings), dtype=bool, count=len(texts))
        return [e.ids for e in encodings], truncated

    def batches(self, ids: list[list[int]]) -> list[EncodedBatch]:
        """Sort by length and cut into padded batches bounded by size and by padded tokens.

        The cut points minimise the estimated time of the session calls (dynamic programming over the
        sorted lengths): each batch costs a fixed per-call overhead plus its padded tokens, each token
        dearer as the batch gets wider (the unfused attention's [rows, heads, width, width] tensors). A
        server batch of 64 random sentences is thus run as a few batches of similar length, not one batch
        padded to its longest sentence: 2-2.7x the sentences/s of int8 multilingual-e5-small on 2 cores
        (benchmarks/README.md, length_split). Measured there: the overhead is ~8-16 tokens' worth and
        attention doubles a token's cost at a width of ~160.
        """
        overhead_tokens, width_scale = 12.0, 160.0
        order = np.argsort([len(x) for x in ids], kind="stable")
        lengths = np.fromiter((len(ids[i]) for i in order), dtype=np.float64, count=len(order))
        best = np.zeros(len(order) + 1)  # best[k]: least cost of the first k sorted sentences
        cut = np.zeros(len(order) + 1, dtype=np.int64)
        for end in range(1, len(order) + 1):
            width = max(lengths[end - 1], 1.0)  # sorted ascending: the last member sets the padded width
            lowest = max(0, end - self.max_batch_size, end - max(1, int(self.max_batch_tokens // width)))
            starts = np.arange(lowest, end)
            costs = best[starts] + overhead_tokens + (end - starts) * width * (1.0 + width / width_scale)
            pick = int(np.argmin(costs))
            best[end], cut[end] = costs[pick], starts[pick]
        bounds, end = [], len(order)
        while end > 0:
            bounds.append((int(cut[end]), end))
            end = int(cut[end])
        out: list[EncodedBatch] = []
        for start, end in reversed(bounds):
            members = order[start:end]
            width = len(ids[members[-1]])
            input_ids = np.zeros((len(members), width), dtype=np.int64)
            mask = np.zeros((len(members), width), dtype=np.int64)
            for row, index in enumerate(members):
                seq = ids[index]
                input_ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            out.append(EncodedBatch(input_ids, mask, members))
        return out

    def probabilities(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sigmoid scores [n, labels] in input order, and the truncated flags."""
        ids, truncated = self.encode(texts)
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for batch in self.batches(ids):
            probs[batch.order] = sigmoid(self._run(batch.input_ids, batch.attention_mask))
        return probs, truncated

    def classify(self, texts: list[str]) -> list[SentenceResult]:
        if not texts:
            return []
        probs, truncated = self.probabilities(texts)
        above = probs >= self.thresholds
        return [
            SentenceResult(
                labels=[label for label, hit in zip(self.labels, row_hits) if hit],
                scores={label: round(float(p), 6) for label, p in zip(self.labels, row)},
                truncated=bool(cut),
            )
            for row, row_hits, cut in zip(probs, above, truncated)
        ]

    def warmup(self, rounds: int = 2) -> float:
        """Run a few batches so the first request does not pay for lazy initialisation."""
        start = time.perf_counter()
        sample = ["Warm-up sentence for the classifier."] * 8
        for _ in range(rounds):
            self.classify(sample)
        return time.perf_counter() - start

    def info(self) -> dict:
        return {
            "model": self.name,
            "version": self.version,
            "labels": [vars(label) for label in self.manifest.labels],
            "thresholds": dict(zip(self.labels, map(float, self.thresholds))),
            "precision": self.precision,
            "device": self.device,
            "max_length": self.manifest.max_length,
            "base_model": self.manifest.base_model,
            "metrics": self.manifest.metrics.get("headline", {}),
        }
