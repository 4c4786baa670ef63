"""The Ray Tune function trainable: one trial = build the ArchConfig, profile it, train it, report per epoch.

Every report carries the same keys (``EPOCH_KEYS`` and ``PROFILE_KEYS``: the objectives are always present, NaN when unknown, so
Tune's strict metric check and the scheduler see a consistent stream) plus ``status``:

* ``running`` for an epoch that is not the last, ``finished`` for the last epoch of a completed fit;
* ``diverged`` (non-finite loss), ``oom`` (out of memory, while profiling or training) and ``failed`` (any
  other exception while building, profiling or training; ``reason`` holds the exception) in one final report;

and where, how and when it ran (:data:`PROVENANCE_KEYS`): ``node`` (Ray node id), ``gpu_ids`` (the GPU ids Ray
assigned, comma-separated; empty for a CPU trial), ``device`` (``cpu``, or ``cuda:N (GPU name)``), ``precision``
(what ``fit`` trains in on that device: fp32, bf16 or fp16), ``torch`` and ``cuda`` (versions; ``cuda`` empty for
a CPU build), ``started_at`` (UTC, ISO 8601; a trial continued from a checkpoint keeps its first start) and
``resumed_from`` (the epoch its checkpoint held; 0: from scratch). A failed report also carries ``traceback``.

**Failures** are classified (:func:`transient`): an exception that says more about the machine than the
architecture (a CUDA initialisation or driver error, in :func:`trainers.prepare_device` too) is raised, so that
Tune runs the trial again (``failures.max_retries``) and, when the retries are spent, the study records it
``lost``, which answers no later duplicate; any other exception (the config does not build, forward or backward
raises) is reported ``failed``, which does.

**Device.** A trial trains on ``cuda`` when Ray assigned it a GPU and CUDA works in the worker, else on the CPU
(a logical GPU on a CPU machine hands out an id but no device). :func:`trainers.prepare_device` frees what the
previous trial of a reused actor left on the device and caps this process at ``0.95 * gpu`` of the GPU's memory
when ``gpu < 1`` (the 5 % leaves room for each process's CUDA context, so shares that sum to 1 fit). The data set
is cached on that device once per worker process (:func:`trainers.cached_dataset`, uint8, normalised per batch);
``fit`` chooses AMP (``training.amp``) and channels_last for the device. Latency is measured only when
``settings["latency"]`` (an objective or the study asks for ``latency_ms``), on the trial's own device, once.

**Checkpoints.** After an epoch but the last, once ``settings["checkpoint_every_s"]``
(``failures.checkpoint_every_s``) passed since the trial's last checkpoint or its start (:class:`CheckpointClock`),
``fit``'s own checkpoint (model, optimiser, scaler, schedule, RNG states: an exact resume) is reported to Tune
with ``meta.json`` (epoch, history, profile, train config). A trial Tune retries after its node died resumes from ``tune.get_checkpoint()``; a trial a resumed study runs
again resumes from ``config["resume_from"]`` (the last checkpoint the study saw, see
:mod:`studies.lifecycle`). A checkpoint made under another train config or architecture is not used.

A trial the scheduler stops simply ends after a ``running`` report; the lifecycle records it as stopped. The
trainable never raises for a bad architecture or a failed fit: the study goes on and the trial keeps its
reason and traceback. Duplicates never get here: the searcher answers them without a Tune trial.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from ray import tune

from analysis.status import finite

NAN = float("nan")
EPOCH_KEYS = ("train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s")
PROFILE_KEYS = ("params", "macs", "latency_ms")
CHECKPOINT_FILE = "fit.pt"
META_FILE = "meta.json"
MEMORY_HEADROOM = 0.95
"""Share of a trial's ``gpu`` fraction its process may allocate (the CUDA context comes on top)."""
PROVENANCE_KEYS = ("node", "device", "gpu_ids", "precision", "torch", "cuda", "started_at")
"""What every report says about where, how and when the trial trained (the record adds ``ended_at``)."""
TRANSIENT_TEXTS = ("CUDA driver", "initialization error", "CUDA-capable device", "busy or unavailable",
                   "uncorrectable ECC", "unspecified launch failure", "NCCL error")
