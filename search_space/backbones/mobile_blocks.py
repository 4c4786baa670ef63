"""The inverted residual block shared by MobileNetV2 and MnasNet: 1x1 expand -> depthwise kxk (strided) ->
1x1 linear projection, residual add when the shape is kept (Sandler et al. 2018, Sec. 3.3).

Insertion points: ``pre_add`` after the projection, before the add (where the DCA paper's SE-MobileNetV2 and
SE-MnasNet put SE, on every block, residual or not), ``post_dw`` after the depthwise conv (MobileNetV3's SE
position, at the expanded width), ``post_add`` after the add, ``conv`` replaces the depthwise conv (the DCA
paper's SK-MobileNetV2).
"""
from __future__ import annotations

import torch
from torch import nn

from ..attention.base import Attention
from ..layers import conv_bn, make_divisible
from ..shapes import BlockShape
from ..tally import numel

MOBILE_POINTS = ("pre_add", "post_dw", "post_add", "conv")


class InvertedResidual(nn.Module):
    def __init__(self, ctx, stage: int, cin: int, cout: int, kernel: int, stride: int, expand: float):
        super().__init__()
        hidden = int(round(cin * expand))
        layers = [] if expand == 1 else [*conv_bn(cin, hidden, 1, 1, act=ctx.arch.activation)]
        layers.append(ctx.conv(stage, hidden, hidden, kernel, stride, groups=hidden))
        post_dw = ctx.attention(stage, "post_dw", hidden)
        if post_dw is not None:
            layers.append(post_dw)
        layers += [*conv_bn(hidden, cout, 1, 1, act=None)]
        pre_add = ctx.attention(stage, "pre_add", cout)
        if pre_add is not None:
            layers.append(pre_add)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        self.attn_post = ctx.attention(stage, "post_add", cout) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return self.attn_post(out + x if self.residual else out)


def inverted_residual_walk(net, stage: int, x: tuple, cout: int, kernel: int, stride: int, expand: float) -> tuple:
    cin = x[0]
    hidden = int(round(cin * expand))
    s = x if expand == 1 else net.conv_bn(x, hidden, 1, 1)
    s = net.attention(stage, "post_dw", net.block_conv(stage, s, hidden, kernel, stride, groups=hidden))
    out = net.attention(stage, "pre_add", net.conv_bn(s, cout, 1, 1, act=False))
    if stride == 1 and cin == cout:
        net.ew(numel(out))
    return net.attention(stage, "post_add", out)


def stacks_walk(net, x: tuple, stacks, width: float) -> tuple:
    """The stages of inverted residual blocks: ``stacks`` of (kernel, expansion, channels, repeats, stride)."""
    stages = []
    for i, (k, t, c, n, s) in enumerate(stacks):
        cout = make_divisible(c * width)
        blocks, stage_in = [], x
        for j in range(n):
            out = inverted_residual_walk(net, i, x, cout, k, s if j == 0 else 1, t)
            blocks.append(BlockShape(x, out, s if j == 0 else 1))
            x = out
        net.stage(i, blocks)
        stages.append(BlockShape(stage_in, x, s))
    net.body(stages)
    return x


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    """Set the momentum of the backbone's own BatchNorms (not those inside attention modules)."""
    def visit(m: nn.Module):
        if isinstance(m, Attention):
            return
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = momentum
        for child in m.children():
            visit(child)
    visit(model)


def init_mobile(model: nn.Module) -> None:
    """torchvision's MobileNet/MnasNet init: Kaiming-normal (fan-out) convs, unit BN, N(0, 0.01) linear."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
