"""scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes, real data, no download),
upsampled to the configured size (in float; stored as uint8 on request, like any 8-bit image). Digits are
not mirror-invariant, so horizontal flips default off."""
from __future__ import annotations

import torch

from .common import RawData, carve_test, resize


def describe(cfg, size: int) -> tuple[int, int]:
    return 10, 1


def load(cfg, size: int) -> RawData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().div_(16.0).unsqueeze(1)
    y = torch.from_numpy(bunch.target).long()
    train_x, train_y, test_x, test_y = carve_test(resize(x, size), y)
    return RawData(train_x, train_y, test_x, test_y, 10, flip_invariant=False)
