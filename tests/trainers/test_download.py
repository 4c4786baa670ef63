"""``data.download`` / ``attnas train --download``: the CIFAR archive is fetched with urllib, MD5-checked and safely
extracted. The archives here are tarballs built by the test in the official layout, served from file:// URLs."""
import hashlib
import importlib.util
import io
import tarfile
from pathlib import Path

import pytest

from search_space.errors import AttnasError
from studies.cli import main
from trainers import DataConfig, load_dataset
from trainers.data import cifar

_spec = importlib.util.spec_from_file_location("_attnas_test_data", Path(__file__).with_name("test_data.py"))
_test_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_test_data)
write_cifar_batch = _test_data._write_cifar_batch  # the pickle writer the layout tests use


def _cifar10_tarball(tmp_path, extra: dict | None = None) -> Path:
    """A gzip tar of ``cifar-10-batches-py/`` (tiny batches), plus optional ``{member name: bytes}``."""
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    for i in range(1, 6):
        write_cifar_batch(src / f"data_batch_{i}", 4, b"labels", 10, i)
    write_cifar_batch(src / "test_batch", 3, b"labels", 10, 9)
    archive = tmp_path / "served" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
        for name, payload in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return archive


def _left(folder: Path) -> list[str]:
    """What a download left in ``folder`` besides its lock file (which stays: removing a lock file others may
    be waiting on would let two holders in)."""
    return sorted(p.name for p in folder.iterdir() if p.name != cifar.LOCK_NAME)


def _serve(monkeypatch, archive: Path, md5: str | None = None) -> str:
    url = archive.as_uri()
    md5 = md5 or hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(cifar.ARCHIVES, "cifar10", {"url": url, "md5": md5})
    return url


