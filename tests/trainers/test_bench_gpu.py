"""benchmarks/bench_gpu.py must work the first time it meets a GPU (device time is scarce): its trainer parts
run here on the CPU at tiny sizes, in-process (fast); the whole ``--cpu-smoke`` command with its spawned
processes is the slow test."""
import importlib.util
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_gpu_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_no_cuda_is_one_line_and_exit_2(bench, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py"])
    assert bench.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA device" in err and "--cpu-smoke" in err


def test_trainer_parts_in_process(bench, capsys):
    sz = bench.Sizes(images=64, val=16, size=8, models=("resnet20",), batches=(16,), rounds=1, epochs=1)
    rows = bench.part_a(sz, torch.device("cpu"))
    assert len(rows) == 1 and rows[0][2] > 0 and rows[0][3] > 0 and rows[0][5] == "fp32"
    assert "fit img/s" in capsys.readouterr().out
    spec = {"fraction": 0.25, "cpu": True, "images": 64, "val": 16, "size": 8, "preset": "resnet20", "epochs": 1,
            "batch": 16, "threads": 1}
    out = queue.Queue()
    bench._trainer_process(0, spec, threading.Barrier(1), out)
    r = out.get_nowait()
    assert r["status"] == "finished" and r["images"] == 64 and r["end"] > r["start"] and r["device"] == "cpu"
    spec["preset"] = "no-such-preset"
    bench._trainer_process(1, spec, threading.Barrier(1), out)
    assert out.get_nowait()["status"] == "error"  # reported, not raised: the parent prints it


def test_study_spec_is_a_valid_study(bench, tmp_path):
    from studies.config import StudyConfig

    cfg = StudyConfig.from_dict(bench.study_spec(bench.Sizes(), str(tmp_path), None))
    assert (cfg.gpu, cfg.concurrency, cfg.trials) == (0.25, 4, 32)


@pytest.mark.slow
def test_cpu_smoke_command():
    out = subprocess.run([sys.executable, str(SCRIPT), "--cpu-smoke"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ratio" in out.stdout and "aggregate" in out.stdout and "no OOM" in out.stdout
    assert "(l) resnet_cifar20x0.5+fa on cpu, channels_last batch 3: status finished" in out.stdout


def test_fa_channels_last_part_in_process(bench, capsys):
    """Part (l)'s child on the CPU: FA-ResNet-20 at width 0.5 trains in channels_last at batch 3 (where the CPU
    probe crashes, fit trains it in the default format and the line carries the guard's reason)."""
    from trainers.channels_last_probe import cpu_channels_last_refusal

    assert bench.fa_channels_last_child("cpu") == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("(l) resnet_cifar20x0.5+fa on cpu, channels_last batch 3: status finished")
    refusal = cpu_channels_last_refusal()
    assert ("weights in channels_last True" in line) == (refusal is None)
    assert (refusal is None) or refusal in line
