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
    monkeypatch.setattr(trainable.tune, "report", lambda row: got.append(dict(row)))
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
