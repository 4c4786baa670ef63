"""Safe tar extraction, on both paths: with tarfile's "data" filter (Python >= 3.12 and the 3.10.12 / 3.11.4
security releases) and without it (Debian 12's system Python 3.11.2; forced here by hiding the filter)."""
import io
import stat
import tarfile

import pytest

from trainers.data.archive import UnsafeArchive, safe_extract


@pytest.fixture(params=["filter", "no-filter"])
def path_kind(request, monkeypatch):
    if request.param == "no-filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile extraction filters")
    return request.param


def _tar(tmp_path, members) -> "Path":
    """A gzip tar of ``members``: (name, "file", bytes[, mode]) or (name, TarInfo type, mode[, linkname])."""
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, *spec in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size, info.mode = len(spec[0]), spec[1] if len(spec) > 1 else 0o644
                tar.addfile(info, io.BytesIO(spec[0]))
            else:
                info.type, info.mode = kind, spec[0]
                info.linkname = spec[1] if len(spec) > 1 else ""
                tar.addfile(info)
    return path


def test_plain_files_and_folders_are_extracted_with_safe_modes(tmp_path, path_kind):
    archive = _tar(tmp_path, [("top", tarfile.DIRTYPE, 0o777), ("top/a.bin", "file", b"abc", 0o4777),
                              ("top/sub/run.sh", "file", b"#!/bin/sh\n", 0o755), ("top/ro.txt", "file", b"x", 0o400)])
    safe_extract(archive, tmp_path / "out")
    top = tmp_path / "out" / "top"
    assert (top / "a.bin").read_bytes() == b"abc" and (top / "sub" / "run.sh").read_bytes() == b"#!/bin/sh\n"
    mode = stat.S_IMODE((top / "a.bin").stat().st_mode)
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)  # what the data filter strips
    assert stat.S_IMODE((top / "sub" / "run.sh").stat().st_mode) & stat.S_IXUSR
    assert stat.S_IMODE((top / "ro.txt").stat().st_mode) & stat.S_IRUSR


@pytest.mark.parametrize("member,message", [
    (("../evil", "file", b"x"), "outside the target folder"),
    (("ok/../../evil", "file", b"x"), "outside the target folder"),
    (("/abs/evil", "file", b"x"), "outside the target folder"),
    (("C:/evil", "file", b"x"), "outside the target folder"),
    (("link", tarfile.SYMTYPE, 0o777, "/etc/passwd"), "not a plain file or folder"),
    (("rel-link", tarfile.SYMTYPE, 0o777, "sibling"), "not a plain file or folder"),
    (("hard", tarfile.LNKTYPE, 0o644, "top/a.bin"), "not a plain file or folder"),
    (("dev", tarfile.CHRTYPE, 0o644), "not a plain file or folder"),
    (("blk", tarfile.BLKTYPE, 0o644), "not a plain file or folder"),
    (("fifo", tarfile.FIFOTYPE, 0o644), "not a plain file or folder"),
])
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, path_kind, member, message):
    archive = _tar(tmp_path, [("top/a.bin", "file", b"abc"), member])
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchive, match=message):
        safe_extract(archive, out)
    assert not out.exists() and not (tmp_path / "evil").exists()
