"""Squeeze-and-Excitation (Hu et al. 2018): y = x * gate(W2 act(W1 GAP(x))), Eq. 2-4 of the SE paper.

Decomposed as the DCA paper does (Figure 3, top right): extraction g = GAP(x), shape (B, C, 1, 1);
transformation t = gate(W2 act(W1 g)), shape (B, C, 1, 1), scaled when the gate is sigmoid-like;
fusion x * t. W1, W2 are 1x1 convolutions with bias (the fully connected layers of the paper).
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers import make_act, make_gate, reduced
from ..registry import ATTENTION
from .common import SCALED_GATES, Act, Gate, check_positive, dca_step


@ATTENTION.register("se")
class SqueezeExcite(nn.Module):
    connectable = True
    dims = ("channel",)
    insertion_points = None

    def __init__(self, channels: int, *, reduction: int = 16, act: Act = "relu", gate: Gate = "sigmoid"):
        super().__init__()
        hidden = reduced(channels, reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = make_act(act)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = make_gate(gate)
        self.scaled = gate in SCALED_GATES

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_positive(params["reduction"], f"{field}.reduction")
        return params

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        return self.gate(self.fc2(self.act(self.fc1(g))))

    def forward(self, x: torch.Tensor, link=None) -> torch.Tensor:
        t = dca_step(link, "channel", self.extract(x), self.transform, self.scaled)
        return x * t
