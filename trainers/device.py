"""Which device a trial trains on, and the per-process GPU setup a trial needs (no Ray here: the study's
trainable calls these with what Ray assigned).

A Ray worker that was given a GPU sees exactly that GPU (Ray sets ``CUDA_VISIBLE_DEVICES``), so it is
``cuda:0`` in the worker; one given no GPU sees none. Logical GPUs on a CPU machine (``num_gpus`` declared
without hardware) leave CUDA unavailable, and the trial runs on the CPU.

Per trial (a reused actor runs many in one process): :func:`prepare_device` frees what the previous trial left
on the device, caps this process's share of the GPU's memory (a trial with ``gpu: 0.25`` gets a quarter, so
four trials packed on one GPU cannot starve each other; an allocation beyond it raises the CUDA OOM that
``fit`` reports as status "oom") and turns on cuDNN autotuning.
"""
from __future__ import annotations

import gc

import torch


def choose_device(cuda_available: bool, device_count: int, want_gpu: bool = True) -> str:
    """"cuda:0" when a GPU is wanted, CUDA works and at least one device is visible, else "cpu"."""
    return "cuda:0" if want_gpu and cuda_available and device_count > 0 else "cpu"


def select_device(want_gpu: bool = True) -> torch.device:
    """:func:`choose_device` for this process (``want_gpu`` False: the trial asked for no GPU)."""
    available = torch.cuda.is_available()
    return torch.device(choose_device(available, torch.cuda.device_count() if available else 0, want_gpu))


def release_memory(device: torch.device | str | None = None) -> None:
    """Give back what dropped tensors still hold: collect reference cycles (a traceback kept alive by an
    exception holds a whole forward pass), return the CUDA caching allocator's free blocks to the driver and
    reset the peak statistics, so the next trial in this process starts clean and measures its own peak.
    The caller drops its own references (model, optimiser, batches) first."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        if device is None or torch.device(device).type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()


def prepare_device(memory_fraction: float | None = None, want_gpu: bool = True) -> torch.device:
    """Set up this process for one trial and return its device.

    ``memory_fraction``: the share of the GPU's memory this process may allocate (the trial's ``gpu``
    resource when it is below 1; None or 1: the whole device). It caps PyTorch's caching allocator only: the
    CUDA context (a few hundred MB per process) comes on top, so a caller that packs shares summing to exactly
    1 and expects each trial to use all of its share should pass a little less (e.g. 0.95 x gpu).
    """
    if memory_fraction is not None and not 0 < memory_fraction <= 1:
        raise ValueError(f"memory_fraction must be in (0, 1], got {memory_fraction!r}")
    device = select_device(want_gpu)
    release_memory(device)
    if device.type == "cuda":
        torch.cuda.set_per_process_memory_fraction(float(memory_fraction or 1.0), device)
        torch.backends.cudnn.benchmark = True  # autotune conv algorithms per input shape (fixed within a trial)
    return device


def peak_memory_mb(device: torch.device | str) -> float | None:
    """Peak bytes allocated on a CUDA ``device`` since the last reset, in MB; None off CUDA."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20
