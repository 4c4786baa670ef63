"""CIFAR-10 / CIFAR-100 from the standard python-pickle layout under ``data_dir`` (no download here):
``cifar-10-batches-py/data_batch_1..5, test_batch`` (keys b'data' uint8 N x 3072, b'labels') and
``cifar-100-python/train, test`` (b'data', b'fine_labels')."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from search_space.errors import AttnasError

from .common import RawData, check_labels, resize

SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html (python version)"


def _root(cfg, folder: str, files: list[str]) -> Path:
    """``data_dir`` itself or ``data_dir/folder``, whichever holds ``files``; else a clear error."""
    if cfg.data_dir is None:
        raise AttnasError(f"data.data_dir: None is not allowed for {cfg.name}; allowed: a directory holding "
                          f"{folder}/ ({', '.join(files)}) from {SOURCE}; attnas does not download it")
    base = Path(cfg.data_dir).expanduser()
    for root in (base / folder, base):
        if all((root / f).is_file() for f in files):
            return root
    missing = [f for f in files if not (base / folder / f).is_file()]
    raise AttnasError(f"data.data_dir: {str(base)!r} has no {folder}/{missing[0]}; allowed: a directory holding "
                      f"{folder}/ ({', '.join(files)}) from {SOURCE}; attnas does not download it")


def _read(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
        data = data.reshape(len(data), 3, 32, 32)
    except Exception as e:  # any unpickling/shape problem means the file is not what we expect
        raise AttnasError(f"data.data_dir: {str(path)!r} is not a CIFAR python batch ({type(e).__name__}: {e}); "
                          f"allowed: a pickle with b'data' (N x 3072 uint8) and {label_key!r}") from None
    if len(data) != len(labels) or len(data) == 0:
        raise AttnasError(f"data.data_dir: {str(path)!r} has {len(data)} images and {len(labels)} labels; "
                          f"allowed: the same non-zero number of each")
    return data, labels


def _load(cfg, size: int, folder: str, train_files: list[str], test_file: str, label_key: bytes,
          num_classes: int) -> RawData:
    root = _root(cfg, folder, train_files + [test_file])
    parts = [_read(root / f, label_key) for f in train_files]
    test_x, test_y = _read(root / test_file, label_key)
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    to_float = lambda a: resize(torch.from_numpy(a).float().div_(255.0), size)
    train_y, test_y = torch.from_numpy(train_y), torch.from_numpy(test_y)
    check_labels(train_y, num_classes, str(root))
    check_labels(test_y, num_classes, str(root / test_file))
    return RawData(to_float(train_x), train_y, to_float(test_x), test_y, num_classes, flip_invariant=True)


def load_cifar10(cfg, size: int) -> RawData:
    return _load(cfg, size, "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch",
                 b"labels", 10)


def load_cifar100(cfg, size: int) -> RawData:
    return _load(cfg, size, "cifar-100-python", ["train"], "test", b"fine_labels", 100)
