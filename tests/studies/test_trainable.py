"""The trainable maps every way a trial can end to one final report with a status, and never raises."""
import math

import pytest

import studies.trainable as trainable
from search_space import load_arch

SETTINGS = {"data": {"name": "synthetic", "image_size": 8, "classes": 4, "channels": 1, "num_train": 96,
                     "num_test": 16, "val_fraction": 0.25},
            "train": {"epochs": 2, "batch_size": 32, "lr": 0.05, "augment": False}, "threads": 1, "latency": False}


@pytest.fixture
def reports(monkeypatch):
    got = []
    monkeypatch.setattr(trainable.tune, "report", lambda row, checkpoint=None: got.append(dict(row)))
    monkeypatch.setattr(trainable.tune, "get_checkpoint", lambda: None)
    return got


def config(**over):
    arch = load_arch("resnet20", num_classes=4, input_size=[1, 8, 8]).replace(backbone={"type": "resnet_cifar", "depth": 8, "width": 0.25})
    return {"key": "t0000", "arch": arch.to_dict(), "arch_hash": arch.hash, "number": 0, "reference": None, **over}


def test_epochs_then_finished(reports):
    trainable.train_trial(config(), SETTINGS)
    assert [r["status"] for r in reports] == ["running", "finished"]
    assert [r["epoch"] for r in reports] == [1, 2]
    assert all(r["macs"] > 0 and r["params"] > 0 and 0 <= r["val_top1"] <= 1 for r in reports)


def test_exception_is_reported_as_failed_with_reason(reports, monkeypatch):
    import search_space

    def boom(arch):
        raise RuntimeError("kaboom in the builder")
    monkeypatch.setattr(search_space, "build_model", boom)
    trainable.train_trial(config(), SETTINGS)
    assert [r["status"] for r in reports] == ["failed"]
    assert "RuntimeError: kaboom in the builder" in reports[0]["reason"]
    assert math.isnan(reports[0]["val_top1"])


def test_nan_loss_is_reported_as_diverged(reports):
    settings = {**SETTINGS, "train": {**SETTINGS["train"], "lr": 1e6, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}}
    trainable.train_trial(config(), settings)
    assert reports[-1]["status"] == "diverged"
    assert "loss" in reports[-1]["reason"] and math.isnan(reports[-1]["val_top1"])


@pytest.fixture
def checkpoints(monkeypatch, tmp_path):
    """Reports, with each reported checkpoint copied away (the trainable deletes its folder at the end)."""
    import shutil
    got, saved = [], {}

    def report(row, checkpoint=None):
        got.append(dict(row))
        if checkpoint is not None:
            saved[row["epoch"]] = shutil.copytree(checkpoint.path, tmp_path / f"ckpt-{row['epoch']}", dirs_exist_ok=True)
    monkeypatch.setattr(trainable.tune, "report", report)
    monkeypatch.setattr(trainable.tune, "get_checkpoint", lambda: None)
    return got, saved


def test_every_epoch_but_the_last_reports_a_checkpoint_and_resume_is_exact(checkpoints):
    got, saved = checkpoints
    settings = {**SETTINGS, "train": {**SETTINGS["train"], "epochs": 3}}
    trainable.train_trial(config(), settings)
    full = list(got)
    assert sorted(saved) == [1, 2] and all(r["resumed_from"] == 0 for r in full)
    assert trainable.read_meta(saved[2])["epoch"] == 2 and len(trainable.read_meta(saved[2])["history"]) == 2
    got.clear()
    trainable.train_trial(config(resume_from=str(saved[2])), settings)
    assert [r["epoch"] for r in got] == [3] and got[0]["resumed_from"] == 2
    assert got[0]["val_loss"] == full[-1]["val_loss"] and got[0]["train_loss"] == full[-1]["train_loss"]


def test_checkpoint_every_s_skips_checkpoints_of_short_epochs(checkpoints, monkeypatch):
    """failures.checkpoint_every_s: an epoch reports a checkpoint only once that long passed since the last one
    (or the start); a clock that advances 4 s per reading makes every other epoch due at 6 s."""
    got, saved = checkpoints
    settings = {**SETTINGS, "train": {**SETTINGS["train"], "epochs": 5}, "checkpoint_every_s": 6.0}
    ticks = iter(range(0, 10_000, 4))
    monkeypatch.setattr(trainable.CheckpointClock, "now", staticmethod(lambda: float(next(ticks))))
    trainable.train_trial(config(), settings)
    assert [r["epoch"] for r in got] == [1, 2, 3, 4, 5]
    assert sorted(saved) == [2, 4]             # clock readings 8 and 16 (start 0), never after the last epoch


def test_checkpoint_clock():
    clock = trainable.CheckpointClock(every_s=0.0)
    assert clock.due(done=False) and not clock.due(done=True)
    assert trainable.CheckpointClock(every_s=0.0, keep_final=True).due(done=True)
    assert not trainable.CheckpointClock(every_s=3600.0).due(done=False)


def test_a_checkpoint_of_another_train_config_is_not_used(checkpoints):
    got, saved = checkpoints
    trainable.train_trial(config(), SETTINGS)
    got.clear()
    other = {**SETTINGS, "train": {**SETTINGS["train"], "lr": 0.01}}
    trainable.train_trial(config(resume_from=str(saved[1])), other)
    assert [r["epoch"] for r in got] == [1, 2] and got[0]["resumed_from"] == 0


def test_out_of_memory_is_reported_as_oom(reports, monkeypatch):
    import torch
    import trainers

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setattr(trainers, "fit", oom)
    trainable.train_trial(config(), SETTINGS)
    assert [r["status"] for r in reports] == ["oom"] and "out of memory" in reports[0]["reason"]


def test_latency_only_when_asked(reports):
    trainable.train_trial(config(), {**SETTINGS, "latency": True})
    assert reports[-1]["latency_ms"] > 0
    reports.clear()
    trainable.train_trial(config(), SETTINGS)
    assert math.isnan(reports[-1]["latency_ms"])


def test_cpu_without_ray_and_where_it_ran_is_reported(reports):
    trainable.train_trial(config(), SETTINGS)
    assert reports[-1]["device"] == "cpu" and reports[-1]["gpu_ids"] == ""
