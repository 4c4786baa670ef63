"""Large Kernel Attention (Guo et al. 2022, "Visual Attention Network", Sec. 3.1-3.2) and the report-003 variants.

A K x K convolution is decomposed into a depthwise (2d-1) x (2d-1) local conv, a depthwise ceil(K/d) x ceil(K/d)
conv with dilation d, and a 1x1 channel conv; the result is the attention map, applied by product::

    attn = conv1x1(dw_dil(dw(x)))        out = attn * x                    (VAN, Eq. 2-3)

Variants (report 003, "VAN" improvements 1, 5, 6):

- ``van``: 5x5 local + 7x7 dilation 3 (the paper's ~21x21; the stacked field is 4 + 18 + 1 = 23 pixels wide).
- ``lk``: 7x7 local + 11x11 dilation 3; the dilated conv alone spans (11-1)*3+1 = 31 pixels (the report's
  "31x31", following RepLKNet), stacked with the 7x7 the field is 37 pixels wide.
- ``custom``: ``local_kernel``, ``dilated_kernel`` and ``dilation`` as given.
- ``bn``: a BatchNorm after each of the three convs (VAN-BN, "在三次卷积之后分别增加了批归一化").
- ``act``: an activation after each of the first two convs (after their BN when ``bn``; VAN-Act, Table 6).

The convs keep their biases, as in VAN's code; the report's VAN-BN count (+6 C per block) confirms it.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..errors import AttnasError
from ..layers import make_act
from ..registry import ATTENTION

LKA_VARIANTS = {"van": (5, 7, 3), "lk": (7, 11, 3)}
"""variant -> (local_kernel, dilated_kernel, dilation)."""

LkaAct = Literal["none", "relu", "gelu", "celu", "elu", "leaky_relu", "silu"]


def check_odd(value: int, field: str) -> None:
    """A 'same'-padded kernel must be a positive odd integer."""
    if value < 1 or value % 2 == 0:
        raise AttnasError(f"{field}: {value} is not allowed; allowed: an odd integer >= 1 (1, 3, 5, 7, ...)")


def check_at_least(value: int, minimum: int, field: str) -> None:
    if value < minimum:
        raise AttnasError(f"{field}: {value} is not allowed; allowed: an integer >= {minimum}")


def depthwise(channels: int, kernel: int, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    """Depthwise conv with 'same' padding for an odd kernel."""
    return nn.Conv2d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation,
                     groups=channels, bias=bias)


def optional_act(name: str) -> nn.Module:
    return nn.Identity() if name == "none" else make_act(name, "attention.act")


def lka_map(channels: int, local_kernel: int, dilated_kernel: int, dilation: int, bn: bool = False,
            act: str = "none") -> nn.Sequential:
    """The attention-map branch: dw(local) [-> BN] [-> act] -> dw(dilated) [-> BN] [-> act] -> 1x1 [-> BN]."""
    norm = (lambda: nn.BatchNorm2d(channels)) if bn else nn.Identity
    return nn.Sequential(
        depthwise(channels, local_kernel), norm(), optional_act(act),
        depthwise(channels, dilated_kernel, dilation), norm(), optional_act(act),
        nn.Conv2d(channels, channels, 1), norm())


def lka_field(local_kernel: int, dilated_kernel: int, dilation: int) -> int:
    """Width in pixels of the theoretical receptive field of the stacked local and dilated convs."""
    return local_kernel + (dilated_kernel - 1) * dilation


@ATTENTION.register("lka")
class LargeKernelAttention(nn.Module):
    connectable = False
    dims = ("spatial", "channel")

    def __init__(self, channels: int, *, variant: Literal["van", "lk", "custom"] = "van", local_kernel: int = 5,
                 dilated_kernel: int = 7, dilation: int = 3, bn: bool = False, act: LkaAct = "none"):
        super().__init__()
        if variant != "custom":
            local_kernel, dilated_kernel, dilation = LKA_VARIANTS[variant]
        self.kernels = (local_kernel, dilated_kernel, dilation)
        self.attn = lka_map(channels, local_kernel, dilated_kernel, dilation, bn, act)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """Named variants carry their kernels; a custom triple equal to a named one takes its name."""
        out = dict(params)
        if out["variant"] != "custom":
            out["local_kernel"], out["dilated_kernel"], out["dilation"] = LKA_VARIANTS[out["variant"]]
        check_odd(out["local_kernel"], f"{field}.local_kernel")
        check_odd(out["dilated_kernel"], f"{field}.dilated_kernel")
        check_at_least(out["dilation"], 1, f"{field}.dilation")
        triple = (out["local_kernel"], out["dilated_kernel"], out["dilation"])
        for name, kernels in LKA_VARIANTS.items():
            if triple == kernels:
                out["variant"] = name
        return out

    @property
    def receptive_field(self) -> int:
        return lka_field(*self.kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attn(x)
