"""The entry point as ``ray job submit --working-dir . -- python -m studies search ...`` starts it: in a copy of
the working tree, with ``RAY_ADDRESS`` naming a running cluster (here a ``ray.cluster_utils.Cluster``) and no
``--address``. The study joins that cluster (it starts no Ray of its own) and finishes its budget; a relative
``data_dir`` is taken from the study file's folder, not from the job's working directory."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis import read_trials

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_job_style_entry_point_joins_the_cluster_in_ray_address(tmp_path, tiny_study):
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    cluster.add_node(num_cpus=2)
    try:
        workdir = tmp_path / "job-working-dir"              # what --working-dir uploads: the code, the study
        for package in ("search_space", "trainers", "studies", "analysis"):
            shutil.copytree(REPO / package, workdir / package, ignore=shutil.ignore_patterns("__pycache__"))
        (workdir / "studies-cfg").mkdir()
        images = workdir / "studies-cfg" / "flowers"
        for k, cls in enumerate(("a", "b")):
            (images / cls).mkdir(parents=True)
            from PIL import Image
            for i in range(12):
                Image.new("RGB", (8, 8), (40 * k + i, 10 * i, 200 - 50 * k)).save(images / cls / f"{i}.png")
        data = tiny_study("job", "unused", budget={"trials": 2}, fidelity={"epochs": 1}, scheduler={"type": "none"},
                          data={"name": "imagefolder", "data_dir": "./flowers", "image_size": 8, "val_fraction": 0.25})
        del data["storage"]
        (workdir / "studies-cfg" / "study.yaml").write_text(yaml.safe_dump(data))
        root = tmp_path / "shared-runs"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(RAY_ADDRESS=cluster.address, PYTHONPATH=str(workdir))
        done = subprocess.run([sys.executable, "-m", "studies", "search", "studies-cfg/study.yaml", "--root", str(root)],
                              cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "cluster: 1 node(s) can run trials" in done.stdout     # the job's cluster, probed
        saved = yaml.safe_load((root / "job" / "study.yaml").read_text())
        assert saved["data"]["data_dir"] == str(images)
        records = read_trials(root / "job" / "trials.jsonl")
        assert sum(r.counts for r in records) == 2 and {r.status for r in records} == {"finished"}
        assert json.loads((root / "job" / "mlflow_runs.json").read_text())["_study"]
    finally:
        cluster.shutdown()
