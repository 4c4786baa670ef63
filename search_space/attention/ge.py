"""Gather-Excite (Hu et al. 2018, GENet): y = x * gate(excite(gather(x))) resized back to x (Sec. 3).

Variants (``variant``):
  theta_minus  parameter-free: gather = average pooling over extent x extent cells (an H x W map becomes
               ceil(H/e) x ceil(W/e); adaptive pooling, so maps smaller than e still work); excite =
               nearest-neighbour interpolation + gate.
  theta        gather = depthwise strided convolutions: log2(extent) of 3x3/2 depthwise conv + BN (ReLU between),
               excite as above.
  theta_plus   theta's gather, then an SE-style excite: 1x1 convs C -> C/r -> C with ReLU, then gate.
``extent`` 0 is global: theta_minus takes the mean; theta/theta_plus take a learned per-channel weighted sum
over positions. The paper's global parametric gather is a depthwise conv whose kernel covers the whole map;
a module built without knowing the map size cannot hold that kernel, so here the map is first average-pooled
to a fixed 7 x 7 grid (the last ResNet stage at 224 input, where this is exactly the paper's operator) and
then a 7 x 7 depthwise conv (no padding) + BN gathers it. This costs 49 C weights per module instead of H W C.

DCA decomposition (DCA paper Figure 3, top left): g = the gathered map, (B, C, h, w) ((B, C, 1, 1) when
global); t = gate(excite(g)) at the gathered resolution, scaled for sigmoid-like gates; fusion = x times t
interpolated (nearest) to x's size. Nearest interpolation commutes with the elementwise gate, so this equals
the paper's order (interpolate, then gate).
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..constraints import Positive, Where
from ..layers import SCALED_GATES, Act, Gate, make_act, make_gate, reduced_width
from ..registry import ATTENTION
from ..tally import conv_out, numel
from .base import Attention, fold_reductions
from .common import dca_step

GLOBAL_GRID = 7

Extent = Annotated[int, Where(lambda e: e == 0 or (e >= 2 and e & (e - 1) == 0), "0 (global) or a power of two >= 2",
                             3)]


def depthwise_gather(channels: int, extent: int, act: str) -> nn.Sequential:
    """log2(extent) stride-2 3x3 depthwise conv + BN, with the activation between them (not after the last)."""
    layers: list[nn.Module] = []
    steps = int(math.log2(extent))
    for i in range(steps):
        layers += [nn.Conv2d(channels, channels, 3, 2, 1, groups=channels, bias=False), nn.BatchNorm2d(channels)]
        if i < steps - 1:
            layers.append(make_act(act))
    return nn.Sequential(*layers)


@ATTENTION.register("ge")
class GatherExcite(Attention):
    connectable = True
    dims = ("channel",)

    def __init__(self, channels: int, *, variant: Literal["theta_minus", "theta", "theta_plus"] = "theta_plus",
                 extent: Extent = 0, reduction: Annotated[int, Positive] = 16, act: Act = "relu",
                 gate: Gate = "sigmoid"):
        super().__init__()
        self.extent = extent
        self.parametric = variant != "theta_minus"
        if not self.parametric:
            self.gather = nn.Identity()
        elif extent == 0:
            self.gather = nn.Sequential(nn.AdaptiveAvgPool2d(GLOBAL_GRID),
                                        nn.Conv2d(channels, channels, GLOBAL_GRID, groups=channels, bias=False),
                                        nn.BatchNorm2d(channels))
        else:
            self.gather = depthwise_gather(channels, extent, act)
        if variant == "theta_plus":
            hidden = reduced_width(channels, reduction)
            self.excite = nn.Sequential(nn.Conv2d(channels, hidden, 1), make_act(act), nn.Conv2d(hidden, channels, 1))
        else:
            self.excite = nn.Identity()
        self.gate = make_gate(gate)
        self.scaled = gate in SCALED_GATES

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """Fold the parameters a variant does not use to their defaults."""
        e = params["extent"]
        out = dict(params)
        if params["variant"] != "theta_plus":  # reduction is unused: fold to its default
            out["reduction"] = 16
        if params["variant"] == "theta_minus" or (params["variant"] == "theta" and e in (0, 2)):
            out["act"] = "relu"  # act is unused: no hidden layer and no activation between gather convs
        return out

    @classmethod
    def canonical_at(cls, p: dict, sites: tuple) -> dict:
        """theta_minus with an extent at or above every site's H and W gathers each map to 1 x 1 by average
        pooling, which is the global mean (extent 0): same function, no weights, same cost. The parametric
        variants are not folded: their gathers hold different weights (log2(extent) convs, or the 7 x 7 grid)."""
        if p["variant"] == "theta_plus":     # its reduction acts only through the excite's hidden width
            p = fold_reductions({"reduction": lambda q, site: reduced_width(site.shape[0], q["reduction"])},
                                p, sites, {"reduction": 16})
        e = p["extent"]
        if p["variant"] == "theta_minus" and e and sites and all(e >= max(s.shape[1:]) for s in sites):
            return {**p, "extent": 0}
        return p

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        if self.parametric:
            return self.gather(x)
        if self.extent == 0:
            return x.mean((2, 3), keepdim=True)
        h, w = x.shape[2:]
        return F.adaptive_avg_pool2d(x, (-(-h // self.extent), -(-w // self.extent)))

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        return self.gate(self.excite(g))

    def forward(self, x: torch.Tensor, link=None) -> torch.Tensor:
        t = dca_step(link, "channel", self.extract(x), self.transform, self.scaled)
        if t.shape[2:] != x.shape[2:] and t.shape[2:] != (1, 1):
            t = F.interpolate(t, size=x.shape[2:], mode="nearest")
        return x * t

    @classmethod
    def gathered_shape(cls, shape, p) -> tuple:
        """The shape of g (the gathered map) for an input of ``shape``."""
        c, h, w = shape
        e = p["extent"]
        if e == 0:
            return c, 1, 1
        if p["variant"] == "theta_minus":
            return c, -(-h // e), -(-w // e)
        for _ in range(int(math.log2(e))):
            h, w = conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1)
        return c, h, w

    @classmethod
    def cost(cls, t, shape, p):
        c = shape[0]
        n, e = numel(shape), p["extent"]
        g = cls.gathered_shape(shape, p)
        if p["variant"] == "theta_minus":
            t.reduce(n)                                           # mean, or adaptive average pooling
        elif e == 0:
            s = t.adaptive_avg_pool(shape, GLOBAL_GRID)
            t.bn(t.conv(s, c, GLOBAL_GRID, groups=c, bias=False))
        else:
            s, steps = shape, int(math.log2(e))
            for i in range(steps):
                s = t.bn(t.conv(s, c, 3, 2, 1, groups=c, bias=False))
                if i < steps - 1:
                    t.act(numel(s), p["act"])
        if p["variant"] == "theta_plus":
            s = t.conv(g, reduced_width(c, p["reduction"]), 1)
            t.act(numel(s), p["act"])
            t.conv(s, c, 1)
        t.gate(numel(g), p["gate"])
        if g[1:] != shape[1:] and g[1:] != (1, 1):
            t.ew(n)                                               # nearest interpolation back to H x W
        t.ew(n)                                                   # x * t
        return shape

    @classmethod
    def dca_shapes(cls, shape, p):
        g = cls.gathered_shape(shape, p)
        return {"channel": (g, g, p["gate"] in SCALED_GATES)}
