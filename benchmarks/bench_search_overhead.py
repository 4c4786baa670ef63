"""Per-trial orchestration overhead of ``attnas search`` (Ray Tune + Optuna + MLflow + trial records) against a
bare Optuna loop, on the same number of trivially short trials over the same search space.

    .venv/bin/python benchmarks/bench_search_overhead.py [--trials 40] [--concurrency 1]

Both sides sample the same space with the same sampler; a trial "trains" nothing and reports one epoch at
once. Per-trial cost is the slope (T(n) - T(1)) / (n - 1), so costs paid once per study (Ray start-up, opening
the MLflow store, the final report) cancel out; they are printed apart. The full stack is measured with and
without actor reuse. Target: < 0.2 s per trial of overhead (< 2% of a 10-second trial).
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from ray import cloudpickle, tune

from search_space.space import SearchSpace

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25, "num_classes": 4,
                   "input_size": [1, 8, 8]},
         "dimensions": {"backbone.depth": [8, 14, 20, 32], "activation": ["relu", "silu", "gelu"],
                        "attention.type": ["none", "se", "eca", "cbam"], "attention.reduction": [2, 4],
                        "insertion_point": ["pre_add", "post_add"]}}


def instant_trial(config: dict, settings: dict) -> None:
    """Reports one epoch immediately: all that is left of a trial is its orchestration."""
    h = int(config["arch_hash"][:8], 16)
    tune.report({"epoch": 1, "status": "finished", "reason": "", "wall_time_s": 0.0, "val_top1": (h % 1000) / 1000,
                 "val_top5": 1.0, "macs": float(h % 10_000 + 1), "params": 1.0, "latency_ms": 0.0,
                 "train_loss": 0.0, "train_top1": 0.0, "val_loss": 0.0, "lr": 0.0, "epoch_time_s": 0.0})


def bare_optuna(trials: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace.from_dict(SPACE)

    def objective(trial):
        arch = space.suggest(trial)
        h = int(arch.hash[:8], 16)
        return (h % 1000) / 1000, float(h % 10_000 + 1)

    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, group=True))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - t0


def full_stack(trials: int, concurrency: int, reuse_actors: bool, root: Path) -> float:
    from studies.config import StudyConfig
    from studies.run import run_study
    from studies.study import Study

    cfg = StudyConfig.from_dict({
        "name": f"bench-{'reuse' if reuse_actors else 'fresh'}", "space": SPACE,
        "data": {"name": "synthetic", "image_size": 8, "classes": 4, "channels": 1, "num_train": 64, "num_test": 16},
        "fidelity": {"epochs": 1}, "sampler": {"type": "tpe"}, "scheduler": {"type": "none"},
        "budget": {"trials": trials}, "concurrency": concurrency, "storage": {"root": str(root)}})
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    study = run_study(Study.create(cfg), reuse_actors=reuse_actors, out=io.StringIO(), progress_every_s=3600,
                      trainable=instant_trial)
    elapsed = time.perf_counter() - t0
    assert sum(r.counts for r in study.records) == trials, len(study.records)
    return elapsed


def slope(run, n: int) -> tuple[float, float]:
    """(seconds per trial, fixed seconds per study) from runs of 1 and n trials."""
    t1, tn = run(1), run(n)
    per = (tn - t1) / (n - 1)
    return per, t1 - per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60, help="n: studies of 1 and n trials are timed")
    parser.add_argument("--fresh-trials", type=int, default=16, help="n for the slower run without actor reuse")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()

    from studies.run import init_ray

    t0 = time.perf_counter()
    init_ray(None, num_cpus=2)
    ray_start = time.perf_counter() - t0
    bare_optuna(2 * args.trials)   # warm-up: the space's build checks are cached per process, for every side
    with tempfile.TemporaryDirectory() as tmp:
        k = iter(range(1000))
        bare = slope(bare_optuna, args.trials)
        reuse = slope(lambda n: full_stack(n, args.concurrency, True, Path(tmp) / str(next(k))), args.trials)
        fresh = slope(lambda n: full_stack(n, args.concurrency, False, Path(tmp) / str(next(k))), args.fresh_trials)
    print(f"trivially short trials, concurrency {args.concurrency}, TPE; Ray start-up {ray_start:.1f} s (once per process)")
    print(f"{'':36} {'s/trial':>8} {'overhead s/trial':>17} {'fixed s/study':>14}")
    for label, (per, fixed) in (("bare Optuna loop", bare), ("attnas search, reuse_actors=True", reuse),
                                ("attnas search, reuse_actors=False", fresh)):
        print(f"{label:36} {per:8.3f} {per - bare[0]:17.3f} {fixed:14.2f}")
    over_reuse, over_fresh = reuse[0] - bare[0], fresh[0] - bare[0]
    print(f"ratio full stack / bare Optuna per trial: {reuse[0] / bare[0]:.1f}x (reuse), {fresh[0] / bare[0]:.1f}x (fresh)")
    print(f"actor reuse cuts per-trial overhead {over_fresh / max(over_reuse, 1e-9):.1f}x; "
          f"target < 0.2 s/trial: {'met' if over_reuse < 0.2 else 'NOT met'} ({over_reuse:.3f} s)")


if __name__ == "__main__":
    main()
