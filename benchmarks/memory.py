"""Peak memory of each variant, each alone in a fresh process: ``python -m benchmarks.memory``.

A process that loads one variant and scores sentences with it reports its peak resident set (VmHWM). The
onnxruntime variants never import torch, as in the server; the torch ones load transformers and torch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks.inputs import REPO

VARIANTS = ("torch_single", "torch_batched", "ort_fp32", "ort_int8")


def measure(variant: str, model_dir: str, n: int, device: str, threads: int) -> dict:
    from benchmarks.inputs import ModelPaths, dev_sentences, sample
    from benchmarks.server import self_peak_rss_mb

    paths = ModelPaths.resolve(model_dir)
    texts = sample(dev_sentences(paths), n, seed=5)
    before = self_peak_rss_mb()
    if variant.startswith("torch"):
        from benchmarks.variants import load_torch, torch_scorer

        model, tokenizer = load_torch(paths.checkpoint, device, threads)
        score = torch_scorer(model, tokenizer, device)
        loaded = self_peak_rss_mb()
        if variant == "torch_single":
            for t in texts:
                score([t])
        else:
            for i in range(0, len(texts), 64):
                score(texts[i : i + 64])
    else:
        from serving.engine import Engine

        engine = Engine(paths.bundle, precision=variant.split("_")[1], device=device, threads=threads)
        loaded = self_peak_rss_mb()
        engine.probabilities(texts)
    return {"variant": variant, "sentences": len(texts), "peak_rss_mb_before_load": before,
            "peak_rss_mb_after_load": loaded, "peak_rss_mb": self_peak_rss_mb()}


def measure_in_subprocess(variant: str, model_dir: str, n: int, device: str, threads: int,
                          timeout: float = 900) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.memory", "--variant", variant, "--model-dir", str(model_dir),
           "-n", str(n), "--device", device, "--threads", str(threads)]
    env = os.environ | {"OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"variant": variant, "error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--model-dir", default="models/default")
    parser.add_argument("-n", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.variant, args.model_dir, args.n, args.device, args.threads)))


if __name__ == "__main__":
    main()
