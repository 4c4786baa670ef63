"""VGG-11/13/16/19 with batch normalisation (Simonyan & Zisserman 2015; BN as in torchvision's ``vgg*_bn``).

Five stages of 3x3 conv-BN-activation layers (biased convs, as torchvision), each ended by a 2x2 max-pool.
``head: imagenet`` is torchvision's classifier (7x7 adaptive pool, FC-4096, FC-4096, FC-classes; VGG-19-BN
has 143,678,248 parameters at 1000 classes); ``head: cifar`` is the common CIFAR form the FA paper
(001, Sec. IV-A) uses: the two hidden FC layers deleted, one linear 512 -> classes after global pooling
(20.04M parameters at 10 classes; the paper's Table I gives 20.03M). ``pool`` is that head's global pool:
``avg``, or ``max``, the paper's Tiny-ImageNet change (§IV-B: "for VGG-19, we add a global max pooling before
the last FC layer"; ``head: imagenet`` has its own 7x7 pool).

Insertion points: ``post_conv`` after every conv-BN-activation (the SE-VGG-19 of 001: its 20.34M
parameters with SE r=16 are SE after each of the 16 convs), ``pre_pool`` after each stage's last conv.
The stage mask covers the five stages.
"""
from __future__ import annotations

from typing import Literal

from torch import nn

from ..constraints import Width
from ..registry import BACKBONES
from ..shapes import BlockShape
from .base import Backbone, classifier
from .resnet import init_weights

CONVS_PER_STAGE = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
STAGE_WIDTHS = (64, 128, 256, 512, 512)


class VGGStage(nn.Module):
    """``n`` conv-BN-activation layers (attention after each at ``post_conv``, after the last at
    ``pre_pool``), then a 2x2 max-pool."""

    def __init__(self, ctx, stage: int, cin: int, cout: int, n: int):
        super().__init__()
        layers = []
        for i in range(n):
            conv = nn.Conv2d(cin if i == 0 else cout, cout, 3, 1, 1)
            nn.init.zeros_(conv.bias)
            layers += [conv, nn.BatchNorm2d(cout), ctx.act()]
            attn = ctx.attention(stage, "post_conv", cout)
            if attn is not None:
                layers.append(attn)
        attn = ctx.attention(stage, "pre_pool", cout)
        if attn is not None:
            layers.append(attn)
        self.convs = nn.Sequential(*layers)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.convs(x))

    @staticmethod
    def walk(net, stage: int, x: tuple, cout: int, n: int) -> tuple:
        for _ in range(n):
            x = net.attention(stage, "post_conv", net.activate(net.bn(net.conv(x, cout, 3, 1, 1))))
        return net.max_pool(net.attention(stage, "pre_pool", x), 2, 2)


@BACKBONES.register("vgg")
class VGG(Backbone):
    insertion_points = ("post_conv", "pre_pool")
    num_stages = 5
    test_params = {"depth": 11, "width": 0.125}

    def __init__(self, ctx, *, depth: Literal[11, 13, 16, 19] = 19, head: Literal["cifar", "imagenet"] = "cifar",
                 width: Width = 1.0, pool: Literal["avg", "max"] = "avg"):
        super().__init__()
        widths = vgg_widths(width)
        stages, cin = [], ctx.in_channels
        for i, (n, cout) in enumerate(zip(CONVS_PER_STAGE[depth], widths)):
            stages.append(ctx.stage([VGGStage(ctx, i, cin, cout, n)], i))
            cin = cout
        self.stages = ctx.body(stages)
        if head == "imagenet":
            hidden = vgg_hidden(width)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                                      nn.Linear(cin * 49, hidden), ctx.act(), nn.Dropout(0.5),
                                      nn.Linear(hidden, hidden), ctx.act(), nn.Dropout(0.5),
                                      nn.Linear(hidden, ctx.num_classes))
        elif pool == "max":
            self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(cin, ctx.num_classes))
        else:
            self.head = classifier(cin, ctx.num_classes)
        init_weights(self)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """``pool`` is the cifar head's; the imagenet head pools to 7x7 itself."""
        return params if params["head"] == "cifar" else {**params, "pool": "avg"}

    def forward(self, x):
        return self.head(self.stages(x))

    @classmethod
    def walk(cls, net, *, depth, head, width, pool):
        stages, x = [], net.input_size
        for i, (n, cout) in enumerate(zip(CONVS_PER_STAGE[depth], vgg_widths(width))):
            out = VGGStage.walk(net, i, x, cout, n)
            net.stage(i, [BlockShape(x, out, 2)])
            stages.append(BlockShape(x, out, 2))
            x = out
        net.body(stages)
        if head == "imagenet":
            hidden = vgg_hidden(width)
            net.adaptive_avg_pool(x, 7)
            net.linear(1, x[0] * 49, hidden)
            net.activate((hidden, 1, 1))
            net.linear(1, hidden, hidden)
            net.activate((hidden, 1, 1))
            net.linear(1, hidden, net.num_classes)
        elif pool == "max":
            net.reduce(x[0] * x[1] * x[2])                        # adaptive max-pool: 1 per input element
            net.linear(1, x[0], net.num_classes)
        else:
            net.classifier(x)


def vgg_widths(width: float) -> list[int]:
    return [max(8, int(round(w * width))) for w in STAGE_WIDTHS]


def vgg_hidden(width: float) -> int:
    return max(8, int(round(4096 * width)))
