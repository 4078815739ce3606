"""Fine-tune a multilingual encoder into the multi-label event classifier with transformers' Trainer."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from training.config import TrainConfig
from training.data import (
    Example,
    data_hash,
    label_matrix,
    load_sentences,
    oversample,
    parse_language_weights,
    split_examples,
    text_key,
)
from training.typology import Typology, load_typology

log = logging.getLogger("eventclf.train")

CHECKPOINT_DIR = "checkpoint"
SUMMARY_FILE = "training_summary.json"
METRICS_FILE = "metrics.json"
DEV_SCORES_FILE = "dev_scores.npz"
LIVE_WEIGHTS_DIR = "live_weights"  # dev scores of the last live weights, when the shipped ones are averaged


def select_device(requested: str) -> str:
    import torch

    if requested in {"auto", "cuda"} and torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        log.warning("--device cuda requested but torch sees no GPU; training on CPU")
    return "cpu"


PRECISIONS = ("auto", "bf16", "fp32")


def native_bf16(device: str) -> bool:
    """Whether the device computes bf16 in hardware (emulated bf16 on an older CPU is slower than fp32)."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    # Private probes of torch's CPU capability; a build without them (e.g. on Arm) counts as no native bf16.
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe() for probe in probes if probe is not None)


def select_precision(requested: str, device: str) -> str:
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested == "fp32":
        return "fp32"
    if native_bf16(device):
        return "bf16"
    if requested == "bf16":
        log.warning("--precision bf16 requested but this %s has no native bf16; it will be slow", device)
        return "bf16"
    log.info("no native bf16 on this %s: training in fp32", device)
    return "fp32"


def gather_examples(config: TrainConfig, typology: Typology) -> tuple[list[Example], list[Example]]:
    """Train and dev examples from data/ and/or an ACLED export."""
    examples: list[Example] = []
    if not config.acled_only:
        examples += load_sentences(config.data_dir, typology)
    if config.acled:
        from training.acled import read_acled

        examples += read_acled(config.acled, typology)
    if not examples:
        raise ValueError("no training data: give data/ sentences or --acled")
    train, dev = split_examples(examples, config.dev_percent)
    if config.train_langs:
        keep = {x.strip() for x in config.train_langs.split(",") if x.strip()}
        train = [e for e in train if e.lang in keep]
    if config.limit:
        train = train[: config.limit]
    if not train or not dev:
        raise ValueError(f"the split left {len(train)} training and {len(dev)} dev sentences; add data")
    return train, dev


def _tokenized_dataset(examples: list[Example], tokenizer, labels: list[str], prefix: str, max_length: int):
    from datasets import Dataset

    matrix = label_matrix(examples, labels)
    masks = [e.label_mask or [1.0] * len(labels) for e in examples]
    enc = tokenizer([prefix + e.text for e in examples], truncation=True, max_length=max_length)
    return Dataset.from_dict({
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "labels": matrix,
        "label_mask": [[float(x) for x in m] for m in masks],
    })


def encoder_depth(parameter_name: str, layers: int) -> int:
    """How far below the top a parameter sits: 0 for the top transformer layer, ``layers`` for embeddings.

    Parameters outside the layer stack and the embeddings (e.g. a final layer norm) count as the top.
    """
    match = re.search(r"\.layer\.(\d+)\.", parameter_name)
    if match:
        return layers - 1 - int(match.group(1))
    return layers if ".embeddings." in f".{parameter_name}" else 0


def _optimizer(model, config: TrainConfig):
    import torch

    from training.model import transformer_layers

    head = [p for n, p in model.named_parameters() if n.startswith("classifier.") and p.requires_grad]
    encoder = [(n, p) for n, p in model.named_parameters() if not n.startswith("classifier.") and p.requires_grad]
    groups = [{"params": head, "lr": config.head_learning_rate, "weight_decay": 0.0}]
    if config.layer_lr_decay == 1.0:
        groups.append({"params": [p for _, p in encoder], "lr": config.learning_rate,
                       "weight_decay": config.weight_decay})
    else:
        layers = len(transformer_layers(model.encoder))
        by_depth: dict[int, list] = {}
        for name, parameter in encoder:
            by_depth.setdefault(encoder_depth(name, layers), []).append(parameter)
        groups += [{"params": params, "lr": config.learning_rate * config.layer_lr_decay ** depth,
                    "weight_decay": config.weight_decay} for depth, params in sorted(by_depth.items())]
    return torch.optim.AdamW(groups)


