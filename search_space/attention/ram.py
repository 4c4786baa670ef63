"""Residual Attention Module, RAM (Zhu et al., "Image Recognition based on Multi-scale Feature Fusion
Transformer", Sec. III-B, Fig. 2): channel attention, then spatial attention, then a residual add.

    F'  = CA(F) (x) F                  (Eq. 1)   CA(F) in R^{C x 1 x 1}
    F'' = SA(F') (x) F' (+) F          (Eq. 2)   SA(F') in R^{1 x H x W}

The paper names the two maps but does not write them out; it cites CBAM (Woo et al. 2018) for the
channel-then-spatial pair, so CA and SA are CBAM's (its Eq. 2 and 3, without the BN the CBAM authors'
code adds after the spatial conv):

    CA(F)  = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))        shared MLP C -> C/r -> C, ReLU between
    SA(F') = sigmoid(conv_kxk([AvgPool_c(F'); MaxPool_c(F')]))  2 -> 1 channels, no bias

The residual add is what separates RAM from CBAM: with both maps at zero the module is the identity.
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from ..constraints import Positive
from ..layers import reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention
from .cbam import pooled_mlp_cost


@ATTENTION.register("ram")
class ResidualAttention(Attention):
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.shape[0], p["reduction"])}
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16, kernel_size: Literal[3, 5, 7] = 7):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def channel_map(self, f: torch.Tensor) -> torch.Tensor:
        """CA(F), shape (B, C, 1, 1)."""
        return torch.sigmoid(self.mlp(f.mean((2, 3), keepdim=True)) + self.mlp(f.amax((2, 3), keepdim=True)))

    def spatial_map(self, f: torch.Tensor) -> torch.Tensor:
        """SA(F'), shape (B, 1, H, W)."""
        return torch.sigmoid(self.spatial(torch.cat((f.mean(1, keepdim=True), f.amax(1, keepdim=True)), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.channel_map(x) * x              # Eq. 1
        return self.spatial_map(f1) * f1 + x      # Eq. 2

    @classmethod
    def cost(cls, t, shape, p):
        c, h, w = shape
        n, k = numel(shape), p["kernel_size"]
        pooled_mlp_cost(t, shape, reduced_width(c, p["reduction"]), "relu")
        t.ew(c, 2)                                                # add, sigmoid
        t.ew(n)                                                   # F' = CA * F
        t.reduce(n, 2)
        t.conv((2, h, w), 1, k, padding=k // 2, bias=False)
        t.ew(h * w)                                               # sigmoid
        t.ew(n, 2)                                                # SA * F' + F
        return shape
