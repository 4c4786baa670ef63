"""``attnas status``: read from a study folder only, during a run (lock held) and after it."""
import fcntl
import json
import os
import time

import pytest

from analysis import TrialRecord, append_trial
from analysis.hypervolume import hypervolume
from search_space import ArchConfig
from studies.cli import main
from studies.commands.status import study_status
from studies.config import StudyConfig
from studies.study import Study

ARCH = {"backbone": {"type": "resnet_cifar", "depth": 8, "width": 0.25}, "num_classes": 4, "input_size": [1, 8, 8]}


@pytest.fixture
def folder(tmp_path, tiny_study):
    cfg = StudyConfig.from_dict(tiny_study("st", tmp_path, hypervolume_reference={"val_top1": 0.0, "macs": 2e6}))
    study = Study.create(cfg)
    d = study.dir
    archs = [ArchConfig.from_dict(ARCH), ArchConfig.from_dict({**ARCH, "attention": {"type": "se", "reduction": 2}}),
             ArchConfig.from_dict({**ARCH, "attention": {"type": "eca"}})]
    rows = [("t0000", archs[0], "finished", 0.60, 1.0e6), ("t0001", archs[1], "finished", 0.70, 1.2e6),
            ("t0002", archs[2], "stopped", 0.40, 1.1e6)]
    for n, (key, arch, status, acc, macs) in enumerate(rows):
        append_trial(d / "trials.jsonl", TrialRecord(key, n, arch.to_dict(), arch.hash, status,
                                                     metrics={"val_top1": acc, "macs": macs, "epochs": 2}))
    (d / "state.json").write_text(json.dumps({"elapsed_s": 100.0}))
    (d / "mlflow_runs.json").write_text(json.dumps({"_study": "p", "t0000": "a", "t0001": "b", "t0002": "c",
                                                     "t0003": "d", "t0004": "e", "t0001~1": "x"}))
    (d / "checkpoints.json").write_text(json.dumps({"t0003": {"path": "/x", "epoch": 1, "arch_hash": "h",
                                                              "node": "node-abc"}}))
    return d


def test_after_the_run(folder, capsys):
    st = study_status(folder)
    assert not st["running"] and st["running_trials"] == []
    assert st["budget"] == {"trials": 6, "spent": 3, "left": 3, "time_limit_s": None}
    assert st["by_status"] == {"finished": 2, "stopped": 1}
    assert [f["trial_id"] for f in st["front"]] == ["t0001", "t0000"]
    assert st["hypervolume"] == pytest.approx(hypervolume([[0.6, 1.0e6], [0.7, 1.2e6]], [0.0, 2e6], ["max", "min"]))
    assert st["elapsed_s"] == 100.0 and st["eta_s"] is None
    assert main(["status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "not running" in out and "budget: 3/6 trials spent, 3 left" in out and "2 finished, 1 stopped" in out
    assert "t0001" in out and "val_top1 70 %" in out


def test_during_the_run(folder, capsys):
    with open(folder / ".lock", "w") as lock:           # what a running study holds
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.utime(folder / ".lock", (time.time() - 50, time.time() - 50))
        st = study_status(folder)
        assert main(["status", str(folder)]) == 0
    assert st["running"]
    assert st["running_trials"] == [{"trial_id": "t0003", "epoch": 1, "node": "node-abc", "of_epochs": 2},
                                    {"trial_id": "t0004", "epoch": 0, "node": "", "of_epochs": 2}]
    assert st["elapsed_s"] == pytest.approx(150, abs=5)
    assert st["eta_s"] == pytest.approx(st["elapsed_s"] / 3 * 3)
    out = capsys.readouterr().out
    assert "RUNNING" in out and "t0003" in out and "epoch 1/2" in out and "node-abc" in out
    assert "no checkpoint yet" in out and "estimated time left: 2m3" in out
    assert not study_status(folder)["running"]         # the lock released: the study ended


def test_not_a_study_folder(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a study folder" in err
