"""Ctrl-C (SIGINT) and SIGTERM: in-flight trials recorded ``interrupted`` with their epochs and history, MLflow
runs KILLED, exit 130 / 143, and ``--resume`` continues them from their checkpoints to the budget."""
import io
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
from studies.signals import StudyInterrupted, StudyStopper

from .conftest import checkpointed, repo_env

STOP_ALL = StudyStopper.stop_all


def test_exit_codes_follow_the_shell_convention():
    assert StudyInterrupted(signal.SIGINT).exit_code == 130
    assert StudyInterrupted(signal.SIGTERM).exit_code == 143


def test_stopper_stops_on_a_signal_and_on_the_time_limit(capsys):
    stopper = StudyStopper(None)
    before = signal.getsignal(signal.SIGTERM)       # Ray's driver installs one of its own
    assert not stopper.stop_all() and stopper.reason is None
    with stopper.catching():
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopper.stop_all() and stopper.reason == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):       # a second signal stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
    assert "SIGTERM received" in capsys.readouterr().err
    assert StudyStopper(0.0).reason == "time_limit"


def _study(tmp_path, tiny_study, name):
    data = tiny_study(name, tmp_path / "runs", budget={"trials": 4}, fidelity={"epochs": 6}, scheduler={"type": "none"},
                      data={"name": "synthetic", "image_size": 16, "classes": 4, "channels": 3, "num_train": 3000,
                            "num_test": 16, "val_fraction": 0.1})
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, tmp_path / "runs" / name


def _interrupt(tmp_path, study_file, study_dir, signum) -> subprocess.CompletedProcess:
    """Start the study, send ``signum`` to the driver once a trial has a checkpoint, wait for its exit."""
    proc = subprocess.Popen([sys.executable, "-m", "studies", "search", str(study_file)], cwd=tmp_path,
                            env=repo_env(), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None and not checkpointed(study_dir):
            time.sleep(0.05)
        assert proc.poll() is None, "the study ended before the signal"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _check_interrupted(tmp_path, study_dir, name) -> list:
    records = read_trials(study_dir / "trials.jsonl")
    stopped = [r for r in records if r.status == "interrupted"]
    assert stopped, "no in-flight trial was recorded"
    for r in stopped:                   # a trial that had not finished an epoch yet is in flight too
        assert r.metrics["epochs"] == len(r.history) and r.reason.startswith("interrupted by SIG")
    assert max(len(r.history) for r in stopped) >= 1
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    runs = json.loads((study_dir / "mlflow_runs.json").read_text())
    assert client.get_run(runs["_study"]).info.status == "KILLED"
    for r in stopped:
        assert client.get_run(runs[r.trial_id]).info.status == "KILLED"
    assert not [k for k, v in runs.items() if client.get_run(v).info.status == "RUNNING"]
    return stopped


@pytest.mark.slow
def test_sigint_exits_130_then_resume_continues_from_the_checkpoints(tmp_path, tiny_study):
    study_file, study_dir = _study(tmp_path, tiny_study, "sigint")
    done = _interrupt(tmp_path, study_file, study_dir, signal.SIGINT)
    assert done.returncode == 130, done.stderr[-3000:]
    assert f"attnas search --resume {study_dir}" in done.stdout
    stopped = _check_interrupted(tmp_path, study_dir, "sigint")
    ckpts = checkpointed(study_dir)
    assert ckpts
    # Tune hands the driver an epoch's result before its checkpoint: a signal between the two leaves a trial
    # with that epoch in its history and no (or an older) checkpoint, and its record says where it goes on from
    for r in stopped:
        assert r.trial_id in ckpts or r.reason.endswith("--resume continues it from epoch 0 (no checkpoint yet)")

    again = subprocess.run([sys.executable, "-m", "studies", "search", "--resume", str(study_dir)], cwd=tmp_path,
                           env=repo_env(), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    records = read_trials(study_dir / "trials.jsonl")
    assert sum(r.counts for r in records) == 4
    final = {r.trial_id: r for r in records}
    for r in [r for r in stopped if r.trial_id in ckpts]:
        assert f"{r.trial_id:<18} resumes from its checkpoint after epoch {ckpts[r.trial_id]['epoch']}" in again.stdout
        assert final[r.trial_id].status == "finished" and len(final[r.trial_id].history) == 6
    trained = [r.arch_hash for r in records if r.counts]
    assert len(trained) == len(set(trained))
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study_dir / "optuna.journal")))
    assert not [t for t in optuna.load_study(study_name="sigint", storage=storage).get_trials()
                if t.state.name == "RUNNING"]


