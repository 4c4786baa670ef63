"""CSM, channel and spatial attention module (Yang, Zhang & Yang; seed paper 004), Eq. 1-5, and its SAM alone.

    CAM:  Mc = sigmoid(W2 ReLU(W1 GAP(F)))           W1: C -> C/r, W2: C/r -> C       (Eq. 3-4)
          F1 = Mc * F                                                                 (Eq. 1)
    SAM:  B, C, D = 1x1 convs of A, each of C channels ("{B, C, D} in R^{C x H x W}")
          S_ij = B_i . C_j  over positions i, j of the H W grid
          M_ij = exp(S_ij) / sum_i exp(S_ij)   (softmax over i, as Eq. 5 normalises)   (Eq. 5)
          F_out_j = sum_i D_i M_ij                                                    (Eq. 2)

Eq. 2 writes F_out = Ms(F1) (x) F1; Ms is an (HW x HW) matrix, so "applied" is read as the matrix product with
the value map D (DANet's position attention module, which Fig. 3 and Eq. 5 follow), not an elementwise product.
Defaults are the text's: B and C have C channels (``qk_reduction: 1``; DANet's C/8 is ``qk_reduction: 8``) and
there is no residual (``residual: false``); ``residual: true`` adds DANet's gamma * E + A with a learnable gamma
initialised to 0 (SAM then starts as the identity). The 1x1 convs have biases. ``order`` picks CAM -> SAM (the
paper's better one, Fig. 6) or SAM -> CAM. ``sam`` is the SAM alone, Table I's ResNet-50+SAM arm (CAM alone is
``se`` with r = 16, ReLU, sigmoid: Eq. 3-4 are SE's).

The paper does not say where CSM sits in a block, only that it is lightweight; in every bottleneck before the add
(``pre_add``) CSM-ResNet-50 would be 53M / 18.5 GMACs (2.1x / 4.5x ResNet-50), so the presets place it after
each block's 3x3 conv (``post_conv``, the block's own width) in the last two stages: CSM-ResNet-50 is then
+14 % parameters and +12 % MACs over ResNet-50 (29.3M / 4.6G).
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
    """SAM, Eq. 5 and 2: position-to-position attention over the H x W grid (with DANet's gamma-residual when
    ``residual``)."""

    def __init__(self, channels: int, reduction: int, residual: bool):
        super().__init__()
        qk = reduced_width(channels, reduction)
        self.b = nn.Conv2d(channels, qk, 1)
        self.c = nn.Conv2d(channels, qk, 1)
        self.d = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1)) if residual else None

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        n, ch, h, w = a.shape
        b, c, d = self.b(a).flatten(2), self.c(a).flatten(2), self.d(a).flatten(2)   # (N, *, HW)
        m = torch.softmax(torch.bmm(b.transpose(1, 2), c), dim=1)                  # (N, HW_i, HW_j)
        e = torch.bmm(d, m).view(n, ch, h, w)
        return e if self.gamma is None else self.gamma * e + a

    @staticmethod
    def cost(t, shape: tuple, reduction: int, residual: bool) -> None:
        c, h, w = shape
        hw, qk = h * w, reduced_width(c, reduction)
        t.conv(shape, qk, 1)
        t.conv(shape, qk, 1)
        t.conv(shape, c, 1)
        t.macs += hw * qk * hw + c * hw * hw                      # the two bmm
        t.softmax(hw * hw)
        if residual:
            t.params += 1                                         # gamma
            t.ew(numel(shape), 2)                                 # gamma * e + a


@ATTENTION.register("csm")
class ChannelSpatialModule(Attention):
    dims = ("channel", "spatial")

    def __init__(self, channels: int, *, order: Literal["cam_sam", "sam_cam"] = "cam_sam",
                 reduction: Annotated[int, Positive] = 16, qk_reduction: Annotated[int, Positive] = 1,
                 residual: bool = False):
        super().__init__()
        cam = ChannelAttentionModule(channels, reduction)
        sam = SpatialAttentionModule(channels, qk_reduction, residual)
        self.body = nn.Sequential(cam, sam) if order == "cam_sam" else nn.Sequential(sam, cam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @classmethod
    def cost(cls, t, shape, p):
        c, n = shape[0], numel(shape)
        hidden = reduced_width(c, p["reduction"])
        t.reduce(n)                                               # CAM
        t.conv((c, 1, 1), hidden, 1)
        t.ew(hidden)
        t.conv((hidden, 1, 1), c, 1)
        t.ew(c)
        t.ew(n)
        SpatialAttentionModule.cost(t, shape, p["qk_reduction"], p["residual"])
        return shape


@ATTENTION.register("sam")
class SpatialAttention(Attention):
    """CSM's spatial attention module alone (004 Table I, ResNet-50+SAM)."""

    dims = ("spatial",)

    def __init__(self, channels: int, *, qk_reduction: Annotated[int, Positive] = 1, residual: bool = False):
        super().__init__()
        self.sam = SpatialAttentionModule(channels, qk_reduction, residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sam(x)

    @classmethod
    def cost(cls, t, shape, p):
        SpatialAttentionModule.cost(t, shape, p["qk_reduction"], p["residual"])
        return shape
