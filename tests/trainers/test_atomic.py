from pathlib import Path

import pytest

from trainers.atomic import atomic_write, file_lock


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]
    with atomic_write(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_file_lock_serialises_processes(tmp_path):
    from .conftest import run_together

    log = tmp_path / "log"

    def critical(i):
        import time

        with file_lock(tmp_path / "l.lock"):
            with open(log, "a") as f:
                f.write(f"in {i}\n")
            time.sleep(0.05)
            with open(log, "a") as f:
                f.write(f"out {i}\n")
        return i

    assert run_together(critical) == [0, 1, 2]
    lines = Path(log).read_text().split("\n")[:-1]
    assert all(a.split()[1] == b.split()[1] and a.startswith("in") and b.startswith("out")
               for a, b in zip(lines[::2], lines[1::2]))  # never two holders at once
