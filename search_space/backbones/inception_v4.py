"""Inception-v4 (Szegedy et al. 2017, Fig. 3-9): stem, 4 Inception-A, Reduction-A, 7 Inception-B, Reduction-B,
3 Inception-C, global pooling, dropout 0.2, linear. Every conv is conv (no bias) - BN (eps 1e-3) - activation.

``variant: imagenet`` is the 299x299 network (42.68M parameters at 1000 classes). ``variant: cifar`` is the
small-input network of the FA paper (001, Sec. IV-A): inputs are zero-padded to 96x96, the reduction modules
use 'same' instead of 'valid' padding, and the 1x7/7x1 convs become 1x5/5x1 (36.84M parameters at 10 classes
in its Table I). The paper names only the Inception-B modules for the 7 -> 5 change; the 1x7/7x1 convs of
Reduction-B, which the paper groups with the B stage, get the same change, which is what its count implies
(36.83M here; with Reduction-B left at 7 it would be 37.13M).

Stages (of the stage mask and of block-wise gating) are the Inception-A, -B and -C groups; the reduction
modules are transitions at the start of the B and C stages, outside the gated block lists. Attention goes
after each Inception module (``post_block``), not after the stem or reductions (SE-Inception-v4 of 001).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import BACKBONES
from .base import Backbone, classifier
from .resnet import init_weights

CIFAR_INPUT = 96


def basic_conv(ctx, cin: int, cout: int, kernel, stride: int = 1, padding=0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout, eps=1e-3),
                         ctx.act())


class Concat(nn.Module):
    """Run branches on the same input and concatenate their outputs along channels."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], 1)


class Split(nn.Module):
    """One trunk feeding two sibling convs whose outputs are concatenated (Inception-C's 1x3 / 3x1 pairs)."""

    def __init__(self, trunk: nn.Module, left: nn.Module, right: nn.Module):
        super().__init__()
        self.trunk, self.left, self.right = trunk, left, right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.trunk(x)
        return torch.cat([self.left(t), self.right(t)], 1)


