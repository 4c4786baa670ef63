"""The ``grid`` sampler: every distinct architecture of a small space exactly once, in a stated order.

Order: depth-first over the space's define-by-run walk (the dimensions in the space's walk order, each
dimension's choices in the order the space lists them, the first dimension outermost), so a grid study
trains its points in the order the YAML reads, like the rows of a paper's table. Where two walks build the
same canonical architecture (``ArchConfig.hash``; e.g. a stage mask that switches attention off), only the
first is a grid point, so no point is suggested twice.

:func:`grid_points` enumerates the points once (the parameters Optuna will be asked, per point), and
:class:`GridSampler`, an ``optuna.samplers.BaseSampler`` (public API: ``sample_independent`` over the
study's stored trials), hands each new trial the first point that no stored trial has taken yet. It keeps no
state of its own beyond the point list, so a resumed study (a new sampler object) continues where the killed
one stopped. Optuna's ``BruteForceSampler`` also covers conditional spaces, but in a random order and
without knowing that two parameter paths are one architecture.
"""
from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution

from search_space.errors import AttnasError

GRID_MAX_POINTS = 2000
"""The largest space the grid sampler enumerates (a walk per point); larger spaces need another sampler."""


class _WalkTrial:
    """A stand-in for an Optuna trial that answers the walk's questions from a path of choice indices
    (0 past its end) and records how many choices each question had."""

    def __init__(self, path: list[int]):
        self.path, self.widths, self.params = path, [], {}

    def _pick(self, name: str, values: list):
        k = len(self.widths)
        i = self.path[k] if k < len(self.path) else 0
        self.widths.append(len(values))
        self.params[name] = values[i]
        return values[i]

    def suggest_categorical(self, name, choices):
        return self._pick(name, list(choices))

    def suggest_int(self, name, low, high, step=1, log=False):
        return self._pick(name, list(range(int(low), int(high) + 1, int(step))))

    def suggest_float(self, name, low, high, step=None, log=False):
        if step is None:
            raise AttnasError(f"space: dimension {name!r} is continuous; allowed: the grid sampler needs every "
                              f"dimension finite (choices, or a range with a step)")
        n = int(round((high - low) / step))
        return self._pick(name, [float(v) for v in np.round(low + step * np.arange(n + 1), 12)])


def check_grid_size(space) -> int:
    """The space's number of distinct architectures, or one AttnasError line when the grid cannot take it."""
    size = space.size()
    if size is None:
        raise AttnasError("sampler.type: 'grid' needs a finite space, and this space has a continuous dimension; "
                          "allowed: nsga2, tpe, random, qmc, or choices / stepped ranges for every dimension")
    if size > GRID_MAX_POINTS:
        raise AttnasError(f"sampler.type: 'grid' enumerates every point, and this space has {size} architectures; "
                          f"allowed: a space of at most {GRID_MAX_POINTS} for grid, or nsga2, tpe, random, qmc")
    return size


def grid_points(space) -> list[dict]:
    """The Optuna parameters of every distinct architecture of ``space``, in grid order (module docstring)."""
    check_grid_size(space)
    points, seen, path = [], set(), []
    while True:
        walk = _WalkTrial(path)
        arch = space.suggest(walk, flat=False)
        if arch.hash not in seen:
            seen.add(arch.hash)
            points.append(dict(walk.params))
        # the next path: advance the deepest question that has a choice left (an odometer over the walk)
        taken = path + [0] * (len(walk.widths) - len(path))
        k = len(taken) - 1
        while k >= 0 and taken[k] + 1 >= walk.widths[k]:
            k -= 1
        if k < 0:
            return points
        path = taken[:k] + [taken[k] + 1]


def _key(params: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


class GridSampler(optuna.samplers.BaseSampler):
    """Hands each trial the first of ``points`` (from :func:`grid_points`) that no other trial of the study
    has taken; once all are taken it falls back to the first point's values (the study ends before that:
    its searcher stops once every architecture has been suggested)."""

    def __init__(self, points: list[dict]):
        self.points = list(points)
        self._chosen: dict[int, dict] = {}

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def _point_for(self, study, trial) -> dict:
        if trial.number not in self._chosen:
            taken = {_key(t.params) for t in study.get_trials(deepcopy=False) if t.number != trial.number}
            self._chosen[trial.number] = next((p for p in self.points if _key(p) not in taken),
                                              self.points[0] if self.points else {})
        return self._chosen[trial.number]

    def sample_independent(self, study, trial, param_name, param_distribution):
        point = self._point_for(study, trial)
        if param_name in point:
            return point[param_name]
        if isinstance(param_distribution, CategoricalDistribution):
            return param_distribution.choices[0]
        return param_distribution.low
