"""Image-file datasets decoded with Pillow and resized to ``image_size`` x ``image_size`` (RGB):

- ``tinyimagenet``: ``wnids.txt``, ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with
  ``val/val_annotations.txt`` (file, wnid, box); the labelled ``val`` split is our test split (the official
  test split has no labels).
- ``imagefolder``: one sub-folder per class (e.g. Flowers); with ``train/`` (and ``val/`` or ``test/``)
  sub-folders those are used, otherwise a fixed 20% test split is carved out.

Decoding tens of thousands of JPEGs is slow, so the decoded uint8 arrays are cached next to the data in
``.attnas-cache/`` (when that folder is writable), keyed by size and file list.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from search_space.errors import AttnasError

from .common import RawData, carve_test

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".webp", ".tif", ".tiff"}


def _decode(files: list[Path], size: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as img:
                img.draft("RGB", (size, size))
                out[i] = np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR))
        except Exception as e:  # Pillow raises many types for truncated/garbage files
            raise AttnasError(f"data.data_dir: {str(path)!r} cannot be decoded as an image "
                              f"({type(e).__name__}); allowed: a readable JPEG/PNG file") from None
    return out


def _cached_decode(root: Path, tag: str, files: list[Path], size: int) -> torch.Tensor:
    """Decoded images as float (N, 3, size, size) in [0, 1], via the on-disk cache when possible."""
    key = hashlib.sha1("\n".join(str(f.relative_to(root)) for f in files).encode()).hexdigest()[:12]
    cache = root / ".attnas-cache" / f"{tag}-{size}-{key}.npy"
    arr = None
    if cache.is_file():
        try:
            arr = np.load(cache)
        except (OSError, ValueError):
            arr = None
    if arr is None or arr.shape != (len(files), size, size, 3):
        arr = _decode(files, size)
        try:
            cache.parent.mkdir(exist_ok=True)
            np.save(cache, arr)
        except OSError:
            pass  # read-only data folder: decode again next time
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0).contiguous()


def _root(cfg, marker: str, expected: str) -> Path:
    if cfg.data_dir is None:
        raise AttnasError(f"data.data_dir: None is not allowed for {cfg.name}; allowed: a directory holding "
                          f"{expected}; attnas does not download it")
    base = Path(cfg.data_dir).expanduser()
    for root in (base, base / "tiny-imagenet-200"):
        if (root / marker).exists():
            return root
    raise AttnasError(f"data.data_dir: {str(base)!r} has no {marker}; allowed: a directory holding {expected}")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def load_tinyimagenet(cfg, size: int) -> RawData:
    expected = "wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG and val/val_annotations.txt"
    root = _root(cfg, "wnids.txt", expected)
    wnids = [w.strip() for w in (root / "wnids.txt").read_text().split() if w.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    train_files, train_labels = [], []
    for w in wnids:
        folder = root / "train" / w / "images"
        files = _images_in(folder) if folder.is_dir() else []
        if not files:
            raise AttnasError(f"data.data_dir: {str(folder)!r} has no images; allowed: {expected}")
        train_files += files
        train_labels += [index[w]] * len(files)
    ann = root / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise AttnasError(f"data.data_dir: {str(ann)!r} is missing; allowed: {expected}")
    test_files, test_labels = [], []
    for n, line in enumerate(ann.read_text().splitlines(), 1):
        parts = line.split("\t")
        if not line.strip():
            continue
        if len(parts) < 2 or parts[1] not in index:
            raise AttnasError(f"data.data_dir: {str(ann)!r} line {n} is {line[:60]!r}; "
                              f"allowed: '<file>\\t<wnid from wnids.txt>\\t...'")
        path = root / "val" / "images" / parts[0]
        if not path.is_file():
            raise AttnasError(f"data.data_dir: {str(path)!r} (listed in val_annotations.txt) is missing; "
                              f"allowed: {expected}")
        test_files.append(path)
        test_labels.append(index[parts[1]])
    train_x = _cached_decode(root, "tinyimagenet-train", train_files, size)
    test_x = _cached_decode(root, "tinyimagenet-val", test_files, size)
    return RawData(train_x, torch.tensor(train_labels), test_x, torch.tensor(test_labels), len(wnids),
                   flip_invariant=True)


def _class_tree(folder: Path, classes: list[str] | None = None):
    """(files, labels, class names) of a class-per-sub-folder tree."""
    names = classes or sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for i, name in enumerate(names):
        sub = folder / name
        found = _images_in(sub) if sub.is_dir() else []
        files += found
        labels += [i] * len(found)
    return files, labels, names


def load_imagefolder(cfg, size: int) -> RawData:
    expected = "one sub-folder of images per class (optionally under train/ and val/ or test/)"
    base = Path(cfg.data_dir).expanduser() if cfg.data_dir else None
    if base is None or not base.is_dir():
        raise AttnasError(f"data.data_dir: {str(base) if base else None!r} is not a directory; allowed: {expected}")
    train_dir = base / "train" if (base / "train").is_dir() else base
    test_dir = next((base / d for d in ("val", "test") if train_dir != base and (base / d).is_dir()), None)
    files, labels, names = _class_tree(train_dir)
    if len(names) < 2 or not files:
        raise AttnasError(f"data.data_dir: {str(train_dir)!r} has {len(names)} class folders and {len(files)} "
                          f"images; allowed: at least 2 class folders with images ({expected})")
    x = _cached_decode(base, "imagefolder-train", files, size)
    y = torch.tensor(labels)
    if test_dir is None:
        train_x, train_y, test_x, test_y = carve_test(x, y)
    else:
        extra = sorted(p.name for p in test_dir.iterdir() if p.is_dir() and p.name not in names)
        if extra:
            raise AttnasError(f"data.data_dir: {str(test_dir / extra[0])!r} is a class not in {train_dir.name}/; "
                              f"allowed: {', '.join(names)}")
        test_files, test_labels, _ = _class_tree(test_dir, names)
        if not test_files:
            raise AttnasError(f"data.data_dir: {str(test_dir)!r} has no images; allowed: {expected}")
        train_x, train_y = x, y
        test_x, test_y = _cached_decode(base, f"imagefolder-{test_dir.name}", test_files, size), torch.tensor(test_labels)
    return RawData(train_x, train_y, test_x, test_y, len(names), flip_invariant=True)
