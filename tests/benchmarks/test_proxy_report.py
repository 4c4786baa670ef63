"""The proxy report's statistics (benchmarks/proxy_report.py) on small hand-made tables, and one end-to-end run
on a recorded toy table."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

import proxy_report as report  # noqa: E402  (benchmarks/ on sys.path: conftest.py)


def test_macs_bins_are_equal_count_and_sorted_by_macs():
    macs = np.array([5, 1, 4, 2, 3, 9, 7], dtype=float)
    bins = report.macs_bins(macs, 3)
    assert [len(b) for b in bins] == [3, 2, 2]
    assert [sorted(macs[b].tolist()) for b in bins] == [[1, 2, 3], [4, 5], [7, 9]]


def test_binned_corr_sees_only_the_within_bin_order():
    """Accuracy rises with MACs across bins but falls with the score inside each: the global rho is positive for
    MACs, the binned one is -1 for the score and undefined (left out) for MACs, constant inside each bin."""
    macs = np.repeat([1.0, 2.0, 3.0], 5)
    acc = np.concatenate([b + np.linspace(0, 0.04, 5) for b in (0.5, 0.7, 0.9)])
    score = -acc
    bins = report.macs_bins(macs, 3)
    assert report.binned_corr(score, acc, bins) == pytest.approx((-1.0, -1.0))
    assert all(np.isnan(report.binned_corr(macs, acc, bins)))
    assert report._rank_corr(macs, acc)[0] > 0.9


def test_precision_at_top_ten_percent():
    acc = np.arange(30, dtype=float)                   # top 3: indices 27, 28, 29
    score = acc.copy()
    score[29] = -1                                     # one of the top 3 ranked last by the proxy
    assert report.precision_at(score, acc) == pytest.approx(2 / 3)
    assert report.precision_at(acc, acc) == 1.0


def test_prescreen_keeps_whole_fronts_then_the_best_scores_of_the_last():
    # (score max, MACs min): front 0 = {0, 1}, front 1 = {2, 3}, then 4, 5
    score = np.array([9.0, 5.0, 8.0, 4.0, 3.0, 1.0])
    macs = np.array([3.0, 1.0, 4.0, 2.0, 5.0, 6.0])
    assert sorted(report.prescreen(score, macs, keep=2 / 6).tolist()) == [0, 1]
    assert sorted(report.prescreen(score, macs, keep=3 / 6).tolist()) == [0, 1, 2]


def test_reference_point_is_the_front_nadir_pushed_out_by_ten_percent():
    acc = np.array([0.9, 0.8, 0.5, 0.7])
    macs = np.array([10.0, 5.0, 1.0, 8.0])              # front: all but (0.7, 8)
    ref = report.reference_point(acc, macs)
    assert ref == pytest.approx((0.5 - 0.04, 10.0 + 0.9))


def test_table_archs_keeps_architectures_with_every_seed():
    arch = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "attention": {"type": "se"},
            "num_classes": 10, "input_size": [1, 8, 8]}
    other = {**arch, "attention": {"type": "eca"}}
    recs = [{"arch": a, "seed": s, "val_top1": [0.1, v], "macs": 1.0, "params": 2}
            for a, s, v in ((arch, 0, 0.5), (arch, 1, 0.7), (other, 0, 0.9))]
    rows = report.table_archs(recs, [0, 1])
    assert len(rows) == 1 and rows[0]["acc"] == pytest.approx(0.6) and rows[0]["attention"] == "se"
