"""Squeeze-and-Excitation (Hu et al. 2018): y = x * gate(W2 act(W1 GAP(x))), Eq. 2-4 of the SE paper.

Decomposed as the DCA paper does (extraction: GAP; transformation: the bottleneck MLP; fusion: gated product)
so a connection can sit between one block's transformation output and the next block's extraction.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..layers import make_act, make_gate, reduced
from ..registry import ATTENTION


@ATTENTION.register("se")
class SqueezeExcite(nn.Module):
    connectable = True
    dims = ("channel",)

    def __init__(self, channels: int, *, reduction: int = 16,
                 act: Literal["relu", "gelu", "celu", "elu", "leaky_relu", "silu"] = "relu",
                 gate: Literal["sigmoid", "tanh", "softmax", "hard_sigmoid"] = "sigmoid"):
        super().__init__()
        hidden = reduced(channels, reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = make_act(act)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = make_gate(gate)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        return self.gate(self.fc2(self.act(self.fc1(g))))

    def fuse(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x * t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(x, self.transform(self.extract(x)))
