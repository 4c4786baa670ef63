"""Squeeze-and-Excitation (Hu et al. 2018): y = x * gate(W2 act(W1 GAP(x))), Eq. 2-4 of the SE paper.

Decomposed as the DCA paper does (Figure 3, top right): extraction g = GAP(x), shape (B, C, 1, 1);
transformation t = gate(W2 act(W1 g)), shape (B, C, 1, 1), scaled when the gate is sigmoid-like;
fusion x * t. W1, W2 are 1x1 convolutions with bias (the fully connected layers of the paper); the hidden
width is ``reduced_width(C, reduction)`` = C // r (at least 1).
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Positive
from ..layers import SCALED_GATES, Act, Gate, make_act, make_gate, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention
from .common import dca_step


@ATTENTION.register("se")
class SqueezeExcite(Attention):
    connectable = True
    dims = ("channel",)
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.shape[0], p["reduction"])}

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16, act: Act = "relu",
                 gate: Gate = "sigmoid"):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = make_act(act)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = make_gate(gate)
        self.scaled = gate in SCALED_GATES

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        return self.gate(self.fc2(self.act(self.fc1(g))))

    def forward(self, x: torch.Tensor, link=None) -> torch.Tensor:
        t = dca_step(link, "channel", self.extract(x), self.transform, self.scaled)
        return x * t

    @classmethod
    def cost(cls, t, shape, p):
        c = shape[0]
        hidden = reduced_width(c, p["reduction"])
        t.reduce(numel(shape))                                    # GAP
        t.conv((c, 1, 1), hidden, 1)
        t.act(hidden, p["act"])
        t.conv((hidden, 1, 1), c, 1)
        t.gate(c, p["gate"])
        t.ew(numel(shape))                                        # x * t
        return shape

    @classmethod
    def dca_shapes(cls, shape, p):
        return {"channel": ((shape[0], 1, 1), (shape[0], 1, 1), p["gate"] in SCALED_GATES)}
