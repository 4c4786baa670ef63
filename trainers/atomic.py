"""Files that several processes may write at once: checkpoints, downloaded archives, decoded-image caches.

``atomic_write`` writes to a temporary file in the same folder, fsyncs it and renames it over the target, so
a reader sees the old file or the complete new one, never a torn one (a crash leaves at most a ``.tmp``).
``file_lock`` is an exclusive advisory lock (``fcntl.flock``; released by the kernel when its holder dies,
so a crashed worker never leaves a stale lock) that lets one worker do an expensive job (a download, decoding
100k JPEGs) while the others on the node wait and then reuse its result. Where ``fcntl`` does not exist
(Windows) the lock is a no-op and only the atomic renames protect the files.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
from pathlib import Path


def unique_suffix() -> str:
    """A name part no other process (on this or another node sharing the folder) will pick."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every filesystem lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """``with atomic_write(p) as f: f.write(...)``: ``p`` appears complete or not at all."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{unique_suffix()}.tmp")
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


@contextlib.contextmanager
def file_lock(path):
    """Hold an exclusive lock on ``path`` (created if missing, never removed: removing a lock file while
    another process waits on it would let two holders in)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
