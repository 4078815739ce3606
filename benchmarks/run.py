"""eventclf benchmark: ``python -m benchmarks.run`` (``make bench``); ``--quick`` for a seconds-long run.

Part 1, in this process, interleaved rounds with the variants in rotating order, on dev-set sentences at
their natural lengths:
  (a) torch_single   the fine-tuned torch checkpoint, one sentence per call (the pipeline-style baseline)
  (b) torch_batched  the same model, calls of 64 length-sorted sentences
  (c) ort_fp32       serving.engine.Engine(precision="fp32"), calls of 64 length-sorted sentences
  (d) ort_int8       serving.engine.Engine(precision="int8"), likewise
  engine sweep       Engine(int8).classify on calls of N sentences in random arrival order (what the
                     server's batches hold), N = 1 ... 64: the reference for the served numbers (the
                     sweep uses the served precision, int8 unless --served-precision fp32)
  matmul             torch fp32 2048x2048 matmul GFLOP/s: the roofline
Part 2, each variant alone in a fresh process: peak resident memory.
Part 3, nothing else running here: the BentoML service in its own process on 127.0.0.1 under a bounded
aiohttp load (fixed requests per level, concurrency 1, 8, 32, 128), with the batch sizes it formed read
from /metrics.
Writes <out>/<date>-<machine>.json, .md and .png; see benchmarks/README.md.
"""

from __future__ import annotations

import os

# Before torch or onnxruntime start their thread pools: torch (OpenMP) and onnxruntime share this
# process, and spinning workers of one starve the other (see /work/shared/notes/stack.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import machine
from benchmarks.inputs import REPO, ModelPaths, dev_sentences, stream_order
from benchmarks.variants import BATCH, Variant, Workloads, interleave, summarise, time_round

DEFAULT_OUT = REPO / "benchmarks" / "results"
VARIANT_ORDER = ("torch_single", "torch_batched", "ort_fp32", "ort_int8")
TARGETS = {"served_vs_baseline": 15.0, "served_vs_raw_engine": 0.8, "c1_p50_vs_engine_b1": 2.0}


@dataclass
class Plan:
    rounds: int
    n_single: int
    n_sorted: int
    n_stream: int
    sweep: list[int]
    levels: list[int]
    per_request: list[int]
    memory_n: int
    matmul_size: int

    @classmethod
    def for_args(cls, args) -> Plan:
        if args.quick:
            plan = cls(rounds=2, n_single=12, n_sorted=128, n_stream=64, sweep=[1, 8], levels=[1, 8],
                       per_request=[1], memory_n=16, matmul_size=1024)
        else:
            plan = cls(rounds=3, n_single=200, n_sorted=0, n_stream=512, sweep=[1, 4, 8, 16, 32, 64],
                       levels=[1, 8, 32, 128], per_request=[1, 8], memory_n=256, matmul_size=2048)
        if args.rounds:
            plan.rounds = args.rounds
        if args.levels:
            plan.levels = [int(x) for x in args.levels.split(",")]
        if args.per_request:
            plan.per_request = [int(x) for x in args.per_request.split(",")]
        return plan

    def requests_for(self, concurrency: int, per_request: int, quick: bool) -> int:
        if quick:
            return max(16, 4 * concurrency)
        base = 400 if per_request == 1 else 100
        return max(base, 8 * concurrency if per_request == 1 else 2 * concurrency)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_device(requested: str) -> dict:
    info = {"requested": requested, "torch": "cpu", "onnxruntime": "cpu", "gpu": None, "note": ""}
    if requested != "cuda":
        return info
    import torch

    if torch.cuda.is_available():
        info.update(torch="cuda", gpu=torch.cuda.get_device_name(0))
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            info["onnxruntime"] = "cuda"
        else:
            info["note"] = ("onnxruntime has no CUDA provider (install onnxruntime-gpu): the ONNX engine and "
                            "the server ran on CPU")
    else:
        info["note"] = "--device cuda was asked for but torch sees no GPU: this run is CPU only"
    if info["note"]:
        log("=" * 78 + f"\nNOTE: {info['note']}\n" + "=" * 78)
    return info


# ---- part 1: in-process variants ------------------------------------------------------------------------

