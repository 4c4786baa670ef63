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

import torch
from torch import nn

from ..layers import make_act, make_gate, reduced
from ..registry import ATTENTION
from .common import Act, Gate, check_positive


@ATTENTION.register("bam")
class BottleneckAttention(nn.Module):
    connectable = False
    insertion_points = None

    def __init__(self, channels: int, *, reduction: int = 16, dilation: int = 4, act: Act = "relu",
                 gate: Gate = "sigmoid"):
        super().__init__()
        hidden = reduced(channels, reduction)
        self.channel = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), make_act(act),
                                     nn.Conv2d(hidden, channels, 1), nn.BatchNorm2d(channels))
        self.spatial = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), make_act(act),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(hidden), make_act(act),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(hidden), make_act(act),
            nn.Conv2d(hidden, 1, 1), nn.BatchNorm2d(1))
        self.gate = make_gate(gate)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_positive(params["reduction"], f"{field}.reduction")
        check_positive(params["dilation"], f"{field}.dilation")
        return params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.gate(self.channel(x.mean((2, 3), keepdim=True)) + self.spatial(x))
        return x + x * m
