"""Datasets as device-resident tensors: ``load_dataset(DataConfig) -> TensorData``.

Every loader (one file per source format) returns the raw train and test images as float tensors in [0, 1]
of shape (N, C, H, W) plus int64 labels; this module carves the seeded validation split from the training
set, applies ``train_subset``, normalises per channel with the training statistics (once, here, rather than
per batch: it is linear, so padding a normalised image with zeros equals padding with the mean) and moves
everything to the device. The test split is only for final reports (``attnas train``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from search_space.errors import AttnasError

from ..config import DataConfig
from . import cifar, digits, images, synthetic

LOADERS = {
    "digits": digits.load,
    "cifar10": cifar.load_cifar10,
    "cifar100": cifar.load_cifar100,
    "tinyimagenet": images.load_tinyimagenet,
    "imagefolder": images.load_imagefolder,
    "synthetic": synthetic.load,
}
"""Dataset name -> loader(cfg, image_size) -> RawData."""

NATIVE_SIZE = {"digits": 16, "cifar10": 32, "cifar100": 32, "tinyimagenet": 64, "imagefolder": 64, "synthetic": 32}


@dataclass(frozen=True)
class TensorData:
    """One dataset, split and normalised, as tensors on one device."""
    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    input_size: tuple
    flip_invariant: bool
    mean: tuple
    std: tuple

    def to(self, device) -> "TensorData":
        move = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
        return replace(self, **move)


def split_indices(n: int, val_fraction: float, train_subset, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) index tensors: a seeded permutation, the first ``val_fraction`` is validation.

    ``train_subset`` thins only the training part, so the validation set is the same at every fidelity.
    """
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, train = perm[:n_val], perm[n_val:]
    if train_subset is not None:
        keep = train_subset if isinstance(train_subset, int) else max(1, round(len(train) * train_subset))
        train = train[:keep]
    return train.sort().values, val.sort().values


def load_dataset(cfg: DataConfig, device: str | torch.device = "cpu") -> TensorData:
    """Load, split, normalise and move one dataset to ``device``; AttnasError on missing or corrupt data."""
    size = cfg.image_size or NATIVE_SIZE[cfg.name]
    raw = LOADERS[cfg.name](cfg, size)
    x, y = raw.train_x, raw.train_y
    if len(x) < 2:
        raise AttnasError(f"data.{cfg.name}: {len(x)} training images found; allowed: at least 2")
    train_idx, val_idx = split_indices(len(x), cfg.val_fraction, cfg.train_subset, cfg.seed)
    train_x, val_x, test_x = x[train_idx], x[val_idx], raw.test_x
    if cfg.normalize:
        mean = train_x.mean((0, 2, 3), keepdim=True)
        std = train_x.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        train_x, val_x, test_x = [(t - mean) / std for t in (train_x, val_x, test_x)]
        stats = (tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()))
    else:
        stats = ((0.0,) * x.shape[1], (1.0,) * x.shape[1])
    data = TensorData(cfg.name, train_x.contiguous(), y[train_idx], val_x.contiguous(), y[val_idx],
                      test_x.contiguous(), raw.test_y, raw.num_classes, tuple(x.shape[1:]), raw.flip_invariant,
                      *stats)
    return data.to(device)


__all__ = ["TensorData", "load_dataset", "split_indices", "LOADERS", "NATIVE_SIZE"]
