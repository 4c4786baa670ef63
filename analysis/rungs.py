"""Which trials of a successive-halving rung go on: Pareto-rank promotion, one pure function.

A rung is the set of trials that reached a milestone (epoch ``t``): for each, its objective vector at that
rung (validation accuracy after ``t`` epochs, and the cost objectives, which are known before training).
:func:`promote` returns exactly ``quota`` of them, chosen by

1. **non-dominated rank** (Deb et al. 2002's fronts, :func:`~analysis.pareto.non_dominated_sort`): fronts are
   taken whole, best first, while they fit in the quota;
2. inside the first front that does not fit, **crowding distance** (NSGA-II's diversity rule: the sum over
   objectives of the gap between a point's two neighbours along that objective, normalised by the front's
   range; the extremes of each objective get infinity), largest first: among equally good trials keep the
   ones that spread the front, so the cheap end and the accurate end both survive;
3. an **exact copy** of a point listed earlier adds no spread: crowding 0 (it is left out when the others'
   neighbours are found);
4. remaining ties (two extremes, equal gaps) go to the **lower index**: callers pass trials in a stable order
   (the study passes trial numbers ascending), so the same rung always gives the same answer.

Guarantees, for any input (checked against brute force in tests/analysis/test_rungs.py):

* no promoted point is dominated by a stopped one (fronts are taken in order, and a dominating point is
  always in an earlier front than the point it dominates);
* a point that dominates every other point of the rung is promoted (it is alone in front 0, quota >= 1);
* while the first front is no larger than the quota, every point no other point dominates is promoted;
* exactly ``quota`` points are promoted.

Why not read the sorted order as ranks (Syne Tune's MOASHA): that order interleaves fronts by position, so a
point of front 0 can land behind points of front 1 and be stopped while they go on. Here the front is the
unit of comparison and position only matters inside one front.

The ``*_batch`` forms take ``(b, n, m)`` arrays (``b`` rungs of ``n`` points each) and are what the
property test and the search-efficiency benchmark call; :func:`promote` is the single-rung form.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .pareto import as_minimisation, check_directions

TIE_BREAK_RULE = ("fronts whole, best first; inside the front that does not fit: crowding distance (largest "
                  "first; an exact copy of an earlier point counts 0); then the lower index")


def rung_quota(n: int, eta: float) -> int:
    """How many of ``n`` trials at a rung go on: the best 1/eta, rounded up (so a rung's first trial always
    goes on, as in ASHA), never more than ``n``."""
    if n <= 0:
        return 0
    if not eta > 1:
        raise ValueError(f"eta must be > 1, got {eta!r}")
    return min(n, max(1, math.ceil(n / eta - 1e-9)))


def promote(points, directions: Sequence[str], eta: float | None = None, quota: int | None = None) -> np.ndarray:
    """Boolean mask over the ``n`` rows of ``points`` (``(n, m)``, objectives in their own units): True for
    the trials that go on. Give ``quota`` (0..n) or ``eta`` (quota = :func:`rung_quota`)."""
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"points must be an (n, m) array, got shape {arr.shape}")
    n = arr.shape[0]
    q = _quota(n, eta, quota)
    if n == 0:
        return np.zeros(0, dtype=bool)
    return promote_batch(arr[None], directions, np.array([q]))[0]


def _quota(n: int, eta, quota) -> int:
    if (eta is None) == (quota is None):
        raise ValueError("give exactly one of eta and quota")
    q = rung_quota(n, eta) if quota is None else int(quota)
    if not 0 <= q <= n:
        raise ValueError(f"quota must be in 0..{n}, got {quota!r}")
    return q


def promote_batch(points, directions: Sequence[str], quotas) -> np.ndarray:
    """:func:`promote` for ``b`` rungs at once: ``points`` ``(b, n, m)``, ``quotas`` ``(b,)`` -> ``(b, n)`` mask."""
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 3:
        raise ValueError(f"points must be a (b, n, m) array, got shape {pts.shape}")
    b, n, m = pts.shape
    check_directions(directions, m)
    quotas = np.broadcast_to(np.asarray(quotas, dtype=int), (b,))
    if ((quotas < 0) | (quotas > n)).any():
        raise ValueError(f"quotas must be in 0..{n}")
    if n == 0 or b == 0:
        return np.zeros((b, n), dtype=bool)
    mins = as_minimisation(pts.reshape(b * n, m), directions).reshape(b, n, m)
    weakly = weakly_dominates_batch(mins)
    ranks = front_ranks_batch(weakly & ~weakly.transpose(0, 2, 1))
    # the front each rung splits: the rank of its quota-th best point (fronts before it are taken whole)
    q_idx = np.clip(quotas - 1, 0, n - 1)
    split = np.take_along_axis(np.sort(ranks, axis=1), q_idx[:, None], axis=1)[:, 0]
    in_split = ranks == split[:, None]
    crowd = crowding_batch(mins, in_split, same=weakly & weakly.transpose(0, 2, 1))
    index = np.broadcast_to(np.arange(n), (b, n))
    order = np.lexsort((index, -crowd, ranks), axis=-1)         # last key first: rank, then crowding, index
    position = np.empty_like(order)
    np.put_along_axis(position, order, index, axis=1)
    return position < quotas[:, None]


def weakly_dominates_batch(mins: np.ndarray) -> np.ndarray:
    """``W[k, i, j]``: in rung ``k``, point ``i`` is no worse than point ``j`` everywhere (all minimised).
    ``W & ~W.T`` is domination, ``W & W.T`` equality."""
    weakly = np.ones(mins.shape[:2] + mins.shape[1:2], dtype=bool)
    for j in range(mins.shape[2]):                               # one objective at a time: (b, n, n) each
        weakly &= mins[:, :, None, j] <= mins[:, None, :, j]
    return weakly


def front_ranks_batch(dominates: np.ndarray) -> np.ndarray:
    """Non-dominated rank (0 = first front) of every point of every rung, ``(b, n)``, from the domination
    matrices ``dominates[k, i, j]`` (i dominates j): Deb's peeling, with the counts of unranked dominators
    kept as one batched matrix product per front."""
    b, n, _ = dominates.shape
    dom = dominates.astype(np.float32)
    ranks = np.full((b, n), -1, dtype=int)
    left = np.ones((b, n), dtype=bool)
    count = dominates.sum(axis=1)                                # unranked points dominating each point
    level = 0
    while left.any():
        current = left & (count == 0)
        ranks[current] = level
        left &= ~current
        count = count - np.rint(np.matmul(current[:, None, :].astype(np.float32), dom)[:, 0]).astype(int)
        count[~left] = -1
        level += 1
    return ranks


def crowding_batch(mins: np.ndarray, members: np.ndarray, same: np.ndarray | None = None) -> np.ndarray:
    """NSGA-II crowding distance of each member point within its rung's ``members`` set, ``(b, n)``
    (0 outside the set). Per objective, members are sorted; the two extremes get infinity, the others the
    gap between their neighbours divided by the members' range; an objective on which all members are equal
    adds 0 to every member (as in Optuna's NSGA-II). An exact copy of an earlier member is left out of the
    sort and gets 0."""
    b, n, m = mins.shape
    if same is None:                                             # same[k, i, j]: identical points
        weakly = weakly_dominates_batch(mins)
        same = weakly & weakly.transpose(0, 2, 1)
    earlier = np.tril(np.ones((n, n), dtype=bool), k=-1)         # earlier[i, j]: j < i
    copy = (same & earlier[None] & members[:, None, :]).any(axis=2) & members
    unique = members & ~copy
    count = unique.sum(axis=1)
    crowd = np.zeros((b, n))
    pos = np.arange(n)[None, :]
    for j in range(m):
        vals = np.where(unique, mins[:, :, j], np.inf)
        order = np.argsort(vals, axis=1, kind="stable")          # unique members first, ascending
        srt = np.take_along_axis(vals, order, axis=1)
        hi = np.where(unique, mins[:, :, j], -np.inf).max(axis=1)
        span = np.where(count > 0, hi - srt[:, 0], 0.0)
        prev = np.concatenate([np.full((b, 1), np.nan), srt[:, :-1]], axis=1)
        nxt = np.concatenate([srt[:, 1:], np.full((b, 1), np.nan)], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.where(span[:, None] > 0, (nxt - prev) / span[:, None], 0.0)
        edge = (pos == 0) | (pos == count[:, None] - 1)
        contrib = np.where(span[:, None] > 0, np.where(edge, np.inf, gap), 0.0)
        contrib = np.where(pos < count[:, None], contrib, 0.0)
        unsorted = np.empty_like(contrib)
        np.put_along_axis(unsorted, order, contrib, axis=1)
        crowd += unsorted
    return np.where(unique, crowd, 0.0)