@pytest.mark.slow
def test_sigterm_exits_143_with_interrupted_records(tmp_path, tiny_study):
    study_file, study_dir = _study(tmp_path, tiny_study, "sigterm")
    done = _interrupt(tmp_path, study_file, study_dir, signal.SIGTERM)
    assert done.returncode == 143, done.stderr[-3000:]
    _check_interrupted(tmp_path, study_dir, "sigterm")


@pytest.mark.slow
def test_the_time_limit_interrupts_trials_in_flight_and_counts_as_a_spent_budget(tmp_path, tiny_study, ray_session):
    import io

    from studies.config import StudyConfig
    from studies.run import run_study
    from studies.study import Study

    data = tiny_study("timed", tmp_path / "runs", budget={"trials": 6, "time_limit_s": 6}, fidelity={"epochs": 30},
                      scheduler={"type": "none"},
                      data={"name": "synthetic", "image_size": 16, "classes": 4, "channels": 3, "num_train": 3000,
                            "num_test": 16, "val_fraction": 0.1})
    study = run_study(Study.create(StudyConfig.from_dict(data)), out=io.StringIO(), progress_every_s=60)
    stopped = [r for r in study.records if r.status == "interrupted"]
    assert stopped and all(r.reason.startswith("interrupted by the study's time limit") for r in stopped)
    client = MlflowClient(study.tracking_uri)
    runs = json.loads((study.dir / "mlflow_runs.json").read_text())
    assert client.get_run(runs["_study"]).info.status == "FINISHED"     # a budget (time) was spent
    assert all(client.get_run(runs[r.trial_id]).info.status == "KILLED" for r in stopped)


def _limit_after_a_checkpoint(monkeypatch, study_dir, after_epoch: int = 0):
    """The time limit fires once a trial has a checkpoint past ``after_epoch`` (on a loaded machine a fixed number
    of seconds may pass before any trial trains an epoch); from there on the study's own time-limit path runs."""
    def fire_after_checkpoint(self):
        if self.deadline is not None and any(c["epoch"] > after_epoch for c in checkpointed(study_dir).values()):
            self.deadline = time.monotonic() - 1.0
        return STOP_ALL(self)

    monkeypatch.setattr(StudyStopper, "stop_all", fire_after_checkpoint)     # replaces an earlier patch


@pytest.mark.slow
def test_a_spent_time_limit_keeps_interrupted_trials_and_a_raised_one_continues_them(tmp_path, tiny_study, ray_session,
                                                                                     monkeypatch):
    from studies.config import StudyConfig
    from studies.run import run_study
    from studies.study import Study

    data = tiny_study("keep", tmp_path / "runs", budget={"trials": 2, "time_limit_s": 3600}, fidelity={"epochs": 300},
                      scheduler={"type": "none"},
                      data={"name": "synthetic", "image_size": 16, "classes": 4, "channels": 3, "num_train": 1500,
                            "num_test": 16, "val_fraction": 0.1})
    study = Study.create(StudyConfig.from_dict(data))
    _limit_after_a_checkpoint(monkeypatch, study.dir)
    study = run_study(study, out=io.StringIO(), progress_every_s=60)
    stopped = {r.trial_id for r in study.records if r.status == "interrupted"}
    ckpts = checkpointed(study.dir)
    assert stopped and ckpts and set(ckpts) <= stopped
    assert all(r.reason.startswith("interrupted by the study's time limit") for r in study.records)

    out = io.StringIO()                          # resumed with the limit spent: nothing is thrown away
    spent = max(1.0, float(study.state["elapsed_s"]) - 1.0)
    again = run_study(Study.open(study.dir, time_limit_s=spent), out=out, progress_every_s=60)
    assert f"budget.time_limit_s ({spent:g} s) is spent" in out.getvalue() and "--time-limit SECONDS" in out.getvalue()
    assert {r.trial_id for r in again.records if r.status == "interrupted"} == stopped
    assert not [r for r in again.records if r.status == "not_run"]
    assert checkpointed(study.dir) == ckpts and all(os.path.isdir(c["path"]) for c in ckpts.values())
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study.dir / "optuna.journal")))
    states = {t.number: t.state.name for t in optuna.load_study(study_name="keep", storage=storage).get_trials()}
    assert all(states[r.number] == "RUNNING" for r in again.records if r.trial_id in stopped)

    out = io.StringIO()                          # the limit raised: the same trials go on from their checkpoints
    _limit_after_a_checkpoint(monkeypatch, study.dir, after_epoch=max(c["epoch"] for c in ckpts.values()))
    final = run_study(Study.open(study.dir, time_limit_s=3600), out=out, progress_every_s=60)
    assert final.cfg.time_limit_s == 3600
    by_id = {r.trial_id: r for r in final.records}
    for key, ckpt in ckpts.items():
        assert f"{key:<18} resumes from its checkpoint after epoch {ckpt['epoch']}" in out.getvalue()
        assert by_id[key].history[0]["epoch"] == 1 and len(by_id[key].history) >= ckpt["epoch"]
    assert max(len(by_id[k].history) for k in ckpts) > max(c["epoch"] for c in ckpts.values())


