"""Visual Attention Network (Guo et al. 2022, Sec. 3.3, Table 2) with report 003's VAN-Res2Net MLP.

Per stage: an overlapping patch embedding (conv k x k, stride s, padding k//2, then BN; 7/4 for the first
stage, 3/2 after), ``depth`` blocks, and a LayerNorm over channels. A block is::

    x = x + ls1 * Attention(BN(x))      Attention(u) = u + proj_2(SGU(GELU(proj_1(u))))
    x = x + ls2 * MLP(BN(x))            MLP(u) = fc2(GELU(DW3x3(fc1(u))))

with layer scales initialised to 1e-2 and stochastic depth rising linearly to ``drop_path``. The spatial
gating unit (SGU) is whatever attention the config places at ``"sgu"`` (LKA in the VAN presets; SE, triplet,
RepLK, ... as well). Where there is none (attention ``none``, or a masked stage), the SGU is absent and the
token mixer reduces to the pointwise ``proj_2(GELU(proj_1(u)))`` plus its shortcut: a valid, purely
channel-mixing network. An attention declaring ``output_projection = True`` (multi-branch LKA) ends with its
own 1x1 projection, so ``proj_2`` is dropped rather than composed with it. ``"post_block"`` places an
attention after every block. The GELUs are the config's activation (``gelu`` in the presets).

``mlp: res2net`` (report 003, "VAN 与 Res2Net 结合", Fig. 19): the MLP's depthwise 3x3 becomes a Res2Net
bottleneck (Gao et al. 2019) on the hidden width h: 1x1 h -> h, BN, ReLU; split into ``res2net_scale`` groups
of h/scale, each group after the first adds the previous group's output and passes a 3x3 conv-BN-ReLU, the
last group is passed through; 1x1 h -> 4h, BN; plus a 1x1-BN projection shortcut h -> 4h, then ReLU; ``fc2``
reads 4h channels (the report's fix ``nn.Conv2d(hidden_features * 4, out_features, 1)``). Group width h/scale
reproduces the report's 62.459M parameters for VAN-Res2Net-B0 exactly (Res2Net's baseWidth 26 would give 92.7M).
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from torch import nn

from ..constraints import AtLeast, Fraction, Positive
from ..errors import AttnasError
from ..registry import BACKBONES
from ..shapes import BlockShape
from ..tally import numel
from .base import Backbone

Sizes = tuple[Annotated[int, Positive], ...]

VAN_VARIANTS = {
    "b0": ((32, 64, 160, 256), (3, 3, 5, 2), (8, 8, 4, 4)),
    "b1": ((64, 128, 320, 512), (2, 2, 4, 2), (8, 8, 4, 4)),
    "b2": ((64, 128, 320, 512), (3, 3, 12, 3), (8, 8, 4, 4)),
    "b3": ((64, 128, 320, 512), (3, 5, 27, 3), (8, 8, 4, 4)),
}
"""variant -> (dims, depths, mlp_ratios), VAN paper Table 2."""


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability ``p`` while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty(x.shape[0], 1, 1, 1).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (VAN's per-stage norm, eps 1e-6)."""

    def __init__(self, channels: int):
        super().__init__(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Res2NetUnit(nn.Module):
    """Res2Net bottleneck h -> 4h with hierarchical 3x3 groups and a projection shortcut (see module doc)."""

    def __init__(self, hidden: int, scale: int):
        super().__init__()
        self.width = hidden // scale
        split = self.width * scale
        self.reduce = nn.Sequential(nn.Conv2d(hidden, split, 1, bias=False), nn.BatchNorm2d(split), nn.ReLU(True))
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(self.width, self.width, 3, padding=1, bias=False), nn.BatchNorm2d(self.width),
                          nn.ReLU(True)) for _ in range(scale - 1))
        self.expand = nn.Sequential(nn.Conv2d(split, 4 * hidden, 1, bias=False), nn.BatchNorm2d(4 * hidden))
        self.shortcut = nn.Sequential(nn.Conv2d(hidden, 4 * hidden, 1, bias=False), nn.BatchNorm2d(4 * hidden))
        self.act = nn.ReLU(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.split(self.reduce(x), self.width, dim=1)
        outs, prev = [], None
        for i, conv in enumerate(self.convs):
            prev = conv(groups[i] if prev is None else groups[i] + prev)
            outs.append(prev)
        outs.extend(groups[len(self.convs):])
        return self.act(self.expand(torch.cat(outs, dim=1)) + self.shortcut(x))


def res2net_unit_walk(net, s: tuple, scale: int) -> tuple:
    hidden = s[0]
    width = hidden // scale
    split = width * scale
    r = net.bn(net.conv(s, split, 1, bias=False))
    net.ew(numel(r))                                              # ReLU
    g = (width,) + s[1:]
    for i in range(scale - 1):
        if i:
            net.ew(numel(g))                                      # groups[i] + prev
        net.ew(numel(net.bn(net.conv(g, width, 3, padding=1, bias=False))))   # conv-BN-ReLU
    out = net.bn(net.conv((split,) + s[1:], 4 * hidden, 1, bias=False))
    net.bn(net.conv(s, 4 * hidden, 1, bias=False))               # shortcut
    net.ew(numel(out), 2)                                         # + shortcut, ReLU
    return out


def make_mlp(ctx, dim: int, hidden: int, kind: str, scale: int) -> nn.Sequential:
    if kind == "res2net":
        return nn.Sequential(nn.Conv2d(dim, hidden, 1), Res2NetUnit(hidden, scale), ctx.act(),
                             nn.Conv2d(4 * hidden, dim, 1))
    return nn.Sequential(nn.Conv2d(dim, hidden, 1), nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
                         ctx.act(), nn.Conv2d(hidden, dim, 1))


def mlp_walk(net, s: tuple, hidden: int, kind: str, scale: int) -> tuple:
    h = net.conv(s, hidden, 1)
    if kind == "res2net":
        h = net.activate(res2net_unit_walk(net, h, scale))
    else:
        h = net.activate(net.conv(h, hidden, 3, padding=1, groups=hidden))
    return net.conv(h, s[0], 1)


class TokenMixer(nn.Module):
    """VAN's Attention: u + proj_2(SGU(GELU(proj_1(u)))); SGU and proj_2 may be absent (see module doc)."""

    def __init__(self, ctx, stage: int, dim: int):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.act = ctx.act()
        sgu = ctx.attention_class(stage, "sgu")
        self.sgu = ctx.attention(stage, "sgu", dim) or nn.Identity()
        self.proj_2 = nn.Identity() if sgu is not None and sgu.output_projection else nn.Conv2d(dim, dim, 1)

    @staticmethod
    def walk(net, stage: int, s: tuple) -> tuple:
        sgu = net.attention_class(stage, "sgu")
        y = net.attention(stage, "sgu", net.activate(net.conv(s, s[0], 1)))
        if sgu is None or not sgu.output_projection:
            y = net.conv(y, s[0], 1)
        net.ew(numel(s))
        return s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.sgu(self.act(self.proj_1(x))))


