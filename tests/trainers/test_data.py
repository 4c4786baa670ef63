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


# ---- uint8 storage: a quarter of the memory, the same normalised batches ------------------------------------

def _flat_images(tmp_path, n=5):
    flat = tmp_path / "flowers"
    rng = np.random.default_rng(0)
    for c in ("daisy", "rose", "tulip"):
        for j in range(n):
            path = flat / c / f"{j}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(path)
    return flat


def _cifar10_dir(tmp_path, n=6):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        _write_cifar_batch(root / f"data_batch_{i}", n, b"labels", 10, i)
    _write_cifar_batch(root / "test_batch", 5, b"labels", 10, 9)
    return tmp_path


@pytest.mark.parametrize("source", ["cifar10", "cifar10-resized", "imagefolder", "imagefolder-raw"])
def test_uint8_storage_normalises_per_batch_like_the_float_storage(tmp_path, source):
    if source.startswith("cifar10"):
        cfg = DataConfig(name="cifar10", data_dir=str(_cifar10_dir(tmp_path)), val_fraction=0.2,
                         image_size=16 if source.endswith("resized") else None)
    else:
        cfg = DataConfig(name="imagefolder", data_dir=str(_flat_images(tmp_path)), image_size=8,
                         normalize=source == "imagefolder")
    ref, raw = load_dataset(cfg), load_dataset(cfg, uint8=True)
    assert raw.raw and not ref.raw and raw.train_x.dtype == torch.uint8
    assert raw.nbytes < ref.nbytes / 2 and raw.input_size == ref.input_size and raw.num_classes == ref.num_classes
    resized = source.endswith("resized")  # quantised to 8 bits after resizing: half a grey level off at most
    for a, b in zip(raw.mean + raw.std, ref.mean + ref.std):
        assert a == pytest.approx(b, rel=1e-2 if resized else 1e-5)
    norm = raw.normalizer()
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(raw, f"{split}_y"), getattr(ref, f"{split}_y"))
        got, want = norm(getattr(raw, f"{split}_x")), getattr(ref, f"{split}_x")
        tol = 0.6 / 255 / min(raw.std) if resized else 1e-5
        assert got.dtype == torch.float32 and torch.allclose(got, want, atol=tol, rtol=0)
    assert norm(ref.val_x) is ref.val_x  # float images are normalised already


def test_cifar_native_uint8_is_the_file_bytes(tmp_path):
    d = load_dataset(DataConfig(name="cifar10", data_dir=str(_cifar10_dir(tmp_path)), normalize=False), uint8=True)
    test = pickle.loads((tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes())
    assert torch.equal(d.test_x, torch.from_numpy(test[b"data"].reshape(-1, 3, 32, 32)))
    assert d.mean == (0.0, 0.0, 0.0) and d.std == (1.0, 1.0, 1.0)
    assert torch.allclose(d.normalizer()(d.test_x), d.test_x.float() / 255)


def test_channel_stats_exact_in_chunks():
    from trainers.data.normalize import channel_stats

    x = torch.randint(0, 256, (37, 2, 5, 3), dtype=torch.uint8)
    mean, std = channel_stats(x, chunk=4)
    f = x.double() / 255
    assert mean == pytest.approx(f.mean((0, 2, 3)).tolist(), rel=1e-12)
    assert std == pytest.approx(f.std((0, 2, 3)).tolist(), rel=1e-12)


# ---- describe_dataset: the shape without the data -------------------------------------------------------------

def test_describe_matches_load_for_every_format(tmp_path, monkeypatch):
    from trainers import describe_dataset
    from trainers.data import images

    cifar_dir = _cifar10_dir(tmp_path / "c")
    flat = _flat_images(tmp_path)
    cfgs = [DataConfig(name="digits"), DataConfig(name="digits", image_size=8),
            DataConfig(name="synthetic", classes=7, channels=2, image_size=12, num_train=20, num_test=4),
            DataConfig(name="cifar10", data_dir=str(cifar_dir)), DataConfig(name="cifar10", data_dir=str(cifar_dir),
                                                                           image_size=24),
            DataConfig(name="imagefolder", data_dir=str(flat), image_size=8)]
    for cfg in cfgs:
        d = load_dataset(cfg)
        assert describe_dataset(cfg) == (d.num_classes, d.input_size), cfg
    monkeypatch.setattr(images, "_decode", lambda *a: pytest.fail("describe decoded images"))
    assert describe_dataset(DataConfig(name="imagefolder", data_dir=str(flat))) == (3, (3, 64, 64))
    root = tmp_path / "tiny" / "tiny-imagenet-200"
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("n01\nn02\nn03\nn04\n")
    assert describe_dataset(DataConfig(name="tinyimagenet", data_dir=str(tmp_path / "tiny"))) == (4, (3, 64, 64))
    assert describe_dataset(DataConfig(name="cifar100", data_dir=str(tmp_path / "none"), download=True)) == \
        (100, (3, 32, 32))  # will be downloaded by whoever loads it; nothing fetched or created here
    assert not (tmp_path / "none").exists()


def test_describe_errors_like_load(tmp_path):
    from trainers import describe_dataset

    with pytest.raises(AttnasError, match="cifar-10-batches-py/data_batch_1.*does not download"):
        describe_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    with pytest.raises(AttnasError, match="has no wnids.txt"):
        describe_dataset(DataConfig(name="tinyimagenet", data_dir=str(tmp_path)))
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(AttnasError, match="1 class folders"):
        describe_dataset(DataConfig(name="imagefolder", data_dir=str(tmp_path / "one")))
    (tmp_path / "one" / "other").mkdir()
    with pytest.raises(AttnasError, match="2 class folders and 0 images"):
        describe_dataset(DataConfig(name="imagefolder", data_dir=str(tmp_path / "one")))


def test_workers_decoding_at_once_decode_once(tmp_path, monkeypatch):
    """The .attnas-cache entry is decoded by one of the workers that start together; the others wait for its
    lock and read the (atomically written) file."""
    from trainers.data import images

    from .conftest import run_together

    flat = _flat_images(tmp_path)
    log = tmp_path / "decodes"
    real = images._decode

    def counted(files, size):
        with open(log, "a") as f:
            f.write(f"{len(files)}\n")
        return real(files, size)

    monkeypatch.setattr(images, "_decode", counted)
    cfg = DataConfig(name="imagefolder", data_dir=str(flat), image_size=8)
    got = run_together(lambda i: load_dataset(cfg, uint8=True).train_x.sum().item())
    assert all(not isinstance(g, str) for g in got) and len(set(got)) == 1, got
    assert log.read_text() == "15\n"
    cache = sorted(p.name for p in (flat / ".attnas-cache").iterdir())
    assert len(cache) == 2 and cache[0].endswith(".lock") and cache[1].endswith(".npy")  # no temporaries left
    assert torch.equal(load_dataset(cfg, uint8=True).train_x, load_dataset(cfg, uint8=True).train_x)
    assert log.read_text() == "15\n"
