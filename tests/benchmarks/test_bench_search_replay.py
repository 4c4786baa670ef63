"""The tabulated-benchmark replay (benchmarks/bench_search_replay.py) on small synthetic tables with seeds: the
random walk's probabilities, the seed-mean ground truth and reference point, one recorded seed per evaluation
scored on the mean, the compute accounting, the anytime metrics and the gates."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


import bench_search_replay as bench  # noqa: E402  (benchmarks/ on sys.path: conftest.py)

SPACE = {"name": "tiny", "fixed": {"backbone.type": "resnet_cifar", "activation": "relu",
                                   "num_classes": 10, "input_size": [1, 16, 16]},
         "dimensions": {"backbone.depth": [8, 14], "backbone.width": [0.25, 0.5],
                        "attention.type": ["none", "se", "eca"], "attention.reduction": [2, 4],
                        "insertion_point": ["pre_add", "post_add"]}}
EPOCHS = 4
SEEDS = 3


def synthetic_rows(space_dict: dict, seeds: int, epochs: int, noise: float = 0.01, seed: int = 0) -> tuple:
    """``(header, rows)`` of a table over every architecture of ``space_dict``: accuracy rises with a hidden
    per-architecture quality, MACs are distinct, each seed adds noise; epoch costs grow with MACs."""
    from search_space.space import SearchSpace

    space = SearchSpace.from_dict(space_dict)
    rng = np.random.default_rng(seed)
    rows = []
    for i, a in enumerate(space.configs()):
        macs = 1e6 * (1 + i + rng.random())
        quality = float(rng.uniform(0.5, 0.95))
        for s in range(seeds):
            final = min(0.999, quality + noise * rng.standard_normal())
            curve = [round(final * (0.6 + 0.4 * (e + 1) / epochs), 6) for e in range(epochs)]
            cost = [0.1 + macs / 1e7] * epochs
            rows.append({"hash": a.hash, "arch": a.to_dict(), "seed": s, "params": 1, "macs": macs,
                         "status": "finished", "val_top1": curve, "epoch_cpu_s": cost, "epoch_time_s": cost})
    header = {"format": "attnas-search-pool/3", "study": "studies/quickstart.yaml", "space": space_dict,
              "space_size": space.size(), "epochs": epochs, "seed": 0, "seeds": list(range(seeds)),
              "data": {"name": "digits", "image_size": 16}}
    return header, rows


@pytest.fixture(scope="module")
def rows():
    return synthetic_rows(SPACE, SEEDS, EPOCHS)


@pytest.fixture(scope="module")
def table(rows):
    return bench.Table.from_rows(*rows)


@pytest.fixture(scope="module")
def walk(table):
    probs, params = bench.walk_probabilities(table.space)
    return np.array([probs[h] for h in table.hashes]), params


@pytest.fixture(scope="module")
def cfg():
    from studies.config import StudyConfig

    return StudyConfig.from_yaml(ROOT / "studies" / "quickstart.yaml")


def test_walk_probabilities_match_random_sampling(table, walk):
    weights, params = walk
    assert weights.sum() == pytest.approx(1.0)
    assert len(weights) == table.space.size() and set(params) == set(table.hashes)
    # the walk asks reduction only under se/eca: 'none' archs are 4x as likely as each se or eca arch
    none = [i for i, h in enumerate(table.hashes) if json.loads(json.dumps(params[h]))["attention.type"] == "none"]
    assert weights[none].sum() == pytest.approx(1 / 3)
    rng = np.random.default_rng(1)
    index = {h: i for i, h in enumerate(table.hashes)}
    n = 6000
    counts = np.bincount([index[table.space.sample(rng).hash] for _ in range(n)], minlength=len(weights))
    expected = weights * n
    assert (np.abs(counts - expected) < 5 * np.sqrt(expected) + 1).all()


def test_random_order_is_weighted_sampling_without_repeats():
    w = np.array([0.7, 0.2, 0.1])
    rng = np.random.default_rng(0)
    firsts = np.bincount([bench.random_order(w, rng)[0] for _ in range(4000)], minlength=3) / 4000
    assert firsts == pytest.approx(w, abs=0.03)
    order = bench.random_order(w, rng)
    assert sorted(order) == [0, 1, 2]


def test_ground_truth_is_the_seed_mean_front(table, rows):
    header, recs = rows
    assert table.size == len(recs) // SEEDS and (table.seeds_per_arch() == SEEDS).all()
    i = table.hashes.index(recs[0]["hash"]) if recs[0]["hash"] in table.hashes else 0
    finals = [r["val_top1"][-1] for r in recs if r["hash"] == table.hashes[i]]
    assert table.mean_acc[i] == pytest.approx(np.mean(finals))
    pts = np.column_stack([table.mean_acc, table.macs])
    for j in table.front:                 # nothing dominates a front member
        assert not ((pts[:, 0] >= pts[j, 0]) & (pts[:, 1] <= pts[j, 1]) & (pts != pts[j]).any(axis=1)).any()
    fp = pts[table.front]
    span = fp.max(axis=0) - fp.min(axis=0)
    assert table.reference == (pytest.approx(fp[:, 0].min() - 0.1 * span[0]),
                               pytest.approx(fp[:, 1].max() + 0.1 * span[1]))
    assert table.hv_fraction(table.front) == pytest.approx(1.0)
    assert table.total_cost == pytest.approx(sum(c.sum(axis=1).mean() for c in table.costs))


def test_read_table_skips_a_torn_last_line_and_defaults_the_seed(tmp_path, rows):
    header, recs = rows
    path = tmp_path / "t.jsonl"
    old = {**header, "format": "attnas-search-pool/2", "seed": 5}
    body = [json.dumps({k: v for k, v in r.items() if k != "seed"}) for r in recs[:4]]
    path.write_text("\n".join([json.dumps(old)] + body) + "\n" + body[0][:30])
    h, got = bench.read_table(path)
    assert len(got) == 4 and all(r["seed"] == 5 for r in got)


def test_random_trains_every_architecture_once_and_scores_the_mean(table, walk, cfg):
    weights, params = walk
    t = bench.simulate(table, cfg, bench.Method("random", "none"), 3, table.total_cost * 10, weights, params)
    assert t.trials == table.size and t.stopped == 0 and t.end == "table exhausted"
    assert t.hv[-1] == pytest.approx(1.0) and (np.diff(t.hv) > 0).all() and (np.diff(t.spent) >= 0).all()
    draws = bench.seed_draws(table, 3)
    assert t.spent[-1] <= sum(c[d].sum() for c, d in zip(table.costs, draws)) + 1e-9
    assert len(set(draws)) > 1                       # the runs see different recorded seeds


def test_the_searcher_sees_one_recorded_seed_but_the_score_is_the_mean(cfg, walk, monkeypatch):
    """The cheapest architecture's drawn seed reaches 0.999 and its other seed 0.8: the searcher is told
    0.999, the front is scored with the mean 0.8995."""
    header, recs = synthetic_rows(SPACE, 2, EPOCHS, noise=0.0)
    first = bench.Table.from_rows(header, recs)
    i = int(np.argmin(first.macs))
    d = int(bench.seed_draws(first, 0)[i])
    for r in recs:
        if r["hash"] == first.hashes[i]:
            r["val_top1"] = r["val_top1"][:-1] + [0.999 if r["seed"] == d else 0.8]
    table = bench.Table.from_rows(header, recs)
    assert table.mean_acc[i] == pytest.approx(0.8995)
    told = []

    class Spy(bench.OrderProposer):
        def tell(self, trial, values):
            told.append(values)

    monkeypatch.setattr(bench, "OrderProposer", lambda order: Spy(np.array([i])))
    weights, params = walk
    t = bench.simulate(table, cfg, bench.Method("random", "none"), 0, 1e9, weights, params)
    assert told == [[0.999, table.macs[i]]]
    on_mean = table.hv_fraction([i])
    on_told = bench.hypervolume([[0.999, table.macs[i]]], table.reference, bench.DIRECTIONS) / table.hv_star
    assert on_mean < on_told and t.hv == [pytest.approx(on_mean)]


def test_seed_draws_are_paired_across_methods(table):
    assert (bench.seed_draws(table, 4) == bench.seed_draws(table, 4)).all()
    assert not all((bench.seed_draws(table, 4) == bench.seed_draws(table, s)).all() for s in range(5, 9))


@pytest.mark.parametrize("sampler", ["random", "nsga2", "tpe", "qmc"])
@pytest.mark.parametrize("scheduler", ["asha", "pareto_sh"])
def test_schedulers_stop_trials_that_never_enter_the_front(table, walk, cfg, sampler, scheduler):
    weights, params = walk
    horizon = 0.5 * table.total_cost
    t = bench.simulate(table, cfg, bench.Method(sampler, scheduler), 1, horizon, weights, params)
    assert t.stopped > 0 and t.trials <= table.size
    assert all(0 < v <= 1 + 1e-12 for v in t.hv) and (np.diff(t.hv) > 0).all()
    assert t.end in ("horizon", "table exhausted") or "nothing new" in t.end
    assert len(t.finished) + t.stopped <= t.trials == len(t.started) == len(set(t.started))
    assert t.trials - len(t.finished) - t.stopped <= cfg.concurrency       # still running at the horizon
    assert t.hv[-1] == pytest.approx(table.hv_fraction(t.finished))        # stopped trials are not scored


def test_warm_start_is_evaluated_first(table, walk, cfg):
    weights, params = walk
    warm = tuple(int(i) for i in table.front[:2])
    for sampler in ("random", "tpe", "nsga2"):
        t = bench.simulate(table, cfg, bench.Method(sampler, "none", warm=warm), 2, 0.3 * table.total_cost,
                           weights, params)
        assert t.started[:2] == list(warm) and len(set(t.started)) == len(t.started) > 2


def test_mean_log_regret_on_a_hand_trace():
    t = bench.Trace(spent=[10.0, 30.0], hv=[0.9, 1.0])
    # [0,10): regret 1 -> 0; [10,30): 0.1 -> -1; [30,40]: floored -> -4
    assert bench.mean_log_regret(t, 40.0) == pytest.approx((0 * 10 - 1 * 20 - 4 * 10) / 40)
    assert bench.mean_log_regret(t, 5.0) == 0.0
    assert t.at(9.9) == 0.0 and t.at(10.0) == 0.9 and t.at(100) == 1.0


def test_speedup_reads_randoms_median_curve():
    # random reaches 0.5 at 20 and 0.8 at 60 in every run; a method at 0.8 by budget 10 is 6x faster
    rnd = [bench.Trace(spent=[20.0, 60.0], hv=[0.5, 0.8]) for _ in range(5)]
    boot = np.random.default_rng(0).integers(0, 5, size=(50, 5))
    ref = bench.RandomReference(rnd, 100.0, boot, points=1000)
    point, lo, hi = ref.speedup(np.full(5, 0.8), 10.0, boot)
    assert point == pytest.approx(6.0) and lo == pytest.approx(6.0) and hi == pytest.approx(6.0)
    assert ref.speedup(np.full(5, 0.5), 20.0, boot)[0] == pytest.approx(1.0)
    assert math.isinf(ref.speedup(np.full(5, 0.9), 10.0, boot)[0])          # random never gets there


def test_gates(table, walk, cfg):
    weights, _ = walk
    assert bench.oracle_draws(table, 1.0) <= len(table.front)
    assert bench.oracle_draws(table, 1e-9) == 1
    lines, ok = bench.gates(table, cfg, weights, 0.95)
    assert len(lines) == 4 and "gate 3" in lines[2] and "pass" in lines[2]
    one = bench.Table.from_rows(*synthetic_rows(SPACE, 1, EPOCHS))
    lines, ok = bench.gates(one, cfg, weights, 0.95)
    assert not ok and "FAILED" in lines[2]


def test_main_on_a_small_table(tmp_path, rows, capsys):
    header, recs = rows
    path = tmp_path / "table.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [header] + recs) + "\n")
    assert bench.main(["--table", str(path), "--seeds", "3", "--methods", "random", "nsga2+pareto_sh",
                       "default"]) == 0
    out = capsys.readouterr().out
    assert out.index("gate 1") < out.index("speed-up@5%")
    assert "reference point: val_top1" in out
    assert {"random ", "nsga2+pareto_sh ", "default "} <= {ln[:len(n)] for ln in out.splitlines()
                                                            for n in ("random ", "nsga2+pareto_sh ", "default ")}


def test_ablation_varies_one_lever_each(table, cfg):
    methods = bench.ablation(cfg, table)
    base = methods[0]
    assert base.name == "default" and (base.sampler, base.scheduler) == (cfg.sampler, cfg.scheduler)
    names = [m.name for m in methods]
    assert len(set(names)) == len(names)
    for m in methods[1:]:
        changed = [f for f in ("sampler", "scheduler", "options", "grace_period", "eta", "correction", "warm")
                   if getattr(m, f) != getattr(base, f)]
        assert len(changed) == 1 or (changed == ["sampler", "options"]), (m.name, changed)
    prior = bench.prior_archs(table)
    assert prior and all(table.archs[i]["attention"]["type"] in bench.PRIOR_ATTENTIONS for i in prior)
    assert any(m.warm == prior for m in methods)


def test_proxy_start_takes_the_proxy_macs_front(table):
    scores = -table.macs + 0.0                 # a proxy that only ranks by cost: its front is the cheapest arch
    table.proxies["fake"] = scores
    try:
        assert bench.proxy_archs(table, "fake", 8) == (int(np.argmin(table.macs)),)
    finally:
        del table.proxies["fake"]
