"""MnasNet-A1 without SE as torchvision's ``mnasnet*`` (Tan et al. 2019, Fig. 7 with the SE removed),
torchvision-exact at width 1.0: 4,383,312 parameters at 1000 classes, 312-315M MACs at 224x224.

Stem: 3x3/2 conv of 32, then a depthwise-separable conv to 16 (no residual, no insertion point). Then six
stacks of inverted residual blocks (kernel k, expansion t, channels c, repeats n, stride s below), a 1x1 conv
to 1280, dropout 0.2 and a linear classifier. ``width`` scales the channel counts (multiples of 8, rounding
up unless within 10%). BatchNorm momentum is torchvision's 0.0003 (TensorFlow's decay 0.9997).

Each stack is one stage of the stage mask; insertion points are those of :mod:`.mobile_blocks`, with
``pre_add`` the default: the DCA paper's SE-MnasNet-1.0 (002, Table 1, 4.42M) is SE r=16 after the
projection of every block.
"""
from __future__ import annotations

from typing import Annotated

from torch import nn

from ..constraints import Fraction, Width
from ..layers import conv_bn, make_divisible
from ..registry import BACKBONES
from .base import Backbone, classifier
from .mobile_blocks import MOBILE_POINTS, InvertedResidual, init_mobile, set_bn_momentum, stacks_walk

# k (depthwise kernel), t (expansion), c (output channels), n (repeats), s (stride of the first block)
MNASNET_STACKS = ((3, 3, 24, 3, 2), (5, 3, 40, 3, 2), (5, 6, 80, 3, 2), (3, 6, 96, 2, 1), (5, 6, 192, 4, 2),
                  (3, 6, 320, 1, 1))
BN_MOMENTUM = 1 - 0.9997


@BACKBONES.register("mnasnet")
class MnasNet(Backbone):
    insertion_points = MOBILE_POINTS
    num_stages = len(MNASNET_STACKS)
    test_params = {"width": 0.25}

    def __init__(self, ctx, *, width: Width = 1.0, dropout: Annotated[float, Fraction] = 0.2):
        super().__init__()
        act = ctx.arch.activation
        c0, c1 = make_divisible(32 * width), make_divisible(16 * width)
        self.stem = nn.Sequential(*conv_bn(ctx.in_channels, c0, 3, 2, act=act),
                                  *conv_bn(c0, c0, 3, 1, groups=c0, act=act), *conv_bn(c0, c1, 1, 1, act=None))
        stages, cin = [], c1
        for i, (k, t, c, n, s) in enumerate(MNASNET_STACKS):
            cout = make_divisible(c * width)
            blocks = []
            for j in range(n):
                blocks.append(InvertedResidual(ctx, i, cin, cout, k, s if j == 0 else 1, t))
                cin = cout
            stages.append(ctx.stage(blocks, i))
        self.stages = ctx.body(stages)
        self.head = nn.Sequential(*conv_bn(cin, 1280, 1, 1, act=act), *classifier(1280, ctx.num_classes, dropout))
        init_mobile(self)
        set_bn_momentum(self, BN_MOMENTUM)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    @classmethod
    def walk(cls, net, *, width, dropout):
        c0, c1 = make_divisible(32 * width), make_divisible(16 * width)
        x = net.conv_bn(net.conv_bn(net.input_size, c0, 3, 2), c0, 3, 1, groups=c0)
        x = stacks_walk(net, net.conv_bn(x, c1, 1, 1, act=False), MNASNET_STACKS, width)
        net.classifier(net.conv_bn(x, 1280, 1, 1))