def build_variants(paths: ModelPaths, device: dict, threads: int, plan: Plan, sweep_precision: str):
    from benchmarks.roofline import encoder_shape
    from benchmarks.variants import load_torch, torch_scorer
    from serving.engine import Engine

    model, tokenizer = load_torch(paths.checkpoint, device["torch"], threads)
    shape = encoder_shape(model)
    score = torch_scorer(model, tokenizer, device["torch"])
    engines = {p: Engine(paths.bundle, precision=p, device=device["onnxruntime"], threads=threads)
               for p in ("fp32", "int8")}
    variants = [
        Variant("torch_single", "(a) torch, 1 sentence per call (pipeline-style baseline)", "torch", "fp32",
                "single", 1, False, score),
        Variant("torch_batched", f"(b) torch, batch {BATCH}, length-sorted", "torch", "fp32",
                "sorted", BATCH, True, score),
        Variant("ort_fp32", f"(c) onnxruntime fp32 Engine, batch {BATCH}, length-sorted", "onnxruntime",
                "fp32", "sorted", BATCH, True, engines["fp32"].probabilities),
        Variant("ort_int8", f"(d) onnxruntime int8 Engine, batch {BATCH}, length-sorted", "onnxruntime",
                "int8", "sorted", BATCH, True, engines["int8"].probabilities),
    ]
    p = sweep_precision
    sweep = [Variant(f"{p}_b{n}", f"{p} Engine.classify, {n} random sentences per call", "onnxruntime",
                     p, "stream", n, False, engines[p].classify) for n in plan.sweep]
    return variants, sweep, engines, shape, model


def run_in_process(paths, texts, device, threads, plan, seed, sweep_precision: str = "int8"):
    from benchmarks.roofline import FORMULA, matmul_gflops
    from benchmarks.variants import token_lengths

    log("loading torch checkpoint and onnxruntime engines ...")
    variants, sweep, engines, shape, _ = build_variants(paths, device, threads, plan, sweep_precision)
    lengths = token_lengths(engines["int8"], texts)
    by_text = dict(zip(texts, lengths.tolist()))
    work = Workloads(texts, by_text, plan.n_single, plan.n_sorted or len(texts), plan.n_stream, seed)

    for v in variants + sweep:  # warm-up: lazy initialisation, allocator growth
        v.fn(texts[:2])
        v.fn(texts[: v.call_size])
    matmul_runs: list[float] = []

    def run_one(v, r):
        if v == "matmul":
            matmul_runs.append(matmul_gflops(plan.matmul_size, reps=5, device=device["torch"]))
            return
        calls = work.calls(v, r)
        result = time_round(v, calls)
        flops = float(shape.flops(np.array([by_text[t] for c in calls for t in c])).sum())
        result["useful_gflops_per_s"] = flops / result["elapsed_s"] / 1e9
        result["real_tokens"] = int(sum(by_text[t] for c in calls for t in c))
        v.rounds.append(result)

    log(f"part 1: {plan.rounds} interleaved rounds of {len(variants) + len(sweep)} variants + matmul")
    interleave(variants + sweep + ["matmul"], plan.rounds, run_one, log)

    matmul = float(np.median(matmul_runs))
    out = {}
    for v in variants + sweep:
        s = summarise(v)
        gflops = float(np.median([x["useful_gflops_per_s"] for x in v.rounds]))
        tokens = sum(x["real_tokens"] for x in v.rounds)
        sentences = sum(x["sentences"] for x in v.rounds)
        s |= {"useful_gflops_per_s": gflops, "roofline_fraction": gflops / matmul,
              "mean_real_tokens": tokens / sentences,
              "tokens_per_s": (s["sentences_per_s"] or 0.0) * tokens / sentences}
        out[v.name] = s
    lengths_info = {"sentences": len(texts), "mean_tokens": float(lengths.mean()),
                    "percentiles": dict(zip(("p10", "p50", "p90", "p99", "max"),
                                            map(float, np.percentile(lengths, [10, 50, 90, 99, 100]))))}
    roofline = {"formula": FORMULA + " (benchmarks/roofline.py)",
                "encoder": shape.to_dict(),
                "flops_per_token_at_mean_length": float(shape.flops(lengths.mean()) / lengths.mean()),
                "matmul_size": plan.matmul_size,
                "matmul_fp32_gflops": matmul, "matmul_fp32_gflops_rounds": matmul_runs}
    model_info = {"name": engines["int8"].name, "version": engines["int8"].version,
                  "max_length": engines["int8"].manifest.max_length,
                  "text_prefix": engines["int8"].manifest.text_prefix, "base_model": engines["int8"].manifest.base_model}
    return ({k: out[k] for k in VARIANT_ORDER}, {v.name: out[v.name] for v in sweep}, roofline, lengths_info,
            model_info, engines[sweep_precision])


