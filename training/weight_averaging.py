"""An exponential moving average (EMA) of the trainable weights, kept alongside training.

The averaged weights smooth out the noise of the last optimiser steps, which on a small training set
is as large as a recipe change (docs/experiments.md: two seeds differ by 0.01 macro-F1). The average
costs one in-place update per trainable tensor per step and one extra copy of those weights.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import TrainerCallback


class WeightAverage(TrainerCallback):
    """Keeps ``average = decay * average + (1 - decay) * weights`` after every optimiser step.

    Early on the decay is capped at ``(1 + step) / (10 + step)``, so the average is not dominated by
    the untrained starting weights when training is short.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the averaging decay must be between 0 and 1, not {decay}")
        self.decay = decay
        self.parameters = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.parameters]
        self.updates = 0

    def update(self) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for average, parameter in zip(self.average, self.parameters):
                average.lerp_(parameter.detach(), 1.0 - decay)
        self.updates += 1

    def on_step_end(self, args, state, control, **kwargs):
        self.update()

    def swap(self) -> None:
        """Exchange the live weights and the average (calling it twice restores the live weights)."""
        with torch.no_grad():
            for average, parameter in zip(self.average, self.parameters):
                live = parameter.detach().clone()
                parameter.copy_(average)
                average.copy_(live)
