"""Res2Net-50/101 (Gao et al. 2019): ResNet bottlenecks whose 3x3 conv is replaced by ``scale`` hierarchical
sub-branches of ``base_width * planes / 64`` channels each (Fig. 2), 26w x 4s by default: 25.70M parameters
and 4.2G MACs at 224x224 (Table 1 of the paper; the official ``res2net50_26w_4s``).

Inside a bottle2neck the 1x1 output is split into x_1..x_s; y_1 = K_1(x_1), y_i = K_i(x_i + y_{i-1}), and the
last split passes through. The first block of each stage (the official 'stage' type) feeds each K_i its own
split only, and average-pools the last split with the block's stride. ``stem: deep`` (ResNet-C) and
``downsample: avg`` (ResNet-D) give Res2Net-v1b; ``stem: deep_wide`` (three 3x3 convs at 64-64-64) is report
003's Res2Net-C (图33, 表10: +0.061M / +0.834 GMACs, which only the 64-wide stem gives).

Report 003's Res2Net (表8-11, "Res2Net50") is 16w4s: 16.360M at 224x224 and 1000 classes, its printed count
(the ``res2net50-report`` preset); 26w4s would be 25.70M. Its activation swap (表8) changes the activation
"in the Res2Net Module" (图21), so the stem keeps ``stem_act`` (ReLU) while ``activation`` swaps every block's.

Insertion points: ``pre_add`` after the last 1x1 (the report's 方案一, "position 2"; the SE-Res2Net position),
``branch`` inside the sub-networks (方案二: after each sub-branch's 3x3-BN-activation, and on the split that
passes through, so all 4 sub-networks x1..x4 of 图24-26 are attended; the attention has the sub-branch width),
``post_add``, and ``conv`` for attention replacing the sub-branch 3x3 convs. ``branch_attention``: ``shared``
(one module per block, applied to each of its sub-networks: the report's +0.011M for SE and +0.005M for
Triplet, 表9 S1/T1, are one module per block) or ``per_branch`` (a module per sub-network: +0.043M for SE).
The report's SS/ST/TS/TT models are attention at ``pre_add`` plus ``extra_attention: {branch: ...}``
(Res2Net_ST: SE in the sub-networks, triplet after the last 1x1).
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from ..constraints import AtLeast, Positive, Width
from ..errors import AttnasError
from ..layers import Act, conv_bn
from ..registry import BACKBONES
from ..tally import numel
from .base import Backbone, classifier
from .resnet import build_stages, init_weights, resnet_widths, stages_walk
from .resnet_blocks import ResidualBlock, make_shortcut, make_stem, residual_walk, stem_walk

DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class HierarchicalBranches(nn.Module):
    """1x1 reduce -> split into ``scale`` groups -> hierarchical 3x3 sub-branches -> concat -> 1x1 expand."""

    def __init__(self, ctx, stage: int, cin: int, width: int, scale: int, cout: int, stride: int, first: bool,
                 shared: bool):
        super().__init__()
        self.width, self.first = width, first
        self.reduce = conv_bn(cin, width * scale, 1, 1, act=ctx.arch.activation)
        self.convs = nn.ModuleList(ctx.conv(stage, width, width, 3, stride) for _ in range(scale - 1))
        self.attns = nn.ModuleList(ctx.attention(stage, "branch", width) or nn.Identity()
                                   for _ in range(1 if shared else scale))
        self.last = nn.AvgPool2d(3, stride, 1) if first else nn.Identity()
        self.expand = conv_bn(width * scale, cout, 1, 1, act=None)

    def _attn(self, i: int) -> nn.Module:
        return self.attns[0] if len(self.attns) == 1 else self.attns[i]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = torch.split(self.reduce(x), self.width, 1)
        outs, y = [], None
        for i, conv in enumerate(self.convs):
            y = self._attn(i)(conv(splits[i] if self.first or i == 0 else splits[i] + y))
            outs.append(y)
        outs.append(self._attn(len(self.convs))(self.last(splits[-1])))
        return self.expand(torch.cat(outs, 1))


def bottle2neck(ctx, stage: int, cin: int, planes: int, stride: int, downsample: str, base_width: int = 26,
                scale: int = 4, shared: bool = True) -> ResidualBlock:
    width = planes * base_width // 64
    cout = planes * 4
    first = stride != 1 or cin != cout
    body = HierarchicalBranches(ctx, stage, cin, width, scale, cout, stride, first, shared)
    return ResidualBlock(ctx, stage, body, make_shortcut(downsample, cin, cout, stride), cout)


def bottle2neck_walk(net, stage: int, x: tuple, planes: int, stride: int, downsample: str, base_width: int = 26,
                     scale: int = 4, shared: bool = True) -> tuple:
    width = planes * base_width // 64
    cout = planes * 4
    first = stride != 1 or x[0] != cout
    s = net.conv_bn(x, width * scale, 1, 1)
    split = (width,) + s[1:]
    outs = [net.block_conv(stage, split, width, 3, stride) for _ in range(scale - 1)]   # built before the attns
    if not first:
        net.ew(numel(split) * (scale - 2))                        # splits[i] + y for i >= 1
    last = net.avg_pool(split, 3, stride, 1) if first else split
    if shared:                                                    # one module, applied to each of the sub-networks
        macs = net.macs
        net.attention(stage, "branch", outs[0])
        net.macs += (net.macs - macs) * (scale - 1)
    else:
        for y in outs + [last]:
            net.attention(stage, "branch", y)
    out = net.conv_bn((width * scale,) + last[1:], cout, 1, 1, act=False)
    return residual_walk(net, stage, x, out, downsample, stride)


bottle2neck.expansion = 4
bottle2neck.walk = bottle2neck_walk


@BACKBONES.register("res2net")
class Res2Net(Backbone):
    insertion_points = ("pre_add", "branch", "post_add", "conv")
    num_stages = 4
    test_params = {"depth": 50, "base_width": 16, "scale": 2, "width": 0.25, "branch_attention": "per_branch"}

    def __init__(self, ctx, *, depth: Literal[50, 101] = 50, base_width: Annotated[int, Positive] = 26,
                 scale: Annotated[int, AtLeast(2)] = 4, width: Width = 1.0,
                 stem: Literal["conv7", "deep", "deep_wide", "cifar"] = "conv7", stem_act: Act = "relu",
                 downsample: Literal["conv", "avg"] = "conv",
                 branch_attention: Literal["shared", "per_branch"] = "shared"):
        super().__init__()
        widths = resnet_widths(width)
        self.stem = make_stem(stem, ctx.in_channels, widths[0], stem_act)
        stages, cout = build_stages(ctx, bottle2neck, DEPTHS[depth], widths, widths[0], (1, 2, 2, 2), downsample,
                                    base_width=base_width, scale=scale, shared=branch_attention == "shared")
        self.stages = ctx.body(stages)
        self.head = classifier(cout, ctx.num_classes)
        init_weights(self)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """A sub-branch must keep at least one channel at the first stage's width."""
        first = resnet_widths(params["width"])[0]
        if first * params["base_width"] // 64 < 1:
            raise AttnasError(f"{field}.base_width: {params['base_width']} gives empty sub-branches at width "
                              f"{params['width']}; allowed: base_width >= {-(-64 // first)}")
        return params

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))

    @classmethod
    def fold_params(cls, params: dict, points: frozenset) -> dict:
        """``branch_attention`` applies only with attention at ``branch``; elsewhere it folds to ``shared``."""
        if "branch" in points or params.get("branch_attention", "shared") == "shared":
            return params
        return {**params, "branch_attention": "shared"}

    @classmethod
    def walk(cls, net, *, depth, base_width, scale, width, stem, stem_act, downsample, branch_attention):
        widths = resnet_widths(width)
        x = stem_walk(net, stem, net.input_size, widths[0], act=stem_act)
        net.classifier(stages_walk(net, bottle2neck, DEPTHS[depth], widths, x, (1, 2, 2, 2), downsample,
                                   base_width=base_width, scale=scale, shared=branch_attention == "shared"))
