"""The training loop: ``fit(model, data, cfg, callback)`` and ``evaluate(model, x, y)``.

The whole dataset is already on the device (as normalised floats, or as raw uint8 images normalised per
batch); each step slices a shuffled batch, normalises it, augments it in a few vectorised ops (after
normalising, so the crop's zero padding is the channel mean, as in the float storage), and runs
forward/backward/step under the precision ``TrainConfig.amp`` resolves to on this device
(trainers/precision.py; a gradient scaler for fp16, disabled and free otherwise). Nothing syncs with the host
inside an epoch except a finiteness check every ``CHECK_EVERY`` steps (and, with fp16, the scaler's own
inf check). Failures the caller must survive (a diverging loss, running out of memory) end the run with a
status instead of an exception; after an OOM the step's tensors are dropped and the allocator's cache
emptied, so the process can go on to another trial.

Channels-last defaults to CUDA only: on the 2-core dev CPU it gave no measurable gain for SE-ResNet-20
training (1.41 vs 1.45 s per batch-128 step, one thread, within noise); ``TrainConfig.channels_last=True``
forces it, except on a CPU where torch's channels_last convolution crashes in backward
(trainers/channels_last_probe.py: then the default format, with one warning line saying why).
"""
from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from .augment import augment
from .channels_last_probe import cpu_channels_last_refusal
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data.normalize import Normalize
from .device import release_memory
from .precision import FP32, Precision, device_precision
from .schedule import LRSchedule

CHECK_EVERY = 25
"""Steps between host-side checks that the running loss is finite (each check is one device sync)."""

Callback = Callable[[int, dict], "bool | None"]


@dataclass
class FitResult:
    """How a run ended. ``status``: finished, stopped (callback asked), diverged (non-finite loss) or oom.
    ``device`` and ``precision`` (bf16, fp16 or fp32) say where and how it trained."""
    status: str
    reason: str
    epochs_run: int
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    wall_time_s: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"

    def to_dict(self) -> dict:
        return asdict(self)


def _accuracy(num_classes: int, k: int, device) -> MulticlassAccuracy:
    return MulticlassAccuracy(num_classes, top_k=min(k, num_classes), average="micro", validate_args=False).to(device)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512, *,
             normalize: Normalize | None = None, precision: Precision = FP32, channels_last: bool = False) -> dict:
    """Mean cross-entropy and top-1/top-5 accuracy (fractions; top-k capped at the class count). uint8
    images need ``normalize`` (``data.normalizer()``), the same normalisation training used."""
    if x.dtype == torch.uint8 and normalize is None:
        raise TypeError("evaluate: x is raw uint8 images; pass normalize=data.normalizer()")
    was_training = model.training
    model.eval()
    loss_sum, top1, top5 = torch.zeros((), device=x.device), None, None
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        if normalize is not None:
            xb = normalize(xb)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, precision.dtype or torch.bfloat16, enabled=precision.autocast):
            out = model(xb)
        out = out.float()
        if top1 is None:
            top1, top5 = _accuracy(out.shape[1], 1, x.device), _accuracy(out.shape[1], 5, x.device)
        loss_sum += F.cross_entropy(out, yb, reduction="sum")
        top1.update(out, yb)
        top5.update(out, yb)
    model.train(was_training)
    return {"loss": loss_sum.item() / len(x), "top1": top1.compute().item(), "top5": top5.compute().item()}


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


OOM_TEXTS = ("out of memory", "can't allocate memory", "STATUS_ALLOC_FAILED")
"""RuntimeError messages that mean an allocation failed: CUDA's, the CPU allocator's ("DefaultCPUAllocator:
can't allocate memory"), cuBLAS / cuDNN failing to allocate their workspace or handle."""


def is_oom(e: BaseException) -> bool:
    """CUDA's OutOfMemoryError, a host MemoryError, or a RuntimeError with one of ``OOM_TEXTS``."""
    return isinstance(e, (torch.OutOfMemoryError, MemoryError)) or any(t in str(e) for t in OOM_TEXTS)