def warmup_steps(config: TrainConfig, train_sentences: int) -> int:
    """Warm-up steps: the configured share of the run, but at least warmup_min_steps (at most half the run)."""
    import math

    steps_per_epoch = math.ceil(train_sentences / config.batch_size)
    total = config.max_steps if config.max_steps > 0 else math.ceil(steps_per_epoch * config.epochs)
    return max(math.ceil(total * config.warmup_ratio), min(config.warmup_min_steps, total // 2))


def default_prefix(base_path: Path | str) -> str:
    provenance = Path(base_path) / "provenance.json"
    if provenance.is_file():
        return json.loads(provenance.read_text()).get("recommended_prefix", "")
    return ""


def train(config: TrainConfig) -> Path:
    """Train, tune thresholds, evaluate and write models/<name>/; returns the output folder."""
    import torch
    from transformers import AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

    from training.base_model import resolve_base_model
    from training.model import ClassifierSpec, build_model
    from training.model_card import write_model_card
    from training.tokenizer import fold_hooked_letters
    from training.weight_averaging import WeightAverage

    started = time.time()
    set_seed(config.seed)
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    device = select_device(config.device)
    precision = select_precision(config.precision, device)
    language_weights = parse_language_weights(config.oversample)  # fail on a bad flag before any loading
    typology = load_typology(config.data_dir)
    labels = typology.label_ids
    train_examples, dev_examples = gather_examples(config, typology)
    log.info("training on %d sentences, evaluating on %d (%s, %s)", len(train_examples), len(dev_examples), device,
             precision)

    base_path = resolve_base_model(config.base_model, config.models_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if len(tokenizer) < 100:  # an empty tokenizer loads silently from a folder without tokenizer files
        raise ValueError(f"the tokenizer in {base_path} has only {len(tokenizer)} entries; is it missing?")
    if config.fold_hooked_letters:
        fold_hooked_letters(tokenizer)  # saved with the checkpoint's tokenizer.json, so the bundle folds too
    prefix = default_prefix(base_path) if config.text_prefix is None else config.text_prefix
    spec = ClassifierSpec(labels=labels, pooling=config.pooling, text_prefix=prefix,
                          max_length=config.max_length, base_model=config.base_model, dropout=config.dropout)
    model = build_model(base_path, spec)
    missing = sorted(set(language_weights) - {e.lang for e in train_examples})
    if missing:
        log.warning("--oversample names languages with no training sentences: %s", ", ".join(missing))
    train_rows = oversample(train_examples, language_weights, config.seed)
    if len(train_rows) > len(train_examples):
        log.info("oversampling %s: %d training rows from %d sentences", config.oversample, len(train_rows),
                 len(train_examples))
    train_dataset = _tokenized_dataset(train_rows, tokenizer, labels, prefix, config.max_length)
    if config.freeze_embeddings:
        model.freeze_word_embeddings()
    if config.seen_token_embeddings:
        seen = torch.tensor(sorted({t for row in train_dataset["input_ids"] for t in row}))
        model.train_seen_token_embeddings(seen)
        log.info("learning corrections for the %d word-embedding rows the training sentences use", len(seen))
    if config.freeze_layers:
        model.freeze_lower_layers(config.freeze_layers)
    if config.class_weighting:
        gold = np.asarray(label_matrix(train_examples, labels))
        positives = gold.sum(0).clip(min=1)
        model.pos_weight = torch.tensor(np.sqrt((len(gold) - positives) / positives), dtype=torch.float32)

    out_dir = config.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    averaging = WeightAverage(model, config.weight_average_decay) if config.weight_average_decay else None
    args = TrainingArguments(
        output_dir=str(out_dir / "trainer"),
        per_device_train_batch_size=config.batch_size,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        warmup_steps=warmup_steps(config, len(train_dataset)),
        lr_scheduler_type="linear",
        logging_steps=25,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=device == "cpu",
        bf16=precision == "bf16",
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",
        disable_tqdm=False,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        data_collator=DataCollatorWithPadding(tokenizer),
        optimizers=(_optimizer(model, config), None),
        callbacks=[averaging] if averaging else None,
    )
    result = trainer.train()
    live_headline = None
    if averaging:
        # Score the last live weights too, so that every averaged run shows what the average bought.
        live_dir = out_dir / LIVE_WEIGHTS_DIR
        live_dir.mkdir(exist_ok=True)
        live_metrics, _ = evaluate_on_dev(model, tokenizer, dev_examples, labels, live_dir, config.threshold_shrinkage)
        live_headline = live_metrics["headline"]
        log.info("live (not averaged) weights: dev micro-F1 %.3f, macro-F1 %.3f", live_headline["micro_f1"],
                 live_headline["macro_f1"])
        averaging.swap()
    model.fold_embedding_corrections()

    metrics, thresholds = evaluate_on_dev(model, tokenizer, dev_examples, labels, out_dir,
                                          config.threshold_shrinkage)

    checkpoint = out_dir / CHECKPOINT_DIR
    model.save(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    all_examples = train_examples + dev_examples
    summary = {
        "name": config.name,
        "labels": [vars(label) for label in typology.labels],
        "thresholds": [round(float(t), 4) for t in thresholds],  # float32 grid values, printed cleanly
        "text_prefix": prefix,
        "data_sha256": data_hash(all_examples),
        "train_sentences": len(train_examples),
        "dev_sentences": len(dev_examples),
        "train_languages": sorted({e.lang for e in train_examples}),
        "training_loss": round(float(result.training_loss), 5),
        "steps": int(result.global_step),
        "train_seconds": round(time.time() - started, 1),
        "device": device,
        "precision": precision,
        "torch_threads": torch.get_num_threads(),
        "live_weights_headline": live_headline,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
    }
    (checkpoint / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    write_model_card(out_dir, summary, metrics, typology)
    head = metrics["headline"]
    log.info("dev micro-F1 %.3f, macro-F1 %.3f (cross-fitted thresholds); wrote %s",
             head["micro_f1"], head["macro_f1"], out_dir)
    return out_dir


def evaluate_on_dev(model, tokenizer, dev_examples: list[Example], labels: list[str], out_dir: Path,
                    threshold_shrinkage: float):
    """Score dev, write metrics.json and dev_scores.npz; returns (metrics, thresholds to ship)."""
    from training.evaluate import dev_metrics, predicts_almost_nothing
    from training.torch_inference import sigmoid, torch_logits

    model.eval()
    probs = sigmoid(torch_logits(model, tokenizer, [e.text for e in dev_examples]))
    gold = np.asarray(label_matrix(dev_examples, labels))
    langs = [e.lang for e in dev_examples]
    cases = [e.hard_case for e in dev_examples]
    metrics, thresholds = dev_metrics(probs, gold, labels, langs, cases, threshold_shrinkage)
    if predicts_almost_nothing(probs, gold, thresholds):
        log.warning("the model labels almost no dev sentence although many carry labels: training collapsed. "
                    "Retrain with a lower --learning-rate or more --warmup-min-steps")
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    # The raw dev scores, so that a new metric can be computed later without retraining.
    np.savez_compressed(out_dir / DEV_SCORES_FILE, probabilities=probs.astype(np.float32), gold=gold,
                        lang=np.asarray(langs), hard_case=np.asarray([c or "" for c in cases]),
                        text_key=np.asarray([text_key(e.text)[:16] for e in dev_examples]))
    return metrics, thresholds


def reevaluate(out_dir: Path) -> dict:
    """Recompute metrics.json and the model card of a trained model from its checkpoint.

    Uses the data and split recorded at training time, and refuses if the data has changed since:
    scores on a different dev split would not describe the shipped thresholds.
    """
    from training.model import MultiLabelClassifier
    from training.model_card import write_model_card
    from training.tokenizer import load_checkpoint_tokenizer

    checkpoint = out_dir / CHECKPOINT_DIR
    summary = json.loads((checkpoint / SUMMARY_FILE).read_text())
    cfg = summary["config"]
    known = {f.name for f in fields(TrainConfig)}  # a checkpoint from an older version may carry retired flags
    config = TrainConfig(**{k: (Path(v) if k in {"data_dir", "models_dir", "acled"} and v else v)
                            for k, v in cfg.items() if k in known})
    typology = load_typology(config.data_dir)
    train_examples, dev_examples = gather_examples(config, typology)
    if data_hash(train_examples + dev_examples) != summary["data_sha256"]:
        raise ValueError(f"the data in {config.data_dir} changed since {out_dir} was trained; retrain instead")
    model = MultiLabelClassifier.load(checkpoint)
    tokenizer = load_checkpoint_tokenizer(checkpoint)
    metrics_path = out_dir / METRICS_FILE
    previous = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics, thresholds = evaluate_on_dev(model, tokenizer, dev_examples, typology.label_ids, out_dir,
                                          config.threshold_shrinkage)
    if "export" in previous:  # written by the export; still true of the same checkpoint
        metrics["export"] = previous["export"]
        metrics_path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    if [round(float(t), 4) for t in thresholds] != summary["thresholds"]:
        log.warning("re-tuned thresholds differ from the checkpoint's; keeping the checkpoint's")
    write_model_card(out_dir, summary, metrics, typology)
    return metrics
