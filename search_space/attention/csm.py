"""CSM, channel and spatial attention module (Yang, Zhang & Yang; seed paper 004), Eq. 1-5.

    CAM:  Mc = sigmoid(W2 ReLU(W1 GAP(F)))           W1: C -> C/r, W2: C/r -> C       (Eq. 3-4)
          F1 = Mc * F                                                                 (Eq. 1)
    SAM:  B, C, D = 1x1 convs of A;  S_ij = B_i . C_j  over positions i, j of the H W grid
          M_ij = exp(S_ij) / sum_i exp(S_ij)   (softmax over i, as Eq. 5 normalises)   (Eq. 5)
          E_j  = gamma * sum_i D_i M_ij + A_j

What the paper leaves open, and what is chosen here (DANet's position attention module, which Fig. 3 and
Eq. 5 follow): B and C have C / qk_reduction channels (the text says C; DANet uses C/8, our default;
qk_reduction = 1 gives the text's width), D keeps C channels, the 1x1 convs have biases, and the weighted
sum of D is added back to the input with a learnable scalar gamma initialised to 0, so SAM starts as the
identity. Eq. 2 writes F_out = Ms(F1) (x) F1; Ms is an (HW x HW) matrix, so "applied" means the matrix
product above, not an elementwise product. ``order`` picks CAM -> SAM (the paper's better one) or SAM -> CAM.
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from ..constraints import Positive
from ..layers import reduced_width
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention


class ChannelAttentionModule(nn.Module):
    """CAM, Eq. 3-4: the SE-style channel gate with ReLU and sigmoid fixed by the paper."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = reduced_width(channels, reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class SpatialAttentionModule(nn.Module):
    """SAM, Eq. 5: position-to-position attention over the H x W grid."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        qk = reduced_width(channels, reduction)
        self.b = nn.Conv2d(channels, qk, 1)
        self.c = nn.Conv2d(channels, qk, 1)
        self.d = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        n, ch, h, w = a.shape
        b, c, d = self.b(a).flatten(2), self.c(a).flatten(2), self.d(a).flatten(2)   # (N, *, HW)
        m = torch.softmax(torch.bmm(b.transpose(1, 2), c), dim=1)                  # (N, HW_i, HW_j)
        return self.gamma * torch.bmm(d, m).view(n, ch, h, w) + a


@ATTENTION.register("csm")
class ChannelSpatialModule(Attention):
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, order: Literal["cam_sam", "sam_cam"] = "cam_sam",
                 reduction: Annotated[int, Positive] = 16, qk_reduction: Annotated[int, Positive] = 8):
        super().__init__()
        cam, sam = ChannelAttentionModule(channels, reduction), SpatialAttentionModule(channels, qk_reduction)
        self.body = nn.Sequential(cam, sam) if order == "cam_sam" else nn.Sequential(sam, cam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @classmethod
    def cost(cls, t, shape, p):
        c, h, w = shape
        n, hw = numel(shape), h * w
        hidden, qk = reduced_width(c, p["reduction"]), reduced_width(c, p["qk_reduction"])
        t.reduce(n)                                               # CAM
        t.conv((c, 1, 1), hidden, 1)
        t.ew(hidden)
        t.conv((hidden, 1, 1), c, 1)
        t.ew(c)
        t.ew(n)
        t.conv(shape, qk, 1)                                      # SAM
        t.conv(shape, qk, 1)
        t.conv(shape, c, 1)
        t.params += 1                                             # gamma
        t.macs += hw * qk * hw + c * hw * hw                      # the two bmm
        t.softmax(hw * hw)
        t.ew(n, 2)                                                # gamma * ... + a
        return shape