def fit(model: nn.Module, data, cfg: TrainConfig = TrainConfig(), callback: Callback | None = None,
        device: str | torch.device = "cpu", checkpoint_path=None) -> FitResult:
    """Train ``model`` on ``data`` (a TensorData) for ``cfg.epochs``; resume from ``checkpoint_path`` if it
    exists and rewrite it after every epoch. ``callback(epoch, metrics)`` runs after each epoch (epochs count
    from 1); returning True stops the run (status "stopped"), which is how ASHA prunes a trial."""
    t0 = time.perf_counter()
    device = torch.device(device)
    cuda = device.type == "cuda"
    precision = device_precision(cfg.amp, device)
    channels_last = cfg.channels_last if cfg.channels_last is not None else cuda
    if channels_last and device.type == "cpu":
        refusal = cpu_channels_last_refusal()      # a native crash on this torch's CPU conv: the default format
        if refusal:
            warnings.warn(refusal, RuntimeWarning, stacklevel=2)
            channels_last = False
    torch.manual_seed(cfg.seed)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    val_x, val_y = data.val_x.to(device), data.val_y.to(device)
    norm = data.normalizer(device)
    n = len(train_x)
    batch = min(cfg.batch_size, n)
    steps = n // batch  # the last partial batch is dropped (BatchNorm dislikes tiny batches)
    pad = cfg.crop_padding if cfg.crop_padding is not None else train_x.shape[-1] // 8
    flip = cfg.flip if cfg.flip is not None else data.flip_invariant
    optimizer = _optimizer(model, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.scaler)
    schedule = LRSchedule(cfg, steps)
    gens = {"order": torch.Generator().manual_seed(cfg.seed),
            "augment": torch.Generator(device).manual_seed(cfg.seed + 1)}
    start, history = 0, []
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        start, history = load_checkpoint(checkpoint_path, model=model, optimizer=optimizer, scaler=scaler,
                                         schedule=schedule, generators=gens)
    net = torch.compile(model) if cfg.compile else model
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def result(status: str, reason: str) -> FitResult:
        metrics = dict(history[-1]) if history else {}
        if history:
            best = max(history, key=lambda r: r["val_top1"])
            metrics.update(best_val_top1=best["val_top1"], best_epoch=best["epoch"])
        return FitResult(status, reason, len(history), history, metrics, time.perf_counter() - t0, str(device),
                         precision.name)

    epoch, where, oom = start, "", None
    try:
        for epoch in range(start + 1, cfg.epochs + 1):
            t_epoch = time.perf_counter()
            where = f"epoch {epoch}, training at batch size {batch}"
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            order = torch.randperm(n, generator=gens["order"]).to(device)
            for i in range(steps):
                idx = order[i * batch:(i + 1) * batch]
                xb, yb = norm(train_x[idx]), train_y[idx]
                if cfg.augment:
                    xb = augment(xb, gens["augment"], pad, flip)
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                lr = cfg.lr * schedule.factor((epoch - 1) * steps + i)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(device.type, precision.dtype or torch.bfloat16, enabled=precision.autocast):
                    out = net(xb)
                    loss = criterion(out, yb)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                loss_sum += loss.detach()
                correct += (out.detach().argmax(1) == yb).sum()  # top-1; 3 kernels where torchmetrics launches ~12
                if (i + 1) % CHECK_EVERY == 0 and not torch.isfinite(loss_sum):
                    break
            train_loss = loss_sum.item() / steps
            if not math.isfinite(train_loss):
                return result("diverged", f"training loss became {train_loss} in epoch {epoch}")
            train_time = time.perf_counter() - t_epoch
            where = f"epoch {epoch}, validation at batch size {cfg.eval_batch_size}"
            val = evaluate(net, val_x, val_y, cfg.eval_batch_size, normalize=norm, precision=precision,
                           channels_last=channels_last)
            if not math.isfinite(val["loss"]):
                return result("diverged", f"validation loss became {val['loss']} in epoch {epoch}")
            schedule.epoch_end(val["loss"])
            history.append({"epoch": epoch, "train_loss": train_loss, "train_top1": correct.item() / (steps * batch),
                            "val_loss": val["loss"], "val_top1": val["top1"], "val_top5": val["top5"], "lr": lr,
                            "train_time_s": train_time, "epoch_time_s": time.perf_counter() - t_epoch})
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model=model, optimizer=optimizer, scaler=scaler, schedule=schedule,
                                generators=gens, epoch=epoch, history=history, config=cfg.to_dict())
            if callback is not None and callback(epoch, dict(history[-1])):
                return result("stopped", f"callback stopped the run after epoch {epoch}")
    except (torch.OutOfMemoryError, RuntimeError, MemoryError) as e:
        if not is_oom(e):
            raise
        oom = f"out of memory in {where} on {device}: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
    if oom is not None:
        # outside the except block, so the exception's traceback (and the forward pass its frames hold) is
        # gone; drop this frame's step tensors too before giving the cached blocks back
        xb = yb = out = loss = idx = order = None  # noqa: F841
        optimizer.zero_grad(set_to_none=True)
        release_memory(device)
        return result("oom", oom)
    return result("finished", f"trained {cfg.epochs} epochs")
