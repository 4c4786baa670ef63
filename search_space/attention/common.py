"""Shared vocabulary of the attention families: the activation and gate names a config may choose, and
the one DCA step (extraction -> merge -> transformation -> record) every connectable module runs.

The DCA hook protocol (DCA paper, Eq. 3, attnas docs/ARCHITECTURE.md): for each attention dimension ``d``,
a connectable module computes its extraction ``g``; when a ``link`` is given the transformation sees
``link.merge(d, g)`` instead of ``g`` and the link records ``(d, g, t, scaled)``; without a link nothing
changes, so ``forward(x)`` is exactly the vanilla block.
"""
from __future__ import annotations

from typing import Callable, Literal

import torch

from ..errors import AttnasError

Act = Literal["relu", "gelu", "celu", "elu", "leaky_relu", "silu"]
"""Hidden activations of the attention transforms (the six searched in the seeds)."""

Gate = Literal["sigmoid", "tanh", "softmax", "hard_sigmoid"]
"""Functions that turn attention logits into weights (report 003, Table 3)."""

SCALED_GATES = frozenset({"sigmoid", "softmax", "hard_sigmoid"})
"""Gates whose output lies in [0, 1], so a DCA link rescales it by the extraction (DCA paper, Sec. 3.2)."""


def dca_step(link, dim: str, g: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor],
             scaled: bool) -> torch.Tensor:
    """``t = transform(g)``; with a link, ``t = transform(link.merge(dim, g))`` and the link records it."""
    if link is None:
        return transform(g)
    t = transform(link.merge(dim, g))
    link.record(dim, g, t, scaled)
    return t


def check_odd_kernel(value: int, field: str) -> None:
    """A 'same'-padded kernel must be a positive odd integer."""
    if value < 1 or value % 2 == 0:
        raise AttnasError(f"{field}: {value} is not allowed; allowed: an odd integer >= 1 (1, 3, 5, 7, ...)")


def check_positive(value: int, field: str) -> None:
    if value < 1:
        raise AttnasError(f"{field}: {value} is not allowed; allowed: an integer >= 1")
