"""Datasets as device-resident tensors: ``load_dataset(DataConfig) -> TensorData``, and
``describe_dataset(DataConfig) -> (num_classes, input_size)`` that reads only what the shape needs.

Every loader (one file per source format) returns the raw train and test images at the configured size,
uint8 (0..255) where the source is 8-bit or float in [0, 1], plus int64 labels; this module carves the seeded
validation split from the training set, applies ``train_subset`` and moves everything to the device, in one
of two storages:

- float (the default): normalised per channel with the training statistics once, here (linear, so padding
  a normalised image with zeros equals padding with the mean);
- ``uint8=True``: 8-bit sources stay raw uint8 (a quarter of the memory; CIFAR-10 184 MB instead of 737 MB)
  and ``data.normalizer(device)`` turns each batch into the same normalised floats inside ``fit`` /
  ``evaluate`` (trainers/data/normalize.py); float-only sources (synthetic) are normalised once as above.

The statistics (``mean``, ``std``, in [0, 1] units) come from the training split in both storages. The test
split is only for final reports (``attnas train``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from search_space.errors import AttnasError

from ..config import DataConfig
from . import cifar, digits, images, synthetic
from .normalize import Normalize, channel_stats, to_uint8

LOADERS = {
    "digits": digits.load,
    "cifar10": cifar.load_cifar10,
    "cifar100": cifar.load_cifar100,
    "tinyimagenet": images.load_tinyimagenet,
    "imagefolder": images.load_imagefolder,
    "synthetic": synthetic.load,
}
"""Dataset name -> loader(cfg, image_size) -> RawData."""

DESCRIBERS = {
    "digits": digits.describe,
    "cifar10": cifar.describe_cifar10,
    "cifar100": cifar.describe_cifar100,
    "tinyimagenet": images.describe_tinyimagenet,
    "imagefolder": images.describe_imagefolder,
    "synthetic": synthetic.describe,
}
"""Dataset name -> describe(cfg, image_size) -> (num_classes, channels), reading no images."""

NATIVE_SIZE = {"digits": 16, "cifar10": 32, "cifar100": 32, "tinyimagenet": 64, "imagefolder": 64, "synthetic": 32}


@dataclass(frozen=True)
class TensorData:
    """One dataset, split, as tensors on one device: normalised floats, or raw uint8 images that
    ``normalizer`` normalises per batch. ``mean`` / ``std``: per-channel training statistics in [0, 1] units
    (0 / 1 when ``normalize`` is off)."""
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

    @property
    def raw(self) -> bool:
        """The images are uint8 and need ``normalizer`` per batch."""
        return self.train_x.dtype == torch.uint8

    def normalizer(self, device=None) -> Normalize:
        """The per-batch normalisation for this data's images, its constants on ``device`` (default: where the
        images are); a no-op on float images, which are normalised already."""
        return Normalize(self.mean, self.std, self.train_x.device if device is None else device)

    @property
    def nbytes(self) -> int:
        """Bytes the six tensors take on their device."""
        return sum(t.numel() * t.element_size() for t in (self.train_x, self.train_y, self.val_x, self.val_y,
                                                          self.test_x, self.test_y))


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


def describe_dataset(cfg: DataConfig) -> tuple[int, tuple[int, int, int]]:
    """``(num_classes, (channels, size, size))`` of the data ``cfg`` names, without loading it: from the fixed
    format (CIFAR, after checking its files are there or will be downloaded), ``wnids.txt`` (Tiny-ImageNet) or
    the class folders (image folders); the same AttnasError as ``load_dataset`` when the data is missing."""
    size = cfg.image_size or NATIVE_SIZE[cfg.name]
    classes, channels = DESCRIBERS[cfg.name](cfg, size)
    return classes, (channels, size, size)


def load_dataset(cfg: DataConfig, device: str | torch.device = "cpu", *, uint8: bool = False) -> TensorData:
    """Load, split and move one dataset to ``device``, normalised (float) or, with ``uint8``, as raw 8-bit
    images where the source is 8-bit; AttnasError on missing or corrupt data."""
    size = cfg.image_size or NATIVE_SIZE[cfg.name]
    raw = LOADERS[cfg.name](cfg, size)
    x, y = raw.train_x, raw.train_y
    if len(x) < 2:
        raise AttnasError(f"data.{cfg.name}: {len(x)} training images found; allowed: at least 2")
    train_idx, val_idx = split_indices(len(x), cfg.val_fraction, cfg.train_subset, cfg.seed)
    test_x = raw.test_x
    if uint8 and raw.eight_bit:
        if x.dtype != torch.uint8:
            x, test_x = to_uint8(x), to_uint8(test_x)
        train_x, val_x = x[train_idx], x[val_idx]
        stats = channel_stats(train_x) if cfg.normalize else ((0.0,) * x.shape[1], (1.0,) * x.shape[1])
        stats = (stats[0], tuple(max(v, 1e-6) for v in stats[1]))
    else:
        if x.dtype == torch.uint8:
            x, test_x = x.float().div_(255.0), test_x.float().div_(255.0)
        train_x, val_x = x[train_idx], x[val_idx]
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


__all__ = ["TensorData", "load_dataset", "describe_dataset", "split_indices", "LOADERS", "DESCRIBERS", "NATIVE_SIZE",
           "Normalize"]
