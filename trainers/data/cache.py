"""The data set a worker process keeps on its device across trials: ``cached_dataset(cfg, device)``.

A Ray actor reused for many trials (or a process running several studies in turn) loads its data set once,
as uint8 where the source is 8-bit, straight onto the trial's device. The cache holds one entry: a different
DataConfig or device drops the old tensors (and returns their device memory) before the new ones load, so two
data sets never sit on the GPU together.
"""
from __future__ import annotations

import json

import torch

from ..config import DataConfig
from ..device import release_memory

_CACHE: dict[tuple, object] = {}


def _key(cfg: DataConfig, device) -> tuple:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return json.dumps(cfg.to_dict(), sort_keys=True), str(device)


def cached_dataset(cfg: DataConfig, device="cpu"):
    """``load_dataset(cfg, device, uint8=True)``, once per process for the same ``cfg`` and ``device``."""
    from . import load_dataset

    key = _key(cfg, device)
    if key not in _CACHE:
        clear_dataset_cache()
        _CACHE[key] = load_dataset(cfg, device, uint8=True)
    return _CACHE[key]


def clear_dataset_cache() -> None:
    """Drop the cached data set and give its device memory back."""
    if _CACHE:
        _CACHE.clear()
        release_memory()
