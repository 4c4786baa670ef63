"""GPU check of the trainer and of a study on one GPU (issue 11, item 7): one command, under 10 minutes.

    python benchmarks/bench_gpu.py                   # on a machine with a CUDA GPU: parts t, a, b, l and c
    python benchmarks/bench_gpu.py --parts a,b       # the trainer parts only
    python benchmarks/bench_gpu.py --cpu-smoke       # parts a, b and l on the CPU at tiny sizes (a test runs it)

(t) the CUDA correctness tests, tests/trainers/test_cuda.py, in a subprocess (pytest; about a minute).
(a) ``trainers.fit`` against a bare PyTorch loop (same precision: bf16 autocast where native, channels_last;
    per-batch uint8 normalisation, no augmentation, no metrics) on the same CIFAR-shaped models (resnet20,
    se-resnet20 at 3x32x32) and the same 50k synthetic uint8 images resident on the GPU: throughput of a warm
    epoch, medians of interleaved rounds; goal ratio >= 0.9.
(b) 4 trainer processes (multiprocessing spawn) sharing the GPU, each capped at a quarter of its memory
    (``prepare_device(0.25)``), against one such process alone: aggregate throughput ratio, status of each
    (no OOM), peak memory per process.
(l) FA-ResNet-20 at width 0.5 (its stage projection is ``Conv2d(8, 16, 1, stride=2, bias=False)``, the case that
    crashed torch 2.13's CPU convolution in channels_last backward, issue 19) trained by ``trainers.fit`` in
    channels_last at batch 3 for one epoch, in a subprocess so a native crash is reported, not suffered.
(c) where Ray, Optuna and MLflow import: a 32-trial study at ``gpu: 0.25`` on CIFAR-shaped data (CIFAR-10
    itself with ``--cifar-dir`` when it is there), trials per GPU-hour, GPU utilisation sampled through NVML,
    and orchestration as a share of GPU time (goal <= 10 %).

The trainer parts import only torch, torchmetrics, numpy and yaml (through search_space and trainers; thop
only for the latency test in part t): GPU machines may have no Ray, Optuna or MLflow. A machine that also
lacks the pure-Python ones can use a folder ``.gpu-deps/`` in the repository root, put on ``sys.path`` after
the installed packages (about 18 MB; built elsewhere, for the GPU machine's Python, e.g. 3.12):

    pip install --target .gpu-deps --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux2014_x86_64 thop torchmetrics lightning-utilities pyyaml pytest pluggy iniconfig packaging

GPU utilisation comes from pynvml (nvidia-ml-py) when it imports, else from
``nvidia-smi --query-gpu=utilization.gpu -lms 500``.
"""
from __future__ import annotations

