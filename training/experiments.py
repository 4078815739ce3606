"""Recipe experiments for the default model: each variant changes one thing against the baseline.

    eventclf experiments run [--only NAME ...] [--epochs N] [--group G]  # trains models/<G>-<name>/ (no export)
    eventclf experiments table [--group G]                    # markdown table of every models/<G>-*/metrics.json

A group is one protocol (same data, same schedule): the full 3-epoch runs are group "exp"; a cheaper
screening protocol (e.g. ``--epochs 1 --group screen``) keeps its runs apart so that variants are only
ever compared with the baseline trained under the same protocol.

The table is what docs/experiments.md records; the default model's flags follow the winner.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from training.config import TrainConfig

# The recipe this study started from (the defaults before it). Every variant is applied on top of it, so
# the recorded comparisons can be rerun whatever the defaults are now; today's default is "dropout-0.05".
STUDY_BASELINE: dict = {"learning_rate": 3e-5, "layer_lr_decay": 1.0, "precision": "fp32", "dropout": 0.1}

# The screening's two winners, combined in the full runs.
BF16_LR_8E5: dict = {"precision": "bf16", "learning_rate": 8e-5}
# "The 4-epoch recipe" of the later variants: the full runs' winner, which each of them changes in one way.
FOUR_EPOCH_RECIPE: dict = {**BF16_LR_8E5, "epochs": 4.0}
# The 4-epoch recipe with layer-wise decay, the default before dropout 0.05; the latest variants change it.
LAYER_LR_DECAY_RECIPE: dict = {**FOUR_EPOCH_RECIPE, "learning_rate": 1.4e-4, "layer_lr_decay": 0.9}

# name -> (what it tests, overrides of STUDY_BASELINE and the TrainConfig defaults).
VARIANTS: dict[str, tuple[str, dict]] = {
    "baseline": ("recipe before this study: fp32, encoder LR 3e-5", {}),
    "cls-pooling": ("[CLS] token instead of mean pooling", {"pooling": "cls"}),
    "no-prefix": ("no E5 'query: ' prefix", {"text_prefix": ""}),
    "class-weighting": ("positives of rarer labels weighted up", {"class_weighting": True}),
    "freeze-6-layers": ("embeddings and the lower 6 of 12 layers frozen (half the backward pass)",
                        {"freeze_layers": 6}),
    "bf16": ("bfloat16 autocast in training (fp32 weights; the exported model is fp32)", {"precision": "bf16"}),
    "lr-8e-5": ("encoder learning rate 8e-5", {"learning_rate": 8e-5}),
    "bf16-lr-8e-5": ("bf16 autocast and encoder learning rate 8e-5 (the screening's winners combined)", BF16_LR_8E5),
    "bf16-lr-8e-5-epochs-4": ("the same with 4 epochs instead of 3", FOUR_EPOCH_RECIPE),
    "bf16-lr-8e-5-epochs-5": ("the same with 5 epochs", {**BF16_LR_8E5, "epochs": 5.0}),
    "bf16-lr-1e-4-epochs-4": ("the 4-epoch recipe with encoder learning rate 1e-4",
                              {**FOUR_EPOCH_RECIPE, "learning_rate": 1e-4}),
    "layer-lr-decay": ("layer-wise LR decay: top layer 1.4e-4, x0.9 per layer below (lowest 4.4e-5)",
                       LAYER_LR_DECAY_RECIPE),
    "layer-lr-decay-top-2e-4": ("more movement on top: top layer 2e-4, x0.87 per layer below (lowest 4.3e-5)",
                                {**FOUR_EPOCH_RECIPE, "learning_rate": 2e-4, "layer_lr_decay": 0.87}),
    "layer-lr-decay-0.95": ("flatter layer-wise decay: top layer 1.4e-4, x0.95 per layer below (lowest 8.0e-5)",
                            {**LAYER_LR_DECAY_RECIPE, "layer_lr_decay": 0.95}),
    "dropout-0.05": ("the layer-wise decay recipe with half the dropout (0.05 in the encoder and the head)",
                     {**LAYER_LR_DECAY_RECIPE, "dropout": 0.05}),
    "dropout-0": ("the layer-wise decay recipe without dropout", {**LAYER_LR_DECAY_RECIPE, "dropout": 0.0}),
    "oversample-ha-so": ("the layer-wise decay recipe, Hausa and Somali sentences 1.5x, 3.5 epochs (the same steps)",
                         {**LAYER_LR_DECAY_RECIPE, "oversample": "ha=1.5,so=1.5", "epochs": 3.5}),
    "seen-token-embeddings": ("the 4-epoch recipe, plus corrections learned for the embedding rows training uses",
                              {**FOUR_EPOCH_RECIPE, "seen_token_embeddings": True}),
    "weight-average": ("the 4-epoch recipe, shipping an exponential moving average of the weights (decay 0.998)",
                       {**FOUR_EPOCH_RECIPE, "weight_average_decay": 0.998}),
    "fold-hooked-letters": ("the 4-epoch recipe, with Hausa's hooked letters tokenised as their plain spellings",
                            {**FOUR_EPOCH_RECIPE, "fold_hooked_letters": True}),
    "english-only": ("zero-shot transfer: train on English only, evaluate on every language", {"train_langs": "en"}),
    "unfrozen-embeddings": ("word embeddings trained too (about 13x slower per step on CPU)",
                            {"freeze_embeddings": False}),
}


DEFAULT_GROUP = "exp"


def run(base: TrainConfig, only: list[str] | None = None, group: str = DEFAULT_GROUP) -> list[Path]:
    from training.train import train

    unknown = set(only or ()) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variant(s) {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    outputs = []
    for name, (_, overrides) in VARIANTS.items():
        if only and name not in only:
            continue
        outputs.append(train(replace(base, name=f"{group}-{name}", **{**STUDY_BASELINE, **overrides})))
    return outputs


def _cross_fitted(model_dir: Path):
    """(cross-fitted predictions, gold) from a run's saved dev scores, or None for older runs."""
    import numpy as np

    from training.evaluate import cross_fitted_predictions

    path = model_dir / "dev_scores.npz"
    if not path.is_file():
        return None
    scores = np.load(path)
    # The run's own threshold policy, as in its metrics.json (runs from before shrinkage used none).
    metrics = json.loads((model_dir / "metrics.json").read_text())
    pred = cross_fitted_predictions(scores["probabilities"], scores["gold"],
                                    shrinkage=metrics.get("threshold_shrinkage", 0.0))
    keys = scores["text_key"] if "text_key" in scores.files else None  # runs before text keys: None
    return pred, scores["gold"], scores["lang"], keys


