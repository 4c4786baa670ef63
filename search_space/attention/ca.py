"""Coordinate Attention (Hou et al. 2021): channel attention factorised along the two spatial directions.

    z^h = mean_w x  (B, C, H, 1),  z^w = mean_h x  (B, C, 1, W)           (Eq. 4-5)
    f = act(BN(F1([z^h; z^w])))   F1: 1x1 conv C -> mip                   (Eq. 6)
    g^h = gate(F_h(f^h)),  g^w = gate(F_w(f^w))   1x1 convs mip -> C       (Eq. 7-8)
    y = x * g^h * g^w                                                     (Eq. 9)

mip = max(8, C // reduction) as in the authors' code (``reduced_width`` with min_width 8); the default act is
the paper's h-swish.

Report 003 (表2) prints CA-ResNet-50 at +0.42M / +0.73 GMACs over its Triplet-ResNet-50; Hou et al.'s module in
every bottleneck adds 1.92M / 0.03G (thop: -0.02G), and no reduction, stage mask or insertion point gives both
of the report's numbers, so the authors' module is kept and the row is held with its reason
(tests/search_space/seed_tables.yaml, row 003-2-ca).
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Positive
from ..layers import Act, Gate, make_act, make_gate, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention

MIN_WIDTH = 8
"""The floor of the encoder width in the authors' code."""


class CoordinateEncoder(nn.Module):
    """Eq. 6-8 on a tensor (B, C, P, Q): direction-aware pools -> shared 1x1 -> two gated 1x1 maps."""

    def __init__(self, channels: int, hidden: int, out_channels: int, act: str, gate: str):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), make_act(act))
        self.to_p = nn.Conv2d(hidden, out_channels, 1)
        self.to_q = nn.Conv2d(hidden, out_channels, 1)
        self.gate_p = make_gate(gate)
        self.gate_q = make_gate(gate)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the two direction maps, (B, out, P, 1) and (B, out, 1, Q)."""
        p, q = z.shape[2:]
        pooled = torch.cat((z.mean(3, keepdim=True), z.mean(2, keepdim=True).transpose(2, 3)), dim=2)
        f_p, f_q = self.squeeze(pooled).split((p, q), dim=2)
        return self.gate_p(self.to_p(f_p)), self.gate_q(self.to_q(f_q.transpose(2, 3)))

    @staticmethod
    def cost(t, shape, hidden: int, out_channels: int, act: str, gate: str) -> None:
        """Cost of :meth:`forward` on a (channels, P, Q) input (the two maps are not multiplied here)."""
        c, p, q = shape
        t.reduce(numel(shape), 2)
        s = t.bn(t.conv((c, p + q, 1), hidden, 1))
        t.act(numel(s), act)
        t.conv((hidden, p, 1), out_channels, 1)
        t.conv((hidden, q, 1), out_channels, 1)
        t.gate(out_channels * (p + q), gate)


@ATTENTION.register("ca")
class CoordinateAttention(Attention):
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.shape[0], p["reduction"], min_width=MIN_WIDTH)}
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 32, act: Act = "hard_swish",
                 gate: Gate = "sigmoid"):
        super().__init__()
        self.encoder = CoordinateEncoder(channels, reduced_width(channels, reduction, min_width=MIN_WIDTH),
                                         channels, act, gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a_h, a_w = self.encoder(x)
        return x * a_h * a_w

    @classmethod
    def cost(cls, t, shape, p):
        c = shape[0]
        hidden = reduced_width(c, p["reduction"], min_width=MIN_WIDTH)
        CoordinateEncoder.cost(t, shape, hidden, c, p["act"], p["gate"])
        t.ew(numel(shape), 2)                                     # x * a_h * a_w
        return shape
