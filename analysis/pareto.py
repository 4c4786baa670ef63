"""Non-dominated sorting for any number of objectives, each maximised or minimised.

Deb et al.'s fast non-dominated sort (NSGA-II, 2002): rank 0 is the Pareto front, rank 1 the front once
rank 0 is removed, and so on. Points are compared after turning every objective into one to minimise,
so ``directions`` is the only place "max"/"min" is spelled out. Equal points do not dominate each other:
duplicates share a rank, and every front lists its indices in ascending order, so the output depends
only on the input, never on hashing or sort stability.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from search_space.errors import AttnasError

DIRECTIONS = ("max", "min")


def check_directions(directions: Sequence[str], n_objectives: int | None = None) -> tuple[str, ...]:
    """Validate ``directions`` (one "max"/"min" per objective) and return them as a tuple."""
    directions = tuple(directions)
    for d in directions:
        if d not in DIRECTIONS:
            raise AttnasError(f"objectives.direction: {d!r} is not allowed; allowed: {', '.join(DIRECTIONS)}")
    if not directions:
        raise AttnasError("objectives: [] is not allowed; allowed: at least one (metric, direction) pair")
    if n_objectives is not None and n_objectives != len(directions):
        raise ValueError(f"points have {n_objectives} objectives but {len(directions)} directions were given")
    return directions


def as_minimisation(points, directions: Sequence[str]) -> np.ndarray:
    """``points`` as an ``(n, m)`` float array in which every objective is to be minimised (max columns
    negated). Raises ValueError on NaN/inf: callers drop incomplete trials before sorting."""
    arr = np.asarray(points, dtype=float)
    if arr.size == 0:
        return arr.reshape(0, len(tuple(directions)))
    if arr.ndim != 2:
        raise ValueError(f"points must be an (n, m) array, got shape {arr.shape}")
    directions = check_directions(directions, arr.shape[1])
    if not np.isfinite(arr).all():
        raise ValueError("points contain NaN or inf; drop trials without every objective first")
    sign = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    return arr * sign


def domination_matrix(minimised: np.ndarray) -> np.ndarray:
    """``D[i, j]`` is True when point ``i`` dominates point ``j`` (no worse anywhere, better somewhere)."""
    a = minimised[:, None, :]
    b = minimised[None, :, :]
    return (a <= b).all(axis=2) & (a < b).any(axis=2)


def non_dominated_sort(points, directions: Sequence[str]) -> list[list[int]]:
    """Fronts of indices into ``points``, best first; each front sorted ascending."""
    minimised = as_minimisation(points, directions)
    n = len(minimised)
    if n == 0:
        return []
    dominates = domination_matrix(minimised)
    dominated_by = dominates.sum(axis=0)          # how many points dominate each point
    fronts = []
    current = np.flatnonzero(dominated_by == 0)
    while current.size:
        fronts.append(current.tolist())
        dominated_by = dominated_by - dominates[current].sum(axis=0)
        dominated_by[current] = -1                # placed: never selected again
        current = np.flatnonzero(dominated_by == 0)
    return fronts


def pareto_ranks(points, directions: Sequence[str]) -> list[int]:
    """The front number (0 = Pareto-optimal) of every point, in input order."""
    ranks = [0] * len(np.asarray(points, dtype=float))
    for rank, front in enumerate(non_dominated_sort(points, directions)):
        for i in front:
            ranks[i] = rank
    return ranks


def pareto_front(points, directions: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points (duplicates of a front point included), ascending."""
    fronts = non_dominated_sort(points, directions)
    return fronts[0] if fronts else []
