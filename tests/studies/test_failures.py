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
                      space={"fixed": {"backbone.type": "resnet_cifar", "backbone.depth": 8, "backbone.width": 0.25},
                             "dimensions": {"attention.type": ["none", "se"], "attention.reduction": [2]}})
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


GPU_STUDY = """
import io, sys
import ray
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study
import yaml
ray.init(num_cpus=2, num_gpus=1, include_dashboard=False)     # a logical GPU: Ray hands out an id, no device
study = run_study(Study.create(StudyConfig.from_dict(yaml.safe_load(open(sys.argv[1])))), out=io.StringIO(),
                  progress_every_s=60)
print(study.report.summary())
"""


@pytest.mark.slow
def test_a_study_that_asked_for_gpus_and_trained_on_the_cpu_says_so(tmp_path, tiny_study):
    import subprocess

    import yaml

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(tiny_study("gpu", tmp_path / "runs", budget={"trials": 2}, fidelity={"epochs": 1},
                                              scheduler={"type": "none"}, resources={"cpus": 1, "gpu": 0.5})))
    done = subprocess.run([sys.executable, "-c", GPU_STUDY, str(path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [r for r in read_trials(tmp_path / "runs" / "gpu" / "trials.jsonl") if r.provenance]
    assert len(records) == 2
    for r in records:
        assert r.provenance["device"] == "cpu" and r.provenance["gpu_ids"] == "0"   # Ray's id, no CUDA behind it
    lines = done.stdout.splitlines()
    assert any(ln.startswith("trained on: cpu fp32 (2 trial(s)); 1 node(s);") for ln in lines)
    warning = [ln for ln in lines if ln.startswith("warning:")]
    assert warning == [f"warning: resources.gpu 0.5 asked for a GPU per trial, but 2 trial(s) trained on the CPU "
                       f"({', '.join(sorted(r.trial_id for r in records))}): their node had no usable CUDA device"]


def test_the_summary_says_where_trials_trained_and_warns_once_when_a_gpu_study_used_the_cpu():
    from analysis import TrialRecord
    from studies.report import trained_on

    def rec(key, device):
        return TrialRecord(trial_id=key, number=int(key[1:]), arch={}, arch_hash=key, status="finished",
                           provenance={"device": device, "precision": "bf16" if "cuda" in device else "fp32",
                                       "node": "n1", "torch": "2.4.0", "cuda": "12.1",
                                       "started_at": f"2026-01-01T00:0{key[-1]}:00", "ended_at": f"2026-01-01T00:1{key[-1]}:00"})

    records = [rec("t0000", "cuda:0 (H100)"), rec("t0001", "cpu"), rec("t0002", "cpu")]
    lines = trained_on(records, gpu=1.0)
    assert lines[0] == ("trained on: cuda:0 (H100) bf16 (1 trial(s)), cpu fp32 (2 trial(s)); 1 node(s); torch 2.4.0, "
                        "CUDA 12.1, 2026-01-01T00:00:00 to 2026-01-01T00:12:00 UTC")
    assert lines[1:] == ["warning: resources.gpu 1 asked for a GPU per trial, but 2 trial(s) trained on the CPU "
                         "(t0001, t0002): their node had no usable CUDA device"]
    assert trained_on(records, gpu=0.0) == lines[:1]          # a CPU study: no warning
    assert trained_on(records[:1], gpu=1.0) == [lines[0].replace(", cpu fp32 (2 trial(s))", "").replace(
        "to 2026-01-01T00:12:00", "to 2026-01-01T00:10:00")]