def paired_bootstrap(pred_a, pred_b, gold, rounds: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Micro-F1 of b minus a, and its 95% interval over dev sentences resampled with replacement.

    Both runs are scored on the same resampled sentences, so the interval reflects how much the
    difference depends on which sentences happen to be in dev (not seed-to-seed training noise).
    """
    import numpy as np

    def micro_counts(pred):  # per sentence: true positives, predicted, gold
        return np.stack([(pred & (gold == 1)).sum(1), pred.sum(1), (gold == 1).sum(1)], axis=1)

    counts_a, counts_b = micro_counts(pred_a), micro_counts(pred_b)

    def f1(counts):
        tp, predicted, actual = counts.sum(-2).T
        return 2 * tp / np.maximum(predicted + actual, 1)

    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(gold), size=(rounds, len(gold)))
    diffs = f1(counts_b[rows]) - f1(counts_a[rows])
    point = float(f1(counts_b[None])[0] - f1(counts_a[None])[0])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return point, float(low), float(high)


def table(models_dir: Path, group: str = DEFAULT_GROUP) -> str:
    header = ("| variant | what changes | steps | train s | dev micro-F1 | dev macro-F1 | Δ micro-F1 vs baseline [95% CI] "
              "| worst language (F1) | hard-case FP rate | non-English micro-F1 |")
    lines = [header, "|" + "---|" * 10]
    baseline_dir = models_dir / f"{group}-baseline"
    baseline = _cross_fitted(baseline_dir)
    for name, (what, _) in VARIANTS.items():
        run_dir = models_dir / f"{group}-{name}"
        path = run_dir / "metrics.json"
        if not path.is_file():
            continue
        metrics = json.loads(path.read_text())
        report = metrics.get("cross_fitted_thresholds", metrics["tuned_thresholds"])
        summary = json.loads((run_dir / "checkpoint" / "training_summary.json").read_text())
        langs = {k: v for k, v in report["per_language"].items() if v["n"] >= 50}
        worst = min(langs.items(), key=lambda kv: kv[1]["micro_f1"])
        cases = report["hard_cases"]
        hard_fp = sum(c["false_positive_rate"] * c["n"] for c in cases.values()) / max(1, sum(c["n"] for c in cases.values()))
        non_en = [v for k, v in report["per_language"].items() if k != "en"]
        non_en_f1 = sum(v["micro_f1"] * v["n"] for v in non_en) / max(1, sum(v["n"] for v in non_en))
        delta = ""
        run = _cross_fitted(run_dir)
        if name != "baseline" and baseline and run:
            shared = _shared_dev_rows(baseline, run)
            if shared is not None:
                rows_a, rows_b = shared
                point, low, high = paired_bootstrap(baseline[0][rows_a], run[0][rows_b], run[1][rows_b])
                delta = f"{point:+.3f} [{low:+.3f}, {high:+.3f}]"
                if len(rows_b) != len(run[1]):
                    delta += f" on {len(rows_b)} shared"
        lines.append(f"| {name} | {what} | {summary.get('steps', '')} | {summary['train_seconds']} | {report['micro_f1']} "
                     f"| {report['macro_f1']} | {delta} | {worst[0]} ({worst[1]['micro_f1']}) | {hard_fp:.3f} "
                     f"| {non_en_f1:.3f} |")
    return "\n".join(lines)


def _shared_dev_rows(a, b):
    """Row indices (in a, in b) of the dev sentences both runs were scored on with the same gold labels.

    Runs on identical dev sets pair row by row. Runs on different data (sentences added, labels
    corrected) pair by text key, keeping only sentences whose labels agree, so that a difference
    measures the models and not the relabelling. None when there is nothing to pair on.
    """
    import numpy as np

    if a[1].shape == b[1].shape and (a[1] == b[1]).all() and (a[2] == b[2]).all():
        rows = np.arange(len(a[1]))
        return rows, rows
    if a[3] is None or b[3] is None or a[1].shape[1] != b[1].shape[1]:
        return None
    where_in_a = {key: i for i, key in enumerate(a[3])}
    pairs = [(where_in_a[key], j) for j, key in enumerate(b[3])
             if key in where_in_a and (a[1][where_in_a[key]] == b[1][j]).all()]
    if not pairs:
        return None
    rows_a, rows_b = (np.asarray(r) for r in zip(*pairs))
    return rows_a, rows_b
