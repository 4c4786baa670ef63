"""The DCA connection functions f(G, alpha T~) of the DCA paper (seed 002, Sec. 3.2), elementwise on tensors of
one shape: G is the current block's extraction output, ``prior`` = alpha T~ the previous block's (size-matched)
attention map."""
from __future__ import annotations

import torch

DENOMINATOR_EPS = 1e-6
"""Smallest |G| + |alpha T~| in Eq. 5 (where both terms are 0, f is 0)."""


def direct(g: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Eq. 4: f = G + alpha T~."""
    return g + prior


def weighted(g: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Eq. 5: f = G / (G + alpha T~) * G + alpha T~ / (G + alpha T~) * alpha T~, weights from the terms
    themselves, no parameters.

    Reading: the weights are taken from the magnitudes, f = (|G| G + |alpha T~| alpha T~) / (|G| + |alpha T~|),
    which is Eq. 5 exactly wherever G and alpha T~ share a sign (the paper's case: the weights are then a convex
    pair) and stays between the two terms where they do not. Eq. 5 taken literally divides by G + alpha T~,
    which crosses zero when the terms have opposite signs (pre-sigmoid logits do), so f explodes there: the
    DCA Table 2 ablation's weighted arm diverged in its first epoch (NaN loss) that way."""
    wg, wp = g.abs(), prior.abs()
    total = (wg + wp).clamp_min(DENOMINATOR_EPS)
    return (wg * g + wp * prior) / total


def softmax(g: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Eq. 6: f = e^-G / (e^-G + e^-alpha T~) * G + e^-alpha T~ / (e^-G + e^-alpha T~) * alpha T~, i.e. a
    softmax of (-G, -alpha T~) weighting (G, alpha T~) (computed stably). G and alpha T~ broadcast, as in Eq. 4-5
    (CBAM's unscaled channel map T~ (B, C, 1, 1) against its two pooled descriptors G (B, 2, C, 1, 1))."""
    g, prior = torch.broadcast_tensors(g, prior)
    w = torch.softmax(torch.stack((-g, -prior)), dim=0)
    return w[0] * g + w[1] * prior


CONNECTION_FUNCTIONS = {"direct": direct, "weighted": weighted, "softmax": softmax}
