"""What a stopped trial is told: its rung accuracy on the full-fidelity scale (remaining-error ratio)."""
import pytest

from analysis.fidelity import calibration_pairs, corrected_accuracy, error_ratio


def test_error_ratio_is_the_median_of_remaining_error():
    # (acc_t, acc_T): errors .5 -> .1 (0.2), .4 -> .2 (0.5), .6 -> .3 (0.5)
    assert error_ratio([(0.5, 0.9), (0.6, 0.8), (0.4, 0.7)]) == pytest.approx(0.5)
    assert error_ratio([]) == 1.0
    assert error_ratio([(1.0, 1.0)]) == 1.0                      # undefined: skipped


def test_corrected_accuracy_keeps_order_and_range():
    pairs = [(0.5, 0.9), (0.6, 0.92)]
    told = [corrected_accuracy(a, pairs) for a in (0.1, 0.3, 0.5, 0.7, 0.95)]
    assert told == sorted(told) and all(0 <= t <= 1 for t in told)
    assert corrected_accuracy(0.5, pairs) == pytest.approx(1 - 0.5 * 0.2)    # both pairs keep 20 % of the error
    assert corrected_accuracy(0.42, []) == pytest.approx(0.42)               # no calibration: as measured
    assert corrected_accuracy(0.2, [(0.9, 0.5)]) == 0.0                      # a worse final is told too, clipped


def test_calibration_pairs_need_both_epochs():
    histories = [{2: 0.5, 5: 0.9}, {2: 0.4}, {2: 0.3, 5: float("nan")}, {1: 0.2, 2: 0.6, 5: 0.95}]
    assert calibration_pairs(histories, 2, 5) == [(0.5, 0.9), (0.6, 0.95)]