class VANBlock(nn.Module):
    def __init__(self, ctx, stage: int, dim: int, mlp_ratio: int, drop_path: float, mlp: str, scale: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.mixer = TokenMixer(ctx, stage, dim)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = make_mlp(ctx, dim, dim * mlp_ratio, mlp, scale)
        self.layer_scale_1 = nn.Parameter(torch.full((dim, 1, 1), 1e-2))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, 1, 1), 1e-2))
        self.drop_path = DropPath(drop_path)
        self.post = ctx.attention(stage, "post_block", dim) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.mixer(self.norm1(x)))
        x = x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))
        return self.post(x)

    @staticmethod
    def walk(net, stage: int, s: tuple, mlp_ratio: int, mlp: str, scale: int) -> tuple:
        n = numel(s)
        TokenMixer.walk(net, stage, net.bn(s))
        mlp_walk(net, net.bn(s), s[0] * mlp_ratio, mlp, scale)
        net.params += 2 * s[0]                                   # the two layer scales
        net.ew(n, 4)                                              # ls * branch, x + ... (twice)
        return net.attention(stage, "post_block", s)


def patch_embed(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2), nn.BatchNorm2d(cout))


@BACKBONES.register("van")
class VAN(Backbone):
    insertion_points = ("sgu", "post_block")
    test_params = {"variant": "custom", "dims": (8, 16, 24, 32), "depths": (1, 1, 1, 1), "mlp_ratios": (2, 2, 2, 2)}

    def __init__(self, ctx, *, variant: Literal["b0", "b1", "b2", "b3", "custom"] = "b0",
                 dims: Sizes = (), depths: Sizes = (), mlp_ratios: Sizes = (),
                 mlp: Literal["mlp", "res2net"] = "mlp", res2net_scale: Annotated[int, AtLeast(2)] = 4,
                 drop_path: Annotated[float, Fraction] = 0.0):
        super().__init__()
        params = self.canonical_params(dict(variant=variant, dims=dims, depths=depths, mlp_ratios=mlp_ratios,
                                            mlp=mlp, res2net_scale=res2net_scale, drop_path=drop_path), "backbone")
        dims, depths, ratios = params["dims"], params["depths"], params["mlp_ratios"]
        total = sum(depths)
        rates = [drop_path * j / max(1, total - 1) for j in range(total)]
        stages, cin, k = [], ctx.in_channels, 0
        for i, (dim, depth, ratio) in enumerate(zip(dims, depths, ratios)):
            blocks = [VANBlock(ctx, i, dim, ratio, rates[k + j], mlp, res2net_scale) for j in range(depth)]
            k += depth
            embed = patch_embed(cin, dim, 7, 4) if i == 0 else patch_embed(cin, dim, 3, 2)
            stages.append(nn.Sequential(embed, ctx.stage(blocks, i), ChannelLayerNorm(dim)))
            cin = dim
        self.stages = ctx.body(stages)
        self.head = nn.Linear(cin, ctx.num_classes)
        init_van(self)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """Named variants carry their dims/depths/ratios; equal custom lists take the variant's name."""
        out = dict(params)
        if out["variant"] != "custom":
            out["dims"], out["depths"], out["mlp_ratios"] = VAN_VARIANTS[out["variant"]]
        dims, depths, ratios = (tuple(out[k]) for k in ("dims", "depths", "mlp_ratios"))
        if not dims or not (len(dims) == len(depths) == len(ratios)):
            raise AttnasError(f"{field}.dims: {list(dims)} with depths {list(depths)} and mlp_ratios {list(ratios)} "
                              f"is not allowed; allowed: three lists of one equal length >= 1, or a variant "
                              f"({', '.join(VAN_VARIANTS)})")
        if out["mlp"] == "res2net":
            scale = out["res2net_scale"]
            narrowest = min(d * r for d, r in zip(dims, ratios))
            if scale < 2 or scale > narrowest:
                raise AttnasError(f"{field}.res2net_scale: {scale} is not allowed; allowed: 2..{narrowest}")
        else:
            out["res2net_scale"] = 4
        for name, triple in VAN_VARIANTS.items():
            if (dims, depths, ratios) == triple:
                out["variant"] = name
        return out

    @classmethod
    def stage_count(cls, params: dict) -> int:
        return len(params["dims"]) if params.get("dims") else len(VAN_VARIANTS[params["variant"]][0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(x).mean((2, 3)))

    @classmethod
    def walk(cls, net, **params):
        p = cls.canonical_params(params, "backbone")
        stages, x = [], net.input_size
        for i, (dim, depth, ratio) in enumerate(zip(p["dims"], p["depths"], p["mlp_ratios"])):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            stage_in, x = x, net.bn(net.conv(x, dim, kernel, stride, kernel // 2))
            blocks = []
            for _ in range(depth):
                out = VANBlock.walk(net, i, x, ratio, p["mlp"], p["res2net_scale"])
                blocks.append(BlockShape(x, out, 1))
                x = out
            net.stage(i, blocks)
            net.params += 2 * dim                                # ChannelLayerNorm: not a thop module, so
            net.ew(numel(x), 2)                                   # the dispatch counter's 2 per element
            stages.append(BlockShape(stage_in, x, stride))
        net.body(stages)
        net.reduce(numel(x))
        net.linear(1, x[0], net.num_classes)


def init_van(model: nn.Module) -> None:
    """VAN's initialisation: convs N(0, sqrt(2 / fan_out)) with fan_out = k*k*out/groups, linears
    truncated N(0, 0.02), zero biases; BN/LN at identity. Skipped on the meta device (dry runs), where
    random init has nothing to fill and would import torch's reference kernels."""
    if any(p.is_meta for p in model.parameters()):
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
