"""The study's Optuna journal backend: Optuna's ``JournalFileBackend`` format and reader, with appends for a
single writer that fsync at most every ``sync_every_s`` instead of after every line.

Optuna's file backend takes a lock (a symlink, created and removed) and calls ``fsync`` for every appended
line, and a trial is some 30 lines (its creation, one per parameter, the user attributes, the tell): about
0.2 s per trial on an ordinary disk, more than the driver may spend on a trial when 16 slots end one trial a
second each (measured by ``benchmarks/bench_driver.py``). A study has one writer (its lock file,
:meth:`studies.study.Study.lock`), so the lock is not needed; each append is one ``write`` to a file opened with
``O_APPEND``, so a line is either whole in the file or absent.

What it costs: nothing under a kill (a written line is in the operating system's cache, which a dying process
does not take with it); after a power loss or an OS crash the journal can lack the lines of the last
``sync_every_s`` seconds, which ``--resume`` treats as trials asked and never run. Readers (optuna-dashboard,
``optuna.load_study``) read the file as Optuna's own backend writes it.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

from optuna.storages.journal import BaseJournalBackend, JournalFileBackend


class StudyJournalBackend(BaseJournalBackend):
    """A journal file for one writing process (see the module docstring)."""

    def __init__(self, file_path: str, sync_every_s: float = 1.0):
        self.path = str(file_path)
        self.sync_every_s = sync_every_s
        self.reader = JournalFileBackend(self.path)      # creates the file; reads it with Optuna's own parser
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.last_sync = time.monotonic()
        self.unsynced = False

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        return self.reader.read_logs(log_number_from)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
        written = os.write(self.fd, data)
        while written < len(data):           # a short write (a full disk raises instead): the rest, in order
            written += os.write(self.fd, data[written:])
        self.unsynced = True
        if time.monotonic() - self.last_sync >= self.sync_every_s:
            self.sync()

    def sync(self) -> None:
        """Flush the appended lines to the disk now."""
        if self.unsynced:
            os.fsync(self.fd)
            self.unsynced = False
        self.last_sync = time.monotonic()

    def close(self) -> None:
        if self.fd is not None:
            self.sync()
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass
