"""Residual blocks, shortcuts and stems shared by the ResNet family (He et al. 2016; ResNet-C/D of
Bag of Tricks, He et al. 2019), each with its shape walk (``*_walk``, see search_space/shapes.py) beside it."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import conv_bn
from ..tally import numel

STEMS = ("cifar", "conv7", "deep", "deep_wide")
DOWNSAMPLES = ("pad", "conv", "conv3", "avg")


def make_stem(kind: str, cin: int, width: int, act: str, stride: int = 1) -> nn.Sequential:
    """``cifar``: one 3x3 conv (stride ``stride``: 2 is the FA paper's Tiny-ImageNet change, 001 §IV-B);
    ``conv7``: 7x7/2 conv + 3x3/2 max-pool; ``deep`` (ResNet-C, Bag of Tricks): three 3x3 convs at
    width/2, width/2, width (the first strided) + max-pool; ``deep_wide``: the same three convs all at ``width``
    (64-64-64), the report's Res2Net-C (003 图33, whose +0.061M / +0.834 GMACs over the 7x7 stem only this
    width reproduces; 32-32-64 adds 0.019M / 0.24G)."""
    if kind == "cifar":
        return conv_bn(cin, width, 3, stride, act=act)
    if kind == "conv7":
        return nn.Sequential(*conv_bn(cin, width, 7, 2, act=act), nn.MaxPool2d(3, 2, 1))
    mid = width if kind == "deep_wide" else width // 2
    return nn.Sequential(*conv_bn(cin, mid, 3, 2, act=act), *conv_bn(mid, mid, 3, 1, act=act),
                         *conv_bn(mid, width, 3, 1, act=act), nn.MaxPool2d(3, 2, 1))


def stem_walk(net, kind: str, s: tuple, width: int, stride: int = 1, act: str | None = None) -> tuple:
    """The walk of :func:`make_stem`; ``act`` names the stem's activation where it is not the backbone's."""
    def cba(s, cout, k, st):
        s = net.conv_bn(s, cout, k, st, act=act is None)
        if act is not None:
            net.act(s[0] * s[1] * s[2], act)
        return s

    if kind == "cifar":
        return cba(s, width, 3, stride)
    if kind in ("deep", "deep_wide"):
        mid = width if kind == "deep_wide" else width // 2
        s = cba(cba(cba(s, mid, 3, 2), mid, 3, 1), width, 3, 1)
    else:
        s = cba(s, width, 7, 2)
    return net.max_pool(s, 3, 2, 1)


class PadShortcut(nn.Module):
    """Option A of He et al.: subsample and zero-pad the channels (parameter-free)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


def make_shortcut(kind: str, cin: int, cout: int, stride: int) -> nn.Module:
    """Identity where shapes agree; else ``pad`` (option A), ``conv`` (1x1 strided projection, option B),
    ``conv3`` (3x3 strided projection: the FA paper's re-implemented CIFAR ResNets, whose baselines are exactly
    its 23,232 parameters above option A, 001 Table I) or ``avg`` (ResNet-D: 2x2 average pool, then 1x1
    projection)."""
    if stride == 1 and cin == cout:
        return nn.Identity()
    if kind == "pad" and cout >= cin:
        return PadShortcut(cin, cout, stride)
    if kind == "avg" and stride > 1:
        return nn.Sequential(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False),
                             *conv_bn(cin, cout, 1, 1, act=None))
    if kind == "conv3":
        return conv_bn(cin, cout, 3, stride, act=None)
    return conv_bn(cin, cout, 1, stride, act=None)


def shortcut_walk(net, kind: str, s: tuple, cout: int, stride: int) -> tuple:
    cin = s[0]
    if stride == 1 and cin == cout:
        return s
    if kind == "pad" and cout >= cin:
        return cout, -(-s[1] // stride), -(-s[2] // stride)
    if kind == "avg" and stride > 1:
        return net.conv_bn(net.avg_pool(s, stride, stride, ceil_mode=True), cout, 1, 1, act=False)
    if kind == "conv3":
        return net.conv_bn(s, cout, 3, stride, act=False)
    return net.conv_bn(s, cout, 1, stride, act=False)


class ResidualBlock(nn.Module):
    """conv path -> attention at ``pre_add`` -> + shortcut -> activation -> attention at ``post_add``."""

    def __init__(self, ctx, stage: int, body: nn.Module, shortcut: nn.Module, cout: int):
        super().__init__()
        self.body = body
        self.attn_pre = ctx.attention(stage, "pre_add", cout) or nn.Identity()
        self.shortcut = shortcut
        self.act = ctx.act()
        self.attn_post = ctx.attention(stage, "post_add", cout) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.attn_pre(self.body(x))
        return self.attn_post(self.act(out + self.shortcut(x)))


def residual_walk(net, stage: int, x: tuple, out: tuple, downsample: str, stride: int) -> tuple:
    """ResidualBlock after its body gave ``out``: pre_add attention, shortcut, add, activation, post_add."""
    net.attention(stage, "pre_add", out)
    sc = shortcut_walk(net, downsample, x, out[0], stride)
    if sc != out:
        raise AssertionError(f"residual shapes differ: {sc} vs {out}")
    net.ew(numel(out))
    net.activate(out)
    return net.attention(stage, "post_add", out)


def _post_conv(ctx, stage: int, channels: int) -> list:
    """The attention at ``post_conv`` (after the block's spatial conv-BN-activation), as a list to splice."""
    attn = ctx.attention(stage, "post_conv", channels)
    return [attn] if attn is not None else []


def basic_block(ctx, stage: int, cin: int, planes: int, stride: int, downsample: str) -> ResidualBlock:
    """Two 3x3 convs (the first is the ``conv`` insertion point, ``post_conv`` follows it)."""
    body = nn.Sequential(ctx.conv(stage, cin, planes, 3, stride), *_post_conv(ctx, stage, planes),
                         *conv_bn(planes, planes, 3, 1, act=None))
    return ResidualBlock(ctx, stage, body, make_shortcut(downsample, cin, planes, stride), planes)


def basic_walk(net, stage: int, x: tuple, planes: int, stride: int, downsample: str) -> tuple:
    s = net.attention(stage, "post_conv", net.block_conv(stage, x, planes, 3, stride))
    out = net.conv_bn(s, planes, 3, 1, act=False)
    return residual_walk(net, stage, x, out, downsample, stride)


basic_block.expansion = 1
basic_block.walk = basic_walk


def bottleneck_block(ctx, stage: int, cin: int, planes: int, stride: int, downsample: str,
                     groups: int = 1, base_width: int = 64) -> ResidualBlock:
    """1x1 reduce -> 3x3 (strided, the ``conv`` point; torchvision's v1.5; ``post_conv`` follows it) -> 1x1
    expand (x4)."""
    width = int(planes * (base_width / 64.0)) * groups
    cout = planes * 4
    body = nn.Sequential(*conv_bn(cin, width, 1, 1, act=ctx.arch.activation),
                         ctx.conv(stage, width, width, 3, stride, groups=groups), *_post_conv(ctx, stage, width),
                         *conv_bn(width, cout, 1, 1, act=None))
    return ResidualBlock(ctx, stage, body, make_shortcut(downsample, cin, cout, stride), cout)


def bottleneck_walk(net, stage: int, x: tuple, planes: int, stride: int, downsample: str, groups: int = 1,
                    base_width: int = 64) -> tuple:
    width = int(planes * (base_width / 64.0)) * groups
    s = net.block_conv(stage, net.conv_bn(x, width, 1, 1), width, 3, stride, groups=groups)
    out = net.conv_bn(net.attention(stage, "post_conv", s), planes * 4, 1, 1, act=False)
    return residual_walk(net, stage, x, out, downsample, stride)


bottleneck_block.expansion = 4
bottleneck_block.walk = bottleneck_walk
