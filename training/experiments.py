"""Recipe experiments for the default model: each variant changes one thing against the baseline.

    eventclf experiments run [--only NAME ...] [--epochs N]   # trains models/exp-<name>/ (no export)
    eventclf experiments table                                # markdown table of every models/exp-*/metrics.json

The table is what docs/experiments.md records; the default model's flags follow the winner.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from training.config import TrainConfig

# name -> (what it tests, overrides of TrainConfig). "baseline" is the default recipe.
VARIANTS: dict[str, tuple[str, dict]] = {
    "baseline": ("default recipe", {}),
    "cls-pooling": ("[CLS] token instead of mean pooling", {"pooling": "cls"}),
    "no-prefix": ("no E5 'query: ' prefix", {"text_prefix": ""}),
    "class-weighting": ("positives of rarer labels weighted up", {"class_weighting": True}),
    "lr-5e-5": ("encoder learning rate 5e-5 instead of 3e-5", {"learning_rate": 5e-5}),
    "epochs-4": ("4 epochs instead of 3 (the most the 20-minute budget allows)", {"epochs": 4.0}),
    "english-only": ("zero-shot transfer: train on English only, evaluate on every language", {"train_langs": "en"}),
    "unfrozen-embeddings": ("word embeddings trained too (about 13x slower per step on CPU)",
                            {"freeze_embeddings": False}),
}


def run(base: TrainConfig, only: list[str] | None = None) -> list[Path]:
    from training.train import train

    outputs = []
    for name, (_, overrides) in VARIANTS.items():
        if only and name not in only:
            continue
        outputs.append(train(replace(base, name=f"exp-{name}", **overrides)))
    return outputs


def table(models_dir: Path) -> str:
    header = ("| variant | what changes | steps | train s | dev micro-F1 | dev macro-F1 | worst language (F1) "
              "| hard-case FP rate | non-English micro-F1 |")
    lines = [header, "|" + "---|" * 9]
    for name, (what, _) in VARIANTS.items():
        path = models_dir / f"exp-{name}" / "metrics.json"
        if not path.is_file():
            continue
        metrics = json.loads(path.read_text())
        report = metrics.get("cross_fitted_thresholds", metrics["tuned_thresholds"])
        summary = json.loads((models_dir / f"exp-{name}" / "checkpoint" / "training_summary.json").read_text())
        langs = {k: v for k, v in report["per_language"].items() if v["n"] >= 50}
        worst = min(langs.items(), key=lambda kv: kv[1]["micro_f1"])
        cases = report["hard_cases"]
        hard_fp = sum(c["false_positive_rate"] * c["n"] for c in cases.values()) / max(1, sum(c["n"] for c in cases.values()))
        non_en = [v for k, v in report["per_language"].items() if k != "en"]
        non_en_f1 = sum(v["micro_f1"] * v["n"] for v in non_en) / max(1, sum(v["n"] for v in non_en))
        lines.append(f"| {name} | {what} | {summary.get('steps', '')} | {summary['train_seconds']} | {report['micro_f1']} "
                     f"| {report['macro_f1']} | {worst[0]} ({worst[1]['micro_f1']}) | {hard_fp:.3f} | {non_en_f1:.3f} |")
    return "\n".join(lines)
