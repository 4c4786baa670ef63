"""Best-so-far fronts and the hypervolume-over-trials curve."""
import numpy as np
import pytest

from analysis.fronts import front_history, hypervolume_history
from analysis.trials import TrialRecord

OBJ = [("val_top1", "max"), ("macs", "min")]


def rec(number, acc, macs, status="finished"):
    return TrialRecord(f"t{number}", number, {}, "h", status, metrics={"val_top1": acc, "macs": macs})


def test_hand_computed_history():
    records = [rec(0, 0.5, 100), rec(1, 0.4, 150), rec(2, 0.9, 300, "stopped"), rec(3, 0.6, 50), rec(4, 0.8, 200)]
    steps = front_history(records, OBJ, reference=(0.0, 400))
    assert [s.front for s in steps] == [(0,), (0,), (0,), (3,), (3, 4)]
    # 0.5 x 300 = 150; 1 is dominated and 2 pruned (no change); 3 covers 0.6 x 350 = 210 and dominates 0;
    # 4 adds (0.8 - 0.6) x (400 - 200) = 40
    assert [s.hypervolume for s in steps] == pytest.approx([150, 150, 150, 210, 250])
    assert [s.last_trial for s in steps] == [0, 1, 2, 3, 4]


def test_default_reference_uses_all_records_and_curve_is_monotone():
    rng = np.random.default_rng(0)
    records = [rec(i, float(a), float(m)) for i, (a, m) in enumerate(zip(rng.random(40), rng.random(40) * 1e6))]
    hv = hypervolume_history(list(reversed(records)), OBJ)            # order comes from trial numbers
    assert len(hv) == 40 and hv[-1] > 0
    assert all(b >= a for a, b in zip(hv, hv[1:]))
    from analysis.hypervolume import hypervolume, reference_point
    values = [[r.metrics["val_top1"], r.metrics["macs"]] for r in records]
    assert hv[-1] == pytest.approx(hypervolume(values, reference_point(OBJ, values), ["max", "min"]))


def test_duplicates_join_the_front_and_empty_input():
    steps = front_history([rec(0, 0.5, 10), rec(1, 0.5, 10)], OBJ, reference=(0, 20))
    assert steps[-1].front == (0, 1) and steps[-1].hypervolume == pytest.approx(5.0)
    assert front_history([], OBJ) == []
