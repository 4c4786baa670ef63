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

from ..layers import conv_bn
from ..registry import ATTENTION, CONNECTIONS

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


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    """Set the momentum of the backbone's own BatchNorms (not those inside attention modules)."""
    def visit(m: nn.Module):
        name = getattr(type(m), "registry_name", None)
        for reg in (ATTENTION, CONNECTIONS):
            if name in reg and reg.get(name) is type(m):
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
