"""Image-file datasets decoded with Pillow and resized to ``image_size`` x ``image_size`` (RGB):

- ``tinyimagenet``: ``wnids.txt``, ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with
  ``val/val_annotations.txt`` (file, wnid, box); the labelled ``val`` split is our test split (the official
  test split has no labels).
- ``imagefolder``: one sub-folder per class (e.g. Flowers); with ``train/`` (and ``val/`` or ``test/``)
  sub-folders those are used, otherwise a fixed 20% test split is carved out.

Decoding tens of thousands of JPEGs is slow, so the decoded uint8 arrays are cached next to the data in
``.attnas-cache/`` (when that folder is writable), keyed by size and file list. Workers starting together on
one node decode once: the first holds a lock on the cache entry while it decodes, the others wait and then
read its file, which is written atomically (a temporary file renamed into place), so no reader ever sees a
torn cache. Images are returned as uint8.
"""
from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np
import torch

from search_space.errors import AttnasError

from ..atomic import atomic_write, file_lock
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


def _read_cache(cache: Path, shape: tuple) -> np.ndarray | None:
    try:
        arr = np.load(cache) if cache.is_file() else None
    except (OSError, ValueError):
        return None
    return arr if arr is not None and arr.shape == shape else None


def _cached_decode(root: Path, tag: str, files: list[Path], size: int) -> torch.Tensor:
    """Decoded images as uint8 (N, 3, size, size), via the on-disk cache when possible."""
    key = hashlib.sha1("\n".join(str(f.relative_to(root)) for f in files).encode()).hexdigest()[:12]
    cache = root / ".attnas-cache" / f"{tag}-{size}-{key}.npy"
    shape = (len(files), size, size, 3)
    arr = _read_cache(cache, shape)
    if arr is None:
        with contextlib.ExitStack() as held:
            try:
                cache.parent.mkdir(exist_ok=True)
                held.enter_context(file_lock(cache.with_suffix(".lock")))
            except OSError:  # read-only data folder: decode here, every time
                return _as_tensor(_decode(files, size))
            arr = _read_cache(cache, shape)  # decoded by another worker while this one waited
            if arr is None:
                arr = _decode(files, size)
                try:
                    with atomic_write(cache) as f:
                        np.save(f, arr)
                except OSError:
                    pass  # disk full or the like: the next run decodes again
    return _as_tensor(arr)


def _as_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


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


TINY_EXPECTED = "wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG and val/val_annotations.txt"


def _wnids(cfg) -> tuple[Path, list[str]]:
    root = _root(cfg, "wnids.txt", TINY_EXPECTED)
    wnids = [w.strip() for w in (root / "wnids.txt").read_text().split() if w.strip()]
    if len(wnids) < 2:
        raise AttnasError(f"data.data_dir: {str(root / 'wnids.txt')!r} lists {len(wnids)} classes; allowed: at "
                          f"least 2 ({TINY_EXPECTED})")
    return root, wnids


def describe_tinyimagenet(cfg, size: int) -> tuple[int, int]:
    """(classes, channels) from wnids.txt alone; images are decoded to RGB at the configured size."""
    return len(_wnids(cfg)[1]), 3


def load_tinyimagenet(cfg, size: int) -> RawData:
    expected = TINY_EXPECTED
    root, wnids = _wnids(cfg)
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
    names = classes or _class_names(folder)
    files, labels = [], []
    for i, name in enumerate(names):
        sub = folder / name
        found = _images_in(sub) if sub.is_dir() else []
        files += found
        labels += [i] * len(found)
    return files, labels, names


FOLDER_EXPECTED = "one sub-folder of images per class (optionally under train/ and val/ or test/)"


def _folders(cfg) -> tuple[Path, Path, Path | None]:
    """(data_dir, training folder, test folder or None) of an image-folder data set."""
    base = Path(cfg.data_dir).expanduser() if cfg.data_dir else None
    if base is None or not base.is_dir():
        raise AttnasError(f"data.data_dir: {str(base) if base else None!r} is not a directory; "
                          f"allowed: {FOLDER_EXPECTED}")
    train_dir = base / "train" if (base / "train").is_dir() else base
    test_dir = next((base / d for d in ("val", "test") if train_dir != base and (base / d).is_dir()), None)
    return base, train_dir, test_dir


def _class_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _too_few(train_dir: Path, classes: int, images: int | str) -> AttnasError:
    return AttnasError(f"data.data_dir: {str(train_dir)!r} has {classes} class folders and {images} images; "
                       f"allowed: at least 2 class folders with images ({FOLDER_EXPECTED})")


def describe_imagefolder(cfg, size: int) -> tuple[int, int]:
    """(classes, channels) from the class folders, without listing every image (one is enough)."""
    _, train_dir, _ = _folders(cfg)
    names = _class_names(train_dir)
    has_image = any(p.is_file() and p.suffix.lower() in EXTENSIONS for n in names for p in (train_dir / n).iterdir())
    if len(names) < 2 or not has_image:
        raise _too_few(train_dir, len(names), "some" if has_image else 0)
    return len(names), 3


def load_imagefolder(cfg, size: int) -> RawData:
    expected = FOLDER_EXPECTED
    base, train_dir, test_dir = _folders(cfg)
    files, labels, names = _class_tree(train_dir)
    if len(names) < 2 or not files:
        raise _too_few(train_dir, len(names), len(files))
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