import argparse
import copy
import io
import multiprocessing as mp
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if (ROOT / ".gpu-deps").is_dir():
    sys.path.append(str(ROOT / ".gpu-deps"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

try:
    from search_space import build_model, load_arch
    from trainers import TensorData, TrainConfig, fit, prepare_device
    from trainers.precision import device_precision
except ImportError as _e:  # a bare GPU machine: say what is missing and how to bring it, in one line
    sys.exit(f"bench_gpu: cannot import {_e.name} ({_e}); install it, or build .gpu-deps/ as this file's "
             f"docstring says")


@dataclass(frozen=True)
class Sizes:
    images: int = 50_000
    val: int = 5_000
    size: int = 32
    models: tuple = ("resnet20", "se-resnet20")
    batches: tuple = (128, 512)
    rounds: int = 3
    epochs: int = 2            # part (a) times the last one (the first autotunes cuDNN and fills caches)
    procs: int = 4
    fraction: float = 0.25
    proc_epochs: int = 3
    proc_batch: int = 128
    study_trials: int = 32
    study_epochs: int = 2
    study_images: int = 50_000
    study_cpus: float = 2


SMOKE = Sizes(images=192, val=32, size=16, models=("resnet20",), batches=(32,), rounds=1, procs=2,
              proc_epochs=1, proc_batch=32, study_trials=4, study_epochs=1, study_images=256, study_cpus=0.5)

UNIFORM_MEAN, UNIFORM_STD = 0.5, ((256 ** 2 - 1) / 12) ** 0.5 / 255
"""Per-channel statistics of uniform random uint8 images in [0, 1] units."""


def synthetic_uint8(n: int, n_val: int, size: int, device, seed: int = 0) -> TensorData:
    """CIFAR-shaped uint8 images (random, 10 random labels) generated on ``device``."""
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randint(0, 256, (n + n_val, 3, size, size), dtype=torch.uint8, device=device, generator=g)
    y = torch.randint(0, 10, (n + n_val,), device=device, generator=g)
    stats = ((UNIFORM_MEAN,) * 3, (UNIFORM_STD,) * 3)
    return TensorData("synthetic-uint8", x[:n], y[:n], x[n:], y[n:], x[n:], y[n:], 10, (3, size, size), True, *stats)


def model_for(preset: str, size: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(load_arch(preset, input_size=[3, size, size], num_classes=10))


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class Utilisation:
    """Mean GPU utilisation (%) sampled every 0.5 s while the ``with`` block runs; None where unavailable."""

    def __init__(self, enabled: bool):
        self.enabled, self.samples, self._stop = enabled, [], threading.Event()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
        self.index = int(visible) if visible.isdigit() else 0
        self.source = "none"

    def __enter__(self):
        if not self.enabled:
            return self
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            self.source = "NVML"
            read = lambda: [pynvml.nvmlDeviceGetUtilizationRates(handle).gpu]  # noqa: E731
            self._thread = threading.Thread(target=self._poll, args=(read,), daemon=True)
        except Exception:  # noqa: BLE001 - no pynvml, or no NVML library: fall back to nvidia-smi
            if shutil.which("nvidia-smi") is None:
                return self
            self.source = "nvidia-smi"
            self._smi = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                          "-lms", "500", "-i", str(self.index)], stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._read_smi, daemon=True)
        self._thread.start()
        return self

    def _poll(self, read):
        while not self._stop.wait(0.5):
            self.samples += read()

    def _read_smi(self):
        for line in self._smi.stdout:
            if line.strip().isdigit():
                self.samples.append(int(line.strip()))

    def __exit__(self, *exc):
        self._stop.set()
        if getattr(self, "_smi", None) is not None:
            self._smi.terminate()
        if getattr(self, "_thread", None) is not None:
            self._thread.join(timeout=2)

    def text(self) -> str:
        if not self.samples:
            return "GPU utilisation n/a"
        return f"GPU utilisation mean {statistics.mean(self.samples):.0f} % ({len(self.samples)} samples, {self.source})"


# ---- (a) the trainer against a bare loop ---------------------------------------------------------------------

def bare_epochs(model, data: TensorData, batch: int, epochs: int, device) -> list[float]:
    """Seconds per epoch of the minimal loop at the trainer's precision and memory format on ``device``."""
    device = torch.device(device)
    prec, channels_last = device_precision(None, device), device.type == "cuda"
    model.to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=prec.scaler)
    norm, x, y = data.normalizer(device), data.train_x, data.train_y
    steps, times = len(x) // batch, []
    for _ in range(epochs):
        sync(device)
        t = time.perf_counter()
        perm = torch.randperm(len(x), device=device)
        for i in range(steps):
            idx = perm[i * batch:(i + 1) * batch]
            xb = norm(x[idx])
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, prec.dtype or torch.bfloat16, enabled=prec.autocast):
                loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        sync(device)
        times.append(time.perf_counter() - t)
    return times


