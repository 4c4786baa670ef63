"""Safe extraction of a downloaded tarball, the same on Python 3.10 to 3.13.

``tarfile``'s extraction filters (``filter="data"``) exist only from Python 3.12 and the 3.8.17 / 3.9.17 /
3.10.12 / 3.11.4 security releases (Debian 12's system Python 3.11.2 has none), so every member is checked
here first, against what the "data" filter refuses: absolute paths, drive letters, ``..`` components, links
(symbolic or hard), devices, FIFOs. Nothing is written when any member is unsafe. Then the members are
extracted with ``filter="data"`` where that exists, and otherwise written here as plain files (mode 0644, or
0755 when the owner could execute; no owner, no times, no special bits) - what the filter would leave.
"""
from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath


class UnsafeArchive(ValueError):
    """A member would land outside the target folder, or is not a plain file or folder."""


def check_member(m: tarfile.TarInfo) -> None:
    """Raise UnsafeArchive unless ``m`` is a plain file or folder with a relative path inside the target."""
    parts = PurePosixPath(m.name).parts
    if not parts or m.name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise UnsafeArchive(f"member {m.name!r} outside the target folder; allowed: relative paths without '..'")
    if not (m.isfile() or m.isdir()):
        raise UnsafeArchive(f"member {m.name!r} that is not a plain file or folder (a link, device or FIFO); "
                            f"allowed: plain files and folders only")


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract ``archive`` (any compression tarfile reads) into the folder ``dest`` (created)."""
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for m in members:
            check_member(m)
        dest.mkdir(parents=True, exist_ok=True)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members=members, filter="data")
            return
        root = os.path.realpath(dest)
        for m in members:
            target = Path(dest, *PurePosixPath(m.name).parts)
            if os.path.commonpath([root, os.path.realpath(target)]) != root:  # defence in depth
                raise UnsafeArchive(f"member {m.name!r} outside the target folder (through a link)")
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            os.chmod(target, 0o755 if m.mode & 0o100 else 0o644)
