"""TripletLKN (report 003, Sec. 3.3 'TripletLKN', Fig. 15): Triplet Attention whose 7x7 convolution is
replaced by VAN's large-kernel attention decomposition (Guo et al. 2022, LKA): a depthwise local conv, a
depthwise dilated conv (long range) and a 1x1 conv across the pooled maps. Per branch, on (B, Z, P, Q):

    z   = ZPool_Z(x_rot)                                              (B, S, P, Q)
    map = gate(conv_act(BN(conv1x1(dwconv_dil(dwconv_local(z))))))  (B, 1, P, Q)

Defaults approximate a 21x21 kernel as VAN does (5x5 depthwise, 7x7 depthwise with dilation 3, 1x1).
The report also suggests a learned 1x1 compression of the collapsed dimension instead of z-pool; for the
two rotated branches that dimension is a spatial size unknown when the network is built, so the z-pool
(``zpool_stats``) stays and the LKA's 1x1 conv learns how to mix the pooled statistics.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers import make_act, make_gate
from ..registry import ATTENTION
from .common import Gate, check_odd_kernel, check_positive
from .triplet import ROTATIONS, ConvAct, TripletFrame, canonical_zpool, zpool


class ZPoolLargeKernelGate(nn.Module):
    def __init__(self, stats: tuple[str, ...], local_kernel: int, dilated_kernel: int, dilation: int,
                 conv_act: str, gate: str):
        super().__init__()
        s = len(stats)
        self.stats = stats
        self.local = nn.Conv2d(s, s, local_kernel, padding=local_kernel // 2, groups=s)
        self.dilated = nn.Conv2d(s, s, dilated_kernel, padding=dilation * (dilated_kernel // 2),
                                 dilation=dilation, groups=s)
        self.pointwise = nn.Conv2d(s, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.act = make_act(conv_act, "attention.conv_act")
        self.gate = make_gate(gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        z = self.pointwise(self.dilated(self.local(zpool(xr, self.stats))))
        return self.gate(self.act(self.bn(z)))


@ATTENTION.register("triplet_lkn")
class TripletLargeKernelAttention(TripletFrame):
    connectable = False
    insertion_points = None

    def __init__(self, channels: int, *, zpool_stats: tuple[str, ...] = ("max", "avg"), local_kernel: int = 5,
                 dilated_kernel: int = 7, dilation: int = 3, conv_act: ConvAct = "identity", gate: Gate = "sigmoid"):
        super().__init__([ZPoolLargeKernelGate(zpool_stats, local_kernel, dilated_kernel, dilation, conv_act, gate)
                          for _ in ROTATIONS])

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_odd_kernel(params["local_kernel"], f"{field}.local_kernel")
        check_odd_kernel(params["dilated_kernel"], f"{field}.dilated_kernel")
        check_positive(params["dilation"], f"{field}.dilation")
        return {**params, "zpool_stats": canonical_zpool(params["zpool_stats"], f"{field}.zpool_stats")}