class InceptionBuilder:
    """Channel arithmetic for one Inception-v4: widths scaled by ``width``, kernel sizes of the variant."""

    def __init__(self, ctx, width: float, long_kernel: int, reduction_pad: int):
        self.ctx, self.width, self.k, self.rpad = ctx, width, long_kernel, reduction_pad

    def c(self, channels: int) -> int:
        return max(4, int(round(channels * self.width)))

    def conv(self, cin: int, cout: int, kernel, stride: int = 1, padding=0) -> nn.Sequential:
        return basic_conv(self.ctx, cin, self.c(cout), kernel, stride, padding)

    def chain(self, cin: int, *specs) -> nn.Sequential:
        """Convs in sequence; each spec is (channels, kernel) or (channels, kernel, stride, padding)."""
        layers = []
        for spec in specs:
            cout, kernel = spec[:2]
            stride, padding = spec[2:] or (1, 0)
            layers.append(self.conv(cin, cout, kernel, stride, padding))
            cin = self.c(cout)
        return nn.Sequential(*layers)

    def row(self, channels: int):
        """A 1xk conv spec of the variant's long kernel."""
        return (channels, (1, self.k), 1, (0, self.k // 2))

    def col(self, channels: int):
        return (channels, (self.k, 1), 1, (self.k // 2, 0))

    def stem(self, cin: int) -> tuple[nn.Module, int]:
        c = self.c
        layers = [self.chain(cin, (32, 3, 2, 0), (32, 3, 1, 0), (64, 3, 1, 1)),
                  Concat(nn.MaxPool2d(3, 2), self.chain(c(64), (96, 3, 2, 0))),
                  Concat(self.chain(c(160), (64, 1), (96, 3, 1, 0)),
                         self.chain(c(160), (64, 1), (64, (1, 7), 1, (0, 3)), (64, (7, 1), 1, (3, 0)), (96, 3, 1, 0))),
                  Concat(self.chain(c(192), (192, 3, 2, 0)), nn.MaxPool2d(3, 2))]
        return nn.Sequential(*layers), c(96) * 2 + c(192)

    def block_a(self, cin: int) -> tuple[nn.Module, int]:
        return Concat(self.chain(cin, (96, 1)), self.chain(cin, (64, 1), (96, 3, 1, 1)),
                      self.chain(cin, (64, 1), (96, 3, 1, 1), (96, 3, 1, 1)),
                      nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), self.chain(cin, (96, 1)))), \
            4 * self.c(96)

    def reduction_a(self, cin: int) -> tuple[nn.Module, int]:
        p = self.rpad
        return Concat(self.chain(cin, (384, 3, 2, p)), self.chain(cin, (192, 1), (224, 3, 1, 1), (256, 3, 2, p)),
                      nn.MaxPool2d(3, 2, p)), self.c(384) + self.c(256) + cin

    def block_b(self, cin: int) -> tuple[nn.Module, int]:
        return Concat(self.chain(cin, (384, 1)), self.chain(cin, (192, 1), self.row(224), self.col(256)),
                      self.chain(cin, (192, 1), self.col(192), self.row(224), self.col(224), self.row(256)),
                      nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), self.chain(cin, (128, 1)))), \
            self.c(384) + 2 * self.c(256) + self.c(128)

    def reduction_b(self, cin: int) -> tuple[nn.Module, int]:
        p = self.rpad
        return Concat(self.chain(cin, (192, 1), (192, 3, 2, p)),
                      self.chain(cin, (256, 1), self.row(256), self.col(320), (320, 3, 2, p)),
                      nn.MaxPool2d(3, 2, p)), self.c(192) + self.c(320) + cin

    def block_c(self, cin: int) -> tuple[nn.Module, int]:
        c = self.c
        pair = lambda t: (self.conv(t, 256, (1, 3), 1, (0, 1)), self.conv(t, 256, (3, 1), 1, (1, 0)))
        return Concat(self.chain(cin, (256, 1)), Split(self.chain(cin, (384, 1)), *pair(c(384))),
                      Split(self.chain(cin, (384, 1), (448, (3, 1), 1, (1, 0)), (512, (1, 3), 1, (0, 1))), *pair(c(512))),
                      nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), self.chain(cin, (256, 1)))), \
            6 * c(256)


class InceptionModule(nn.Module):
    """One Inception-A/B/C module followed by the attention at ``post_block``."""

    def __init__(self, ctx, stage: int, body: nn.Module, channels: int):
        super().__init__()
        self.body = body
        self.attn = ctx.attention(stage, "post_block", channels) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.body(x))


@BACKBONES.register("inception_v4")
class InceptionV4(Backbone):
    insertion_points = ("post_block",)
    num_stages = 3

    def __init__(self, ctx, *, variant: Literal["cifar", "imagenet"] = "cifar", width: float = 1.0,
                 dropout: float = 0.2):
        super().__init__()
        cifar = variant == "cifar"
        self.min_input = CIFAR_INPUT if cifar else 0
        build = InceptionBuilder(ctx, width, 5 if cifar else 7, 1 if cifar else 0)
        self.stem, cin = build.stem(ctx.in_channels)
        stages = []
        for i, (n, block, reduction) in enumerate(((4, build.block_a, None), (7, build.block_b, build.reduction_a),
                                                   (3, build.block_c, build.reduction_b))):
            transition = nn.Identity()
            if reduction is not None:
                transition, cin = reduction(cin)
            blocks = []
            for _ in range(n):
                body, cin = block(cin)
                blocks.append(InceptionModule(ctx, i, body, cin))
            stages.append(nn.Sequential(transition, ctx.stage(blocks, i)))
        self.stages = ctx.body(stages)
        self.head = classifier(cin, ctx.num_classes, dropout)
        init_weights(self)

    def forward(self, x):
        h, w = x.shape[-2:]
        if h < self.min_input or w < self.min_input:
            dh, dw = max(0, self.min_input - h), max(0, self.min_input - w)
            x = F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
        return self.head(self.stages(self.stem(x)))
