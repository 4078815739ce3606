"""Engine experiments (``python -m benchmarks.run --experiments``): what makes serving.engine faster.

Every experiment compares configurations of the engine on one workload, interleaved over rounds in
rotating order, and reports sentences/s and the ratio to its reference (the engine as shipped):

  sorting        length sorting vs batches in input order (bulk: the shuffled dev set)
  length_split   served-like calls (64 or 16 random sentences each) and bulk: one padded batch per call
                 (greedy, Engine.batches before the change) vs the cost-based split into length buckets
                 (split_plan; Engine.batches now does this with 12 tokens and width scale 160)
  threads        intra-op threads 1 / cores / 2 x cores, bulk and one sentence per call
  graph_level    onnxruntime graph optimisation level, fp32 and int8
  fusion         onnxruntime.transformers.optimizer (attention / layer-norm / GELU fusion) on the fp32
                 export, then int8 quantisation of the fused graph with the bundle's recipe; label
                 agreement with fp32 on the dev set checked for both int8 graphs
  tokeniser      share of Engine.encode in Engine.probabilities, TOKENIZERS_PARALLELISM on and off,
                 encode_batch vs encode_batch_fast
  calibration    fit of one session call's time to rows x width (per-call overhead in token units)
"""

from __future__ import annotations

import os
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.inputs import sample, stream_order
from benchmarks.variants import percentiles


def compare(configs: dict[str, Callable[[list[str]], object]], calls: list[list[str]], rounds: int,
            reference: str, notes: dict[str, str] | None = None) -> dict:
    """Interleaved timing of each configuration over the same calls; sentences/s median over rounds."""
    names = list(configs)
    for name in names:  # warm-up
        configs[name](calls[0])
    rates: dict[str, list[float]] = {n: [] for n in names}
    latencies: dict[str, list[float]] = {n: [] for n in names}
    n_sentences = sum(len(c) for c in calls)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = configs[name]
            start = time.perf_counter()
            for call in calls:
                t0 = time.perf_counter()
                fn(call)
                latencies[name].append((time.perf_counter() - t0) * 1000)
            rates[name].append(n_sentences / (time.perf_counter() - start))
    ref = float(np.median(rates[reference]))
    out = {}
    for name in names:
        med = float(np.median(rates[name]))
        out[name] = {"sentences_per_s": med, "rounds": rates[name], "vs_reference": med / ref,
                     "call_latency_ms": percentiles(latencies[name]), "note": (notes or {}).get(name, "")}
    return {"reference": reference, "calls": len(calls), "sentences": n_sentences, "variants": out}


# ---- alternative batching ------------------------------------------------------------------------------

def unsorted_batches(self, ids):
    """Engine.batches without the length sort: consecutive chunks in input order."""
    from serving.engine import EncodedBatch

    out = []
    for start in range(0, len(ids), self.max_batch_size):
        members = np.arange(start, min(start + self.max_batch_size, len(ids)))
        width = max(len(ids[i]) for i in members)
        input_ids = np.zeros((len(members), width), dtype=np.int64)
        mask = np.zeros((len(members), width), dtype=np.int64)
        for row, index in enumerate(members):
            input_ids[row, : len(ids[index])] = ids[index]
            mask[row, : len(ids[index])] = 1
        out.append(EncodedBatch(input_ids, mask, members))
    return out


def greedy_batches(self, ids):
    """Engine.batches before the cost-based split: sort, then fill each batch up to max_batch_size
    sentences or max_batch_tokens padded tokens (one padded batch per server call of <= 64)."""
    from serving.engine import EncodedBatch

    order = np.argsort([len(x) for x in ids], kind="stable")
    out, start = [], 0
    while start < len(order):
        end = start + 1
        while (end < len(order) and end - start < self.max_batch_size
               and (end - start + 1) * len(ids[order[end]]) <= self.max_batch_tokens):
            end += 1
        members = order[start:end]
        width = len(ids[members[-1]])
        input_ids = np.zeros((len(members), width), dtype=np.int64)
        mask = np.zeros((len(members), width), dtype=np.int64)
        for row, index in enumerate(members):
            input_ids[row, : len(ids[index])] = ids[index]
            mask[row, : len(ids[index])] = 1
        out.append(EncodedBatch(input_ids, mask, members))
        start = end
    return out