# ---- part 2: memory ------------------------------------------------------------------------------------

def run_memory(paths, device, threads, plan) -> dict:
    from benchmarks.memory import measure_in_subprocess

    out = {}
    for name in VARIANT_ORDER:
        dev = device["torch"] if name.startswith("torch") else device["onnxruntime"]
        out[name] = measure_in_subprocess(name, str(paths.root), plan.memory_n, dev, threads)
        log(f"  {name}: peak RSS {out[name].get('peak_rss_mb')} MiB")
    return out


# ---- part 3: the served API ----------------------------------------------------------------------------

def raw_reference(engine, sentences: list[str], batch: int, n: int, offset: int) -> dict:
    """The in-process engine right after a served level (the server idle): calls of ``batch`` sentences
    from the same arrival-ordered stream, so served vs raw compares like with like, close in time."""
    from benchmarks.variants import percentiles

    stream = [sentences[(offset + k) % len(sentences)] for k in range(max(n, batch))]
    calls = [stream[i : i + batch] for i in range(0, len(stream), batch)]
    engine.classify(calls[0])
    latencies = []
    start = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        engine.classify(call)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    return {"batch_size": batch, "sentences": len(stream), "sentences_per_s": len(stream) / elapsed,
            "call_latency_ms": percentiles(latencies)}


def run_http(paths, texts, device, threads, plan, quick, seed, precision: str = "int8", engine=None) -> dict:
    from benchmarks.http_load import run_level
    from benchmarks.server import served, tree_memory

    env = {"EVENTCLF_PRECISION": precision, "EVENTCLF_DEVICE": "cuda" if device["requested"] == "cuda" else "cpu",
           "EVENTCLF_THREADS": str(threads)}
    order = stream_order(texts, seed + 17)
    levels, servers = [], []
    # A fresh server per mode, so that one mode's overload does not shape the next one's batching window;
    # after the highest level, concurrency 1 again shows whether the dispatcher recovers from overload.
    for per_request in plan.per_request:
        t0 = time.perf_counter()
        with served(paths.bundle, env) as (base, process):
            startup = time.perf_counter() - t0
            log(f"part 3: server ready at {base} in {startup:.1f}s ({per_request} sentence(s) per request)")
            idle = tree_memory(process.pid)
            steps = [(c, "rising") for c in plan.levels] + ([(1, "after_overload")] if len(plan.levels) > 1 else [])
            for i, (c, phase) in enumerate(steps):
                n = plan.requests_for(c, per_request, quick)
                if phase == "after_overload":
                    n = min(n, 16 if quick else 100)
                level = run_level(base, order, concurrency=c, n_requests=n, per_request=per_request,
                                  warmup_requests=min(n, max(2 * c, 8)), offset=1009 * i)
                level["phase"] = phase
                level["server_rss_mb_after"] = tree_memory(process.pid)["rss_mb_sum"]
                if engine is not None and level["batches"]["mean_batch_size"]:
                    batch = max(1, round(level["batches"]["mean_batch_size"]))
                    level["raw_engine_after"] = raw_reference(engine, order, batch,
                                                              min(256, max(4 * batch, 8 if quick else 96)),
                                                              offset=1009 * i + 5003)
                levels.append(level)
                log(f"  {per_request}/request c={c} ({phase}): {level['sentences_per_s']:.1f} sentences/s, "
                    f"p50 {level['latency_ms']['p50']:.1f} ms, mean batch "
                    f"{level['batches']['mean_batch_size'] or 0:.1f}, statuses {level['status_counts']}")
            memory = tree_memory(process.pid)
        servers.append({"sentences_per_request": per_request, "startup_s": startup, "idle_rss_mb": idle["rss_mb_sum"],
                        "peak_rss_mb": memory["peak_rss_mb_sum"], "peak_rss_mb_largest_process": memory["peak_rss_mb_max"],
                        "processes": memory["processes"]})
    first = servers[0]
    return {"server": {"precision": precision, "env": env, "startup_s": first["startup_s"],
                       "idle_rss_mb": first["idle_rss_mb"],
                       "peak_rss_mb": max(x["peak_rss_mb"] for x in servers),
                       "peak_rss_mb_largest_process": max(x["peak_rss_mb_largest_process"] for x in servers),
                       "processes": first["processes"], "per_mode": servers},
            "levels": levels}


