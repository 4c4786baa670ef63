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

from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..constraints import Fraction, Width
from ..registry import BACKBONES
from ..shapes import BlockShape
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


# The layout is data, read by two interpreters: InceptionBuilder (modules) and InceptionWalker (shapes, for
# search_space/shapes.py), so the architecture is written once. Items:
#   a conv spec     (channels, kernel) or (channels, kernel, stride, padding): conv-BN-act of c(channels) outputs
#   a chain         a list of conv specs in sequence
#   ("max", p)      a 3x3/2 max-pool with padding p;   ("avg", chain): 3x3/1 average pool, then the chain
#   ("cat", *b)     the branches b (chains, max-pools, avg items, splits) on one input, concatenated
#   ("split", trunk, left, right)  a chain feeding two sibling convs, concatenated
# Every conv reads the channels its input actually has.


class InceptionLayout:
    """Channel arithmetic and layout of one Inception-v4: widths scaled by ``width``, the variant's kernels."""

    def __init__(self, width: float, long_kernel: int, reduction_pad: int):
        self.width, self.k, self.rpad = width, long_kernel, reduction_pad

    def c(self, channels: int) -> int:
        return max(4, int(round(channels * self.width)))

    def row(self, channels: int):
        """A 1xk conv spec of the variant's long kernel."""
        return (channels, (1, self.k), 1, (0, self.k // 2))

    def col(self, channels: int):
        return (channels, (self.k, 1), 1, (self.k // 2, 0))

    def stem(self):
        return [[(32, 3, 2, 0), (32, 3, 1, 0), (64, 3, 1, 1)],
                ("cat", ("max", 0), [(96, 3, 2, 0)]),
                ("cat", [(64, 1), (96, 3, 1, 0)], [(64, 1), (64, (1, 7), 1, (0, 3)), (64, (7, 1), 1, (3, 0)), (96, 3, 1, 0)]),
                ("cat", [(192, 3, 2, 0)], ("max", 0))]

    def block_a(self):
        return ("cat", [(96, 1)], [(64, 1), (96, 3, 1, 1)], [(64, 1), (96, 3, 1, 1), (96, 3, 1, 1)], ("avg", [(96, 1)]))

    def reduction_a(self):
        p = self.rpad
        return ("cat", [(384, 3, 2, p)], [(192, 1), (224, 3, 1, 1), (256, 3, 2, p)], ("max", p))

    def block_b(self):
        return ("cat", [(384, 1)], [(192, 1), self.row(224), self.col(256)],
                [(192, 1), self.col(192), self.row(224), self.col(224), self.row(256)], ("avg", [(128, 1)]))

    def reduction_b(self):
        p = self.rpad
        return ("cat", [(192, 1), (192, 3, 2, p)], [(256, 1), self.row(256), self.col(320), (320, 3, 2, p)], ("max", p))

    def block_c(self):
        pair = ((256, (1, 3), 1, (0, 1)), (256, (3, 1), 1, (1, 0)))
        return ("cat", [(256, 1)], ("split", [(384, 1)], *pair),
                ("split", [(384, 1), (448, (3, 1), 1, (1, 0)), (512, (1, 3), 1, (0, 1))], *pair), ("avg", [(256, 1)]))

    def stages(self):
        """(number of modules, module item, transition item or None) per stage."""
        return ((4, self.block_a(), None), (7, self.block_b(), self.reduction_a()),
                (3, self.block_c(), self.reduction_b()))


def _conv_args(spec) -> tuple:
    cout, kernel = spec[:2]
    stride, padding = spec[2:] or (1, 0)
    return cout, kernel, stride, padding


class InceptionBuilder(InceptionLayout):
    """Modules from the layout: ``build(item, cin) -> (module, cout)``."""

    def __init__(self, ctx, width: float, long_kernel: int, reduction_pad: int):
        super().__init__(width, long_kernel, reduction_pad)
        self.ctx = ctx

    def conv(self, spec, cin: int) -> tuple:
        cout, kernel, stride, padding = _conv_args(spec)
        return basic_conv(self.ctx, cin, self.c(cout), kernel, stride, padding), self.c(cout)

    def build(self, item, cin: int) -> tuple:
        if isinstance(item, list):
            layers = []
            for spec in item:
                layer, cin = self.conv(spec, cin)
                layers.append(layer)
            return nn.Sequential(*layers), cin
        kind = item[0]
        if kind == "max":
            return nn.MaxPool2d(3, 2, item[1]), cin
        if kind == "avg":
            chain, cout = self.build(item[1], cin)
            return nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), chain), cout
        if kind == "split":
            trunk, mid = self.build(item[1], cin)
            (left, a), (right, b) = self.conv(item[2], mid), self.conv(item[3], mid)
            return Split(trunk, left, right), a + b
        branches = [self.build(b, cin) for b in item[1:]]
        return Concat(*(m for m, _ in branches)), sum(c for _, c in branches)


class InceptionWalker(InceptionLayout):
    """Shapes (and cost) from the layout on a search_space.shapes.Net: ``walk(item, shape) -> shape``."""

    def __init__(self, net, width: float, long_kernel: int, reduction_pad: int):
        super().__init__(width, long_kernel, reduction_pad)
        self.net = net

    def conv(self, spec, s: tuple) -> tuple:
        cout, kernel, stride, padding = _conv_args(spec)
        net = self.net
        return net.activate(net.bn(net.conv(s, self.c(cout), kernel, stride, padding, bias=False)))

    def walk(self, item, s: tuple) -> tuple:
        net = self.net
        if isinstance(item, list):
            for spec in item:
                s = self.conv(spec, s)
            return s
        kind = item[0]
        if kind == "max":
            return net.max_pool(s, 3, 2, item[1])
        if kind == "avg":
            return self.walk(item[1], net.avg_pool(s, 3, 1, 1))
        if kind == "split":
            mid = self.walk(item[1], s)
            a, b = self.conv(item[2], mid), self.conv(item[3], mid)
            return (a[0] + b[0],) + a[1:]
        outs = [self.walk(b, s) for b in item[1:]]
        if len({o[1:] for o in outs}) != 1:
            raise AssertionError(f"inception branches disagree in size: {outs}")
        return (sum(o[0] for o in outs),) + outs[0][1:]


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
    test_params = {"width": 0.125}

    def __init__(self, ctx, *, variant: Literal["cifar", "imagenet"] = "cifar", width: Width = 1.0,
                 dropout: Annotated[float, Fraction] = 0.2):
        super().__init__()
        cifar = variant == "cifar"
        self.min_input = CIFAR_INPUT if cifar else 0
        build = InceptionBuilder(ctx, width, 5 if cifar else 7, 1 if cifar else 0)
        stem, cin = [], ctx.in_channels
        for item in build.stem():
            layer, cin = build.build(item, cin)
            stem.append(layer)
        self.stem = nn.Sequential(*stem)
        stages = []
        for i, (n, block, reduction) in enumerate(build.stages()):
            transition = nn.Identity()
            if reduction is not None:
                transition, cin = build.build(reduction, cin)
            blocks = []
            for _ in range(n):
                body, cin = build.build(block, cin)
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

    @classmethod
    def walk(cls, net, *, variant, width, dropout):
        cifar = variant == "cifar"
        c, h, w = net.input_size
        if cifar:
            h, w = max(h, CIFAR_INPUT), max(w, CIFAR_INPUT)
        walker = InceptionWalker(net, width, 5 if cifar else 7, 1 if cifar else 0)
        x = (c, h, w)
        for item in walker.stem():
            x = walker.walk(item, x)
        stages = []
        for i, (n, block, reduction) in enumerate(walker.stages()):
            stage_in = x
            if reduction is not None:
                x = walker.walk(reduction, x)
            blocks = []
            for _ in range(n):
                out = net.attention(i, "post_block", walker.walk(block, x))
                blocks.append(BlockShape(x, out, 1))
                x = out
            net.stage(i, blocks)
            stages.append(BlockShape(stage_in, x, 1 if reduction is None else 2))
        net.body(stages)
        net.classifier(x)
