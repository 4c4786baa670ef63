"""Non-dominated sorting on fronts worked out by hand."""
import pytest

from analysis.pareto import as_minimisation, non_dominated_sort, pareto_front, pareto_ranks
from search_space.errors import AttnasError

# (val_top1 max, macs min). By hand: 2 = (0.85, 120) is beaten by 0 = (0.90, 100) on both; 4 = (0.70, 50) is
# beaten by 1 = (0.80, 50) on accuracy at equal MACs; 3 duplicates 0, so neither dominates the other.
ACC_MACS = [(0.90, 100), (0.80, 50), (0.85, 120), (0.90, 100), (0.70, 50), (0.95, 300)]


def test_mixed_directions_with_duplicates():
    assert non_dominated_sort(ACC_MACS, ["max", "min"]) == [[0, 1, 3, 5], [2, 4]]
    assert pareto_front(ACC_MACS, ["max", "min"]) == [0, 1, 3, 5]
    assert pareto_ranks(ACC_MACS, ["max", "min"]) == [0, 0, 1, 0, 1, 0]


def test_flipping_a_direction_changes_the_front():
    # maximising MACs too: 5 = (0.95, 300) beats everything
    assert non_dominated_sort(ACC_MACS, ["max", "max"])[0] == [5]


def test_chain_gives_one_front_per_point():
    assert non_dominated_sort([(3, 3), (1, 1), (2, 2)], ["min", "min"]) == [[1], [2], [0]]


def test_three_objectives():
    # (2,3,3) is dominated by (2,2,2) and by (1,2,3); the other three are mutually incomparable
    pts = [(1, 2, 3), (3, 2, 1), (2, 2, 2), (2, 3, 3)]
    assert non_dominated_sort(pts, ["min"] * 3) == [[0, 1, 2], [3]]


def test_single_and_empty():
    assert non_dominated_sort([(0.5, 10)], ["max", "min"]) == [[0]]
    assert non_dominated_sort([], ["max", "min"]) == []
    assert pareto_front([], ["max", "min"]) == []
    assert pareto_ranks([], ["max"]) == []


def test_all_identical_points_share_the_front():
    assert pareto_front([(1, 1)] * 4, ["min", "min"]) == [0, 1, 2, 3]


def test_as_minimisation_negates_max_columns():
    assert as_minimisation([(0.9, 100)], ["max", "min"]).tolist() == [[-0.9, 100.0]]


def test_bad_inputs():
    with pytest.raises(AttnasError, match=r"objectives.direction: 'maximise' is not allowed; allowed: max, min"):
        pareto_front([(1, 2)], ["maximise", "min"])
    with pytest.raises(ValueError, match="2 objectives but 3 directions"):
        pareto_front([(1, 2)], ["min"] * 3)
    with pytest.raises(ValueError, match="NaN"):
        pareto_front([(float("nan"), 2)], ["min", "min"])
