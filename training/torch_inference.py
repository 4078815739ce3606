"""Batched torch inference for a checkpoint: dev evaluation, export parity and the benchmark baseline."""

from __future__ import annotations

import numpy as np
import torch

from training.model import MultiLabelClassifier


@torch.inference_mode()
def torch_logits(model: MultiLabelClassifier, tokenizer, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Logits [n, labels] in input order; sentences are length-sorted so batches pad little."""
    model.eval()
    spec = model.spec
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), len(spec.labels)), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer([spec.text_prefix + texts[i] for i in idx], padding=True, truncation=True,
                        max_length=spec.max_length, return_tensors="pt")
        logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device))["logits"]
        out[idx] = logits.float().cpu().numpy()
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))
