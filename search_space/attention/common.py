"""The one DCA step (extraction -> merge -> transformation -> record) every connectable module runs.

The DCA hook protocol (DCA paper, Eq. 3, attnas docs/ARCHITECTURE.md): for each attention dimension ``d``,
a connectable module computes its extraction ``g``; when a ``link`` is given the transformation sees
``link.merge(d, g)`` instead of ``g`` and the link records ``(d, g, t, scaled)``; without a link nothing
changes, so ``forward(x)`` is exactly the vanilla block.
"""
from __future__ import annotations

from typing import Callable

import torch


def dca_step(link, dim: str, g: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor],
             scaled: bool) -> torch.Tensor:
    """``t = transform(g)``; with a link, ``t = transform(link.merge(dim, g))`` and the link records it."""
    if link is None:
        return transform(g)
    t = transform(link.merge(dim, g))
    link.record(dim, g, t, scaled)
    return t
