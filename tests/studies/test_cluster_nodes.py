"""Studies on a multi-node Ray cluster, simulated on this machine with ``ray.cluster_utils.Cluster`` (a head
without CPUs plus worker nodes; GPUs are logical, declared with ``num_gpus``: Ray hands out device ids, CUDA
is not there, so trials fall back to the CPU). Slow: each test starts its own cluster."""
import io
import json
import sys
import threading
import time

import cloudpickle
import pytest
from mlflow.tracking import MlflowClient

from analysis import read_trials
from studies.config import StudyConfig
from studies.run import run_study
from studies.study import Study

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # Ray workers cannot import test modules

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(request):
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "_system_config": {
        "health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 3}})
    workers = [c.add_node(**kwargs) for kwargs in request.param]
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False)
    c.wait_for_nodes()
    yield c, workers
    ray.shutdown()
    c.shutdown()


def packing_trial(config, settings):
    """Where a trial runs and what device it gets, then wait for the other 15 so that all 16 run at once."""
    from pathlib import Path

    from ray import tune

    from studies.trainable import placement
    from trainers import select_device

    where = placement()
    device = select_device(want_gpu=bool(where["gpu_ids"]))
    folder = Path(settings["folder"])
    (folder / f"{config['key']}.json").write_text(json.dumps({**where, "device": str(device)}))
    deadline = time.monotonic() + 120
    while len(list(folder.glob("*.json"))) < 16 and time.monotonic() < deadline:
        time.sleep(0.2)
    row = {"epoch": 1, "status": "finished", "reason": "", "val_top1": 0.5 + 0.01 * (config["number"] or 0),
           "macs": 1e6 * (1 + (config["number"] or 0)), "together": len(list(folder.glob("*.json")))}
    tune.report(row)


@pytest.mark.parametrize("cluster", [[{"num_cpus": 8, "num_gpus": 2}, {"num_cpus": 8, "num_gpus": 2}]],
                         indirect=True)
def test_sixteen_quarter_gpu_trials_pack_four_per_logical_gpu(cluster, tmp_path, tiny_study, monkeypatch):
    folder = tmp_path / "placements"
    folder.mkdir()
    import studies.run as run_module

    real = run_module.tune.with_parameters
    monkeypatch.setattr(run_module.tune, "with_parameters",
                        lambda fn, settings: real(fn, settings={**settings, "folder": str(folder)}))
    space = {"fixed": {"backbone.type": "resnet_cifar"},
             "dimensions": {"backbone.depth": [8, 14, 20], "backbone.width": [0.25, 0.5, 0.75, 1.0],
                            "attention.type": ["none", "se", "eca"], "activation": ["relu", "silu"]}}
    cfg = StudyConfig.from_dict(tiny_study("packing", tmp_path / "runs", space=space, budget={"trials": 16},
                                           concurrency=16, resources={"cpus": 1, "gpu": 0.25},
                                           scheduler={"type": "none"}, fidelity={"epochs": 1}))
    out = io.StringIO()
    study = run_study(Study.create(cfg), out=out, trainable=packing_trial, progress_every_s=60)
    assert "cluster: 2 node(s) can run trials" in out.getvalue()
    places = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    assert len(places) == 16 and sum(r.counts for r in study.records) == 16
    assert all(len(p["gpu_ids"]) == 1 and p["device"] == "cpu" for p in places)
    per_device = {}
    for p in places:
        per_device.setdefault((p["node"], p["gpu_ids"][0]), []).append(p)
    assert len({p["node"] for p in places}) == 2
    assert sorted(len(v) for v in per_device.values()) == [4, 4, 4, 4]


def _checkpoint_entries(study_dir) -> dict:
    try:
        return json.loads((study_dir / "checkpoints.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


@pytest.mark.parametrize("cluster", [[{"num_cpus": 1}, {"num_cpus": 1}]], indirect=True)
def test_a_trial_whose_node_dies_continues_on_another_node_from_its_checkpoint(cluster, tmp_path, tiny_study):
    c, workers = cluster
    cfg = StudyConfig.from_dict(tiny_study(
        "lost-node", tmp_path / "runs", budget={"trials": 2}, concurrency=1, fidelity={"epochs": 6},
        scheduler={"type": "none"}, failures={"max_retries": 2, "checkpoint_every_s": 0},
        data={"name": "synthetic", "image_size": 16, "classes": 4, "channels": 3, "num_train": 3000,
              "num_test": 16, "val_fraction": 0.1}))
    study = Study.create(cfg)
    killed = {}

    def kill_when_checkpointed():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            for key, entry in _checkpoint_entries(study.dir).items():
                node = next((w for w in workers if w.node_id == entry.get("node")), None)
                if entry["epoch"] >= 2 and node is not None:
                    killed.update(key=key, epoch=entry["epoch"], node=entry["node"])
                    c.remove_node(node, allow_graceful=False)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_when_checkpointed, daemon=True)
    watcher.start()
    out = io.StringIO()
    study = run_study(study, out=out, progress_every_s=60)
    watcher.join(timeout=5)
    assert killed, out.getvalue()[-3000:]
    text = out.getvalue()
    assert "lost its worker" in text and "Tune runs it again from its checkpoint after epoch" in text

    lines = [json.loads(x) for x in (study.dir / "trials.jsonl").read_text().splitlines() if x.strip()]
    assert len(lines) == len({x["trial_id"] for x in lines}) == 2          # nothing lost, nothing twice
    rec = {r.trial_id: r for r in read_trials(study.dir / "trials.jsonl")}[killed["key"]]
    assert rec.status == "finished" and [r["epoch"] for r in rec.history] == list(range(1, 7))
    assert rec.metrics["resumed_from_epoch"] >= killed["epoch"] > 0

    client = MlflowClient(study.tracking_uri)
    runs = json.loads((study.dir / "mlflow_runs.json").read_text())
    assert not [k for k in runs if "~" in k]                                 # one run per trial
    assert all(client.get_run(v).info.status == "FINISHED" for v in runs.values())
    steps = [m.step for m in client.get_metric_history(runs[killed["key"]], "train_loss")]
    assert sorted(steps) == list(range(1, 7))
    assert {t.state.name for t in study.open_optuna().get_trials()} == {"COMPLETE"}
