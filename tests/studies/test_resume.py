"""kill -9 of a running study, then ``attnas search --resume``: every trial that had ended is there exactly
once (trials.jsonl, Optuna, MLflow), trials the kill interrupted run again, no architecture is trained twice,
and the study completes its budget."""
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient

from analysis import read_trials

from .conftest import checkpointed, repo_env

BUDGET = 6


def _attnas(*args):
    return [sys.executable, "-m", "studies", "search", *args]


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc), so Ray's daemons are killed with the study."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_when(study_file, cwd, ready, poll_s: float) -> None:
    """Start ``attnas search study_file`` and ``kill -9`` its whole tree once ``ready()`` holds (within 600 s);
    the study must still be running then."""
    proc = subprocess.Popen(_attnas(str(study_file)), cwd=cwd, env=repo_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(poll_s)
        assert proc.poll() is None, "the study ended before it could be killed"
    finally:
        if proc.poll() is None:
            _kill_tree(proc)


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the study process group and every process it started (Ray's daemons included)."""
    family = _descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def test_kill_dash_nine_then_resume(tmp_path, tiny_study):
    study_file = tmp_path / "study.yaml"
    space = {"fixed": {"backbone.type": "resnet_cifar", "backbone.width": 0.25},
             "dimensions": {"backbone.depth": [8, 14], "activation": ["relu", "silu"],
                            "attention.type": ["none", "se", "eca"], "attention.reduction": [2, 4]}}
    data = tiny_study("killed", tmp_path / "runs", space=space, budget={"trials": BUDGET}, fidelity={"epochs": 3},
                      warm_start=["resnet20"], sampler={"type": "nsga2", "population_size": 2})
    study_file.write_text(yaml.safe_dump(data))
    study_dir = tmp_path / "runs" / "killed"
    trials = study_dir / "trials.jsonl"

    _kill_when(study_file, tmp_path, lambda: trials.exists() and len(trials.read_text().splitlines()) >= 2, 0.2)
    before = {r.trial_id: r for r in read_trials(trials)}
    assert 2 <= len(before) < BUDGET

    done = subprocess.run(_attnas("--resume", str(study_dir)), cwd=tmp_path, env=repo_env(), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlflow ui --backend-store-uri sqlite:///" in done.stdout

    lines = [json.loads(x) for x in trials.read_text().splitlines() if x.strip().startswith("{")]
    after = read_trials(trials)
    assert sum(r.counts for r in after) == BUDGET
    ids = [x["trial_id"] for x in lines]
    for key, rec in before.items():          # still there, exactly once, unchanged
        assert ids.count(key) == 1
        again = next(r for r in after if r.trial_id == key)
        assert (again.status, again.metrics) == (rec.status, rec.metrics)
    trained = [r.arch_hash for r in after if r.counts]
    assert len(trained) == len(set(trained)), "an architecture was trained twice"

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study_dir / "optuna.journal")))
    ot = optuna.load_study(study_name="killed", storage=storage).get_trials()
    assert not [t for t in ot if t.state.name == "RUNNING"]
    numbers = [t.number for t in ot]
    assert len(numbers) == len(set(numbers))
    searched = {r.number: r for r in after if not r.is_reference}
    assert set(numbers) == set(searched)     # every Optuna trial has its record, interrupted ones re-run
    for t in ot:
        # a trial the kill caught while its architecture was being sampled has no architecture (not_run)
        assert (t.user_attrs.get("arch_hash") or None) == (searched[t.number].arch_hash or None)
        assert t.user_attrs["status"] == searched[t.number].status

    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("killed")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    assert len([r for r in runs if r.data.tags.get("attnas.kind") == "study"]) == 1
    mapping = json.loads((study_dir / "mlflow_runs.json").read_text())
    children = {r.info.run_id: r for r in runs if r.data.tags.get("attnas.kind") == "trial"}
    for rec in after:
        if rec.counts:                        # trained: one run in the map, closed with the record's status
            run = children.pop(mapping[rec.trial_id])
            assert run.data.tags["status"] == rec.status and run.info.status != "RUNNING"
    for run in children.values():             # the rest: attempts the kill interrupted, set aside
        assert run.data.tags["status"] == "interrupted" and run.info.status == "KILLED"


@pytest.mark.slow
def test_kill_dash_nine_mid_trial_resumes_from_its_checkpoint(tmp_path, tiny_study):
    """A trial killed (driver kill -9) after epoch k goes on from epoch k on --resume: one history of epochs
    1..E, one MLflow run, no epoch trained again (the resumed trial reports epoch k+1 first)."""
    study_file = tmp_path / "study.yaml"
    data = tiny_study("ckpt", tmp_path / "runs", budget={"trials": 3}, fidelity={"epochs": 6},
                      scheduler={"type": "none"}, concurrency=1,
                      data={"name": "synthetic", "image_size": 16, "classes": 4, "channels": 3, "num_train": 3000,
                            "num_test": 16, "val_fraction": 0.1})
    study_file.write_text(yaml.safe_dump(data))
    study_dir = tmp_path / "runs" / "ckpt"
    _kill_when(study_file, tmp_path, lambda: any(c["epoch"] >= 2 for c in checkpointed(study_dir).values()), 0.05)
    at_kill = checkpointed(study_dir)
    assert at_kill, "no checkpoint was remembered"
    done = subprocess.run(_attnas("--resume", str(study_dir)), cwd=tmp_path, env=repo_env(), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    after = {r.trial_id: r for r in read_trials(study_dir / "trials.jsonl")}
    mapping = json.loads((study_dir / "mlflow_runs.json").read_text())
    for key, ckpt in at_kill.items():
        assert f"{key:<18} resumes from its checkpoint after epoch {ckpt['epoch']}" in done.stdout
        rec = after[key]
        assert rec.status == "finished" and [r["epoch"] for r in rec.history] == list(range(1, 7))
        assert not [k for k in mapping if k.startswith(key + "~")], "the resumed trial got a second MLflow run"
        client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
        steps = [m.step for m in client.get_metric_history(mapping[key], "train_loss")]
        assert sorted(steps) == list(range(1, 7)), "an epoch was logged (trained) twice"
        assert client.get_run(mapping[key]).info.status == "FINISHED"
    assert checkpointed(study_dir) == {}
    trained = [r.arch_hash for r in after.values() if r.counts]
    assert len(trained) == len(set(trained)) == 3