def part_a(sz: Sizes, device) -> list[tuple]:
    data = synthetic_uint8(sz.images, sz.val, sz.size, device)
    print(f"\n(a) trainer vs bare loop: {sz.images} uint8 images {sz.size}x{sz.size} on {device} "
          f"({data.nbytes / 2**20:.0f} MB), {sz.rounds} interleaved rounds, warm epoch of {sz.epochs}")
    rows = []
    with Utilisation(torch.device(device).type == "cuda") as util:
        for preset in sz.models:
            for batch in sz.batches:
                init = model_for(preset, sz.size)
                cfg = TrainConfig(epochs=sz.epochs, batch_size=batch, lr=0.05, schedule="constant", augment=True,
                                  eval_batch_size=1024)
                t_fit, t_bare = [], []
                for r in range(sz.rounds):
                    res = fit(copy.deepcopy(init), data, cfg.replace(seed=r), device=device)
                    assert res.status == "finished", res.reason
                    t_fit.append(res.history[-1]["train_time_s"])
                    t_bare.append(bare_epochs(copy.deepcopy(init), data, batch, sz.epochs, device)[-1])
                imgs = len(data.train_x) // batch * batch
                bare, trainer = imgs / statistics.median(t_bare), imgs / statistics.median(t_fit)
                rows.append((preset, batch, bare, trainer, trainer / bare, res.precision))
    print(f"{'model':<12} {'batch':>5} {'precision':>9} {'bare img/s':>11} {'fit img/s':>10} {'ratio':>6}")
    for preset, batch, bare, trainer, ratio, prec in rows:
        print(f"{preset:<12} {batch:>5} {prec:>9} {bare:>11.0f} {trainer:>10.0f} {ratio:>6.2f}")
    print(f"goal: ratio >= 0.90 ({'met' if all(r[4] >= 0.9 for r in rows) else 'NOT met'}); {util.text()}")
    return rows


# ---- (b) four trainer processes sharing one GPU --------------------------------------------------------------

def _trainer_process(rank: int, spec: dict, barrier, reports) -> None:
    """One trainer process: set up as a trial would, warm up, wait for the others, train, report."""
    try:
        torch.set_num_threads(spec["threads"])
        device = prepare_device(spec["fraction"], want_gpu=not spec["cpu"])
        data = synthetic_uint8(spec["images"], spec["val"], spec["size"], device, seed=rank)
        model = model_for(spec["preset"], spec["size"], seed=rank)
        cfg = TrainConfig(epochs=spec["epochs"], batch_size=spec["batch"], lr=0.05, schedule="constant",
                          eval_batch_size=1024, seed=rank)
        warm = synthetic_uint8(spec["batch"] * 4, spec["batch"], spec["size"], device, seed=rank + 100)
        fit(copy.deepcopy(model), warm, cfg.replace(epochs=1), device=device)  # cuDNN autotuning, allocator
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        barrier.wait(timeout=300)
        start = time.time()
        res = fit(model, data, cfg, device=device)
        end = time.time()
        out = {"rank": rank, "status": res.status, "reason": res.reason, "start": start, "end": end,
               "images": len(data.train_x) // spec["batch"] * spec["batch"] * res.epochs_run,
               "train_s": sum(h["train_time_s"] for h in res.history), "device": str(device)}
        if device.type == "cuda":
            total = torch.cuda.get_device_properties(device).total_memory
            out.update(peak_alloc_mb=torch.cuda.max_memory_allocated(device) / 2**20,
                       peak_reserved_mb=torch.cuda.max_memory_reserved(device) / 2**20,
                       limit_mb=spec["fraction"] * total / 2**20)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which decides
        out = {"rank": rank, "status": "error", "reason": f"{type(e).__name__}: {e}"}
        try:
            barrier.abort()
        except Exception:  # noqa: BLE001
            pass
    reports.put(out)


