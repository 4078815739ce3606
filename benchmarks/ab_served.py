"""Served A/B: the same bundle served by two checkouts' serving/ code, interleaved level by level.

    python -m benchmarks.ab_served --before /path/to/older/checkout [--model-dir models/default]

Both servers run at once (each idle while the other is loaded; onnxruntime threads do not spin), and
every concurrency level is measured before, after, after, before, ... so drifts of a shared machine hit
both alike. Used to measure an engine change on the served path (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.http_load import run_level
from benchmarks.inputs import REPO, ModelPaths, dev_sentences, stream_order
from benchmarks.server import served


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="checkout whose serving/ is the 'before'")
    parser.add_argument("--after", default=str(REPO), help="checkout whose serving/ is the 'after' (this one)")
    parser.add_argument("--model-dir", default="models/default")
    parser.add_argument("--precision", default="int8")
    parser.add_argument("--levels", default="1,8,32,128")
    parser.add_argument("--per-request", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="each round measures before and after once")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    args = parser.parse_args(argv)

    paths = ModelPaths.resolve(args.model_dir)
    order = stream_order(dev_sentences(paths), 29)
    env = {"EVENTCLF_PRECISION": args.precision}
    sides = {"before": Path(args.before), "after": Path(args.after)}
    result: dict = {"before": str(sides["before"]), "after": str(sides["after"]), "levels": []}
    with contextlib.ExitStack() as stack:
        bases = {name: stack.enter_context(served(paths.bundle, env, repo=repo))[0] for name, repo in sides.items()}
        for i, c in enumerate(int(x) for x in args.levels.split(",")):
            n = max(args.requests, 4 * c)
            runs: dict[str, list[dict]] = {"before": [], "after": []}
            for r in range(args.rounds):
                for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
                    runs[name].append(run_level(bases[name], order, concurrency=c, n_requests=n,
                                                per_request=args.per_request, warmup_requests=min(n, 2 * c + 8),
                                                offset=1009 * i + 31 * r))
            level = {"concurrency": c}
            for name, rs in runs.items():
                level[name] = {"sentences_per_s": float(np.median([x["sentences_per_s"] for x in rs])),
                               "p50_ms": float(np.median([x["latency_ms"]["p50"] for x in rs])),
                               "mean_batch": float(np.median([x["batches"]["mean_batch_size"] or 0 for x in rs])),
                               "statuses": [x["status_counts"] for x in rs]}
            level["after_vs_before"] = level["after"]["sentences_per_s"] / level["before"]["sentences_per_s"]
            result["levels"].append(level)
            print(f"c={c}: before {level['before']['sentences_per_s']:.1f}/s (p50 {level['before']['p50_ms']:.0f} ms, "
                  f"batch {level['before']['mean_batch']:.1f}), after {level['after']['sentences_per_s']:.1f}/s "
                  f"(p50 {level['after']['p50_ms']:.0f} ms, batch {level['after']['mean_batch']:.1f}): "
                  f"{level['after_vs_before']:.2f}x", file=sys.stderr, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
