"""CSM, channel and spatial attention module (Yang, Zhang & Yang; seed paper 004), Eq. 1-5.

    CAM:  Mc = sigmoid(W2 ReLU(W1 GAP(F)))           W1: C -> C/r, W2: C/r -> C       (Eq. 3-4)
          F1 = Mc * F                                                                 (Eq. 1)
    SAM:  B, C, D = 1x1 convs of A;  S_ij = B_i . C_j  over positions i, j of the H W grid
          M_ij = exp(S_ij) / sum_i exp(S_ij)   (softmax over i, as Eq. 5 normalises)   (Eq. 5)
          E_j  = gamma * sum_i D_i M_ij + A_j

What the paper leaves open, and what is chosen here (DANet's position attention module, which Fig. 3 and
Eq. 5 follow): B and C have C / sam_reduction channels (the text says C; DANet uses C/8, our default;
sam_reduction = 1 gives the text's width), D keeps C channels, the 1x1 convs have biases, and the weighted
sum of D is added back to the input with a learnable scalar gamma initialised to 0, so SAM starts as the
identity. Eq. 2 writes F_out = Ms(F1) (x) F1; Ms is an (HW x HW) matrix, so "applied" means the matrix
product above, not an elementwise product. ``order`` picks CAM -> SAM (the paper's better one) or SAM -> CAM.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..layers import reduced
from ..registry import ATTENTION
from .common import check_positive


class ChannelAttentionModule(nn.Module):
    """CAM, Eq. 3-4: the SE-style channel gate with ReLU and sigmoid fixed by the paper."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = reduced(channels, reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class SpatialAttentionModule(nn.Module):
    """SAM, Eq. 5: position-to-position attention over the H x W grid."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        qk = reduced(channels, reduction, field="attention.sam_reduction")
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
class ChannelSpatialModule(nn.Module):
    connectable = False
    insertion_points = None

    def __init__(self, channels: int, *, order: Literal["cam_sam", "sam_cam"] = "cam_sam", reduction: int = 16,
                 sam_reduction: int = 8):
        super().__init__()
        cam, sam = ChannelAttentionModule(channels, reduction), SpatialAttentionModule(channels, sam_reduction)
        self.body = nn.Sequential(cam, sam) if order == "cam_sam" else nn.Sequential(sam, cam)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_positive(params["reduction"], f"{field}.reduction")
        check_positive(params["sam_reduction"], f"{field}.sam_reduction")
        return params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