def run_processes(n: int, spec: dict, timeout: float = 420) -> list[dict]:
    """Start ``n`` trainer processes (spawn) and collect their reports; a process that dies without one (a
    crash in the driver, the OOM killer) is reported as such and releases the others from the barrier."""
    ctx = mp.get_context("spawn")
    barrier, reports = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_trainer_process, args=(r, spec, barrier, reports)) for r in range(n)]
    for p in procs:
        p.start()
    results, deadline = {}, time.monotonic() + timeout

    def drain(wait: float) -> None:
        try:
            while True:
                r = reports.get(timeout=wait)
                results[r["rank"]] = r
                wait = 0.01
        except queue.Empty:
            pass

    try:
        while sum(r["status"] != "lost" for r in results.values()) < n and time.monotonic() < deadline:
            drain(2.0)
            for i, p in enumerate(procs):
                if p.exitcode is not None and i not in results:
                    barrier.abort()
                    results[i] = {"rank": i, "status": "lost",
                                  "reason": f"process exited with code {p.exitcode} without a report"}
            if all(p.exitcode is not None for p in procs):
                drain(0.5)  # a report that raced with its process's exit
                break
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
    return [results.get(i, {"rank": i, "status": "lost", "reason": f"no report within {timeout:.0f} s"})
            for i in range(n)]


def part_b(sz: Sizes, device) -> tuple:
    cuda = torch.device(device).type == "cuda"
    spec = {"fraction": sz.fraction, "cpu": not cuda, "images": sz.images, "val": sz.val, "size": sz.size,
            "preset": "resnet20", "epochs": sz.proc_epochs, "batch": sz.proc_batch,
            "threads": 1 if not cuda else 2}
    print(f"\n(b) {sz.procs} trainer processes sharing {device} at memory fraction {sz.fraction} each vs one alone "
          f"(resnet20, batch {sz.proc_batch}, {sz.proc_epochs} epochs of {sz.images} images each)")
    solo = run_processes(1, spec)
    with Utilisation(cuda) as util:
        shared = run_processes(sz.procs, spec)

    def rate(rs):
        return sum(r["images"] for r in rs) / (max(r["end"] for r in rs) - min(r["start"] for r in rs))

    ok = all(r["status"] == "finished" for r in solo + shared)
    print(f"{'':8} {'status':>8} {'img/s':>9} {'peak alloc MB':>14} {'peak reserved MB':>17} {'limit MB':>9}")
    for label, r in [("alone", solo[0])] + [(f"proc {r['rank']}", r) for r in shared]:
        if r["status"] != "finished":
            print(f"{label:8} {r['status']:>8}  {r['reason'][:150]}")
            continue
        mem = (f"{r['peak_alloc_mb']:>14.0f} {r['peak_reserved_mb']:>17.0f} {r['limit_mb']:>9.0f}"
               if "peak_alloc_mb" in r else f"{'n/a':>14} {'n/a':>17} {'n/a':>9}")
        print(f"{label:8} {r['status']:>8} {r['images'] / (r['end'] - r['start']):>9.0f} {mem}")
    if not ok:
        print("NOT all processes finished (see above)")
        return solo, shared, None
    ratio = rate(shared) / rate(solo)
    print(f"aggregate {rate(shared):.0f} img/s vs alone {rate(solo):.0f} img/s: ratio {ratio:.2f}; no OOM; {util.text()}")
    return solo, shared, ratio


# ---- (c) a study on the GPU (only where Ray, Optuna and MLflow are installed) ---------------------------------

def study_spec(sz: Sizes, root: str, cifar_dir: str | None) -> dict:
    """The study, as a plain dict (the study API is the other side of the repo; keep this the only coupling)."""
    data = ({"name": "cifar10", "data_dir": cifar_dir} if cifar_dir else
            {"name": "synthetic", "image_size": 32, "classes": 10, "channels": 3, "num_train": sz.study_images,
             "num_test": 1000})
    return {"name": "bench-gpu", "space": {
                "fixed": {"backbone.type": "resnet_cifar"},
                "dimensions": {"backbone.depth": [8, 14, 20], "backbone.width": [0.5, 1.0],
                               "attention.type": ["none", "se", "eca", "cbam"], "insertion_point": ["pre_add", "post_add"]}},
            "data": data, "fidelity": {"epochs": sz.study_epochs},
            "training": {"batch_size": 128, "lr": 0.05}, "sampler": {"type": "random"}, "scheduler": {"type": "none"},
            "budget": {"trials": sz.study_trials}, "concurrency": round(1 / sz.fraction),
            "resources": {"cpus": sz.study_cpus, "gpu": sz.fraction}, "storage": {"root": root}}


