"""What every loader returns, and the helpers they share (resizing, label checks, carving a test split)."""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from search_space.errors import AttnasError

TEST_SPLIT_SEED = 20240101
"""Fixed seed for sources without a test split (digits, flat image folders), so the test set never moves."""


class RawData(NamedTuple):
    """Unsplit data from a loader: images of shape (N, C, H, W), either uint8 (0..255) or float in [0, 1],
    already at the configured size, and int64 labels. ``eight_bit``: the source is 8-bit images (float here
    only because it was resized), so it may be stored as uint8."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    flip_invariant: bool
    eight_bit: bool = True


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of a (N, C, H, W) float batch to size x size (no-op when already that size)."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


def carve_test(x: torch.Tensor, y: torch.Tensor, fraction: float = 0.2):
    """Split a source without a test set into (train_x, train_y, test_x, test_y) with a fixed seed."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(TEST_SPLIT_SEED))
    n_test = max(1, round(len(x) * fraction))
    test, train = perm[:n_test].sort().values, perm[n_test:].sort().values
    return x[train], y[train], x[test], y[test]


def check_labels(y: torch.Tensor, num_classes: int, where: str) -> None:
    """Labels must be in [0, num_classes); anything else means a corrupt or mismatched file."""
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise AttnasError(f"{where}: labels range {int(y.min())}..{int(y.max())}; "
                          f"allowed: 0..{num_classes - 1} (corrupt or wrong dataset?)")
