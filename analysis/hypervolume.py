"""Exact hypervolume for any number of objectives, with an explicit reference point.

The hypervolume of a set of points is the volume of objective space they dominate, bounded by a
reference point that every counted point must beat in every objective. Larger is better; it grows when
the front moves outwards or fills in, which is why a study logs it per trial.

Algorithm: everything is turned into minimisation first (:func:`~analysis.pareto.as_minimisation`).
2-D is a sweep: sort by the first objective and add one rectangle per point up to the running minimum
of the second. Higher dimensions use HSO slicing (While et al. 2006): sort by the last objective, cut
the space into slabs between consecutive values and add each slab's thickness times the
(d-1)-dimensional hypervolume of the points at or below it. That is exact, and for a few hundred points
in 3-D it is a few hundred vectorised 2-D sweeps.

Default reference point (:func:`reference_point`), stated in every output that reports a hypervolume:
a maximised objective (accuracy, a fraction) uses 0, its worst possible value; a minimised objective
(MACs, params, latency) uses the budget given for it, else 1.1 x the largest value seen. For accuracy
vs MACs that is (val_top1 = 0, MACs = 1.1 x max MACs seen): every finished trial counts, including the
costliest one. Pass a fixed budget when hypervolumes from different moments must be compared.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .pareto import as_minimisation, check_directions, domination_matrix

REFERENCE_RULE = ("reference point: 0 for maximised objectives; for minimised ones the stated budget, "
                  "else 1.1 x the largest value seen")
FIXED_REFERENCE_RULE = "reference point fixed at the study's start (study.yaml: hypervolume_reference)"


def hypervolume(points, reference: Sequence[float], directions: Sequence[str] | None = None) -> float:
    """Volume dominated by ``points`` and bounded by ``reference``; both given in the objectives' own
    units and directions (default: all minimised). Points not strictly better than the reference in
    every objective add nothing. Empty input gives 0.0."""
    reference = np.asarray(reference, dtype=float)
    if reference.ndim != 1 or not np.isfinite(reference).all():
        raise ValueError(f"reference must be a finite vector, got {reference!r}")
    directions = check_directions(directions or ("min",) * len(reference), len(reference))
    pts = as_minimisation(points, directions)
    ref = as_minimisation(reference[None, :], directions)[0]
    if len(pts) and pts.shape[1] != len(ref):
        raise ValueError(f"points have {pts.shape[1]} objectives but the reference has {len(ref)}")
    pts = pts[(pts < ref).all(axis=1)] if len(pts) else pts
    return float(_hv_min(pts, ref))


def _hv_min(pts: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of minimisation points that all strictly beat ``ref``."""
    n, d = pts.shape if pts.size else (0, len(ref))
    if n == 0:
        return 0.0
    if d == 1:
        return float(ref[0] - pts[:, 0].min())
    if d == 2:
        return _hv2d(pts, ref)
    pts = _non_dominated_unique(pts)
    pts = pts[np.argsort(pts[:, -1], kind="stable")]
    upper = np.append(pts[1:, -1], ref[-1])       # each slab runs from this point's last value to the next
    total = 0.0
    for i in range(len(pts)):
        thickness = upper[i] - pts[i, -1]
        if thickness > 0:
            total += thickness * _hv_min(pts[: i + 1, :-1], ref[:-1])
    return total


def _hv2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """2-D sweep; dominated points and duplicates are harmless (they add zero-height strips)."""
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    x, y = pts[order, 0], pts[order, 1]
    best_y = np.minimum.accumulate(y)
    widths = np.diff(np.append(x, ref[0]))
    return float(np.sum(widths * (ref[1] - best_y)))


def _non_dominated_unique(pts: np.ndarray) -> np.ndarray:
    pts = np.unique(pts, axis=0)
    return pts[~domination_matrix(pts).any(axis=0)]


def reference_point(objectives: Sequence[tuple[str, str]], values=None,
                    budgets: Mapping[str, float] | None = None) -> list[float]:
    """The default reference point (see module docstring) for ``objectives`` = [(metric, direction)],
    from ``values`` (an ``(n, m)`` array of the objectives over the trials seen) and optional
    ``budgets`` {metric: worst acceptable value} for minimised objectives."""
    directions = check_directions([d for _, d in objectives])
    arr = np.asarray(values if values is not None else [], dtype=float).reshape(-1, len(directions))
    budgets = budgets or {}
    ref = []
    for j, ((metric, _), direction) in enumerate(zip(objectives, directions)):
        if direction == "max":
            ref.append(0.0)
        elif metric in budgets:
            ref.append(float(budgets[metric]))
        else:
            col = arr[:, j][np.isfinite(arr[:, j])]
            largest = float(col.max()) if col.size else 0.0
            ref.append(largest + 0.1 * abs(largest) if largest else 1.0)
    return ref