def run_spec(spec: dict):
    """Build the study from ``spec`` and run it; returns its trial records. Adapt here if the study API moves."""
    from studies.config import StudyConfig
    from studies.run import run_study
    from studies.study import Study

    study = run_study(Study.create(StudyConfig.from_dict(spec)), out=io.StringIO(), progress_every_s=3600)
    return study.records


def part_c(sz: Sizes, device, cifar_dir: str | None) -> None:
    missing = [m for m in ("ray", "optuna", "mlflow") if not _importable(m)]
    if missing:
        print(f"\n(c) study: skipped ({', '.join(missing)} not installed here)")
        return
    if cifar_dir and not (Path(cifar_dir) / "cifar-10-batches-py").is_dir() and \
            not (Path(cifar_dir) / "data_batch_1").is_file():
        print(f"(c) {cifar_dir} has no CIFAR-10: using CIFAR-shaped synthetic data")
        cifar_dir = None
    slots = round(1 / sz.fraction)
    if torch.device(device).type != "cuda":  # smoke: one logical GPU, so Ray schedules the gpu: 0.25 trials
        import logging

        import ray

        ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    with tempfile.TemporaryDirectory() as root:
        spec = study_spec(sz, root, str(Path(cifar_dir).resolve()) if cifar_dir else None)
        print(f"\n(c) study: {sz.study_trials} trials at gpu: {sz.fraction} ({slots} at a time), "
              f"{sz.study_epochs} epochs each, on {spec['data']['name']}")
        with Utilisation(torch.device(device).type == "cuda") as util:
            t0 = time.perf_counter()
            records = run_spec(spec)
            wall = time.perf_counter() - t0
    busy = sum(float(h.get("epoch_time_s") or 0) for r in records for h in r.history)
    statuses = {s: sum(r.status == s for r in records) for s in sorted({r.status for r in records})}
    share = 1 - busy / (slots * wall)
    print(f"{len(records)} trials in {wall:.0f} s ({', '.join(f'{v} {k}' for k, v in statuses.items())}): "
          f"{len(records) / (wall / 3600):.0f} trials per GPU-hour "
          f"({statuses.get('finished', 0) / (wall / 3600):.0f} trained to the end)")
    print(f"training+validation {busy:.0f} s of {slots} x {wall:.0f} s slot time: orchestration {share:.1%} of GPU time "
          f"(goal <= 10 %: {'met' if share <= 0.10 else 'NOT met'}); {util.text()}")


FA_WIDTH = 0.5
"""fa-resnet20 at this width: stage widths 8, 16, 32, so its first strided projection is the crashing case."""


