"""The best-so-far Pareto front and its hypervolume after each trial: the "hypervolume over trials" curve.

Trials are taken in order of their number. After trial k the front is the Pareto set of the finished
trials among the first k, and its hypervolume is measured against ONE reference point for the whole
curve (computed from all the given records unless passed in), so the curve never decreases.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .hypervolume import hypervolume, reference_point
from .pareto import as_minimisation, check_directions
from .trials import TrialRecord, front_candidates, objective_matrix


@dataclass(frozen=True)
class FrontStep:
    """The state after ``n_trials`` trials: front members' trial numbers (ascending) and hypervolume."""

    n_trials: int
    last_trial: int
    front: tuple[int, ...]
    hypervolume: float


def front_history(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]],
                  reference: Sequence[float] | None = None,
                  budgets: Mapping[str, float] | None = None) -> list[FrontStep]:
    """One :class:`FrontStep` per record, in trial-number order. ``reference`` defaults to
    :func:`~analysis.hypervolume.reference_point` over all candidates (with ``budgets`` if given)."""
    directions = check_directions([d for _, d in objectives])
    ordered = sorted(records, key=lambda r: r.number)
    eligible = front_candidates(ordered, objectives)
    candidates = {id(r) for r in eligible}
    if reference is None:
        reference = reference_point(objectives, objective_matrix(eligible, objectives), budgets)
    front: list[tuple[TrialRecord, tuple]] = []   # (record, its minimised objective vector)
    hv = 0.0
    steps = []
    for k, rec in enumerate(ordered, start=1):
        if id(rec) in candidates:
            point = tuple(as_minimisation(objective_matrix([rec], objectives), directions)[0])
            if not any(_dominates(other, point) for _, other in front):
                front = [(r, p) for r, p in front if not _dominates(point, p)] + [(rec, point)]
                hv = hypervolume([objective_matrix([r], objectives)[0] for r, _ in front], reference, directions)
        steps.append(FrontStep(k, rec.number, tuple(sorted(r.number for r, _ in front)), hv))
    return steps


def hypervolume_history(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]],
                        reference: Sequence[float] | None = None,
                        budgets: Mapping[str, float] | None = None) -> list[float]:
    """The hypervolume after each trial (see :func:`front_history`)."""
    return [s.hypervolume for s in front_history(records, objectives, reference, budgets)]


def _dominates(a: tuple, b: tuple) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
