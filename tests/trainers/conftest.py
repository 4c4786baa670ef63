"""Shared tiny fixtures: a small synthetic dataset and a small conv net, so loop tests take milliseconds."""
import pytest
import torch
from torch import nn

from trainers import DataConfig, load_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    """The CI/dev box is small and shared: one intra-op thread avoids oversubscription stalls."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(scope="session")
def tiny_data():
    return load_dataset(DataConfig(name="synthetic", image_size=8, classes=4, num_train=160, num_test=40,
                                   val_fraction=0.25))


def tiny_net(channels: int = 3, classes: int = 4, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * 4 * 4, classes))


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    """A tiny CIFAR-10 folder in the official pickle layout (5 x 24 training images, 16 test), with
    class-dependent colours so a model can learn something."""
    import pickle

    import numpy as np

    root = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [(f"data_batch_{i}", 24) for i in range(1, 6)] + [("test_batch", 16)]:
        labels = rng.integers(0, 10, n)
        base = (labels[:, None] * 25 + rng.integers(0, 30, (n, 3072))).clip(0, 255).astype(np.uint8)
        (root / name).write_bytes(pickle.dumps({b"data": base, b"labels": labels.tolist()}))
    return root.parent


def pool_net(classes: int = 10, seed: int = 0) -> nn.Module:
    """A tiny conv net for any input size (3 channels)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, classes))


def run_together(fn, n: int = 3, timeout: float = 60.0) -> list:
    """Run ``fn(i)`` in ``n`` forked processes released at the same moment (a barrier); their return values
    (or 'error: ...' strings) in order. Fork, not spawn: the callers' monkeypatches carry over."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(n), ctx.Queue()

    def child(i):
        torch.set_num_threads(1)
        barrier.wait()
        try:
            results.put((i, fn(i)))
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            results.put((i, f"error: {type(e).__name__}: {e}"))

    procs = [ctx.Process(target=child, args=(i,)) for i in range(n)]
    for p in procs:
        p.start()
    out = dict(results.get(timeout=timeout) for _ in procs)
    for p in procs:
        p.join(timeout)
    return [out[i] for i in range(n)]
