"""CIFAR-10 / CIFAR-100 from the standard python-pickle layout under ``data_dir``:
``cifar-10-batches-py/data_batch_1..5, test_batch`` (keys b'data' uint8 N x 3072, b'labels') and
``cifar-100-python/train, test`` (b'data', b'fine_labels').

Nothing is downloaded unless ``DataConfig.download`` is true (``attnas train --download``); then a missing
folder is fetched from the official archive in ``ARCHIVES`` with urllib, its MD5 checked against the published
one, and the tarball safely extracted (trainers/data/archive.py: members with absolute paths, ``..`` or
anything but plain files and folders are rejected before anything is written) and removed.

Several workers may start on one node at once, all finding the folder missing: the first takes a lock in
``data_dir`` and downloads, the others wait for it and then find the folder. The archive is written and
extracted under temporary names and the folder moved into place with a rename, so a reader (or a worker on
another node sharing the folder) never sees a half-extracted folder, and a crash leaves only temporaries.

The images are 8-bit: at the native 32x32 they are returned as uint8 (resized ones as float)."""
from __future__ import annotations

import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from search_space.errors import AttnasError

from ..atomic import file_lock, fsync_dir, unique_suffix
from .archive import UnsafeArchive, safe_extract
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
LOCK_NAME = ".attnas-download.lock"
"""The lock file (in ``data_dir``) that one downloading worker holds while the others wait."""


def _one_line(reason) -> str:
    return " ".join(str(reason).split()) or type(reason).__name__


def _fetch(name: str, folder: str, base: Path) -> None:
    """Download ``ARCHIVES[name]`` into ``base``, check its MD5, extract it there and remove the archive."""
    url, want = ARCHIVES[name]["url"], ARCHIVES[name]["md5"].lower()
    place = f"allowed: place the extracted {folder}/ under {base} (from {SOURCE})"
    archive_name = PurePosixPath(urllib.parse.urlparse(url).path).name or f"{name}-python.tar.gz"
    tag = unique_suffix()
    archive, work = base / f".{archive_name}.{tag}.part", base / f".{folder}.{tag}.extract"
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
            raise AttnasError(f"data.download: {archive_name!r} from {url} has md5 {got}, expected {want}; "
                              f"the file was removed; allowed: retry, or place the extracted {folder}/ under {base}")
        try:
            safe_extract(archive, work)
        except UnsafeArchive as e:
            raise AttnasError(f"data.download: {archive_name!r} has {e}") from None
        except (tarfile.TarError, OSError, EOFError) as e:
            raise AttnasError(f"data.download: cannot extract {archive_name!r} ({type(e).__name__}: "
                              f"{_one_line(e)}); allowed: a gzip tar of {SOURCE}") from None
        _install(work, base)
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _install(work: Path, base: Path) -> None:
    """Move each extracted top-level entry into ``base``: a whole folder with one rename when it is new,
    else file by file (each an atomic replace) into the folder that is already there."""
    for entry in sorted(work.iterdir()):
        target = base / entry.name
        if not target.exists():
            try:
                os.replace(entry, target)
                continue
            except OSError:  # created meanwhile (a worker on another node): merge below
                pass
        files = [entry] if entry.is_file() else sorted(p for p in entry.rglob("*") if p.is_file())
        for f in files:
            dst = target / f.relative_to(entry) if f != entry else target
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dst)
    fsync_dir(base)


def _root(cfg, folder: str, files: list[str], fetch: bool = True) -> Path | None:
    """``data_dir`` itself or ``data_dir/folder``, whichever holds ``files``; with ``download``, fetch the
    official archive into ``data_dir`` first when neither does (or, with ``fetch`` False, return None: the
    caller only wants to know the data will be there); else a clear error."""
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
        if not fetch:
            return None
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise AttnasError(f"data.data_dir: cannot create {str(base)!r} ({_one_line(e)}); "
                              f"allowed: a writable directory to download {folder}/ into") from None
        with file_lock(base / LOCK_NAME):
            root = found()  # another worker may have fetched it while this one waited for the lock
            if root is None:
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
    images = lambda a: torch.from_numpy(a) if size == 32 else resize(torch.from_numpy(a).float().div_(255.0), size)
    train_y, test_y = torch.from_numpy(train_y), torch.from_numpy(test_y)
    check_labels(train_y, num_classes, str(root))
    check_labels(test_y, num_classes, str(root / test_file))
    return RawData(images(train_x), train_y, images(test_x), test_y, num_classes, flip_invariant=True)


CIFAR10 = ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels", 10)
CIFAR100 = ("cifar-100-python", ["train"], "test", b"fine_labels", 100)
"""(folder, training files, test file, label key, classes) of each layout."""


def load_cifar10(cfg, size: int) -> RawData:
    return _load(cfg, size, *CIFAR10)


def load_cifar100(cfg, size: int) -> RawData:
    return _load(cfg, size, *CIFAR100)


def _describe(cfg, layout) -> tuple[int, int]:
    """(classes, channels), fixed by the format, once the files are there (or will be downloaded)."""
    folder, train_files, test_file, _, classes = layout
    _root(cfg, folder, train_files + [test_file], fetch=False)
    return classes, 3


def describe_cifar10(cfg, size: int) -> tuple[int, int]:
    return _describe(cfg, CIFAR10)


def describe_cifar100(cfg, size: int) -> tuple[int, int]:
    return _describe(cfg, CIFAR100)
