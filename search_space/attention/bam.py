"""BAM, Bottleneck Attention Module (Park et al. 2018), Eq. 1-4:

    Mc(F) = BN(MLP(AvgPool(F)))          MLP: C -> C/r -> C with ReLU                         (Eq. 3)
    Ms(F) = BN(f1x1(f3x3_d(f3x3_d(f1x1(F)))))   C -> C/r -> (two 3x3, dilation d) -> 1         (Eq. 4)
    M(F)  = sigmoid(Mc(F) + Ms(F))       broadcast to C x H x W                               (Eq. 2)
    F'    = F + F * M(F)                                                                      (Eq. 1)

The hidden layers of both branches are followed by BN + ReLU (the authors' code); the outer BN of Eq. 3-4 is
kept as the paper writes it (for Mc a BatchNorm over the C-vector). The paper places BAM at the bottlenecks between stages; here it goes
wherever the config puts it.
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Positive
from ..layers import Act, Gate, make_act, make_gate, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention, fold_dilation


@ATTENTION.register("bam")
class BottleneckAttention(Attention):
    dims = ("channel", "spatial")
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.shape[0], p["reduction"])}

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16,
                 dilation: Annotated[int, Positive] = 4, act: Act = "relu", gate: Gate = "sigmoid"):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.channel = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), make_act(act),
                                     nn.Conv2d(hidden, channels, 1), nn.BatchNorm2d(channels))
        self.spatial = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), make_act(act),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(hidden), make_act(act),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(hidden), make_act(act),
            nn.Conv2d(hidden, 1, 1), nn.BatchNorm2d(1))
        self.gate = make_gate(gate)

    @classmethod
    def canonical_at(cls, p: dict, sites: tuple) -> dict:
        """A 3x3 conv with dilation d >= H and >= W (padding d) sees only its centre tap: every such dilation is
        the same function with the same weights and cost, folded to the smallest, max(H, W) over the sites
        (after the reduction fold of the base class)."""
        p = super().canonical_at(p, sites)
        return fold_dilation(p, "dilation", max((max(s.shape[1:]) for s in sites), default=0), 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.gate(self.channel(x.mean((2, 3), keepdim=True)) + self.spatial(x))
        return x + x * m

    @classmethod
    def cost(cls, t, shape, p):
        c, h, w = shape
        n, d, act = numel(shape), p["dilation"], p["act"]
        hidden = reduced_width(c, p["reduction"])
        t.reduce(n)
        s = t.bn(t.conv((c, 1, 1), hidden, 1))
        t.act(hidden, act)
        t.bn(t.conv(s, c, 1))
        s = t.bn(t.conv(shape, hidden, 1))
        t.act(numel(s), act)
        for _ in range(2):
            s = t.bn(t.conv(s, hidden, 3, padding=d, dilation=d))
            t.act(numel(s), act)
        t.bn(t.conv(s, 1, 1))
        t.ew(n)                                                   # Mc + Ms
        t.gate(n, p["gate"])
        t.ew(n, 2)                                                # x + x * M
        return shape