"""CUDA errors that say the device or its driver failed, not the architecture (initialisation, driver, ECC)."""
LOST_ERRORS = ("TransientTrialError", "RayActorError", "ActorDiedError", "ActorUnavailableError",
               "WorkerCrashedError", "NodeDiedError", "OwnerDiedError", "ObjectLostError", "OutOfMemoryError")
"""Names in a Tune trial error that mean its worker or node was lost (or the trainable raised a transient error)."""


class TransientTrialError(RuntimeError):
    """Raised by the trainable for a failure of the machine, not the architecture: Tune runs the trial again."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _device_failure(text: str) -> bool:
    return ("CUDA" in text or "cuda" in text or "NCCL" in text) and any(t in text for t in TRANSIENT_TEXTS)


def transient(e: BaseException) -> bool:
    """Whether exception ``e`` is a CUDA initialisation or driver error (see :data:`TRANSIENT_TEXTS`)."""
    return _device_failure(f"{type(e).__name__}: {e}")


def lost(error_text: str) -> bool:
    """Whether a Tune trial's error (its error file) says the trial was lost (its worker or node died, or a
    transient device failure) rather than failed by itself: the one classification of a Tune error."""
    return any(name in error_text for name in LOST_ERRORS) or _device_failure(error_text)


def placement() -> dict:
    """Where this trial runs: the Ray node id and the GPU ids Ray assigned to it (public runtime context)."""
    import ray

    if not ray.is_initialized():        # called outside Ray (tests, a direct call): no node, no GPU
        return {"node": "", "gpu_ids": []}
    ctx = ray.get_runtime_context()
    return {"node": ctx.get_node_id(), "gpu_ids": [str(g) for g in ctx.get_accelerator_ids().get("GPU", [])]}


def read_meta(directory) -> dict | None:
    """A checkpoint folder's ``meta.json`` (None when there is none)."""
    path = Path(directory) / META_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _restore(checkpoint, into: Path, train: dict, arch_hash: str) -> dict | None:
    """Copy ``checkpoint``'s files into ``into``; its meta, or None when it is absent or for another trial."""
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as d:
        meta = read_meta(d)
        if meta is None or meta.get("train") != train or meta.get("arch_hash") != arch_hash \
                or not (Path(d) / CHECKPOINT_FILE).is_file():
            return None
        shutil.copyfile(Path(d) / CHECKPOINT_FILE, into / CHECKPOINT_FILE)
    return meta


def _report(epoch: int, status: str, reason: str, profile: dict, metrics: dict, t0: float, where: dict,
            checkpoint=None, **extra) -> None:
    row = {"epoch": epoch, "status": status, "reason": reason, "wall_time_s": time.perf_counter() - t0, **where,
           **extra}
    row.update({k: float(metrics.get(k, NAN)) for k in EPOCH_KEYS})
    row.update({k: float(profile.get(k, NAN)) for k in PROFILE_KEYS})
    tune.report(row, checkpoint=checkpoint)


class CheckpointClock:
    """Whether an epoch's report carries a checkpoint: not after the last epoch (unless the final weights are
    kept), else once ``every_s`` passed since the last checkpoint (or the trial's start). Short epochs then
    skip Tune's per-checkpoint handling; a lost trial redoes less than ``every_s`` of training."""

    now = staticmethod(time.perf_counter)

    def __init__(self, every_s: float, keep_final: bool = False):
        self.every_s, self.keep_final = float(every_s), bool(keep_final)
        self.last = self.now()

    def due(self, done: bool) -> bool:
        now = self.now()
        if (done and self.keep_final) or (not done and now - self.last >= self.every_s):
            self.last = now
            return True
        return False


def _reason(e: BaseException) -> str:
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}{at}"


