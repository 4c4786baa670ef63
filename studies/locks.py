"""Advisory file locks (``fcntl.flock``) for what several attnas processes share: a study root's new-folder
choice and an MLflow SQLite store's creation and migration. A lock is released when its file is closed, so a
killed holder never leaves one behind."""
from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: str | Path):
    """Hold an exclusive lock on ``path`` (created if absent) while the block runs; waits for other holders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
