"""TripletLKN (report 003, §三(一)3, 图15, 表2): Triplet Attention whose z-pool and 7x7 convolution are replaced
by VAN's large-kernel decomposition (Guo et al. 2022, LKA): "局部空间卷积 (H,W), 分布空间卷积 (H,W) 和通道卷积 (C)",
with the channel (1x1) convolution over the collapsed dimension taking the place of the z-pool compression
("这个压缩过程仅仅是将某一维的元素进行求平均和最大值, 可表征的信息过于局限。这里可以考虑使用 1x1 的卷积核获取被压缩维度
的特征值"). Per branch, on the rotated tensor x_rot of shape (B, Z, P, Q) (Z = H, W or C, the collapsed size):

    u   = dwconv_dil(dwconv_local(x_rot))          depthwise over the Z maps, biased (VAN's LKA)   (B, Z, P, Q)
    map = gate(BN(act(conv1x1_{Z->1}(u))))         the learned compression, then triplet's act/BN/gate  (B, 1, P, Q)
    y   = (x * map_hw + rot^-1(x_cw * map_cw) + rot^-1(x_hc * map_hc)) / 3

so the module has weights over H and W as well as C (``spatial_args``: the builder passes the site's size).

Reading chosen by the report's counts (表2: TripletLKN-ResNet-50 23.49M against Triplet's 22.52M, i.e. +0.97M):
each branch costs Z (k_l^2 + 1) + Z (k_d^2 + 1) + Z weights, and over ResNet-50's 16 bottlenecks (sum of C + H + W
= 15,874) +0.97M is 61 per collapsed channel: a 3x3 local and a 7x7 dilated kernel (VAN's rule for a
dilation-2 decomposition: (2d - 1) x (2d - 1) local, 7x7 at dilation d). VAN's own 5x5 / 7x7 would add 1.19M.
The MACs (+0.98G here against the report's +0.84G) are held within the stated tolerance in
tests/search_space/seed_tables.yaml. ``act`` sits between the compression and BN as in the report's
triplet (图16), ReLU by default (its baseline).
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import OddKernel, Positive
from ..layers import Act, Gate, make_act, make_gate
from ..registry import ATTENTION
from ..tally import numel
from .base import fold_dilation
from .triplet import ROTATIONS, TripletFrame, frame_cost, rotated_shapes


class LargeKernelGate(nn.Module):
    """One branch: depthwise local and dilated convs over the Z collapsed maps, a 1x1 Z -> 1 compression,
    act, BN, gate."""

    def __init__(self, z: int, local_kernel: int, dilated_kernel: int, dilation: int, act: str, gate: str):
        super().__init__()
        self.local = nn.Conv2d(z, z, local_kernel, padding=local_kernel // 2, groups=z)
        self.dilated = nn.Conv2d(z, z, dilated_kernel, padding=dilation * (dilated_kernel // 2), dilation=dilation,
                                 groups=z)
        self.compress = nn.Conv2d(z, 1, 1, bias=False)
        self.act = make_act(act, "attention.act")
        self.bn = nn.BatchNorm2d(1)
        self.gate = make_gate(gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        return self.gate(self.bn(self.act(self.compress(self.dilated(self.local(xr))))))


@ATTENTION.register("triplet_lkn")
class TripletLargeKernelAttention(TripletFrame):
    dims = ("channel", "spatial")
    spatial_args = True

    def __init__(self, channels: int, height: int, width: int, *,
                 local_kernel_size: Annotated[int, OddKernel] = 3, dilated_kernel_size: Annotated[int, OddKernel] = 7,
                 dilation: Annotated[int, Positive] = 2, act: Act = "relu", gate: Gate = "sigmoid"):
        zs = [r[0] for r in rotated_shapes((channels, height, width))]
        super().__init__([LargeKernelGate(z, local_kernel_size, dilated_kernel_size, dilation, act, gate)
                          for z, _ in zip(zs, ROTATIONS)])

    @classmethod
    def canonical_at(cls, p: dict, sites: tuple) -> dict:
        """The dilated convs see only their centre tap where the dilation is at least C, H and W (its rotated planes span two of them) at every site."""
        return fold_dilation(p, "dilation", max((max(s.shape) for s in sites), default=0), 2)

    @classmethod
    def cost(cls, t, shape, p):
        kl, kd, d = p["local_kernel_size"], p["dilated_kernel_size"], p["dilation"]

        def branch(t, rotated):
            z = rotated[0]
            u = t.conv(t.conv(rotated, z, kl, padding=kl // 2, groups=z), z, kd, padding=d * (kd // 2), dilation=d,
                       groups=z)
            m = t.conv(u, 1, 1, bias=False)
            t.act(numel(m), p["act"])
            t.gate(numel(t.bn(m)), p["gate"])

        return frame_cost(t, shape, branch)
