"""RepLK block (Ding et al. 2022, "Scaling Up Your Kernels to 31x31", Sec. 4, Fig. 4) in the place of LKA.

Report 003, VAN improvement 4 ("VAN 和 RepLKNet 结合"): VAN's spatial gating unit becomes a RepLK block::

    y = x + pw2(act(LK(pw1(BN(x)))))        pw1 = 1x1 conv-BN-act, pw2 = 1x1 conv-BN

where ``LK`` is a depthwise ``kernel`` x ``kernel`` conv-BN plus, during training, a parallel depthwise
``small_kernel`` x ``small_kernel`` conv-BN (the re-parameterisation branch; ``small_kernel: 0`` omits it).
:meth:`RepLKAttention.reparameterize` folds both BNs and the small kernel (zero-padded to the large size) into
one biased large conv, which computes the same function in eval mode.

The report's VAN-RepLK-B0 count (5.803M) is the merged form (one biased 31x31 conv); the unmerged block
holds 27 more parameters per channel (small 5x5 conv, two BNs instead of one bias).
The output is the block's own residual sum, not a product with the input: the report swaps the whole LKA
for the block, so in VAN and in ResNets alike it is a same-shape, residual large-kernel unit.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import AttnasError
from ..layers import make_act
from ..registry import ATTENTION
from .lka import LkaAct, check_odd, depthwise


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
class RepLKAttention(nn.Module):
    connectable = False
    dims = ("spatial", "channel")

    def __init__(self, channels: int, *, kernel: int = 31, small_kernel: int = 5, act: LkaAct = "relu"):
        super().__init__()
        self.pre_bn = nn.BatchNorm2d(channels)
        self.pw1 = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                 make_act(act, "attention.act") if act != "none" else nn.Identity())
        self.large_kernel = ReparamLargeKernelConv(channels, kernel, small_kernel)
        self.lk_act = make_act(act, "attention.act") if act != "none" else nn.Identity()
        self.pw2 = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        kernel, small = params["kernel"], params["small_kernel"]
        check_odd(kernel, f"{field}.kernel")
        if small and (small % 2 == 0 or small >= kernel or small < 1):
            raise AttnasError(f"{field}.small_kernel: {small} is not allowed; allowed: 0 (no re-parameterisation "
                              f"branch) or an odd integer below kernel ({kernel})")
        return params

    def reparameterize(self) -> "RepLKAttention":
        """Fold the small-kernel branch and the BNs of the large kernel into one conv (for inference)."""
        self.large_kernel.reparameterize()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw2(self.lk_act(self.large_kernel(self.pw1(self.pre_bn(x)))))
