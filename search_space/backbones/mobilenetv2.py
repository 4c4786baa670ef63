"""MobileNetV2 (Sandler et al. 2018, Table 2), torchvision-exact at width 1.0: 3,504,872 parameters at 1000
classes and 300.8M MACs at 224x224.

A 3x3/2 stem of 32 channels, seven groups of inverted residual blocks (expansion t, channels c, repeats n,
stride s below), a 1x1 conv to 1280 channels, dropout 0.2 and a linear classifier. ``width`` scales every
channel count, rounded to a multiple of 8 (the last conv is never narrowed below 1280). The paper's
activation is ReLU6: the presets set ``activation: relu6``.

Each of the seven groups is one stage of the stage mask. Insertion points are those of
:mod:`.mobile_blocks`; ``pre_add`` is the default because the DCA paper (002, Table 1; its SE-MobileNetV2 of
3.56M parameters) puts SE with reduction 8 after the projection of every block.
"""
from __future__ import annotations

from typing import Annotated

from torch import nn

from ..constraints import Fraction, Width
from ..layers import conv_bn, make_divisible
from ..registry import BACKBONES
from .base import Backbone, classifier
from .mobile_blocks import MOBILE_POINTS, InvertedResidual, init_mobile, stacks_walk

# t (expansion), c (output channels), n (repeats), s (stride of the first block)
MOBILENETV2_GROUPS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                      (6, 160, 3, 2), (6, 320, 1, 1))


@BACKBONES.register("mobilenetv2")
class MobileNetV2(Backbone):
    insertion_points = MOBILE_POINTS
    num_stages = len(MOBILENETV2_GROUPS)
    test_params = {"width": 0.25}

    def __init__(self, ctx, *, width: Width = 1.0, dropout: Annotated[float, Fraction] = 0.2):
        super().__init__()
        act = ctx.arch.activation
        cin = make_divisible(32 * width)
        self.stem = conv_bn(ctx.in_channels, cin, 3, 2, act=act)
        stages = []
        for i, (t, c, n, s) in enumerate(MOBILENETV2_GROUPS):
            cout = make_divisible(c * width)
            blocks = []
            for j in range(n):
                blocks.append(InvertedResidual(ctx, i, cin, cout, 3, s if j == 0 else 1, t))
                cin = cout
            stages.append(ctx.stage(blocks, i))
        self.stages = ctx.body(stages)
        last = make_divisible(1280 * max(1.0, width))
        self.head = nn.Sequential(*conv_bn(cin, last, 1, 1, act=act), *classifier(last, ctx.num_classes, dropout))
        init_mobile(self)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    @classmethod
    def walk(cls, net, *, width, dropout):
        x = net.conv_bn(net.input_size, make_divisible(32 * width), 3, 2)
        x = stacks_walk(net, x, [(3, t, c, n, s) for t, c, n, s in MOBILENETV2_GROUPS], width)
        net.classifier(net.conv_bn(x, make_divisible(1280 * max(1.0, width)), 1, 1))
