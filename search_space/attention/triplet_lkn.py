"""TripletLKN (report 003, Sec. 3.3 'TripletLKN', Fig. 15): Triplet Attention whose 7x7 convolution is
replaced by VAN's large-kernel attention decomposition (Guo et al. 2022, LKA): a depthwise local conv, a
depthwise dilated conv (long range) and a 1x1 conv across the pooled maps. Per branch, on (B, Z, P, Q):

    z   = ZPool_Z(x_rot)                                              (B, S, P, Q)
    map = gate(act(BN(conv1x1(dwconv_dil(dwconv_local(z))))))      (B, 1, P, Q)

Defaults approximate a 21x21 kernel as VAN does (5x5 depthwise, 7x7 depthwise with dilation 3, 1x1).
The report also suggests a learned 1x1 compression of the collapsed dimension instead of z-pool; for the
two rotated branches that dimension is a spatial size unknown when the network is built, so the z-pool
(``zpool_stats``) stays and the LKA's 1x1 conv learns how to mix the pooled statistics.
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import OddKernel, Positive
from ..layers import Act, Gate, make_act, make_gate
from ..registry import ATTENTION
from ..tally import numel
from .triplet import ROTATIONS, TripletFrame, ZPoolStats, canonical_zpool, frame_cost, zpool, zpool_cost


class ZPoolLargeKernelGate(nn.Module):
    def __init__(self, stats: tuple[str, ...], local_kernel: int, dilated_kernel: int, dilation: int,
                 act: str, gate: str):
        super().__init__()
        s = len(stats)
        self.stats = stats
        self.local = nn.Conv2d(s, s, local_kernel, padding=local_kernel // 2, groups=s)
        self.dilated = nn.Conv2d(s, s, dilated_kernel, padding=dilation * (dilated_kernel // 2),
                                 dilation=dilation, groups=s)
        self.pointwise = nn.Conv2d(s, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.act = make_act(act, "attention.act")
        self.gate = make_gate(gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        z = self.pointwise(self.dilated(self.local(zpool(xr, self.stats))))
        return self.gate(self.act(self.bn(z)))


@ATTENTION.register("triplet_lkn")
class TripletLargeKernelAttention(TripletFrame):
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, zpool_stats: ZPoolStats = ("max", "avg"),
                 local_kernel_size: Annotated[int, OddKernel] = 5, dilated_kernel_size: Annotated[int, OddKernel] = 7,
                 dilation: Annotated[int, Positive] = 3, act: Act = "identity", gate: Gate = "sigmoid"):
        super().__init__([ZPoolLargeKernelGate(zpool_stats, local_kernel_size, dilated_kernel_size, dilation, act,
                                               gate) for _ in ROTATIONS])

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        return {**params, "zpool_stats": canonical_zpool(params["zpool_stats"], f"{field}.zpool_stats")}

    @classmethod
    def cost(cls, t, shape, p):
        kl, kd, d = p["local_kernel_size"], p["dilated_kernel_size"], p["dilation"]

        def branch(t, rotated):
            z = zpool_cost(t, rotated, p["zpool_stats"])
            s = z[0]
            z = t.conv(t.conv(z, s, kl, padding=kl // 2, groups=s), s, kd, padding=d * (kd // 2), dilation=d, groups=s)
            z = t.bn(t.conv(z, 1, 1, bias=False))
            t.act(numel(z), p["act"])
            t.gate(numel(z), p["gate"])

        return frame_cost(t, shape, branch)
