"""Large Kernel Attention (Guo et al. 2022, "Visual Attention Network", Sec. 3.1-3.2) and the report-003 variants.

A K x K convolution is decomposed into a depthwise (2d-1) x (2d-1) local conv, a depthwise ceil(K/d) x ceil(K/d)
conv with dilation d, and a 1x1 channel conv; the result is the attention map, applied by product::

    attn = conv1x1(dw_dil(dw(x)))        out = attn * x                    (VAN, Eq. 2-3)

Variants (report 003, "VAN" improvements 1, 5, 6):

- ``van``: 5x5 local + 7x7 dilation 3 (the paper's ~21x21; the stacked field is 4 + 18 + 1 = 23 pixels wide).
- ``lk``: 7x7 local + 11x11 dilation 3; the dilated conv alone spans (11-1)*3+1 = 31 pixels (the report's
  "31x31", following RepLKNet), stacked with the 7x7 the field is 37 pixels wide.
- ``custom``: ``local_kernel_size``, ``dilated_kernel_size`` and ``dilation`` as given.
- ``bn``: a BatchNorm after each of the three convs (VAN-BN, "在三次卷积之后分别增加了批归一化").
- ``act``: an activation after each of the first two convs (after their BN when ``bn``; VAN-Act, Table 6).

The convs keep their biases, as in VAN's code; the report's VAN-BN count (+6 C per block) confirms it.
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from ..constraints import OddKernel, Positive
from ..layers import Act, make_act
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention

LKA_VARIANTS = {"van": (5, 7, 3), "lk": (7, 11, 3)}
"""variant -> (local_kernel_size, dilated_kernel_size, dilation)."""


def depthwise(channels: int, kernel: int, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    """Depthwise conv with 'same' padding for an odd kernel."""
    return nn.Conv2d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation,
                     groups=channels, bias=bias)


def lka_map(channels: int, local_kernel: int, dilated_kernel: int, dilation: int, bn: bool = False,
            act: str = "identity") -> nn.Sequential:
    """The attention-map branch: dw(local) [-> BN] [-> act] -> dw(dilated) [-> BN] [-> act] -> 1x1 [-> BN]."""
    norm = (lambda: nn.BatchNorm2d(channels)) if bn else nn.Identity
    return nn.Sequential(
        depthwise(channels, local_kernel), norm(), make_act(act, "attention.act"),
        depthwise(channels, dilated_kernel, dilation), norm(), make_act(act, "attention.act"),
        nn.Conv2d(channels, channels, 1), norm())


def lka_map_cost(t, shape: tuple, local_kernel: int, dilated_kernel: int, dilation: int, bn: bool = False,
                 act: str = "identity") -> None:
    c, n = shape[0], numel(shape)
    for k, d in ((local_kernel, 1), (dilated_kernel, dilation)):
        t.conv(shape, c, k, padding=d * (k - 1) // 2, dilation=d, groups=c)
        if bn:
            t.bn(shape)
        t.act(n, act)
    t.conv(shape, c, 1)
    if bn:
        t.bn(shape)


def lka_field(local_kernel: int, dilated_kernel: int, dilation: int) -> int:
    """Width in pixels of the theoretical receptive field of the stacked local and dilated convs."""
    return local_kernel + (dilated_kernel - 1) * dilation


@ATTENTION.register("lka")
class LargeKernelAttention(Attention):
    dims = ("spatial", "channel")

    def __init__(self, channels: int, *, variant: Literal["van", "lk", "custom"] = "van",
                 local_kernel_size: Annotated[int, OddKernel] = 5, dilated_kernel_size: Annotated[int, OddKernel] = 7,
                 dilation: Annotated[int, Positive] = 3, bn: bool = False, act: Act = "identity"):
        super().__init__()
        self.kernels = self.kernel_triple({"variant": variant, "local_kernel_size": local_kernel_size,
                                           "dilated_kernel_size": dilated_kernel_size, "dilation": dilation})
        self.attn = lka_map(channels, *self.kernels, bn, act)

    @staticmethod
    def kernel_triple(p) -> tuple:
        """(local_kernel_size, dilated_kernel_size, dilation): the variant's, or the given ones for custom."""
        if p["variant"] != "custom":
            return LKA_VARIANTS[p["variant"]]
        return p["local_kernel_size"], p["dilated_kernel_size"], p["dilation"]

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """Named variants carry their kernels; a custom triple equal to a named one takes its name."""
        out = dict(params)
        out["local_kernel_size"], out["dilated_kernel_size"], out["dilation"] = triple = cls.kernel_triple(out)
        for name, kernels in LKA_VARIANTS.items():
            if triple == kernels:
                out["variant"] = name
        return out

    @property
    def receptive_field(self) -> int:
        return lka_field(*self.kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attn(x)

    @classmethod
    def cost(cls, t, shape, p):
        lka_map_cost(t, shape, *cls.kernel_triple(p), p["bn"], p["act"])
        t.ew(numel(shape))
        return shape