def _no_run_left_running(study_dir, tracking_uri) -> dict:
    client = MlflowClient(tracking_uri)
    runs = json.loads((study_dir / "mlflow_runs.json").read_text())
    assert not [k for k, v in runs.items() if client.get_run(v).info.status == "RUNNING"]
    return {k: client.get_run(v).info.status for k, v in runs.items()}


def _tiny(tmp_path, tiny_study, name):
    from studies.config import StudyConfig
    from studies.study import Study

    return Study.create(StudyConfig.from_dict(tiny_study(name, tmp_path / "runs", budget={"trials": 2},
                                                         fidelity={"epochs": 1}, scheduler={"type": "none"})))


def test_sigterm_before_ray_starts_ends_the_parent_run_killed(tmp_path, tiny_study, monkeypatch):
    import studies.run as run_module

    def init_ray(address):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)                          # what Ray's start would take; the signal ends it at once
        raise AssertionError("not interrupted")

    monkeypatch.setattr(run_module, "init_ray", init_ray)
    study = _tiny(tmp_path, tiny_study, "early")
    before = signal.getsignal(signal.SIGTERM)
    t0 = time.monotonic()
    with pytest.raises(StudyInterrupted) as e:
        run_module.run_study(study, out=io.StringIO())
    assert e.value.exit_code == 143 and time.monotonic() - t0 < 25
    assert _no_run_left_running(study.dir, study.tracking_uri)["_study"] == "KILLED"
    assert signal.getsignal(signal.SIGTERM) is before and study._lock is None


def test_sigterm_during_the_node_probe_ends_the_parent_run_killed(tmp_path, tiny_study, monkeypatch, ray_session):
    import studies.run as run_module

    def probe(data, storage):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(120)                         # the probe's own limit
        raise AssertionError("not interrupted")

    monkeypatch.setattr(run_module, "alive_nodes", lambda: 2)
    monkeypatch.setattr(run_module, "probe_nodes", probe)
    study = _tiny(tmp_path, tiny_study, "probe")
    t0 = time.monotonic()
    with pytest.raises(StudyInterrupted):
        run_module.run_study(study, out=io.StringIO())
    assert time.monotonic() - t0 < 100
    assert _no_run_left_running(study.dir, study.tracking_uri)["_study"] == "KILLED"


@pytest.mark.slow
def test_sigterm_during_the_final_upload_closes_every_run(tmp_path, tiny_study, monkeypatch, ray_session):
    import studies.run as run_module
    from studies.report import Report

    publish = Report.publish

    def publish_then_signal(self, force, weights=None):
        if force:
            os.kill(os.getpid(), signal.SIGTERM)
        return publish(self, force, weights)

    monkeypatch.setattr(Report, "publish", publish_then_signal)
    study = _tiny(tmp_path, tiny_study, "upload")
    with pytest.raises(StudyInterrupted):
        run_module.run_study(study, out=io.StringIO(), progress_every_s=60)
    statuses = _no_run_left_running(study.dir, study.tracking_uri)
    assert statuses.pop("_study") == "KILLED" and set(statuses.values()) == {"FINISHED"}
    assert {r.status for r in read_trials(study.trials_path)} == {"finished"}


@pytest.mark.slow
def test_sigterm_right_after_the_cli_starts_exits_143(tmp_path, tiny_study):
    study_file, study_dir = _study(tmp_path, tiny_study, "cli")
    proc = subprocess.Popen([sys.executable, "-m", "studies", "search", str(study_file)], cwd=tmp_path,
                            env=repo_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()          # "study folder: ...": Ray has not started yet
        assert first.startswith("study folder:")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert f"attnas search --resume {study_dir}" in out
    if (study_dir / "mlflow_runs.json").exists():
        _no_run_left_running(study_dir, f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
