"""Invariants of the search-efficiency replay (benchmarks/bench_search_efficiency.py) on a tiny synthetic pool:
the clock and epoch accounting, duplicates, the stopping rules and the metrics. The benchmark itself is not a
test; this only checks that its simulator counts what its docstring says."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
import pytest

ROOT = Path(__file__).resolve().parents[2]


import bench_search_efficiency as bench  # noqa: E402  (benchmarks/ on sys.path: conftest.py)
import record_search_pool as record  # noqa: E402

SPACE = {"name": "tiny", "fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.5, "activation": "relu",
                                   "num_classes": 10, "input_size": [1, 16, 16]},
         "dimensions": {"backbone.depth": [8, 14], "attention.type": ["none", "se", "eca"],
                        "attention.reduction": [4], "insertion_point": ["pre_add", "post_add"]}}
EPOCHS = 5


@pytest.fixture(scope="module")
def pool():
    from search_space.space import SearchSpace

    archs = record.enumerate_pool(SearchSpace.from_dict(SPACE))
    rng = np.random.default_rng(0)
    rows = []
    for i, a in enumerate(archs):
        macs = 1e6 * (1 + i)
        final = float(rng.uniform(0.3, 0.95))
        curve = [final * (e + 1) / EPOCHS for e in range(EPOCHS)]
        rows.append({"hash": a.hash, "arch": a.to_dict(), "params": 1, "macs": macs, "status": "finished",
                     "val_top1": curve, "epoch_time_s": [0.5 + 0.1 * i] * EPOCHS,
                     "epoch_cpu_s": [0.5 + 0.1 * i] * EPOCHS})
    header = {"format": record.FORMAT, "study": "studies/quickstart.yaml", "space": SPACE,
              "space_size": len(archs), "epochs": EPOCHS}
    return bench.Pool.from_rows(header, rows)


@pytest.fixture(scope="module")
def cfg():
    from studies.config import StudyConfig

    return StudyConfig.from_yaml(ROOT / "studies" / "quickstart.yaml").replace(trials=4)


def _monotone(xs) -> bool:
    return bool((np.diff(xs) >= -1e-12).all())


def _random(cfg, kind, seed, concurrency):
    return (lambda number: optuna.samplers.RandomSampler(seed=1000 * seed + number)), False


def test_pool_front_and_reference(pool):
    assert len(pool.records) == 10
    assert pool.reference == (0.0, pytest.approx(1.1 * 10e6))
    assert pool.hv_true > 0 and pool.front


def test_nadir_reference_bounds_the_true_front(pool):
    nadir = bench.Pool.from_rows(pool.header, list(pool.records.values()), reference="nadir")
    front = np.array([[nadir.records[h]["val_top1"][-1], nadir.records[h]["macs"]] for h in nadir.front])
    span = front.max(axis=0) - front.min(axis=0)
    assert nadir.reference == (pytest.approx(front[:, 0].min() - 0.1 * span[0]),
                               pytest.approx(front[:, 1].max() + 0.1 * span[1]))
    assert nadir.front == pool.front and 0 < nadir.hv_true < pool.hv_true


@pytest.mark.parametrize("concurrency", [1, 3])
def test_random_without_stopping_trains_every_architecture_once(pool, cfg, concurrency):
    horizon = EPOCHS * len(pool.records)
    r = bench.simulate(pool, bench.Method("random", "none"), 0, concurrency, horizon, cfg, sampler_factory=_random)
    assert r.trials == r.finished == len(pool.records) and r.stopped == 0
    assert r.epochs[-1] == horizon                 # duplicates cost no epochs: exactly 5 per distinct trial
    assert _monotone(r.hv) and r.hv[-1] == pytest.approx(1.0)
    assert r.clock == sorted(r.clock)
    serial = sum(sum(rec["epoch_cpu_s"]) for rec in pool.records.values())
    assert r.clock[-1] <= serial + 1e-9 and (concurrency > 1 or r.clock[-1] == pytest.approx(serial))
    assert 0 <= r.share_at_budget <= 1


@pytest.mark.parametrize("rule", ["asha", "moasha", "pareto"])
def test_stopping_rules_account_every_trial(pool, cfg, rule):
    horizon = EPOCHS * len(pool.records)
    r = bench.simulate(pool, bench.Method("random", rule), 1, 2, horizon, cfg, sampler_factory=_random)
    assert r.finished + r.stopped == r.trials <= len(pool.records)
    assert r.stopped > 0
    assert all(0 <= v <= 1 + 1e-12 for v in r.hv) and _monotone(r.hv)


def test_order_as_rank_stops_a_trial_that_dominates_its_rung():
    # arrival order: four trials, then one better and cheaper than all of them (it dominates the rung)
    rung = np.array([[0.50, 2.0], [0.40, 3.0], [0.45, 4.0], [0.30, 5.0], [0.90, 1.0]])
    assert not bench.go_on_moasha(rung, eta=3)             # stopped: the flaw the issue describes
    for rule in ("pareto", "asha"):                        # the study's schedulers promote it
        sched = bench.study_scheduler(rule, max_t=EPOCHS, grace_period=2, eta=3)
        decisions = [sched.record(str(i), i, 2, list(p[:len(sched.metrics)])) for i, p in enumerate(rung)]
        assert decisions[-1].promoted


def test_metrics_on_a_hand_trace():
    epochs, hv = [10, 20, 40], [0.5, 0.96, 1.0]
    assert bench.first_reach(epochs, hv, 0.95) == 20
    assert math.isinf(bench.first_reach(epochs, [0.1, 0.2, 0.3], 0.95))
    # 0 on [0,10), 0.5 on [10,20), 0.96 on [20,40), 1.0 on [40,50]
    assert bench.area(epochs, hv, 50) == pytest.approx((0.5 * 10 + 0.96 * 20 + 1.0 * 10) / 50)
    assert bench.area(epochs, hv, 15) == pytest.approx(0.5 * 5 / 15)


def test_rung_epochs():
    assert bench.rung_epochs(2, 3, 5) == [2]
    assert bench.rung_epochs(1, 3, 27) == [1, 3, 9]


def test_pool_is_keyed_by_the_current_canonical_hash(pool):
    """A pool recorded before a parameter was added (its arch dicts lack it, their hashes differ) still matches
    what the space suggests now."""
    rows = []
    for h, r in pool.records.items():
        arch = {**r["arch"], "backbone": {k: v for k, v in r["arch"]["backbone"].items() if k != "stem_stride"}}
        rows.append({**r, "arch": arch, "hash": "stale" + h[:7]})
    again = bench.Pool.from_rows(pool.header, rows)
    assert set(again.records) == set(pool.records) and again.front == pool.front
