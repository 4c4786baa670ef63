"""Pareto-rank promotion: hand-worked rungs, and a property test against brute force over 100,000 random rungs
(2-64 trials, 2-4 objectives, mixed directions, ties and identical points)."""
import time

import numpy as np
import pytest

from analysis.rungs import crowding_batch, promote, promote_batch, rung_quota

MAXMIN = ["max", "min"]


def test_quota_is_the_best_one_over_eta_rounded_up():
    assert [rung_quota(n, 3) for n in range(1, 8)] == [1, 1, 1, 2, 2, 2, 3]
    assert rung_quota(0, 3) == 0 and rung_quota(4, 2) == 2 and rung_quota(5, 2.5) == 2
    with pytest.raises(ValueError):
        rung_quota(3, 1)


def test_fronts_whole_then_crowding_then_index():
    # A (.5, 1M) B (.6, 3M) C (.4, 2M: dominated by A) D (.9, 10M) E (.7, 5M) F = E (a copy)
    pts = [[0.5, 1], [0.6, 3], [0.4, 2], [0.9, 10], [0.7, 5], [0.7, 5]]
    # front 0 = A B D E F > quota 3: A and D are extremes (inf); E's gaps (.2/.4 + 7/9) beat B's (.1/.4... )
    assert promote(pts, MAXMIN, quota=3).tolist() == [True, False, False, True, True, False]
    # quota 5: front 0 has 5 members, taken whole
    assert promote(pts, MAXMIN, quota=5).tolist() == [True, True, False, True, True, True]
    # quota 6: everything
    assert promote(pts, MAXMIN, quota=6).all()
    # two extremes, one slot: the lower index wins
    assert promote([[0.5, 1], [0.6, 3]], MAXMIN, eta=3).tolist() == [True, False]
    assert promote([[0.6, 3], [0.5, 1]], MAXMIN, eta=3).tolist() == [True, False]
    # a copy adds no spread: the earlier of two identical points goes first
    assert promote([[0.5, 1], [0.5, 1], [0.5, 1]], MAXMIN, quota=2).tolist() == [True, True, False]


def test_single_objective_is_top_quota():
    acc = np.array([[0.3], [0.9], [0.5], [0.9], [0.1]])
    assert promote(acc, ["max"], quota=2).tolist() == [False, True, False, True, False]
    assert promote(acc, ["max"], quota=1).tolist() == [False, True, False, False, False]


def test_cheap_slow_learner_survives_where_accuracy_alone_would_stop_it():
    # the cheapest trial has the worst early accuracy: accuracy-only ASHA stops it, the Pareto rank keeps it
    pts = [[0.60, 10e6], [0.55, 6e6], [0.20, 0.8e6], [0.50, 9e6], [0.40, 7e6], [0.58, 11e6]]
    assert promote(pts, MAXMIN, eta=3).tolist()[2] is True
    assert promote([[p[0]] for p in pts], ["max"], eta=3).tolist()[2] is False


def test_crowding_extremes_and_flat_objectives():
    mins = np.array([[[0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0]]])
    c = crowding_batch(mins, np.ones((1, 4), dtype=bool))[0]
    assert np.isinf(c[0]) and np.isinf(c[3]) and c[1] == pytest.approx(2 / 3 + 2 / 3)
    flat = np.array([[[1.0, 5.0], [1.0, 6.0], [1.0, 7.0]]])        # first objective equal everywhere
    c = crowding_batch(flat, np.ones((1, 3), dtype=bool))[0]
    assert np.isinf(c[0]) and np.isinf(c[2]) and c[1] == pytest.approx(1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="exactly one"):
        promote([[1, 2]], MAXMIN)
    with pytest.raises(ValueError, match="quota"):
        promote([[1, 2]], MAXMIN, quota=2)
    with pytest.raises(ValueError, match="NaN"):
        promote([[np.nan, 2]], MAXMIN, quota=1)


def _random_rungs(rng, b, n, m):
    """Points on a coarse grid (ties), with some rows copied (identical points) and some rungs all equal."""
    levels = rng.integers(2, 12)
    pts = rng.integers(0, levels, size=(b, n, m)).astype(float) / levels
    copies = rng.random((b, n)) < 0.2
    src = rng.integers(0, n, size=(b, n))
    pts = np.where(copies[:, :, None], np.take_along_axis(pts, src[:, :, None].repeat(m, 2), axis=1), pts)
    pts[rng.random(b) < 0.02] = 0.5                                   # a rung of identical points
    return pts


def _brute_force_check(pts, directions, quotas, mask):
    """Every property, by exhaustive pairwise comparison."""
    sign = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    mins = pts * sign
    b, n, m = pts.shape
    no_worse = np.ones((b, n, n), dtype=bool)
    better = np.zeros((b, n, n), dtype=bool)
    for j in range(m):                                                # every pair, objective by objective
        no_worse &= mins[:, :, None, j] <= mins[:, None, :, j]
        better |= mins[:, :, None, j] < mins[:, None, :, j]
    dom = no_worse & better                                           # dom[k, i, j]: i dominates j
    # 1. exactly the quota
    assert (mask.sum(1) == quotas).all()
    # 2. no stopped trial dominates a promoted one
    stopped_dominates_promoted = dom & (~mask)[:, :, None] & mask[:, None, :]
    assert not stopped_dominates_promoted.any()
    # 3. a trial that dominates every other trial of its rung is promoted
    others = ~np.eye(n, dtype=bool)[None]
    dominates_all = (dom | ~others).all(axis=2)
    assert not (dominates_all & ~mask).any()
    # 4. while the first front fits the quota, every non-dominated trial is promoted
    nondominated = ~dom.any(axis=1)
    fits = nondominated.sum(1) <= quotas
    assert not (nondominated & ~mask & fits[:, None]).any()
    return int(fits.sum())


def test_property_against_brute_force_100k_rungs():
    rng = np.random.default_rng(20261201)
    total, fitting, t0 = 0, 0, time.perf_counter()
    per_shape = 100_000 // (63 * 3) + 1
    for n in range(2, 65):
        for m in (2, 3, 4):
            directions = [("max", "min")[k] for k in rng.integers(0, 2, size=m)]
            pts = _random_rungs(rng, per_shape, n, m)
            eta = rng.choice([2, 3, 4, 2.5])
            quotas = np.array([rung_quota(n, eta)] * per_shape)
            quotas[rng.random(per_shape) < 0.3] = rng.integers(1, n + 1)  # also other quotas >= 1
            mask = promote_batch(pts, directions, quotas)
            fitting += _brute_force_check(pts, directions, quotas, mask)
            total += per_shape
    assert total >= 100_000
    assert fitting > 1000                       # property 4 really exercised
    # the batched form is the single-rung form
    for k in range(50):
        n, m = rng.integers(2, 20), rng.integers(2, 5)
        pts = _random_rungs(rng, 1, n, m)[0]
        dirs = ["max"] + ["min"] * (m - 1)
        q = rng.integers(0, n + 1)
        assert (promote(pts, dirs, quota=q) == promote_batch(pts[None], dirs, [q])[0]).all()
    print(f"{total} rungs checked in {time.perf_counter() - t0:.1f} s")
