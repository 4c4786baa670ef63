"""Failures classified: deterministic ones answer later duplicates, transient ones (a lost worker, a CUDA
initialisation or driver error, in prepare_device too) are retried by Tune and then recorded ``lost``, which
answers nothing: the architecture is trained again when it is suggested again."""
import io
import os
import sys

import pytest
from ray import cloudpickle

from analysis import read_trials
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study
from studies.trainable import TransientTrialError, lost, train_trial, transient

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_cuda_initialisation_and_driver_errors_are_transient_and_others_are_not():
    assert transient(RuntimeError("CUDA error: initialization error"))
    assert transient(RuntimeError("CUDA driver version is insufficient for CUDA runtime version"))
    assert transient(RuntimeError("CUDA error: CUDA-capable device(s) is/are busy or unavailable"))
    assert not transient(RuntimeError("CUDA error: device-side assert triggered"))    # the model's own bug
    assert not transient(ValueError("shapes (3, 5) and (4, 5) do not match"))
    assert lost("ray.exceptions.ActorDiedError: The actor died unexpectedly") and lost("TransientTrialError: x")
    assert not lost("ValueError: injected failure")


def test_a_cuda_error_in_prepare_device_is_raised_for_a_retry(monkeypatch, tiny_study, tmp_path):
    import trainers

    def broken(**kwargs):
        raise RuntimeError("CUDA error: initialization error")

    monkeypatch.setattr(trainers, "prepare_device", broken)
    cfg = StudyConfig.from_dict(tiny_study("dev", tmp_path))
    arch = cfg.search_space(num_classes=4, input_size=[1, 8, 8]).sample(0)
    config = {"key": "t0000", "number": 0, "reference": None, "arch": arch.to_dict(), "arch_hash": arch.hash,
              "resume_from": None}
    settings = {"data": cfg.data_config().to_dict(), "train": cfg.train_config().to_dict(), "threads": 1, "gpu": 0}
    with pytest.raises(TransientTrialError, match="CUDA error: initialization error"):
        train_trial(config, settings)


def se_is_lost(config, settings):
    """The real trainable, except that an SE network meets a CUDA initialisation error on every try."""
    with open(os.path.join(settings["attempts"], config["key"]), "a") as f:
        f.write("x")
    if config["arch"]["attention"]["type"] == "se":
        raise RuntimeError("CUDA error: initialization error")
    train_trial(config, settings)


@pytest.mark.slow
def test_a_lost_architecture_is_retried_by_tune_then_trained_again_when_suggested_again(ray_session, tmp_path,
                                                                                         tiny_study, monkeypatch):
    import studies.run as run_module

    attempts = tmp_path / "attempts"
    attempts.mkdir()
    original = run_module.tune.with_parameters

    def with_attempts(fn, settings):
        return original(fn, settings={**settings, "attempts": str(attempts)})

    monkeypatch.setattr(run_module.tune, "with_parameters", with_attempts)
    data = tiny_study("lost", tmp_path / "runs", budget={"trials": 4}, fidelity={"epochs": 1}, concurrency=1,
                      scheduler={"type": "none"}, failures={"max_retries": 1},
                      space={"fixed": {"backbone.type": "resnet_cifar", "backbone.depth": 8, "backbone.width": 0.25,
                                       "attention.reduction": 2},
                             "dimensions": {"attention.type": ["none", "se"]}})
    out = io.StringIO()
    study = run_study(Study.create(StudyConfig.from_dict(data)), out=out, trainable=se_is_lost, progress_every_s=60)
    records = read_trials(study.trials_path)
    se = [r for r in records if r.arch.get("attention", {}).get("type") == "se" and not r.is_reference]
    lost_records = [r for r in se if r.status == "lost"]
    assert len(lost_records) >= 2                               # suggested again: trained again, not answered
    assert not [r for r in se if r.status == "duplicate"]
    for r in lost_records:
        assert (attempts / r.trial_id).read_text() == "xx"      # 1 + failures.max_retries tries by Tune
        assert "lost on each of Tune's 2 tries" in r.reason and r.told is None
        assert "CUDA error: initialization error" in open(r.log).read()
    assert "space exhausted" not in out.getvalue()
