"""trainers/ runs where Ray, Optuna and MLflow are not installed (GPU machines often lack them): it is
imported, and a tiny model trained, in a subprocess in which importing them fails; without thop too, until a
model's MACs are counted."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib.abc, sys

BLOCKED = {"ray", "mlflow", "optuna", "thop"}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
import torch
import trainers, trainers.device, trainers.precision, trainers.data.cache
from search_space import build_model, load_arch
from trainers import DataConfig, TrainConfig, cached_dataset, describe_dataset, fit, prepare_device, profile_model

torch.set_num_threads(1)
device = prepare_device(0.5)
cfg = DataConfig(name="digits", image_size=8, train_subset=64)
data = cached_dataset(cfg, device)
arch = load_arch("resnet20", input_size=[1, 8, 8], num_classes=10, backbone={"type": "resnet_cifar", "depth": 8})
assert describe_dataset(cfg) == (data.num_classes, data.input_size) == (arch.num_classes, arch.input_size)
model = build_model(arch)
res = fit(model, data, TrainConfig(epochs=1, batch_size=32), device=device)
assert res.status == "finished", res
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
BLOCKED.discard("thop")  # counting MACs is what needs thop
assert profile_model(model, arch.input_size, device, latency=False)["macs"] > 0
assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
print("ok", res.device, res.precision)
"""


def test_trainers_work_without_ray_mlflow_optuna():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok cpu fp32")
