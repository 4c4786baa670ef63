"""Multi-scale LKA branches (report 003, VAN improvement 2, "多尺度分支", Fig. 18, Table 5).

Several LKA branches see the same input; each returns ``x * attn_k(x)``; the outputs are concatenated along
the channels. In the report the concatenation (3C channels for three branches) feeds VAN's ``proj_2``, which
is widened to 3C -> C. Here the module owns that 3C -> C 1x1 projection (``fuse``), so it keeps the shape and
can sit anywhere an attention can; it declares ``output_projection = True`` so the VAN block drops its own
C -> C ``proj_2``, which would only compose with ``fuse`` into one linear map. The VAN-MB parameter count is
then exactly the report's.

Which kernel the report's ``LKA(dim, kernel_size=k)`` varies: its text says the local 5x5, but Table 5 lists
the baseline VAN-B0 as kernel 7 and the counts settle it: params and MACs of all three rows of Table 5
(kernels 3/5/7, 5/7/9, 7/9/11) match branches of 5x5 local + k x k dilation-3 conv + 1x1, and not branches
of k x k local + 7x7 dilated. So ``dilated_kernel_sizes`` are the searched triple, ``local_kernel_size`` stays 5.
"""
from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from ..constraints import NonEmpty, OddKernel, Positive
from ..registry import ATTENTION
from ..tally import numel
from .base import Attention, fold_dilation
from .lka import lka_map, lka_map_cost


@ATTENTION.register("lka_mb")
class MultiBranchLKA(Attention):
    dims = ("spatial", "channel")
    output_projection = True

    def __init__(self, channels: int, *,
                 dilated_kernel_sizes: Annotated[tuple[Annotated[int, OddKernel], ...], NonEmpty] = (5, 7, 9),
                 local_kernel_size: Annotated[int, OddKernel] = 5, dilation: Annotated[int, Positive] = 3):
        super().__init__()
        self.branches = nn.ModuleList(lka_map(channels, local_kernel_size, k, dilation) for k in dilated_kernel_sizes)
        self.fuse = nn.Conv2d(channels * len(dilated_kernel_sizes), channels, 1)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        """The branches are a set: their order only permutes the concatenated channels."""
        return {**params, "dilated_kernel_sizes": tuple(sorted(params["dilated_kernel_sizes"]))}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([x * branch(x) for branch in self.branches], dim=1))

    @classmethod
    def canonical_at(cls, p: dict, sites: tuple) -> dict:
        """The dilated convs see only their centre tap where the dilation is at least H and W at every site."""
        return fold_dilation(p, "dilation", max((max(s.shape[1:]) for s in sites), default=0), 3)

    @classmethod
    def cost(cls, t, shape, p):
        kernels = p["dilated_kernel_sizes"]
        for k in kernels:
            lka_map_cost(t, shape, p["local_kernel_size"], k, p["dilation"])
            t.ew(numel(shape))
        c, h, w = shape
        return t.conv((c * len(kernels), h, w), c, 1)
