"""Hypervolumes worked out by hand, and a cross-check against a brute-force grid count."""
import numpy as np
import pytest

from analysis.hypervolume import hypervolume, reference_point


def test_2d_staircase():
    # min/min, reference (4, 4): strips x in [1,2) height 4-3=1, [2,3) height 2, [3,4) height 3 -> 1+2+3
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (4, 4)) == pytest.approx(6.0)


def test_duplicates_and_dominated_points_add_nothing():
    assert hypervolume([(1, 3), (1, 3), (2, 2), (3, 1), (3, 3), (2, 2)], (4, 4)) == pytest.approx(6.0)


def test_mixed_directions_accuracy_vs_macs():
    # A = (acc .9, 100 MACs), B = (acc .8, 50 MACs), reference (acc 0, 200 MACs):
    # A covers .9 x 100 = 90, B covers .8 x 150 = 120, both cover .8 x 100 = 80 -> 90 + 120 - 80 = 130
    assert hypervolume([(0.9, 100), (0.8, 50)], (0.0, 200), ["max", "min"]) == pytest.approx(130.0)


def test_3d_inclusion_exclusion():
    # reference (4,4,4). A=(1,1,3): 3*3*1=9; B=(3,3,1): 1*1*3=3; C=(2,2,2): 2*2*2=8.
    # A&B=[3,4]^3=1, A&C=[2,4]x[2,4]x[3,4]=4, B&C=[3,4]x[3,4]x[2,4]=2, A&B&C=1.
    assert hypervolume([(1, 1, 3), (3, 3, 1)], (4, 4, 4)) == pytest.approx(11.0)
    assert hypervolume([(1, 1, 3), (3, 3, 1), (2, 2, 2)], (4, 4, 4)) == pytest.approx(9 + 3 + 8 - 1 - 4 - 2 + 1)


def test_3d_mixed_directions():
    # maximise the first objective: (-1 -> 1) mirrors test_3d_inclusion_exclusion with reference -4 -> 4
    pts = [(-1, 1, 3), (-3, 3, 1), (-2, 2, 2)]
    assert hypervolume(pts, (-4, 4, 4), ["max", "min", "min"]) == pytest.approx(14.0)


def test_single_point_empty_and_outside_reference():
    assert hypervolume([(1, 2)], (3, 5)) == pytest.approx(6.0)
    assert hypervolume([], (3, 5)) == 0.0
    assert hypervolume([(5, 0), (3, 1)], (4, 4)) == pytest.approx(3.0)   # (5, 0) is beyond x = 4
    assert hypervolume([(4, 1)], (4, 4)) == 0.0                          # on the reference: no volume
    assert hypervolume([(2,), (3,)], (5,)) == pytest.approx(3.0)


def test_reference_point_default_and_budget():
    objectives = [("val_top1", "max"), ("macs", "min")]
    assert reference_point(objectives, [[0.9, 100], [0.8, 50]]) == pytest.approx([0.0, 110.0])
    assert reference_point(objectives, [[0.9, 100]], budgets={"macs": 500}) == [0.0, 500.0]
    assert reference_point(objectives, []) == [0.0, 1.0]


def test_reference_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        hypervolume([(1, 1)], (np.inf, 2))


def _grid_hypervolume(pts, ref):
    """Brute force: cut the box into the grid of all point coordinates and add every cell some point dominates."""
    axes = [np.unique(np.append(pts[:, j], ref[j])) for j in range(pts.shape[1])]
    lows = np.meshgrid(*[a[:-1] for a in axes], indexing="ij")
    sizes = np.meshgrid(*[np.diff(a) for a in axes], indexing="ij")
    cells = np.stack([g.ravel() for g in lows], axis=1)
    volume = np.prod(np.stack([g.ravel() for g in sizes], axis=1), axis=1)
    covered = np.zeros(len(cells), dtype=bool)
    for p in pts:
        covered |= (cells >= p).all(axis=1)
    return float(volume[covered].sum())


@pytest.mark.parametrize("d,n", [(3, 40), (4, 16)])
def test_matches_brute_force(d, n):
    rng = np.random.default_rng(d)
    pts = np.abs(rng.normal(size=(n, d)))
    pts = 1 - pts / np.linalg.norm(pts, axis=1, keepdims=True)       # a curved, mostly non-dominated front
    pts = np.vstack([pts, pts[:5], rng.random((6, d))])               # plus duplicates and dominated points
    ref = np.full(d, 1.1)
    assert hypervolume(pts, ref) == pytest.approx(_grid_hypervolume(pts, ref), rel=1e-9)
