"""RepLK block (Ding et al. 2022, "Scaling Up Your Kernels to 31x31", Sec. 4, Fig. 4) in the place of LKA.

Report 003, VAN improvement 4 ("VAN 和 RepLKNet 结合"): VAN's spatial gating unit becomes a RepLK block::

    y = x + pw2(act(LK(pw1(BN(x)))))        pw1 = 1x1 conv-BN-act, pw2 = 1x1 conv-BN

where ``LK`` is a depthwise ``kernel_size`` x ``kernel_size`` conv-BN plus, during training, a parallel depthwise
``small_kernel_size`` squared conv-BN (the re-parameterisation branch; ``small_kernel_size: 0`` omits it).
:meth:`RepLKAttention.reparameterize` folds both BNs and the small kernel (zero-padded to the large size) into
one biased large conv, which computes the same function in eval mode.

The report's VAN-RepLK-B0 count (5.803M) is the merged form (one biased 31x31 conv); the unmerged block
holds 27 more parameters per channel (small 5x5 conv, two BNs instead of one bias).
The output is the block's own residual sum, not a product with the input: the report swaps the whole LKA
for the block, so in VAN and in ResNets alike it is a same-shape, residual large-kernel unit.
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import OddKernel, Where
from ..errors import AttnasError
from ..layers import Act, make_act
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention
from .lka import depthwise

SmallKernel = Annotated[int, Where(lambda k: k == 0 or (k >= 1 and k % 2 == 1),
                                   "0 (no re-parameterisation branch) or an odd integer below kernel_size", 2)]


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of one conv equal to ``bn(conv(x))`` with the BN's running statistics."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return conv.weight * scale.view(-1, 1, 1, 1), bn.bias + (bias - bn.running_mean) * scale


class ReparamLargeKernelConv(nn.Module):
    """Depthwise large conv-BN (+ small conv-BN while training); :meth:`reparameterize` merges them."""

    def __init__(self, channels: int, kernel: int, small_kernel: int):
        super().__init__()
        self.kernel = kernel
        self.large = nn.Sequential(depthwise(channels, kernel, bias=False), nn.BatchNorm2d(channels))
        self.small = (nn.Sequential(depthwise(channels, small_kernel, bias=False), nn.BatchNorm2d(channels))
                      if small_kernel else None)
        self.merged: nn.Conv2d | None = None

    def reparameterize(self) -> None:
        """Replace the branches by one biased ``kernel`` x ``kernel`` depthwise conv (use in eval mode)."""
        if self.merged is not None:
            return
        weight, bias = fold_bn(*self.large)
        if self.small is not None:
            w_small, b_small = fold_bn(*self.small)
            pad = (self.kernel - w_small.shape[-1]) // 2
            weight = weight + nn.functional.pad(w_small, [pad] * 4)
            bias = bias + b_small
        merged = depthwise(weight.shape[0], self.kernel, bias=True).to(weight.device)
        with torch.no_grad():
            merged.weight.copy_(weight)
            merged.bias.copy_(bias)
        self.merged = merged
        self.large = None
        self.small = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged is not None:
            return self.merged(x)
        out = self.large(x)
        return out + self.small(x) if self.small is not None else out


@ATTENTION.register("replk")
class RepLKAttention(Attention):
    dims = ("spatial", "channel")

    def __init__(self, channels: int, *, kernel_size: Annotated[int, OddKernel] = 31,
                 small_kernel_size: SmallKernel = 5, act: Act = "relu"):
        super().__init__()
        self.pre_bn = nn.BatchNorm2d(channels)
        self.pw1 = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                 make_act(act, "attention.act"))
        self.large_kernel = ReparamLargeKernelConv(channels, kernel_size, small_kernel_size)
        self.lk_act = make_act(act, "attention.act")
        self.pw2 = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """The small kernel must be below the large one (it is zero-padded into it when merged)."""
        kernel, small = params["kernel_size"], params["small_kernel_size"]
        if small >= kernel:
            raise AttnasError(f"{field}.small_kernel_size: {small} is not allowed; allowed: 0 (no "
                              f"re-parameterisation branch) or an odd integer below kernel_size ({kernel})")
        return params

    def reparameterize(self) -> "RepLKAttention":
        """Fold the small-kernel branch and the BNs of the large kernel into one conv (for inference)."""
        self.large_kernel.reparameterize()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw2(self.lk_act(self.large_kernel(self.pw1(self.pre_bn(x)))))

    @classmethod
    def cost(cls, t, shape, p):
        c, n = shape[0], numel(shape)
        k, small = p["kernel_size"], p["small_kernel_size"]
        t.bn(shape)
        t.bn(t.conv(shape, c, 1, bias=False))
        t.act(n, p["act"])
        t.bn(t.conv(shape, c, k, padding=(k - 1) // 2, groups=c, bias=False))
        if small:
            t.bn(t.conv(shape, c, small, padding=(small - 1) // 2, groups=c, bias=False))
            t.ew(n)
        t.act(n, p["act"])
        t.bn(t.conv(shape, c, 1, bias=False))
        t.ew(n)
        return shape
