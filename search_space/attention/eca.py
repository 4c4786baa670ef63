"""ECA, Efficient Channel Attention (Wang et al. 2020): a 1-D convolution across the GAP vector,

    w = gate(conv1d_k(GAP(x))),  y = x * w                        (Eq. 4-7 of the ECA paper)

with the kernel size either fixed (odd) or adaptive, k = psi(C) = |log2(C)/gamma + b/gamma|_odd with
gamma = 2, b = 1 (Eq. 12; |t|_odd is the odd number nearest t, taken as t, or t + 1 when t is even, as in the
authors' code). The convolution has no bias and no channel reduction.
"""
from __future__ import annotations

import math
from typing import Annotated, Optional

import torch
from torch import nn

from ..constraints import OddKernel
from ..layers import Gate, make_gate
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention

GAMMA, B = 2, 1


def adaptive_kernel(channels: int, gamma: int = GAMMA, b: int = B) -> int:
    """ECA's Eq. 12: the odd kernel size for ``channels`` (e.g. 64 -> 3, 256 -> 5, 2048 -> 7)."""
    t = int(abs(math.log2(channels) / gamma + b / gamma))
    return t if t % 2 else t + 1


@ATTENTION.register("eca")
class EfficientChannelAttention(Attention):
    dims = ("channel",)

    def __init__(self, channels: int, *, kernel_size: Optional[Annotated[int, OddKernel]] = None,
                 gate: Gate = "sigmoid"):
        super().__init__()
        k = adaptive_kernel(channels) if kernel_size is None else kernel_size
        self.kernel_size = k
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)
        self.gate = make_gate(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        y = self.conv(x.mean((2, 3)).view(b, 1, c))
        return x * self.gate(y.view(b, c, 1, 1))

    @classmethod
    def canonical_at(cls, p: dict, sites: tuple) -> dict:
        """A fixed kernel equal to the adaptive one (Eq. 12) at every site is the adaptive module: fold to None."""
        k = p["kernel_size"]
        if k is not None and sites and all(adaptive_kernel(s.shape[0]) == k for s in sites):
            return {**p, "kernel_size": None}
        return p

    @classmethod
    def cost(cls, t, shape, p):
        c = shape[0]
        k = adaptive_kernel(c) if p["kernel_size"] is None else p["kernel_size"]
        t.reduce(numel(shape))
        t.conv1d(c, 1, 1, k, padding=k // 2, bias=False)
        t.gate(c, p["gate"])
        t.ew(numel(shape))
        return shape
