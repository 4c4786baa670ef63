"""Same study, seed and CPU at concurrency 1 -> the same trials, the same rung decisions and the same front."""
import io

import pytest

from analysis import pareto_records, read_trials
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study


@pytest.mark.parametrize("sampler", [{"type": "tpe", "n_startup_trials": 2},
                                     pytest.param({"type": "nsga2", "population_size": 2}, marks=pytest.mark.slow)])
def test_same_seed_same_trials_decisions_and_front(ray_session, tmp_path, tiny_study, sampler):
    space = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25},
             "dimensions": {"backbone.depth": [8, 14], "activation": ["relu", "silu"],
                            "attention.type": ["none", "se", "eca"], "attention.reduction": [2, 4]}}
    runs = []
    for run in range(2):
        data = tiny_study("det", tmp_path / f"r{run}", space=space, sampler=sampler, concurrency=1,
                          budget={"trials": 6}, fidelity={"epochs": 2},
                          scheduler={"type": "pareto_sh", "grace_period": 1, "reduction_factor": 2})
        study = run_study(Study.create(StudyConfig.from_dict(data)), out=io.StringIO(), progress_every_s=60)
        records = read_trials(study.trials_path)
        runs.append(([(r.number, r.arch_hash, r.status, r.reason, r.told) for r in records],
                     [r.trial_id for r in pareto_records(records, study.cfg.objectives)]))
    (trials, front), again = runs[0], runs[1]
    assert (trials, front) == again
    assert sum(status in ("finished", "stopped") for _, _, status, _, _ in trials) == 6
    assert {status for _, _, status, _, _ in trials} >= {"finished", "stopped"}    # the scheduler decided
    assert len({h for _, h, _, _, _ in trials}) > 1 and front
