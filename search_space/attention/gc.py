"""Global Context block (Cao et al. 2019, GCNet), Eq. 4 / Figure 4(d):

    context  = sum_j softmax_j(W_k x_j) x_j                      (attention pooling, W_k: 1x1 conv C -> 1)
    t        = W_v2 ReLU(LN(W_v1 context))                       (bottleneck C -> C/r -> C with LayerNorm)
    y_i      = x_i + t                                           (additive fusion, broadcast over positions)

DCA decomposition (DCA paper Figure 3, bottom left): g = context, (B, C, 1, 1); t = the transform output,
(B, C, 1, 1), not scaled (fusion is a sum).
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import Positive
from ..layers import Act, make_act, reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention
from .common import dca_step


@ATTENTION.register("gc")
class GlobalContext(Attention):
    reduced_widths = {"reduction": lambda p, site: reduced_width(site.shape[0], p["reduction"])}
    connectable = True
    dims = ("channel",)

    def __init__(self, channels: int, *, reduction: Annotated[int, Positive] = 16, act: Act = "relu"):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.key = nn.Conv2d(channels, 1, 1)
        self.transform = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.LayerNorm([hidden, 1, 1]), make_act(act),
                                       nn.Conv2d(hidden, channels, 1))

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        weights = torch.softmax(self.key(x).view(b, 1, -1), dim=2)          # (B, 1, HW)
        return torch.bmm(x.view(b, c, -1), weights.transpose(1, 2)).view(b, c, 1, 1)

    def forward(self, x: torch.Tensor, link=None) -> torch.Tensor:
        return x + dca_step(link, "channel", self.extract(x), self.transform, False)

    @classmethod
    def cost(cls, t, shape, p):
        c, h, w = shape
        hidden = reduced_width(c, p["reduction"])
        t.conv(shape, 1, 1)                                       # W_k
        t.softmax(h * w)
        t.macs += c * h * w                                       # the attention-pooling bmm
        t.conv((c, 1, 1), hidden, 1)
        t.layer_norm(hidden, hidden)
        t.act(hidden, p["act"])
        t.conv((hidden, 1, 1), c, 1)
        t.ew(numel(shape))                                        # x + t
        return shape

    @classmethod
    def dca_shapes(cls, shape, p):
        return {"channel": ((shape[0], 1, 1), (shape[0], 1, 1), False)}
