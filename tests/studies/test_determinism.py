"""Same study, seed and CPU at concurrency 1 -> the same sequence of sampled architectures."""
import io

import pytest

from analysis import read_trials
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study


@pytest.mark.parametrize("sampler", [{"type": "tpe", "n_startup_trials": 2},
                                     pytest.param({"type": "nsga2", "population_size": 2}, marks=pytest.mark.slow)])
def test_same_seed_same_architecture_sequence(ray_session, tmp_path, tiny_study, sampler):
    space = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25},
             "dimensions": {"backbone.depth": [8, 14], "activation": ["relu", "silu"],
                            "attention.type": ["none", "se", "eca"], "attention.reduction": [2, 4]}}
    sequences = []
    for run in range(2):
        data = tiny_study("det", tmp_path / f"r{run}", space=space, sampler=sampler, concurrency=1,
                          budget={"trials": 5}, fidelity={"epochs": 1}, scheduler={"type": "none"})
        study = run_study(Study.create(StudyConfig.from_dict(data)), out=io.StringIO(), progress_every_s=60)
        sequences.append([(r.number, r.arch_hash) for r in read_trials(study.trials_path)])
    assert len(sequences[0]) == 5
    assert sequences[0] == sequences[1]
    assert len({h for _, h in sequences[0]}) > 1      # the sampler really explored