# ---- ratios and targets --------------------------------------------------------------------------------

def interpolate(sweep: dict, batch_size: float) -> float | None:
    """Raw int8 engine sentences/s at a (mean) batch size, linear in log2(batch) between measured sizes."""
    points = sorted((v["call_size"], v["sentences_per_s"]) for v in sweep.values() if v["sentences_per_s"])
    if not points or batch_size is None:
        return None
    xs = np.log2([p[0] for p in points])
    ys = [p[1] for p in points]
    return float(np.interp(np.log2(max(batch_size, 1.0)), xs, ys))


def ratios_and_targets(variants, sweep, http) -> tuple[dict, list[dict]]:
    base = variants["torch_single"]["sentences_per_s"]
    ratios = {"vs_baseline": {k: (v["sentences_per_s"] / base if base and v["sentences_per_s"] else None)
                              for k, v in variants.items()},
              "sweep_vs_baseline": {k: (v["sentences_per_s"] / base if base else None)
                                         for k, v in sweep.items()},
              "roofline_fraction": {k: v["roofline_fraction"] for k, v in (variants | sweep).items()}}
    targets = []
    if not http:
        return ratios, targets
    b1 = next((v for v in sweep.values() if v["call_size"] == 1), None)
    for level in http["levels"]:
        mean_batch = level["batches"]["mean_batch_size"]
        raw = interpolate(sweep, mean_batch)
        after = level.get("raw_engine_after")
        level["raw_engine_sweep_same_batch_sentences_per_s"] = raw
        level["served_vs_raw_engine_sweep"] = (level["sentences_per_s"] / raw) if raw else None
        # The target uses the reference measured right after the level (same machine state); the sweep,
        # measured minutes earlier in part 1, is kept for comparison.
        level["served_vs_raw_engine"] = (level["sentences_per_s"] / after["sentences_per_s"]) if after \
            else level["served_vs_raw_engine_sweep"]
        level["served_vs_baseline"] = level["sentences_per_s"] / base if base else None
    rising = [lv for lv in http["levels"] if lv.get("phase", "rising") == "rising"]
    single = [lv for lv in rising if lv["sentences_per_request"] == 1] or rising
    best = max(single, key=lambda lv: lv["sentences_per_s"] or 0.0)
    c1 = next((lv for lv in single if lv["concurrency"] == 1), None)
    ratios["served"] = {f"{lv['sentences_per_request']}/req c={lv['concurrency']}"
                        + (" after overload" if lv.get("phase") == "after_overload" else ""): {
        "vs_baseline": lv["served_vs_baseline"], "vs_raw_engine_same_batch": lv["served_vs_raw_engine"],
        "vs_raw_engine_sweep_same_batch": lv["served_vs_raw_engine_sweep"],
        "mean_batch_size": lv["batches"]["mean_batch_size"]} for lv in http["levels"]}
    p = http["server"]["precision"]
    ratios[f"served_vs_ort_{p}_batch64_sorted"] = best["sentences_per_s"] / variants[f"ort_{p}"]["sentences_per_s"]

    def target(name, value, threshold, higher_is_better, where):
        met = None if value is None else (value >= threshold if higher_is_better else value <= threshold)
        targets.append({"name": name, "value": value, "threshold": threshold,
                        "comparison": ">=" if higher_is_better else "<=", "met": met, "where": where})

    target(f"served {p} throughput / one-sentence-per-call torch baseline", best["served_vs_baseline"],
           TARGETS["served_vs_baseline"], True,
           f"best 1-sentence-per-request level (concurrency {best['concurrency']})")
    target(f"served / raw {p} engine at the same batch size", best["served_vs_raw_engine"],
           TARGETS["served_vs_raw_engine"], True,
           f"concurrency {best['concurrency']}, mean batch {best['batches']['mean_batch_size'] or 0:.1f}")
    ratios["c1_p50_vs_engine_b1_p50_sweep"] = (c1["latency_ms"]["p50"] / b1["latency_ms"]["p50"]) \
        if (c1 and b1) else None
    c1_ref = (c1 or {}).get("raw_engine_after")
    c1_ratio = (c1["latency_ms"]["p50"] / c1_ref["call_latency_ms"]["p50"]) \
        if (c1_ref and c1_ref["batch_size"] == 1) else ratios["c1_p50_vs_engine_b1_p50_sweep"]
    ratios["c1_p50_vs_engine_b1_p50"] = c1_ratio
    target("served p50 at concurrency 1 / raw engine batch-1 p50", c1_ratio, TARGETS["c1_p50_vs_engine_b1"], False,
           "1 sentence per request, concurrency 1")
    return ratios, targets


