"""Generated, class-dependent images of any size, count and class number (seeded), for tests and
benchmarks: each class has a smooth random prototype; a sample is its prototype at a random contrast plus noise.
Learnable, but not in one step. Float images (not 8-bit), so they stay float on the device."""
from __future__ import annotations

import torch

from .common import RawData, resize

CONTENT_SEED = 1729


def _make(n: int, protos: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    classes = protos.shape[0]
    y = torch.arange(n) % classes
    y = y[torch.randperm(n, generator=gen)]
    contrast = 0.5 + torch.rand(n, 1, 1, 1, generator=gen)
    x = 0.5 + (protos[y] - 0.5) * contrast + 0.35 * torch.randn((n, *protos.shape[1:]), generator=gen)
    return x.clamp_(0, 1), y


def describe(cfg, size: int) -> tuple[int, int]:
    return cfg.classes, cfg.channels


def load(cfg, size: int) -> RawData:
    gen = torch.Generator().manual_seed(CONTENT_SEED)
    low = torch.rand(cfg.classes, cfg.channels, 4, 4, generator=gen)
    protos = resize(low, size)
    train_x, train_y = _make(cfg.num_train, protos, gen)
    test_x, test_y = _make(cfg.num_test, protos, gen)
    return RawData(train_x, train_y, test_x, test_y, cfg.classes, flip_invariant=True, eight_bit=False)