def split_plan(lengths: np.ndarray, max_rows: int, max_tokens: int, overhead_tokens: float,
               width_scale: float = float("inf")) -> list[tuple[int, int]]:
    """Cut ascending ``lengths`` into consecutive groups [start, end) minimising the estimated time of
    running each group as one padded batch: ``overhead_tokens + rows * width * (1 + width / width_scale)``
    (a per-call overhead, the padded tokens, and the attention work that grows with the width), by dynamic
    programming in O(n * max_rows)."""
    n = len(lengths)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        width = float(lengths[end - 1])
        lo = max(0, end - max_rows, end - max(1, int(max_tokens // max(width, 1.0))))
        starts = np.arange(lo, end)
        costs = best[starts] + overhead_tokens + (end - starts) * width * (1.0 + width / width_scale)
        i = int(np.argmin(costs))
        best[end], cut[end] = costs[i], starts[i]
    groups, end = [], n
    while end > 0:
        groups.append((int(cut[end]), end))
        end = int(cut[end])
    return groups[::-1]


def make_split_batches(overhead_tokens: float, width_scale: float = float("inf")):
    def split_batches(self, ids):
        from serving.engine import EncodedBatch

        order = np.argsort([len(x) for x in ids], kind="stable")
        lengths = np.array([len(ids[i]) for i in order])
        out = []
        for start, end in split_plan(lengths, self.max_batch_size, self.max_batch_tokens, overhead_tokens,
                                     width_scale):
            members = order[start:end]
            width = int(lengths[end - 1])
            input_ids = np.zeros((len(members), width), dtype=np.int64)
            mask = np.zeros((len(members), width), dtype=np.int64)
            for row, index in enumerate(members):
                input_ids[row, : len(ids[index])] = ids[index]
                mask[row, : len(ids[index])] = 1
            out.append(EncodedBatch(input_ids, mask, members))
        return out

    return split_batches


def with_batches(engine, batches_fn):
    """A shallow copy of ``engine`` whose batches() is replaced (the session is shared)."""
    clone = object.__new__(type(engine))
    clone.__dict__.update(engine.__dict__)
    clone.batches = types.MethodType(batches_fn, clone)
    return clone


def with_session(engine, session):
    clone = object.__new__(type(engine))
    clone.__dict__.update(engine.__dict__)
    clone.session = session
    return clone


def new_session(path: Path, threads: int, level=None, device: str = "cpu", spinning: bool = False):
    import onnxruntime as ort

    from serving.engine import select_providers, session_options

    options = session_options(threads)
    if level is not None:
        options.graph_optimization_level = level
    if spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return ort.InferenceSession(str(path), sess_options=options, providers=select_providers(device))


# ---- the experiments -----------------------------------------------------------------------------------

def calibration(engine, texts: list[str], rounds: int) -> dict:
    """Time session calls of rows x width inputs (best of ``rounds``, robust to a shared machine) and fit
    t = a + b * rows * width + c * rows * width^2 by least squares relative to t: a / b is the per-call
    overhead in tokens, b / c the width at which attention doubles a token's cost."""
    ids, _ = engine.encode(texts)
    vocab_ids = np.concatenate([np.asarray(x[1:-1]) for x in ids if len(x) > 2])
    shapes = [(r, w) for r in (1, 2, 4, 8, 16, 32, 64) for w in (8, 16, 24, 32, 48, 64)
              if w <= engine.manifest.max_length]
    best = dict.fromkeys(shapes, np.inf)
    for _ in range(rounds):
        for rows, width in shapes:
            x = np.resize(vocab_ids, (rows, width)).astype(np.int64)
            t0 = time.perf_counter()
            engine._run(x, np.ones_like(x))
            best[(rows, width)] = min(best[(rows, width)], (time.perf_counter() - t0) * 1000)
    y = np.array([best[s] for s in shapes])
    design = np.array([[1.0, r * w, r * w * w] for r, w in shapes])
    coef, *_ = np.linalg.lstsq(design / y[:, None], np.ones_like(y), rcond=None)
    a, b, c = (float(v) for v in coef)
    return {"fit_ms": {"per_call": a, "per_padded_token": b, "per_row_width_squared": c},
            "overhead_tokens": a / b if b > 0 else None, "width_scale": b / c if c > 0 else None,
            "samples": [{"rows": r, "width": w, "ms": float(best[(r, w)])} for r, w in shapes]}


def fusion_models(bundle: Path, checkpoint: Path, workdir: Path, log) -> dict:
    """Fused fp32 (onnxruntime.transformers optimizer) and its int8 quantisation, with fusion statistics."""
    import json

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    from serving.bundle import MODEL_FILES

    config = json.loads((checkpoint / "encoder" / "config.json").read_text())
    # The heads cannot be detected from our export's reshapes: give them, or attention is not fused.
    fused = optimize_model(str(bundle / MODEL_FILES["fp32"]), model_type="bert",
                           num_heads=int(config.get("num_attention_heads", 0)),
                           hidden_size=int(config.get("hidden_size", 0)))
    stats = {k: int(v) for k, v in fused.get_fused_operator_statistics().items() if v}
    fp32_path = workdir / "fused.onnx"
    fused.save_model_to_file(str(fp32_path))
    int8_path = workdir / "fused.int8.onnx"
    # The bundle's recipe (training/export.py quantize_int8: per-channel MatMul weights, FFN
    # down-projections kept fp32), extended to the fused Attention op's QKV weights, so that only the
    # fusion differs from the bundle's int8.
    try:
        from training.export import down_projection_matmuls

        exclude = down_projection_matmuls(fp32_path)
    except ImportError:
        exclude = []
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=exclude,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    log(f"  fusion: {stats}")
    return {"fp32": fp32_path, "int8": int8_path, "stats": stats}


def run_experiments(paths, texts: list[str], device: dict, threads: int, quick: bool, log=print) -> dict:
    import onnxruntime as ort

    from serving.bundle import MODEL_FILES
    from serving.engine import Engine

    rounds = 2 if quick else 3
    dev = device["onnxruntime"]
    cores = os.cpu_count() or 1
    n = 192 if quick else 512
    bulk_texts = stream_order(texts, 3)[:n]
    bulk = [bulk_texts]  # one call: the engine sorts and batches
    served_like = [c for c in (sample(texts, n, 11)[i : i + 64] for i in range(0, n, 64))]
    singles = [[t] for t in sample(texts, 16 if quick else 150, 13)]
    int8 = Engine(paths.bundle, precision="int8", device=dev, threads=threads)
    fp32 = Engine(paths.bundle, precision="fp32", device=dev, threads=threads)
    results: dict = {}

    log("experiments: calibration")
    results["calibration"] = calibration(int8, texts[:200], rounds=2 if quick else 5)
    overhead = float(np.clip(results["calibration"]["overhead_tokens"] or 16.0, 1.0, 512.0))
    scale = float(np.clip(results["calibration"]["width_scale"] or 1e9, 16.0, 1e9))

    log("experiments: sorting")
    results["sorting"] = compare({
        "Engine.batches (sorted, cost-based split)": int8.probabilities,
        "greedy (sorted, full batches)": with_batches(int8, greedy_batches).probabilities,
        "input order": with_batches(int8, unsorted_batches).probabilities,
    }, bulk, rounds, "greedy (sorted, full batches)", {"input order": "chunks of 64 in arrival order, unsorted"})

    log("experiments: length_split")
    split = {f"split, overhead {t:.0f} tokens": with_batches(int8, make_split_batches(t)).probabilities
             for t in (4.0, 16.0, 64.0)}
    split[f"split, calibrated ({overhead:.0f} tokens, width scale {scale:.0f})"] = with_batches(
        int8, make_split_batches(overhead, scale)).probabilities
    split["Engine.batches (split, 12 tokens, width scale 160)"] = int8.probabilities
    greedy = {"greedy: one batch per call": with_batches(int8, greedy_batches).probabilities}
    results["length_split"] = compare(greedy | split, served_like, rounds, "greedy: one batch per call")
    results["length_split"]["calls_of_16"] = compare(
        greedy | split, [c for big in served_like for c in (big[:16], big[16:32], big[32:48], big[48:])],
        rounds, "greedy: one batch per call")
    results["length_split"]["bulk"] = compare(
        greedy | {k: v for k, v in split.items() if k.startswith("Engine")}, bulk, rounds,
        "greedy: one batch per call")

    log("experiments: threads")
    thread_engines = {f"{n} threads": with_session(int8, new_session(paths.bundle / MODEL_FILES["int8"], n, device=dev))
                      for n in sorted({1, cores, 2 * cores})}
    thread_engines[f"{cores} threads, spinning"] = with_session(
        int8, new_session(paths.bundle / MODEL_FILES["int8"], cores, device=dev, spinning=True))
    results["threads"] = compare({k: e.probabilities for k, e in thread_engines.items()}, bulk, rounds,
                                 f"{cores} threads")
    results["threads"]["batch_1"] = compare({k: e.probabilities for k, e in thread_engines.items()}, singles,
                                            rounds, f"{cores} threads")

    log("experiments: graph_level")
    levels = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    configs = {}
    for precision, engine in (("fp32", fp32), ("int8", int8)):
        for name, level in levels.items():
            session = new_session(paths.bundle / MODEL_FILES[precision], threads, level, dev)
            configs[f"{precision} {name}"] = with_session(engine, session).probabilities
    results["graph_level"] = compare(configs, bulk, rounds, "int8 all")

    log("experiments: fusion")
    with tempfile.TemporaryDirectory(prefix="eventclf-fusion-") as tmp:
        try:
            fused = fusion_models(paths.bundle, paths.checkpoint, Path(tmp), log)
        except Exception as err:  # noqa: BLE001 - the optimizer raises many types on unsupported graphs
            results["fusion"] = {"error": f"{type(err).__name__}: {err}"}
        else:
            f32 = with_session(fp32, new_session(fused["fp32"], threads, device=dev))
            f8 = with_session(int8, new_session(fused["int8"], threads, device=dev))
            reference = fp32.probabilities(texts)[0]
            diff_fp32 = float(np.abs(reference - f32.probabilities(texts)[0]).max())
            fp32_labels = reference >= fp32.thresholds

            def agreement(engine):
                return float(((engine.probabilities(texts)[0] >= engine.thresholds) == fp32_labels).all(axis=1).mean())
            configs = {"fp32": fp32.probabilities, "fp32 fused": f32.probabilities,
                       "int8": int8.probabilities, "int8 fused": f8.probabilities}
            results["fusion"] = compare(configs, bulk, rounds, "int8")
            results["fusion"]["batch_1"] = compare(configs, singles, rounds, "int8")
            results["fusion"] |= {"fused_operators": fused["stats"], "fp32_fused_max_abs_prob_diff": diff_fp32,
                                  "int8_label_agreement_with_fp32": agreement(int8),
                                  "int8_fused_label_agreement_with_fp32": agreement(f8)}

    log("experiments: tokeniser")
    results["tokeniser"] = tokeniser_share(int8, bulk_texts, rounds)
    return results


def tokeniser_share(engine, texts: list[str], rounds: int) -> dict:
    tok = engine.tokenizer
    prefixed = [engine.manifest.text_prefix + t for t in texts]
    saved = os.environ.get("TOKENIZERS_PARALLELISM")
    timings: dict[str, list[float]] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        fn()
        timings.setdefault(name, []).append(time.perf_counter() - t0)

    try:
        for _ in range(rounds):
            for parallel in ("false", "true"):
                os.environ["TOKENIZERS_PARALLELISM"] = parallel
                timed(f"encode_batch parallel={parallel}", lambda: tok.encode_batch(prefixed))
                if hasattr(tok, "encode_batch_fast"):
                    timed(f"encode_batch_fast parallel={parallel}", lambda: tok.encode_batch_fast(prefixed))
                timed(f"Engine.encode parallel={parallel}", lambda: engine.encode(texts))
                timed(f"Engine.probabilities parallel={parallel}", lambda: engine.probabilities(texts))
    finally:
        if saved is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = saved
    med = {k: float(np.median(v)) for k, v in timings.items()}
    out = {"sentences": len(texts), "seconds": med,
           "variants": {k: {"sentences_per_s": len(texts) / v} for k, v in med.items()}}
    for parallel in ("false", "true"):
        out[f"encode_share_parallel_{parallel}"] = (med[f"Engine.encode parallel={parallel}"]
                                                    / med[f"Engine.probabilities parallel={parallel}"])
    return out