# ---- entry point ---------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default="models/default", help="folder with checkpoint/ and bundle/")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where results are written")
    parser.add_argument("--quick", action="store_true", help="small samples, 2 rounds, levels 1 and 8 (seconds)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: torch on the GPU and EVENTCLF_DEVICE=cuda (CPU only, said so, when none)")
    parser.add_argument("--threads", type=int, default=0, help="torch and onnxruntime threads (0 = all cores)")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default 3, quick 2)")
    parser.add_argument("--levels", default="", help="concurrency levels, e.g. 1,8,32,128")
    parser.add_argument("--per-request", default="", help="sentences per request modes, e.g. 1,8")
    parser.add_argument("--data-dir", default=None, help="data folder (default: the repository's data/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--served-precision", choices=("int8", "fp32"), default="int8",
                        help="EVENTCLF_PRECISION of the server and of the engine sweep it is compared with (the "
                             "targets are for int8)")
    parser.add_argument("--no-http", action="store_true", help="skip the served part")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-variant memory processes")
    parser.add_argument("--experiments", action="store_true",
                        help="also run the engine experiments (sorting, threads, graph level, fusion, tokeniser)")
    parser.add_argument("--update-readme", choices=("auto", "yes", "no"), default="auto",
                        help="put the table in benchmarks/README.md (auto: full runs written to the default --out)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the report (also written to --out as .json, .md and .png)."""
    from benchmarks import report as report_mod

    args = parse_args(argv)
    plan = Plan.for_args(args)
    started = time.perf_counter()
    device = resolve_device(args.device)
    paths = ModelPaths.resolve(args.model_dir)
    texts = dev_sentences(paths, args.data_dir)
    log(f"benchmarking {paths.root} on {len(texts)} dev sentences ({'quick' if args.quick else 'full'} mode)")

    variants, sweep, roofline, lengths, model_info, ref_engine = run_in_process(paths, texts, device, args.threads, plan,
                                                                    args.seed, args.served_precision)
    memory = {} if args.no_memory else run_memory(paths, device, args.threads, plan)
    for name, m in memory.items():
        variants[name]["peak_rss_mb"] = m.get("peak_rss_mb")
        variants[name]["peak_rss_mb_after_load"] = m.get("peak_rss_mb_after_load")
    http = None if args.no_http else run_http(paths, texts, device, args.threads, plan, args.quick, args.seed,
                                               args.served_precision, ref_engine)
    ratios, targets = ratios_and_targets(variants, sweep, http)
    experiments = None
    if args.experiments:
        from benchmarks.experiments import run_experiments

        experiments = run_experiments(paths, texts, device, args.threads, quick=args.quick, log=log)

    info = machine.describe(device["gpu"])
    report = {
        "schema": 1,
        "date": machine.today(),
        "created_at": machine.now_iso(),
        "mode": "quick" if args.quick else "full",
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info,
        "device": device,
        "environment": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "TOKENIZERS_PARALLELISM",
                                                       "OMP_NUM_THREADS", "EVENTCLF_THREADS")},
        "plan": vars(plan) | {"threads": args.threads or os.cpu_count()},
        "model": {"dir": str(paths.root)} | model_info,
        "inputs": lengths,
        "variants": variants,
        "engine_sweep": sweep,
        "roofline": roofline,
        "memory": memory,
        "http": http,
        "ratios": ratios,
        "targets": targets,
        "experiments": experiments,
        "duration_s": None,
    }
    report["duration_s"] = time.perf_counter() - started
    out = Path(args.out)
    stem = f"{report['date']}-{info['id']}" + ("-quick" if args.quick else "")
    update = args.update_readme == "yes" or (args.update_readme == "auto" and not args.quick
                                             and out.resolve() == DEFAULT_OUT.resolve())
    files = report_mod.write_all(report, out, stem, readme=REPO / "benchmarks" / "README.md" if update else None)
    log("\n" + report_mod.markdown(report))
    log("wrote " + ", ".join(files.values()))
    return report


if __name__ == "__main__":
    main()
