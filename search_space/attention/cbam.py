"""CBAM, Convolutional Block Attention Module (Woo et al. 2018), channel then spatial attention:

    Mc(F) = gate(MLP(AvgPool(F)) + MLP(MaxPool(F)))          (Eq. 2, shared MLP C -> C/r -> C)
    F'    = Mc(F) * F
    Ms(F') = gate(BN(conv_kxk([AvgPool_c(F'); MaxPool_c(F')])))  (Eq. 3; BN as in the authors' code)
    F''   = Ms(F') * F'                                        (Eq. 1)

DCA decomposition (dims = channel, spatial, in that order):
  channel: g = [AvgPool(F), MaxPool(F)] stacked on a new axis, shape (B, 2, C, 1, 1); t = Mc, (B, C, 1, 1).
           A link's merge that adds a (B, C, 1, 1) map broadcasts it per image over the two pooled descriptors
           (connections/dca.per_image: the batch stays on axis 0).
  spatial: g = [AvgPool_c(F'); MaxPool_c(F')], shape (B, 2, H, W); t = Ms, (B, 1, H, W).
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from ..constraints import Positive
from ..layers import SCALED_GATES, Act, Gate, make_act, make_gate, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention
from .common import dca_step


def pooled_mlp_cost(t, shape: tuple, hidden: int, act: str) -> None:
    """Cost of the average and max pools of a (C, H, W) map and one MLP C -> hidden -> C run on both."""
    c = shape[0]
    t.reduce(numel(shape), 2)
    t.conv((c, 1, 1), hidden, 1, calls=2)
    t.act(2 * hidden, act)
    t.conv((hidden, 1, 1), c, 1, calls=2)


@ATTENTION.register("cbam")
class CBAM(Attention):
    connectable = True
    dims = ("channel", "spatial")
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.shape[0], p["reduction"])}

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16, kernel_size: Literal[3, 5, 7] = 7,
                 act: Act = "relu", gate: Gate = "sigmoid"):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), make_act(act), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Sequential(nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False),
                                     nn.BatchNorm2d(1))
        self.channel_gate = make_gate(gate)
        self.spatial_gate = make_gate(gate)
        self.scaled = gate in SCALED_GATES

    def channel_transform(self, g: torch.Tensor) -> torch.Tensor:
        """(B, 2, C, 1, 1) pooled descriptors -> gate(MLP(avg) + MLP(max)), (B, C, 1, 1)."""
        b, k, c = g.shape[:3]
        logits = self.mlp(g.reshape(b * k, c, 1, 1)).view(b, k, c, 1, 1).sum(1)
        return self.channel_gate(logits)

    def spatial_transform(self, g: torch.Tensor) -> torch.Tensor:
        return self.spatial_gate(self.spatial(g))

    def forward(self, x: torch.Tensor, link=None) -> torch.Tensor:
        g = torch.stack((x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)), dim=1)
        x = x * dca_step(link, "channel", g, self.channel_transform, self.scaled)
        g = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), dim=1)
        return x * dca_step(link, "spatial", g, self.spatial_transform, self.scaled)

    @classmethod
    def cost(cls, t, shape, p):
        c, h, w = shape
        n, k = numel(shape), p["kernel_size"]
        pooled_mlp_cost(t, shape, reduced_width(c, p["reduction"]), p["act"])
        t.reduce(2 * c)                                           # MLP(avg) + MLP(max)
        t.gate(c, p["gate"])
        t.ew(n)
        t.reduce(n, 2)                                            # channel-wise avg and max
        t.bn(t.conv((2, h, w), 1, k, padding=k // 2, bias=False))
        t.gate(h * w, p["gate"])
        t.ew(n)
        return shape

    @classmethod
    def dca_shapes(cls, shape, p):
        c, h, w = shape
        scaled = p["gate"] in SCALED_GATES
        return {"channel": ((2, c, 1, 1), (c, 1, 1), scaled), "spatial": ((2, h, w), (1, h, w), scaled)}
