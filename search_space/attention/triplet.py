"""Triplet Attention (Misra et al. 2021) with the z-pool and activation variants of report 003 (Sec. 3.1).

Three branches see the input rotated so that a different dimension is collapsed: C (plane H x W), H
(plane C x W) and W (plane H x C). Each branch computes a 2-D map of its plane,

    map = gate(conv_act(BN(conv_kxk(ZPool(x_rot)))))              (paper Sec. 3.2, Eq. 1-2)
    y   = (x * map_hw + rot^-1(x_cw * map_cw) + rot^-1(x_hc * map_hc)) / 3

ZPool concatenates statistics of the collapsed dimension; the paper's ZPool is [max; mean] (report: {avg, max}).
``zpool_stats`` picks any subset of (max, avg, median, l1, l2, std), always concatenated in that order:
  max = amax; avg = mean; median = torch.median (the lower of the two middle values for an even count);
  l1 = mean of |x| (a mean rather than a sum, so its scale does not grow with the collapsed size);
  l2 = sqrt(mean(x^2)), the RMS (same reason); std = population standard deviation (divide by N).
The paper has no activation between BN and the gate (``conv_act: identity``); the report swaps one in
(relu, gelu, celu, elu, leaky_relu, silu, sigmoid) and swaps the gate (tanh, softmax).
"""
from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import nn

from ..errors import AttnasError
from ..layers import make_act, make_gate
from ..registry import ATTENTION
from .common import Gate, check_odd_kernel

ZPOOL_STATS = ("max", "avg", "median", "l1", "l2", "std")
"""Every z-pool statistic, in the fixed order in which the pooled maps are concatenated."""

EPS = 1e-12

ConvAct = Literal["identity", "relu", "gelu", "celu", "elu", "leaky_relu", "silu", "sigmoid"]

_STAT_FNS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "max": lambda x, d: x.amax(d, keepdim=True),
    "avg": lambda x, d: x.mean(d, keepdim=True),
    "median": lambda x, d: x.median(d, keepdim=True).values,
    "l1": lambda x, d: x.abs().mean(d, keepdim=True),
    # sqrt clamped away from 0 so an all-zero slice (after ReLU) gives a zero, not NaN, gradient
    "l2": lambda x, d: x.pow(2).mean(d, keepdim=True).clamp_min(EPS).sqrt(),
    "std": lambda x, d: x.var(d, keepdim=True, correction=0).clamp_min(EPS).sqrt(),
}


def zpool(x: torch.Tensor, stats: tuple[str, ...], dim: int = 1) -> torch.Tensor:
    """Concatenate the statistics ``stats`` of ``x`` over ``dim`` (kept as a dimension of size len(stats))."""
    return torch.cat([_STAT_FNS[s](x, dim) for s in stats], dim=dim)


def canonical_zpool(stats, field: str) -> tuple[str, ...]:
    """Reject an empty, unknown or repeated statistic; return the set in ZPOOL_STATS order."""
    allowed = ", ".join(ZPOOL_STATS)
    if not stats:
        raise AttnasError(f"{field}: {list(stats)!r} is empty; allowed: a non-empty subset of {allowed}")
    for s in stats:
        if s not in ZPOOL_STATS:
            raise AttnasError(f"{field}: {s!r} is not a z-pool statistic; allowed: a non-empty subset of {allowed}")
    if len(set(stats)) != len(stats):
        raise AttnasError(f"{field}: {list(stats)!r} repeats a statistic; allowed: each of {allowed} at most once")
    return tuple(s for s in ZPOOL_STATS if s in stats)


ROTATIONS = ((0, 2, 1, 3), (0, 3, 2, 1), None)
"""Per branch, the permutation that brings the collapsed dim to position 1 (H, W, then C); each is its own
inverse."""


class TripletFrame(nn.Module):
    """The three rotated branches and their average; ``branches[i]`` maps (B, Z, P, Q) to a (B, 1, P, Q)
    attention map (or anything that broadcasts to it)."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = 0
        for perm, branch in zip(ROTATIONS, self.branches):
            xr = x if perm is None else x.permute(perm)
            yr = xr * branch(xr)
            out = out + (yr if perm is None else yr.permute(perm))
        return out / 3


class ZPoolGate(nn.Module):
    """One branch of the paper (its 'AttentionGate'): ZPool -> conv kxk (no bias) -> BN -> conv_act -> gate."""

    def __init__(self, stats: tuple[str, ...], kernel_size: int, conv_act: str, gate: str):
        super().__init__()
        self.stats = stats
        self.conv = nn.Conv2d(len(stats), 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.act = make_act(conv_act, "attention.conv_act")
        self.gate = make_gate(gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        return self.gate(self.act(self.bn(self.conv(zpool(xr, self.stats)))))


@ATTENTION.register("triplet")
class TripletAttention(TripletFrame):
    connectable = False
    insertion_points = None

    def __init__(self, channels: int, *, zpool_stats: tuple[str, ...] = ("max", "avg"), kernel_size: int = 7,
                 conv_act: ConvAct = "identity", gate: Gate = "sigmoid"):
        super().__init__([ZPoolGate(zpool_stats, kernel_size, conv_act, gate) for _ in ROTATIONS])

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_odd_kernel(params["kernel_size"], f"{field}.kernel_size")
        return {**params, "zpool_stats": canonical_zpool(params["zpool_stats"], f"{field}.zpool_stats")}
