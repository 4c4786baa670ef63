"""Selective Kernel convolution (Li et al. 2019, SKNet), replacing a block's 3x3 convolution (Sec. 3.1):

    Split:  U_m = act(BN(conv3x3_dil=m(X)))  for m = 1..M  (dilation m: receptive field 3, 5, 7, ...; the
            paper's 5x5 branch is a 3x3 with dilation 2); every branch carries the stride and the block's groups
    Fuse:   U = sum_m U_m;  s = GAP(U)                    (Eq. 1-2)
            z = act(BN(W s)),  W: C -> d,  d = max(C / r, L) (Eq. 3-4; L is ``min_width``)
    Select: a_m = softmax_m(A_m z)  over the M branches;  V = sum_m a_m * U_m   (Eq. 5-6)

W and A_m are bias-free 1x1 convolutions (A_m stacked as one conv d -> M C). The output has out_channels
channels at input resolution / stride, and stands for the block's conv-BN-activation.

DCA decomposition (DCA paper Figure 3, bottom right): g = the per-branch pooled descriptors GAP(U_m) stacked,
(B, M, C, 1, 1), so s = sum_m g_m (GAP is linear: the vanilla block is unchanged); t = the softmax branch
weights, (B, M, C, 1, 1), scaled (softmax); fusion = the weighted sum of the branches. Connecting per branch
passes a_m * GAP(U_m) on, as the DCA authors do; connecting s alone would pass sum_m a_m-weighted copies
of one vector whose weights sum to 1, i.e. no attention information.
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Positive
from ..layers import Act, conv_bn, make_act, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention
from .common import dca_step


@ATTENTION.register("sk")
class SelectiveKernel(Attention):
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.out_shape[0], p["reduction"],
                                                                 min_width=p["min_width"])}
    connectable = True
    dims = ("channel",)
    replaces_conv = True
    insertion_points = ("conv",)

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1, *,
                 branches: Annotated[int, Positive] = 2, reduction: Annotated[int, Positive] = 16,
                 min_width: Annotated[int, Positive] = 32, act: Act = "relu"):
        super().__init__()
        self.branches = nn.ModuleList(
            conv_bn(in_channels, out_channels, 3, stride, groups=groups, dilation=m, act=act)
            for m in range(1, branches + 1))
        d = reduced_width(out_channels, reduction, min_width=min_width)
        self.fc = nn.Sequential(nn.Conv2d(out_channels, d, 1, bias=False), nn.BatchNorm2d(d), make_act(act))
        self.select = nn.Conv2d(d, branches * out_channels, 1, bias=False)
        self.num_branches = branches

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        s = g.sum(1)
        b, c = s.shape[:2]
        logits = self.select(self.fc(s)).view(b, self.num_branches, c, 1, 1)
        return torch.softmax(logits, dim=1)

    def forward(self, x: torch.Tensor, link=None) -> torch.Tensor:
        u = torch.stack([branch(x) for branch in self.branches], dim=1)   # (B, M, C, H, W)
        g = u.mean((3, 4), keepdim=True)                                  # (B, M, C, 1, 1)
        a = dca_step(link, "channel", g, self.transform, True)
        return (u * a).sum(1)

    @classmethod
    def cost(cls, t, shape, p, out_channels, stride, groups):
        m, act = p["branches"], p["act"]
        for dilation in range(1, m + 1):
            out = t.bn(t.conv(shape, out_channels, 3, stride, dilation, dilation, groups, bias=False))
            t.act(numel(out), act)
        n = numel(out)
        d = reduced_width(out_channels, p["reduction"], min_width=p["min_width"])
        t.reduce(m * n)                                           # per-branch GAP
        t.reduce(m * out_channels)                                # s = sum of the branch descriptors
        t.bn(t.conv((out_channels, 1, 1), d, 1, bias=False))
        t.act(d, act)
        t.conv((d, 1, 1), m * out_channels, 1, bias=False)
        t.softmax(m * out_channels)
        t.ew(m * n)                                               # u * a
        t.reduce(m * n)                                           # sum over branches
        return out

    @classmethod
    def dca_shapes(cls, shape, p):
        g = (p["branches"], shape[0], 1, 1)
        return {"channel": (g, g, True)}
