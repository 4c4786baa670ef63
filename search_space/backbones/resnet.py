"""ImageNet-style ResNet-18/34/50/101/152 (He et al. 2016), torchvision-exact at width 1 with the 7x7 stem
and projection shortcuts; ``stem: deep`` is ResNet-C and ``downsample: avg`` ResNet-D; ``groups`` and
``width_per_group`` give ResNeXt bottlenecks (e.g. 32 x 4d), as SKNet-50 uses."""
from __future__ import annotations

from typing import Annotated, Literal

from torch import nn

from ..constraints import Positive, Width
from ..registry import BACKBONES
from ..shapes import BlockShape
from .base import Backbone, classifier
from .resnet_blocks import basic_block, bottleneck_block, make_stem, stem_walk

LAYOUTS = {18: (basic_block, (2, 2, 2, 2)), 34: (basic_block, (3, 4, 6, 3)),
           50: (bottleneck_block, (3, 4, 6, 3)), 101: (bottleneck_block, (3, 4, 23, 3)),
           152: (bottleneck_block, (3, 8, 36, 3))}


def build_stages(ctx, block, depths, widths, cin: int, strides, downsample: str, **block_kw):
    """Stack ``depths[i]`` blocks of ``widths[i]`` planes per stage; return (stages, out_channels)."""
    stages = []
    for i, (n, planes, stride) in enumerate(zip(depths, widths, strides)):
        blocks = []
        for j in range(n):
            blocks.append(block(ctx, i, cin, planes, stride if j == 0 else 1, downsample, **block_kw))
            cin = planes * block.expansion
        stages.append(ctx.stage(blocks, i))
    return stages, cin


def stages_walk(net, block, depths, widths, x: tuple, strides, downsample: str, **block_kw) -> tuple:
    """The walk of :func:`build_stages`: each block's and each stage's shapes, and ctx.stage / ctx.body."""
    stages = []
    for i, (n, planes, stride) in enumerate(zip(depths, widths, strides)):
        blocks, stage_in = [], x
        for j in range(n):
            s = stride if j == 0 else 1
            out = block.walk(net, i, x, planes, s, downsample, **block_kw)
            blocks.append(BlockShape(x, out, s))
            x = out
        net.stage(i, blocks)
        stages.append(BlockShape(stage_in, x, stride))
    net.body(stages)
    return x


@BACKBONES.register("resnet")
class ResNet(Backbone):
    insertion_points = ("pre_add", "post_add", "conv", "post_conv")
    num_stages = 4

    test_params = {"depth": 18, "width": 0.125}

    def __init__(self, ctx, *, depth: Literal[18, 34, 50, 101, 152] = 50, width: Width = 1.0,
                 stem: Literal["cifar", "conv7", "deep"] = "conv7", downsample: Literal["pad", "conv", "avg"] = "conv",
                 groups: Annotated[int, Positive] = 1, width_per_group: Annotated[int, Positive] = 64):
        super().__init__()
        block, depths = LAYOUTS[depth]
        block_kw = {"groups": groups, "base_width": width_per_group} if block is bottleneck_block else {}
        widths = resnet_widths(width)
        self.stem = make_stem(stem, ctx.in_channels, widths[0], ctx.arch.activation)
        stages, cout = build_stages(ctx, block, depths, widths, widths[0], (1, 2, 2, 2), downsample, **block_kw)
        self.stages = ctx.body(stages)
        self.head = classifier(cout, ctx.num_classes)
        init_weights(self)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    @classmethod
    def walk(cls, net, *, depth, width, stem, downsample, groups, width_per_group):
        block, depths = LAYOUTS[depth]
        block_kw = {"groups": groups, "base_width": width_per_group} if block is bottleneck_block else {}
        widths = resnet_widths(width)
        x = stem_walk(net, stem, net.input_size, widths[0])
        x = stages_walk(net, block, depths, widths, x, (1, 2, 2, 2), downsample, **block_kw)
        net.classifier(x)


def resnet_widths(width: float) -> list[int]:
    return [max(8, int(round(w * width))) for w in (64, 128, 256, 512)]


@BACKBONES.register("wide_resnet")
class WideResNet(ResNet):
    """ResNet with every stage ``widen`` times wider, as the CSM paper's WideResNet18 (widen = 1.5)."""

    test_params = {"depth": 18, "widen": 0.125}

    def __init__(self, ctx, *, depth: Literal[18, 34, 50, 101] = 18, widen: Width = 1.5,
                 stem: Literal["cifar", "conv7", "deep"] = "conv7",
                 downsample: Literal["pad", "conv", "avg"] = "conv"):
        super().__init__(ctx, depth=depth, width=widen, stem=stem, downsample=downsample)

    @classmethod
    def walk(cls, net, *, depth, widen, stem, downsample):
        ResNet.walk.__func__(cls, net, depth=depth, width=widen, stem=stem, downsample=downsample, groups=1,
                             width_per_group=64)


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, small-normal linears (the torchvision convention)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
