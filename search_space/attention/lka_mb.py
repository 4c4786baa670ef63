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
of k x k local + 7x7 dilated. So ``dilated_kernels`` are the searched triple, ``local_kernel`` stays 5.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import AttnasError
from ..registry import ATTENTION
from .lka import check_at_least, check_odd, lka_map


@ATTENTION.register("lka_mb")
class MultiBranchLKA(nn.Module):
    connectable = False
    dims = ("spatial", "channel")
    output_projection = True

    def __init__(self, channels: int, *, dilated_kernels: tuple[int, ...] = (5, 7, 9), local_kernel: int = 5,
                 dilation: int = 3):
        super().__init__()
        self.branches = nn.ModuleList(lka_map(channels, local_kernel, k, dilation) for k in dilated_kernels)
        self.fuse = nn.Conv2d(channels * len(dilated_kernels), channels, 1)

    @classmethod
    def canonical_params(cls, params: dict, field: str) -> dict:
        kernels = params["dilated_kernels"]
        if not kernels:
            raise AttnasError(f"{field}.dilated_kernels: [] is not allowed; allowed: one or more odd kernels, "
                              f"e.g. [5, 7, 9]")
        for i, k in enumerate(kernels):
            check_odd(k, f"{field}.dilated_kernels[{i}]")
        check_odd(params["local_kernel"], f"{field}.local_kernel")
        check_at_least(params["dilation"], 1, f"{field}.dilation")
        return {**params, "dilated_kernels": tuple(sorted(kernels))}  # branch order is a channel permutation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([x * branch(x) for branch in self.branches], dim=1))