def fa_channels_last_child(device_name: str) -> int:
    """Part (l)'s child: train fa-resnet20 at FA_WIDTH in channels_last at batch 3 (48 images, one epoch) on
    ``device_name``; print one result line."""
    import warnings

    from search_space import ArchConfig

    device = prepare_device(want_gpu=device_name.startswith("cuda"))
    if device.type != torch.device(device_name).type:
        print(f"(l) asked for {device_name}, got {device}")
        return 1
    if device.type == "cpu":
        torch.set_num_threads(1)
    data = load_arch("fa-resnet20", input_size=[3, 32, 32], num_classes=10).to_dict()
    data["backbone"] = {**data["backbone"], "width": FA_WIDTH}
    arch = ArchConfig.from_dict(data)
    torch.manual_seed(0)
    model = build_model(arch)
    cfg = TrainConfig(epochs=1, batch_size=3, optimizer="sgd", lr=0.01, augment=False, channels_last=True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        res = fit(model, synthetic_uint8(48, 12, 32, device), cfg, device=device)
    sync(device)
    cl = all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4)
    guard = [str(w.message) for w in seen if "channels_last" in str(w.message)]
    print(f"(l) {arch.name} on {device}, channels_last batch 3: status {res.status}, {res.epochs_run} epoch "
          f"(16 steps), weights in channels_last {cl}" + (f"; guard: {guard[0]}" if guard else ""))
    return 0 if res.status == "finished" else 1


def part_l(device) -> bool:
    """FA in channels_last at batch 3 (see the module docstring), in a fresh process; its line or how it died."""
    print("\n(l) FA-ResNet-20 (width 0.5) in channels_last at batch 3")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--fa-channels-last-child", str(device)],
                         capture_output=True, text=True, timeout=600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("(l)")]
    if out.returncode < 0:
        print(f"(l) CRASHED: the child died of signal {-out.returncode} (a native crash); {out.stderr[-500:]}")
    else:
        print("\n".join(lines) or f"(l) exit {out.returncode}: {out.stderr[-1000:]}")
    return out.returncode == 0


def part_t() -> bool:
    """The CUDA tests in a fresh process (they set memory caps and cuDNN flags); their summary line."""
    print("\n(t) CUDA tests: tests/trainers/test_cuda.py")
    if not _importable("pytest"):
        print("(t) skipped: pytest is not installed here (see .gpu-deps in this file's docstring)")
        return False
    paths = [str(ROOT)] + [str(ROOT / ".gpu-deps")] * (ROOT / ".gpu-deps").is_dir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "tests/trainers/test_cuda.py"], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR", "SKIPPED", "E  "))]
    print("\n".join(failed[:40] + lines[-1:]) if lines else out.stderr[-2000:])
    return out.returncode == 0


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default=None, help="comma-separated parts to run (default t,a,b,l,c; a,b,l with --cpu-smoke)")
    ap.add_argument("--cpu-smoke", action="store_true", help="run on the CPU at tiny sizes (checks the script)")
    ap.add_argument("--cifar-dir", default=None, help="data_dir holding cifar-10-batches-py/ for part c")
    ap.add_argument("--fa-channels-last-child", default=None, help=argparse.SUPPRESS)   # part (l)'s subprocess
    args = ap.parse_args()
    if args.fa_channels_last_child:
        return fa_channels_last_child(args.fa_channels_last_child)
    parts = set((args.parts or ("a,b,l" if args.cpu_smoke else "t,a,b,l,c")).split(","))
    if not args.cpu_smoke and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device here (torch.cuda.is_available() is False); nothing measured "
              "(--cpu-smoke runs the trainer parts on the CPU at tiny sizes)", file=sys.stderr)
        return 2
    sz = SMOKE if args.cpu_smoke else Sizes()
    device = prepare_device(want_gpu=not args.cpu_smoke)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        where = (f"{props.name}, compute capability {props.major}.{props.minor}, {props.total_memory / 2**30:.0f} GiB, "
                 f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        torch.set_num_threads(1)
        where = "CPU smoke run (tiny sizes; the figures mean nothing)"
    print(f"bench_gpu: {where}; torch {torch.__version__}; trainer precision {device_precision(None, device).name}, "
          f"channels_last {device.type == 'cuda'}")
    t0 = time.perf_counter()
    if "t" in parts:
        part_t()
    if "a" in parts:
        part_a(sz, device)
    if "b" in parts:
        part_b(sz, device)
    if "l" in parts:
        part_l(device)
    if "c" in parts:
        part_c(sz, device, args.cifar_dir)
    print(f"\nbench_gpu: done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
