"""Coordinate Attention (Hou et al. 2021): channel attention factorised along the two spatial directions.

    z^h = mean_w x  (B, C, H, 1),  z^w = mean_h x  (B, C, 1, W)           (Eq. 4-5)
    f = act(BN(F1([z^h; z^w])))   F1: 1x1 conv C -> mip                   (Eq. 6)
    g^h = gate(F_h(f^h)),  g^w = gate(F_w(f^w))   1x1 convs mip -> C       (Eq. 7-8)
    y = x * g^h * g^w                                                     (Eq. 9)

mip = max(8, C // reduction) as in the authors' code, so a reduction larger than C is legal here (the width
floors at 8); the default act is the paper's h-swish.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..layers import make_act, make_gate
from ..registry import ATTENTION
from .common import Gate, check_positive

MIN_HIDDEN = 8


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


@ATTENTION.register("ca")
class CoordinateAttention(nn.Module):
    connectable = False
    insertion_points = None

    def __init__(self, channels: int, *, reduction: int = 32,
                 act: Literal["relu", "gelu", "celu", "elu", "leaky_relu", "silu", "hard_swish"] = "hard_swish",
                 gate: Gate = "sigmoid"):
        super().__init__()
        self.encoder = CoordinateEncoder(channels, max(MIN_HIDDEN, channels // reduction), channels, act, gate)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_positive(params["reduction"], f"{field}.reduction")
        return params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a_h, a_w = self.encoder(x)
        return x * a_h * a_w
