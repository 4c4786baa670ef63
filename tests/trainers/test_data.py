"""Each dataset format from fixture files written here in the exact on-disk layout."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from search_space.errors import AttnasError
from trainers import DataConfig, load_dataset


def _write_cifar_batch(path, n, label_key, classes, seed):
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             label_key: rng.integers(0, classes, n).tolist(), b"batch_label": b"x"}
    path.write_bytes(pickle.dumps(batch))
    return batch


def test_digits_default_split_subset_and_normalisation():
    d = load_dataset(DataConfig(name="digits", image_size=16, val_fraction=0.2, seed=0))
    assert d.input_size == (1, 16, 16) and d.num_classes == 10 and not d.flip_invariant
    n_train, n_val = len(d.train_x), len(d.val_x)
    assert n_val == round((n_train + n_val) * 0.2) and len(d.test_x) > 300
    assert abs(float(d.train_x.mean())) < 1e-4 and abs(float(d.train_x.std()) - 1) < 1e-2
    again = load_dataset(DataConfig(name="digits", image_size=16, val_fraction=0.2, seed=0))
    assert torch.equal(again.val_y, d.val_y) and torch.equal(again.train_x, d.train_x)
    other = load_dataset(DataConfig(name="digits", image_size=16, val_fraction=0.2, seed=1))
    assert not torch.equal(other.val_y, d.val_y) and torch.equal(other.test_y, d.test_y)  # test split is fixed
    sub = load_dataset(DataConfig(name="digits", image_size=8, val_fraction=0.2, train_subset=100, seed=0))
    assert len(sub.train_x) == 100 and torch.equal(sub.val_y, d.val_y) and sub.input_size == (1, 8, 8)
    frac = load_dataset(DataConfig(name="digits", val_fraction=0.2, train_subset=0.5, seed=0))
    assert len(frac.train_x) == round(n_train * 0.5)


def test_cifar10_pickle_layout(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = [_write_cifar_batch(root / f"data_batch_{i}", 6, b"labels", 10, i) for i in range(1, 6)]
    test = _write_cifar_batch(root / "test_batch", 5, b"labels", 10, 9)
    d = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path), val_fraction=0.2, normalize=False))
    assert d.input_size == (3, 32, 32) and d.num_classes == 10 and len(d.train_x) + len(d.val_x) == 30
    first = torch.from_numpy(test[b"data"][0].reshape(3, 32, 32)).float() / 255
    assert torch.allclose(d.test_x[0], first) and d.test_y.tolist() == test[b"labels"]
    all_labels = sorted(sum((b[b"labels"] for b in batches), []))
    assert sorted(d.train_y.tolist() + d.val_y.tolist()) == all_labels
    # the batch folder itself also works as data_dir, and image_size resizes
    assert load_dataset(DataConfig(name="cifar10", data_dir=str(root), image_size=16)).input_size == (3, 16, 16)


def test_cifar100_fine_labels(tmp_path):
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    train = _write_cifar_batch(root / "train", 12, b"fine_labels", 100, 1)
    _write_cifar_batch(root / "test", 4, b"fine_labels", 100, 2)
    d = load_dataset(DataConfig(name="cifar100", data_dir=str(tmp_path), val_fraction=0.25))
    assert d.num_classes == 100 and len(d.train_x) == 9 and len(d.test_x) == 4
    assert sorted(d.train_y.tolist() + d.val_y.tolist()) == sorted(train[b"fine_labels"])


def test_cifar_missing_and_corrupt_name_the_path(tmp_path):
    with pytest.raises(AttnasError, match="cifar-10-batches-py/data_batch_1.*does not download"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    with pytest.raises(AttnasError, match="data_dir: None"):
        load_dataset(DataConfig(name="cifar100"))
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    (root / "train").write_bytes(b"not a pickle")
    _write_cifar_batch(root / "test", 4, b"fine_labels", 100, 2)
    with pytest.raises(AttnasError, match=r"cifar-100-python/train.*not a CIFAR python batch"):
        load_dataset(DataConfig(name="cifar100", data_dir=str(tmp_path)))
    _write_cifar_batch(root / "train", 4, b"labels", 100, 2)  # CIFAR-10 key in a CIFAR-100 file
    with pytest.raises(AttnasError, match="fine_labels"):
        load_dataset(DataConfig(name="cifar100", data_dir=str(tmp_path)))


def _image(path, color, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_tinyimagenet_layout(tmp_path):
    root = tmp_path / "tiny-imagenet-200"
    wnids = ["n01", "n02", "n03"]
    root.mkdir()
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for i, w in enumerate(wnids):
        for j in range(3):
            _image(root / "train" / w / "images" / f"{w}_{j}.JPEG", (80 * i, 10, 200))
    lines = []
    for j, w in enumerate(["n03", "n01"]):
        _image(root / "val" / "images" / f"val_{j}.JPEG", (80 * wnids.index(w), 10, 200))
        lines.append(f"val_{j}.JPEG\t{w}\t0\t0\t5\t5")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    d = load_dataset(DataConfig(name="tinyimagenet", data_dir=str(tmp_path), image_size=8, val_fraction=0.2,
                                normalize=False))
    assert d.num_classes == 3 and d.input_size == (3, 8, 8) and len(d.train_x) + len(d.val_x) == 9
    assert d.test_y.tolist() == [2, 0] and abs(float(d.test_x[0, 0].mean()) - 160 / 255) < 0.02
    assert any((root / ".attnas-cache").iterdir())  # decoded once, cached
    (root / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99\t0\t0\t5\t5\n")
    with pytest.raises(AttnasError, match="val_annotations.txt.*line 1"):
        load_dataset(DataConfig(name="tinyimagenet", data_dir=str(root), image_size=8))


def test_imagefolder_flat_and_split_and_corrupt(tmp_path):
    flat = tmp_path / "flowers"
    for c, color in (("daisy", (250, 250, 250)), ("rose", (200, 0, 0))):
        for j in range(5):
            _image(flat / c / f"{j}.png", color)
    d = load_dataset(DataConfig(name="imagefolder", data_dir=str(flat), image_size=8, normalize=False))
    assert d.num_classes == 2 and len(d.train_x) + len(d.val_x) + len(d.test_x) == 10 and len(d.test_x) == 2
    split = tmp_path / "split"
    for part, n in (("train", 4), ("val", 2)):
        for c, color in (("a", (0, 0, 0)), ("b", (255, 255, 255))):
            for j in range(n):
                _image(split / part / c / f"{j}.jpg", color)
    d = load_dataset(DataConfig(name="imagefolder", data_dir=str(split), image_size=8, normalize=False))
    assert len(d.test_x) == 4 and d.test_y.tolist() == [0, 0, 1, 1] and float(d.test_x[2].min()) > 0.95
    (split / "train" / "b" / "9.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(AttnasError, match=r"9\.jpg.*cannot be decoded"):
        load_dataset(DataConfig(name="imagefolder", data_dir=str(split), image_size=8))
    (tmp_path / "empty").mkdir()
    with pytest.raises(AttnasError, match="class folders"):
        load_dataset(DataConfig(name="imagefolder", data_dir=str(tmp_path / "empty")))


def test_synthetic_any_shape_seeded():
    cfg = DataConfig(name="synthetic", image_size=12, classes=7, channels=2, num_train=70, num_test=14)
    a, b = load_dataset(cfg), load_dataset(cfg)
    assert a.input_size == (2, 12, 12) and a.num_classes == 7 and len(a.test_x) == 14
    assert torch.equal(a.train_x, b.train_x) and set(a.train_y.tolist()) <= set(range(7))
