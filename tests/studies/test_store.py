"""One MLflow store shared by studies started at once in one folder (and by ``mlflow ui`` opening it)."""
import json
import os
import subprocess
import sys
import time

import pytest
import yaml
from mlflow.tracking import MlflowClient

from analysis import read_trials

from .conftest import repo_env

START = """
import sys, time
from studies.config import StudyConfig
from studies.study import Study
from studies.tracking import MlflowTracker
cfg = StudyConfig.from_yaml(sys.argv[1])
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
study = Study.create(cfg)
tracker = MlflowTracker(study.tracking_uri, study.dir)
tracker.start_study(study.dir.name, cfg.to_dict(), {"sampler": cfg.sampler})
tracker.end_study("FINISHED")
print(study.dir)
"""

UI = """
import sys, time
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
SqlAlchemyStore(sys.argv[1], sys.argv[3]).search_experiments()   # what `mlflow ui` does: no attnas lock
print("ui ok")
"""


def _at_once(tmp_path, scripts: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run every ``[code, *args]`` in its own Python, all released at one instant (imports done by then)."""
    start = str(time.time() + 15.0)
    procs = [subprocess.Popen([sys.executable, "-c", code, *args[:1], start, *args[1:]], cwd=tmp_path, env=repo_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for code, *args in scripts]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), p.stdout.read(), p.stderr.read())
            for p in procs]


def _study_file(tmp_path, tiny_study, **over):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(tiny_study("same", tmp_path / "runs", **over)))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
def test_studies_started_at_once_in_one_folder_all_start(tmp_path, tiny_study, n):
    path = _study_file(tmp_path, tiny_study)
    done = _at_once(tmp_path, [[START, str(path)]] * n)
    assert [d.returncode for d in done] == [0] * n, [d.stderr[-2000:] for d in done]
    dirs = sorted(d.stdout.strip() for d in done)
    assert len(set(dirs)) == n                      # one folder each: same, same-2, ...
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    names = sorted(e.name for e in client.search_experiments())
    assert names == sorted(["Default"] + [os.path.basename(d) for d in dirs])
    for d in dirs:
        parent = json.loads((tmp_path / "runs" / os.path.basename(d) / "mlflow_runs.json").read_text())["_study"]
        assert client.get_run(parent).info.status == "FINISHED"


@pytest.mark.slow
def test_a_study_starts_while_mlflow_ui_opens_the_new_store(tmp_path, tiny_study):
    path = _study_file(tmp_path, tiny_study)
    db = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    (tmp_path / "runs").mkdir()
    done = _at_once(tmp_path, [[UI, db, str(tmp_path / "art")], [START, str(path)], [START, str(path)]])
    assert [d.returncode for d in done[1:]] == [0, 0], [d.stderr[-2000:] for d in done[1:]]


@pytest.mark.slow
def test_two_searches_started_at_once_both_train(tmp_path, tiny_study):
    """The whole ``attnas search``, twice at once in one folder: both studies train their budget."""
    path = _study_file(tmp_path, tiny_study, budget={"trials": 2}, fidelity={"epochs": 1}, concurrency=1,
                       scheduler={"type": "none"})
    procs = [subprocess.Popen([sys.executable, "-m", "studies", "search", str(path)], cwd=tmp_path, env=repo_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-3000:] for _, e in outs]
    for name in ("same", "same-2"):
        records = read_trials(tmp_path / "runs" / name / "trials.jsonl")
        assert sum(r.status == "finished" for r in records) == 2
