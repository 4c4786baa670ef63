"""The Ray Tune function trainable: one trial = build the ArchConfig, profile it, train it, report per epoch.

Every report carries the same keys (``EPOCH_KEYS`` and ``PROFILE_KEYS``: the objectives are always present, NaN when unknown, so
Tune's strict metric check and the scheduler see a consistent stream) plus ``status``:

* ``running`` for an epoch that is not the last, ``finished`` for the last epoch of a completed fit;
* ``diverged`` (non-finite loss), ``oom`` (out of memory) and ``failed`` (any exception while building,
  profiling or training; ``reason`` holds the exception) in one final report.

A trial the scheduler stops simply ends after a ``running`` report; the lifecycle records it as stopped. The
trainable never raises for a bad architecture or a failed fit: the study goes on and the trial keeps its
reason. Duplicates never get here: the searcher answers them without a Tune trial.
"""
from __future__ import annotations

import json
import math
import time
import traceback

from ray import tune

NAN = float("nan")
EPOCH_KEYS = ("train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s")
PROFILE_KEYS = ("params", "macs", "latency_ms")

_DATA_CACHE: dict[str, object] = {}
"""Datasets loaded in this worker process, by DataConfig: a reused actor loads its data once."""


def _dataset(data_dict: dict):
    from trainers import DataConfig, load_dataset

    key = json.dumps(data_dict, sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = load_dataset(DataConfig.from_dict(data_dict), device="cpu")
    return _DATA_CACHE[key]


def _report(epoch: int, status: str, reason: str, profile: dict, metrics: dict, t0: float) -> None:
    row = {"epoch": epoch, "status": status, "reason": reason, "wall_time_s": time.perf_counter() - t0}
    row.update({k: float(metrics.get(k, NAN)) for k in EPOCH_KEYS})
    row.update({k: float(profile.get(k, NAN)) for k in PROFILE_KEYS})
    tune.report(row)


def train_trial(config: dict, settings: dict) -> None:
    """``config``: {key, number, reference, arch, arch_hash} from StudySearcher; ``settings``:
    {data, train (TrainConfig dicts), threads, latency}."""
    t0 = time.perf_counter()
    import torch

    from search_space import ArchConfig, build_model
    from trainers import TrainConfig, fit, profile_model

    torch.set_num_threads(max(1, int(settings.get("threads", 1))))
    profile: dict = {}
    last: dict = {}
    try:
        arch = ArchConfig.from_dict(config["arch"])
        data = _dataset(settings["data"])
        if tuple(data.input_size) != tuple(arch.input_size) or data.num_classes != arch.num_classes:
            raise ValueError(f"architecture takes {arch.input_size} / {arch.num_classes} classes but the data is "
                             f"{data.input_size} / {data.num_classes} classes")
        train_cfg = TrainConfig.from_dict(settings["train"])
        torch.manual_seed(train_cfg.seed)   # initial weights from the study seed, not from what this (reused)
        model = build_model(arch)           # actor ran before: same study + seed -> same results
        profile = profile_model(model, arch.input_size, device="cpu", latency=bool(settings.get("latency", True)))

        def on_epoch(epoch: int, metrics: dict):
            last.update(metrics)
            _report(epoch, "finished" if epoch == train_cfg.epochs else "running", "", profile, metrics, t0)

        result = fit(model, data, train_cfg, callback=on_epoch, device="cpu")
    except Exception as e:  # noqa: BLE001  - recorded on the trial, the study goes on
        where = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
        _report(int(last.get("epoch", 0)), "failed", reason, profile, {}, t0)
        return
    if result.status in ("diverged", "oom"):
        status = result.status
        metrics = {k: v for k, v in last.items() if not (isinstance(v, float) and not math.isfinite(v))}
        _report(result.epochs_run, status, result.reason, profile, {**metrics, "val_top1": NAN, "val_top5": NAN}, t0)
