"""What the benchmark runs on: the model folder and the dev-set sentences, at their natural lengths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT_DIR = "checkpoint"
BUNDLE_DIR = "bundle"
SUMMARY_FILE = "training_summary.json"


class BenchmarkSetupError(RuntimeError):
    """The model folder or data cannot be benchmarked; the message says what to build."""


@dataclass
class ModelPaths:
    root: Path
    checkpoint: Path
    bundle: Path

    @classmethod
    def resolve(cls, model_dir: str | Path) -> ModelPaths:
        root = Path(model_dir)
        if not root.is_absolute():
            root = (Path.cwd() / root) if (Path.cwd() / root).exists() else REPO / root
        paths = cls(root, root / CHECKPOINT_DIR, root / BUNDLE_DIR)
        for what, folder, fix in (("checkpoint", paths.checkpoint, "`eventclf train`"),
                                  ("bundle", paths.bundle, "`eventclf export`")):
            if not folder.is_dir():
                raise BenchmarkSetupError(f"{root} has no {what}/ folder: build it with {fix} "
                                          f"(or `make model`), or pass --model-dir")
        return paths


def dev_percent(paths: ModelPaths, default: int = 20) -> int:
    summary = paths.checkpoint / SUMMARY_FILE
    if summary.is_file():
        return int(json.loads(summary.read_text())["config"].get("dev_percent", default))
    return default


def dev_sentences(paths: ModelPaths, data_dir: str | Path | None = None) -> list[str]:
    """The dev split the model was validated on (same dev_percent as training), in file order."""
    from training.data import load_sentences, split_examples
    from training.typology import load_typology

    data_dir = Path(data_dir) if data_dir else REPO / "data"
    _, dev = split_examples(load_sentences(data_dir, load_typology(data_dir)), dev_percent(paths))
    if not dev:
        raise BenchmarkSetupError(f"the dev split of {data_dir} is empty")
    return [e.text for e in dev]


def stream_order(texts: list[str], seed: int) -> list[str]:
    """The sentences in a seeded random order: how independent requests arrive at a server."""
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.permutation(len(texts))]


def sample(texts: list[str], n: int, seed: int) -> list[str]:
    """n sentences drawn without replacement (all of them, cycled, when n exceeds the set)."""
    order = stream_order(texts, seed)
    return [order[i % len(order)] for i in range(n)]
