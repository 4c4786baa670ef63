"""TripletCA (report 003, Sec. 3.2 'TripletCA', Fig. 14): Triplet Attention whose branches extract their
plane's map the coordinate-attention way (Hou et al. 2021) instead of with a kxk convolution.

The report keeps triplet as the skeleton and uses the coordinate method for the C (H x W) branch "and the
other interaction dimensions" too. Per branch, on the rotated input (B, Z, P, Q):

    z   = ZPool_Z(x_rot)                                  (B, S, P, Q), S = len(zpool_stats)
    a_P, a_Q = CA encoder of z: pool along Q and along P, shared 1x1 conv S -> hidden + BN + act,
               two 1x1 convs hidden -> 1, gate each       (CA Eq. 4-8)
    map = a_P * a_Q                                       (B, 1, P, Q), CA Eq. 9 with one output channel

and the three branches are averaged as in triplet. Why z-pool first (not CA on all C channels): the report's
Table 2 gives TripletCA +0.01M parameters over Triplet while CA on full channels costs +0.42M; only the
pooled-map encoder fits that budget, and it is the one that works for the two rotated branches, whose
collapsed dimension is a spatial size unknown when the network is built.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..registry import ATTENTION
from .ca import CoordinateEncoder
from .common import Gate, check_positive
from .triplet import ROTATIONS, TripletFrame, canonical_zpool, zpool


class ZPoolCoordinateGate(nn.Module):
    def __init__(self, stats: tuple[str, ...], hidden: int, act: str, gate: str):
        super().__init__()
        self.stats = stats
        self.encoder = CoordinateEncoder(len(stats), hidden, 1, act, gate)

    def forward(self, xr: torch.Tensor) -> torch.Tensor:
        a_p, a_q = self.encoder(zpool(xr, self.stats))
        return a_p * a_q


@ATTENTION.register("triplet_ca")
class TripletCoordinateAttention(TripletFrame):
    connectable = False
    insertion_points = None

    def __init__(self, channels: int, *, zpool_stats: tuple[str, ...] = ("max", "avg"), hidden: int = 8,
                 act: Literal["relu", "gelu", "celu", "elu", "leaky_relu", "silu", "hard_swish"] = "hard_swish",
                 gate: Gate = "sigmoid"):
        super().__init__([ZPoolCoordinateGate(zpool_stats, hidden, act, gate) for _ in ROTATIONS])

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        check_positive(params["hidden"], f"{field}.hidden")
        return {**params, "zpool_stats": canonical_zpool(params["zpool_stats"], f"{field}.zpool_stats")}
