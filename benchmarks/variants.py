"""The in-process variants, each a function scoring one call's sentences, and the interleaved timer.

Workloads (the same for every variant of a kind, in every round):
  single  one sentence per call, a random sample of the dev set (a new sample each round)
  sorted  the dev set sorted by token length and cut into calls of 64 (what bulk scoring does)
  stream  the dev set in random arrival order cut into calls of N (what the server's batches look like)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks.inputs import sample, stream_order

BATCH = 64


@dataclass
class Variant:
    name: str
    label: str
    engine: str  # torch | onnxruntime
    precision: str
    workload: str  # single | sorted | stream
    call_size: int
    sorted: bool
    fn: Callable[[list[str]], object]
    rounds: list[dict] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)  # real tokens of the sentences scored in round 0


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None}
    arr = np.asarray(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "mean": float(arr.mean())}


# ---- torch ----------------------------------------------------------------------------------------------

def load_torch(checkpoint, device: str, threads: int):
    import torch

    from training.model import MultiLabelClassifier
    from training.tokenizer import load_checkpoint_tokenizer

    torch.set_num_threads(threads or os.cpu_count() or 1)
    model = MultiLabelClassifier.load(checkpoint).to(device).eval()
    tokenizer = load_checkpoint_tokenizer(checkpoint)
    return model, tokenizer


def torch_scorer(model, tokenizer, device: str) -> Callable[[list[str]], np.ndarray]:
    """What a user of ``pipeline("text-classification")`` gets, for our custom multi-label model: the
    tokenizer call, the forward pass and a sigmoid (pipeline's multi-label post-processing), under
    inference_mode. Called with one sentence it is the per-call baseline; with many, batched inference."""
    import torch

    spec = model.spec

    @torch.inference_mode()
    def score(texts: list[str]) -> np.ndarray:
        enc = tokenizer([spec.text_prefix + t for t in texts], padding=True, truncation=True,
                        max_length=spec.max_length, return_tensors="pt")
        logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device))["logits"]
        return torch.sigmoid(logits).float().cpu().numpy()

    return score


# ---- workloads and timing -------------------------------------------------------------------------------

def token_lengths(engine, texts: list[str]) -> np.ndarray:
    ids, _ = engine.encode(texts)
    return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(texts))


@dataclass
class Workloads:
    texts: list[str]
    lengths: dict[str, int]  # sentence -> real tokens
    n_single: int
    n_sorted: int
    n_stream: int
    seed: int = 0

    def calls(self, variant: Variant, round_index: int) -> list[list[str]]:
        seed = self.seed + 1000 * round_index
        if variant.workload == "single":
            return [[t] for t in sample(self.texts, self.n_single, seed)]
        if variant.workload == "sorted":
            chosen = sample(self.texts, self.n_sorted, seed) if self.n_sorted < len(self.texts) else self.texts
            chosen = sorted(chosen, key=lambda t: self.lengths[t])
            return [chosen[i : i + variant.call_size] for i in range(0, len(chosen), variant.call_size)]
        if variant.workload == "stream":
            chosen = sample(stream_order(self.texts, seed), self.n_stream, seed + 1)
            return [chosen[i : i + variant.call_size] for i in range(0, len(chosen), variant.call_size)]
        raise ValueError(variant.workload)


def time_round(variant: Variant, calls: list[list[str]]) -> dict:
    latencies = []
    start = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        variant.fn(call)
        latencies.append((time.perf_counter() - t0) * 1000.0)
    elapsed = time.perf_counter() - start
    n = sum(len(c) for c in calls)
    variant.latencies_ms.extend(latencies)
    return {"elapsed_s": elapsed, "sentences": n, "sentences_per_s": n / elapsed if elapsed > 0 else None}


def interleave(variants: list, rounds: int, run_one: Callable[[object, int], None], log=print) -> None:
    """Run every variant once per round, in an order that rotates by one position each round, so slow
    drifts of the shared machine hit every variant alike."""
    for r in range(rounds):
        k = r % len(variants)
        order = variants[k:] + variants[:k]
        for v in order:
            run_one(v, r)
        log(f"  round {r + 1}/{rounds} done")


def summarise(variant: Variant) -> dict:
    rates = [x["sentences_per_s"] for x in variant.rounds if x["sentences_per_s"]]
    return {
        "label": variant.label,
        "engine": variant.engine,
        "precision": variant.precision,
        "workload": variant.workload,
        "call_size": variant.call_size,
        "length_sorted": variant.sorted,
        "sentences_per_s": float(np.median(rates)) if rates else None,
        "sentences_per_s_rounds": rates,
        "latency_ms": percentiles(variant.latencies_ms),
        "latency_per": "call" if variant.call_size == 1 else f"call of up to {variant.call_size} sentences",
    }