def test_official_archives_and_checksums():
    assert cifar.ARCHIVES["cifar10"] == {"url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                                         "md5": "c58f30108f718f92721af3b95e74349a"}
    assert cifar.ARCHIVES["cifar100"] == {"url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                                          "md5": "eb9058c3a382ffc7106e4002c42a8d85"}


def test_download_fetches_checks_extracts_and_loads(tmp_path, monkeypatch):
    _serve(monkeypatch, _cifar10_tarball(tmp_path))
    data_dir = tmp_path / "data"
    cfg = DataConfig(name="cifar10", data_dir=str(data_dir), download=True, val_fraction=0.25, normalize=False)
    d = load_dataset(cfg)
    assert len(d.train_x) + len(d.val_x) == 20 and len(d.test_x) == 3 and d.input_size == (3, 32, 32)
    assert sorted(p.name for p in (data_dir / "cifar-10-batches-py").iterdir()) == \
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    assert not list(data_dir.glob("*.tar.gz*"))  # the archive is removed after extraction
    # present now: a second load reads the folder and never touches the (now unreachable) URL
    monkeypatch.setitem(cifar.ARCHIVES, "cifar10", {"url": "http://127.0.0.1:9/x.tar.gz", "md5": "0" * 32})
    assert len(load_dataset(cfg).test_x) == 3
    assert DataConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["download"] is True


def test_bad_md5_is_rejected_and_leaves_no_archive(tmp_path, monkeypatch):
    archive = _cifar10_tarball(tmp_path)
    got = hashlib.md5(archive.read_bytes()).hexdigest()
    _serve(monkeypatch, archive, md5="0123456789abcdef0123456789abcdef")
    data_dir = tmp_path / "data"
    with pytest.raises(AttnasError) as e:
        load_dataset(DataConfig(name="cifar10", data_dir=str(data_dir), download=True))
    msg = str(e.value)
    assert "cifar-10-python.tar.gz" in msg and got in msg and "0123456789abcdef0123456789abcdef" in msg
    assert _left(data_dir) == []


def test_unreachable_url_is_one_line(tmp_path, monkeypatch, capsys):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    url = "http://127.0.0.1:9/x.tar.gz"  # discard port: nothing listens, refused at once
    monkeypatch.setitem(cifar.ARCHIVES, "cifar10", {"url": url, "md5": "0" * 32})
    data_dir = tmp_path / "data"
    with pytest.raises(AttnasError) as e:
        load_dataset(DataConfig(name="cifar10", data_dir=str(data_dir), download=True))
    msg = str(e.value)
    assert msg.startswith(f"data.download: could not fetch {url} (") and "\n" not in msg
    assert f"allowed: place the extracted cifar-10-batches-py/ under {data_dir}" in msg
    assert _left(data_dir) == []
    # the same through the CLI flag: exit 2, one line on stderr
    assert main(["train", "resnet20", "--data", "cifar10", "--data-dir", str(data_dir), "--download",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"could not fetch {url}" in err


def test_tar_member_with_dotdot_is_rejected(tmp_path, monkeypatch):
    _serve(monkeypatch, _cifar10_tarball(tmp_path, extra={"../evil": b"owned"}))
    data_dir = tmp_path / "data"
    with pytest.raises(AttnasError, match=r"member '\.\./evil'.*without '\.\.'"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(data_dir), download=True))
    assert not (tmp_path / "evil").exists()
    assert _left(data_dir) == []  # checked before anything is written; the archive is gone


def test_tar_member_with_absolute_path_is_rejected(tmp_path, monkeypatch):
    target = tmp_path / "abs-evil"
    _serve(monkeypatch, _cifar10_tarball(tmp_path, extra={str(target): b"owned"}))
    with pytest.raises(AttnasError, match="outside the target folder"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path / "data"), download=True))
    assert not target.exists()


def test_download_only_for_cifar_and_without_it_the_error_says_how(tmp_path, capsys):
    with pytest.raises(AttnasError, match=r"data\.download: .*'digits'.*allowed: .*cifar10, cifar100"):
        DataConfig(name="digits", download=True)
    with pytest.raises(AttnasError, match=r"data\.download: 'yes'"):
        DataConfig(name="cifar10", download="yes")
    with pytest.raises(AttnasError, match=r"data\.download"):
        DataConfig.from_dict({"name": "synthetic", "download": True})
    assert main(["train", "resnet20", "--data", "synthetic", "--download", "--no-progress"]) == 2
    assert "data.download" in capsys.readouterr().err
    with pytest.raises(AttnasError, match=r"cifar-100-python/train.*--download"):
        load_dataset(DataConfig(name="cifar100", data_dir=str(tmp_path)))
    with pytest.raises(AttnasError, match=r"data\.data_dir: None .*download"):
        load_dataset(DataConfig(name="cifar10", download=True))


def test_workers_downloading_at_once_fetch_once_and_all_load(tmp_path, monkeypatch):
    """Three workers on one node start together with the folder missing: one downloads, the others wait on
    its lock and then read the folder; nothing is left half-written."""
    from .conftest import run_together

    _serve(monkeypatch, _cifar10_tarball(tmp_path))
    log = tmp_path / "fetches"
    real = cifar._fetch

    def counted(*args):
        with open(log, "a") as f:
            f.write("fetch\n")
        real(*args)

    monkeypatch.setattr(cifar, "_fetch", counted)
    data_dir = tmp_path / "data"
    cfg = DataConfig(name="cifar10", data_dir=str(data_dir), download=True, val_fraction=0.25)
    got = run_together(lambda i: (len(load_dataset(cfg, uint8=True).train_x), load_dataset(cfg).test_y.tolist()))
    assert all(not isinstance(g, str) for g in got), got
    assert len({str(g) for g in got}) == 1 and log.read_text() == "fetch\n"
    assert _left(data_dir) == ["cifar-10-batches-py"]  # no archive, no temporaries


def test_install_merges_into_a_folder_that_appeared_meanwhile(tmp_path):
    """A worker on another node sharing the folder may have moved its copy in first: files are replaced one by
    one (each atomically), never half-written."""
    work = tmp_path / ".x.extract" / "cifar-10-batches-py"
    work.mkdir(parents=True)
    (work / "data_batch_1").write_bytes(b"new")
    (work / "test_batch").write_bytes(b"new test")
    base = tmp_path / "base"
    (base / "cifar-10-batches-py").mkdir(parents=True)
    (base / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"old")
    cifar._install(work.parent, base)
    assert (base / "cifar-10-batches-py" / "data_batch_1").read_bytes() == b"new"
    assert (base / "cifar-10-batches-py" / "test_batch").read_bytes() == b"new test"
