"""CIFAR-10 / CIFAR-100 from the standard python-pickle layout under ``data_dir``:
``cifar-10-batches-py/data_batch_1..5, test_batch`` (keys b'data' uint8 N x 3072, b'labels') and
``cifar-100-python/train, test`` (b'data', b'fine_labels').

Nothing is downloaded unless ``DataConfig.download`` is true (``attnas train --download``); then a missing
folder is fetched from the official archive in ``ARCHIVES`` with urllib, its MD5 checked against the published
one, and the tarball extracted into ``data_dir`` (members with absolute paths, ``..`` or anything but plain
files and folders are rejected before anything is written) and removed."""
from __future__ import annotations

import hashlib
import http.client
import pickle
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from search_space.errors import AttnasError

from .common import RawData, check_labels, resize

SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html (python version)"

ARCHIVES = {
    "cifar10": {"url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "md5": "c58f30108f718f92721af3b95e74349a"},
    "cifar100": {"url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                 "md5": "eb9058c3a382ffc7106e4002c42a8d85"},
}
"""Dataset name -> official archive URL and its published MD5 (module-level so tests can point them elsewhere)."""

TIMEOUT_S = 60.0
"""Socket timeout for the download (connect and each read)."""

_CHUNK = 1 << 20


def _one_line(reason) -> str:
    return " ".join(str(reason).split()) or type(reason).__name__


def _fetch(name: str, folder: str, base: Path) -> None:
    """Download ``ARCHIVES[name]`` into ``base``, check its MD5, extract it there and remove the archive."""
    url, want = ARCHIVES[name]["url"], ARCHIVES[name]["md5"].lower()
    place = f"allowed: place the extracted {folder}/ under {base} (from {SOURCE})"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AttnasError(f"data.data_dir: cannot create {str(base)!r} ({_one_line(e)}); "
                          f"allowed: a writable directory to download {folder}/ into") from None
    archive = base / (PurePosixPath(urllib.parse.urlparse(url).path).name or f"{name}-python.tar.gz")
    digest = hashlib.md5()
    try:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(archive, "wb") as out:
                while chunk := resp.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except urllib.error.HTTPError as e:
            raise AttnasError(f"data.download: could not fetch {url} (HTTP {e.code} {_one_line(e.reason)}); "
                              f"{place}") from None
        except urllib.error.URLError as e:
            raise AttnasError(f"data.download: could not fetch {url} ({_one_line(e.reason)}); {place}") from None
        except (OSError, http.client.HTTPException) as e:  # timeouts, resets, short reads, disk errors
            raise AttnasError(f"data.download: could not fetch {url} ({type(e).__name__}: {_one_line(e)}); "
                              f"{place}") from None
        got = digest.hexdigest()
        if got != want:
            raise AttnasError(f"data.download: {str(archive)!r} from {url} has md5 {got}, expected {want}; "
                              f"the file was removed; allowed: retry, or place the extracted {folder}/ under {base}")
        _extract(archive, base)
    finally:
        archive.unlink(missing_ok=True)


def _extract(archive: Path, base: Path) -> None:
    """Extract a tarball into ``base`` after checking every member name and type; nothing is written if any
    member is unsafe."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                parts = PurePosixPath(m.name).parts
                if m.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise AttnasError(f"data.download: {str(archive)!r} has member {m.name!r} outside the target "
                                      f"folder; allowed: relative paths without '..'")
                if not (m.isfile() or m.isdir()):
                    raise AttnasError(f"data.download: {str(archive)!r} has member {m.name!r} that is not a plain "
                                      f"file or folder; allowed: plain files and folders only")
            tar.extractall(base, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise AttnasError(f"data.download: cannot extract {str(archive)!r} ({type(e).__name__}: {_one_line(e)}); "
                          f"allowed: a gzip tar of {SOURCE}") from None


def _root(cfg, folder: str, files: list[str]) -> Path:
    """``data_dir`` itself or ``data_dir/folder``, whichever holds ``files``; with ``download``, fetch the
    official archive into ``data_dir`` first when neither does; else a clear error."""
    how = f"{folder}/ ({', '.join(files)}) from {SOURCE}"
    asked = getattr(cfg, "download", False)
    if cfg.data_dir is None:
        if asked:
            raise AttnasError(f"data.data_dir: None is not allowed with data.download for {cfg.name}; allowed: a "
                              f"directory to download {folder}/ into")
        raise AttnasError(f"data.data_dir: None is not allowed for {cfg.name}; allowed: a directory holding "
                          f"{how}; attnas does not download it unless asked (--download, data.download: true)")
    base = Path(cfg.data_dir).expanduser()

    def found() -> Path | None:
        for root in (base / folder, base):
            if all((root / f).is_file() for f in files):
                return root
        return None

    root = found()
    if root is None and asked:
        _fetch(cfg.name, folder, base)
        root = found()
    if root is not None:
        return root
    missing = [f for f in files if not (base / folder / f).is_file()]
    if asked:
        raise AttnasError(f"data.data_dir: the archive downloaded into {str(base)!r} has no {folder}/{missing[0]}; "
                          f"allowed: a directory holding {how}")
    raise AttnasError(f"data.data_dir: {str(base)!r} has no {folder}/{missing[0]}; allowed: a directory holding "
                      f"{how}; attnas does not download it unless asked (--download, data.download: true)")


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