def train_trial(config: dict, settings: dict) -> None:
    """``config``: {key, number, reference, arch, arch_hash, resume_from} from StudySearcher; ``settings``:
    {data, train (TrainConfig dicts), threads, latency, gpu}."""
    t0 = time.perf_counter()
    import torch

    from search_space import ArchConfig, build_model
    from studies.logs import quiet_worker_logs
    from trainers import DataConfig, TrainConfig, cached_dataset, fit, is_oom, prepare_device, profile_model
    from trainers.precision import device_precision

    quiet_worker_logs()
    torch.set_num_threads(max(1, int(settings.get("threads", 1))))
    placed = placement()
    gpu = float(settings.get("gpu", 0) or 0)
    where = {"node": placed["node"], "gpu_ids": ",".join(placed["gpu_ids"]), "device": "", "precision": "",
             "torch": torch.__version__, "cuda": torch.version.cuda or "", "started_at": utc_now(), "resumed_from": 0}
    profile: dict = {}
    last: dict = {}
    work = Path(tempfile.mkdtemp(prefix="attnas-trial-"))
    try:
        device = prepare_device(memory_fraction=MEMORY_HEADROOM * gpu if 0 < gpu < 1 else None,
                                want_gpu=bool(placed["gpu_ids"]))
        where["device"] = describe_device(device)
        arch = ArchConfig.from_dict(config["arch"])
        train = dict(settings["train"])
        train["seed"] = int(train.get("seed", 0)) + int(config.get("replicate", 0) or 0)   # a seed replicate arm
        train_cfg = TrainConfig.from_dict(train)
        where["precision"] = device_precision(train_cfg.amp, device).name
        resume = tune.get_checkpoint()
        if resume is None and config.get("resume_from"):
            resume = tune.Checkpoint(config["resume_from"])
        meta = _restore(resume, work, train_cfg.to_dict(), arch.hash)
        history = list(meta["history"]) if meta else []
        if meta:
            where["resumed_from"] = int(meta["epoch"])
            where["started_at"] = meta.get("started_at", where["started_at"])
            profile = dict(meta["profile"])
            last.update(history[-1] if history else {})
        data = cached_dataset(DataConfig.from_dict(settings["data"]), device)
        if tuple(data.input_size) != tuple(arch.input_size) or data.num_classes != arch.num_classes:
            raise ValueError(f"architecture takes {arch.input_size} / {arch.num_classes} classes but the data is "
                             f"{data.input_size} / {data.num_classes} classes")
        torch.manual_seed(train_cfg.seed)   # initial weights from the study seed, not from what this (reused)
        model = build_model(arch)           # actor ran before: same study + seed -> same results
        if not profile:
            profile = profile_model(model, arch.input_size, device=device, latency=bool(settings.get("latency")))

        clock = CheckpointClock(settings.get("checkpoint_every_s", 0.0), bool(settings.get("keep_final")))

        def on_epoch(epoch: int, metrics: dict):
            last.update(metrics)
            history.append(metrics)
            done = epoch == train_cfg.epochs
            checkpoint = None
            if clock.due(done):               # the last one only for tracking.log_weights: front
                (work / META_FILE).write_text(json.dumps({
                    "epoch": epoch, "history": history, "profile": profile, "train": train_cfg.to_dict(),
                    "arch_hash": arch.hash, "key": config["key"], "started_at": where["started_at"]}))
                checkpoint = tune.Checkpoint.from_directory(str(work))
            _report(epoch, "finished" if done else "running", "", profile, metrics, t0, where, checkpoint)

        result = fit(model, data, train_cfg, callback=on_epoch, device=device, checkpoint_path=work / CHECKPOINT_FILE)
    except Exception as e:  # noqa: BLE001  - recorded on the trial, the study goes on
        if transient(e):
            raise TransientTrialError(_reason(e)) from e     # Tune runs it again (failures.max_retries)
        _report(int(last.get("epoch", 0)), "oom" if is_oom(e) else "failed", _reason(e), profile, {}, t0, where,
                traceback="".join(traceback.format_exception(e)))
        return
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if result.status in ("diverged", "oom"):
        metrics = {k: v for k, v in last.items() if not (isinstance(v, float) and not finite(v))}
        _report(result.epochs_run, result.status, result.reason, profile,
                {**metrics, "val_top1": NAN, "val_top5": NAN}, t0, where)


def describe_device(device) -> str:
    """``cpu``, or ``cuda:N (the GPU's name)``."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return str(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
