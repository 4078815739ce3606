"""The compute roofline: FLOPs the encoder needs per sentence, and the fp32 matmul rate of this machine.

FLOPs of one forward pass over a sentence of n tokens (prefix and special tokens included, padding not):

    flops(n) = 2 * P * n  +  4 * L * H * n**2

where P is the number of non-embedding encoder parameters (every matmul weight, bias and layer norm of
the transformer layers: each weight is one multiply-add, 2 FLOPs, per token), L the number of layers, H
the hidden size, and 4 * L * n * H per token the attention matmuls (Q.K^T and attention.V, each 2 * n * H
per token per layer). Embedding look-ups, softmax, GELU and the classification head are left out (under 1%
at these lengths). Only real tokens count ("useful FLOPs"): padding is work the engine wastes, so batching
that pads less scores higher against the roofline. A run's achieved rate is the useful FLOPs of the
sentences it scored divided by its time, and the roofline fraction is that rate over the fp32 matmul rate
torch reaches on a 2048x2048 product in the same run (int8 kernels with VNNI can exceed 1.0).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

FORMULA = "flops(n) = 2*P*n + 4*L*H*n^2 per sentence of n real tokens (P: non-embedding encoder parameters)"


@dataclass
class EncoderShape:
    layers: int
    hidden: int
    params_non_embedding: int
    params_embedding: int

    def flops(self, n_tokens: np.ndarray | int) -> np.ndarray | float:
        n = np.asarray(n_tokens, dtype=np.float64)
        return 2.0 * self.params_non_embedding * n + 4.0 * self.layers * self.hidden * n * n

    def to_dict(self) -> dict:
        return asdict(self)


def encoder_shape(model) -> EncoderShape:
    """Count from a loaded MultiLabelClassifier (torch)."""
    encoder = model.encoder
    config = encoder.config
    embedding = non_embedding = 0
    for name, param in encoder.named_parameters():
        if name.startswith("embeddings."):
            embedding += param.numel()
        elif not name.startswith("pooler."):  # the pooler is not run by our model
            non_embedding += param.numel()
    return EncoderShape(layers=int(config.num_hidden_layers), hidden=int(config.hidden_size),
                        params_non_embedding=int(non_embedding), params_embedding=int(embedding))


def matmul_gflops(size: int = 2048, reps: int = 5, device: str = "cpu") -> float:
    """fp32 GFLOP/s of a size x size matmul in torch (the median of ``reps`` timed products)."""
    import torch

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    (a @ b).sum().item()  # warm-up; .item() synchronises on a GPU
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        c = a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        del c
    return 2.0 * size**3 / float(np.median(times)) / 1e9
