"""analysis.effects: matched-by-MACs effects with bootstrap CIs, on records whose true effects are known."""
import csv
import math

import numpy as np
import pytest

from analysis import TrialRecord
from analysis.effects import arm_effects, dimension_effects, effects_lines, macs_bins, value_of, write_effects
from search_space import ArchConfig
from search_space.cost import estimate_cost

BASE = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.5}, "num_classes": 10, "input_size": [1, 16, 16]}


def records(n_rep=5, se_gain=0.05, seed=0):
    """Depth raises MACs and accuracy; SE adds +``se_gain`` at (almost) equal MACs. SE is tried mostly on the
    deep, accurate networks, so a plain SE-vs-none mean is inflated by depth; a MACs-matched one is not."""
    rng = np.random.default_rng(seed)
    out, n = [], 0
    for depth, acc0, se_share in ((8, 0.60, 0.2), (14, 0.70, 0.5), (20, 0.80, 0.8)):
        for k in range(10 * n_rep):
            se = k < se_share * 10 * n_rep
            att = {"type": "se", "reduction": 4} if se else {"type": "none"}
            arch = ArchConfig.from_dict({**BASE, "backbone": {**BASE["backbone"], "depth": depth}, "attention": att})
            acc = acc0 + (se_gain if se else 0.0) + rng.normal(0, 0.01)
            out.append(TrialRecord(f"t{n}", n, arch.to_dict(), arch.hash, "finished",
                                   metrics={"val_top1": acc, "macs": estimate_cost(arch).macs}))
            n += 1
    return out


def test_matched_effect_recovers_the_true_gain_where_the_naive_one_does_not():
    recs = records()
    rows = dimension_effects(recs, {"attention.type": ["none", "se"], "backbone.depth": [8, 14, 20]}, boot=300)
    se = next(r for r in rows if r["dimension"] == "attention.type")
    assert se["value"] == "se" and se["baseline"] == "none"
    assert se["ci_low"] <= 0.05 <= se["ci_high"] and abs(se["effect"] - 0.05) < 0.01
    accs = {v: [r.metrics["val_top1"] for r in recs if value_of(r.arch, "attention.type") == v] for v in ("se", "none")}
    assert np.mean(accs["se"]) - np.mean(accs["none"]) > 0.09           # the naive difference: depth leaks in
    assert se["n_value"] + se["n_baseline"] == len(recs) and se["pairs"] > 0
    # depth changes MACs: bins separate the depths, so there is nothing at equal cost to compare
    assert all(r["pairs"] == 0 and math.isnan(r["effect"]) for r in rows if r["dimension"] == "backbone.depth")


def test_dimensions_that_do_not_apply_are_left_out():
    recs = records(n_rep=2)
    # reduction exists only for SE trials; insertion_point only where attention is not none
    plain = next(r for r in recs if r.arch["attention"]["type"] == "none")
    assert value_of(plain.arch, "attention.reduction") is None and value_of(plain.arch, "insertion_point") is None
    se = next(r for r in recs if r.arch["attention"]["type"] == "se")
    assert value_of(se.arch, "attention.reduction") == "4" and value_of(se.arch, "insertion_point") == "pre_add"
    rows = dimension_effects(recs, {"attention.reduction": [4, 8], "insertion_point": ["pre_add", "post_add"]})
    assert rows == []          # one value each among the trials where they apply: no effect to estimate


def test_bins_and_baseline_fallback():
    assert macs_bins([1e6, 1.2e6, 1.6e6, 3e6]) == [34, 34, 35, 36]   # 1.5^34 = 0.98 M, 1.5^35 = 1.48 M
    assert macs_bins([1e6, 1.9e6], factor=2.0) == [19, 20]
    rows = dimension_effects(records(n_rep=2), {"attention.type": ["eca", "se", "none"]}, boot=50)
    assert rows[0]["baseline"] == "none" or rows[0]["baseline"] == "se"   # eca never tried: the most tried value


def test_arms_without_and_with_replicates():
    arch = ArchConfig.from_dict(BASE)
    rec = lambda i, arm, acc: TrialRecord(f"ref-{arm}-{i}", -1 - i, arch.to_dict(), arch.hash, "finished",  # noqa: E731
                                          metrics={"val_top1": acc}, is_reference=True, reference_name=arm)
    rows = arm_effects([rec(0, "base", 0.7), rec(1, "se", 0.75)], ["base", "se"])
    assert rows[0]["effect"] == pytest.approx(0.05) and math.isnan(rows[0]["ci_low"]) and rows[0]["pairs"] == 1
    reps = [rec(i, "base", 0.70 + 0.01 * (i % 3)) for i in range(6)] + [rec(10 + i, "se", 0.76 + 0.01 * (i % 3))
                                                                       for i in range(6)]
    (row,) = arm_effects(reps, ["base", "se"], boot=300)
    assert row["effect"] == pytest.approx(0.06) and row["ci_low"] < 0.06 < row["ci_high"] and row["pairs"] == 36
    assert "no CI: fewer than 2 trials a side" in effects_lines(rows)[0] and "95% CI" in effects_lines([row])[0]
    big_single = {**rows[0], "effect": 0.5}
    assert effects_lines([big_single, row])[0].startswith("arm = se vs base: +6.0")   # a CI'd row first


def test_write_effects_files(tmp_path):
    rows = dimension_effects(records(n_rep=2), {"attention.type": ["none", "se"]}, boot=50,
                             importance={"attention.type": 0.7, "backbone.depth": 0.3})
    paths = write_effects(rows, tmp_path, title="t", importance={"attention.type": 0.7, "backbone.depth": 0.3})
    assert [p.name for p in paths] == ["effects.csv", "effects.png"] and paths[1].stat().st_size > 5000
    table = list(csv.DictReader(open(paths[0])))
    assert table[0]["dimension"] == "attention.type" and float(table[0]["importance"]) == 0.7
    assert table[1]["dimension"] == "backbone.depth" and table[1]["pairs"] == "0"
