"""How a study run is told to end early: Ctrl-C (SIGINT), SIGTERM or ``budget.time_limit_s``.

:class:`StudyStopper` is a Ray Tune ``Stopper`` whose ``stop_all`` turns true after one of those; Tune then stops
every trial and ``tuner.fit()`` returns, and the study records each trial still in flight as ``interrupted``
(:meth:`studies.lifecycle.Lifecycle.interrupt_running`). Tune's own SIGINT handler is switched off
(``TUNE_DISABLE_SIGINT_HANDLER``) so that one handler, this one, sees both signals. A second signal stops at
once (KeyboardInterrupt), and the same records are still written on the way out.

Outside Tune's run (before Ray starts, during the node probe, during the final upload) a signal raises
:class:`StudyInterrupted` at once and the study's ``finally`` ends its parent MLflow run KILLED.

Exit codes follow the shell's convention for a process ended by a signal: 128 + the signal number, 130 after
SIGINT and 143 after SIGTERM (:class:`StudyInterrupted`). The time limit is a budget: a study that spent it
ends normally (exit 0).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

from ray.tune import Stopper

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StudyInterrupted(Exception):
    """The study was stopped by a signal after its in-flight trials were recorded."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


class StudyStopper(Stopper):
    """``stop_all`` once a signal arrived or the time left (:meth:`start_clock`; None: no limit) has passed.

    Installed (:meth:`installed`) from the first line of ``attnas search`` to its last. While Tune runs trials
    or the study closes its runs (:meth:`deferred`, :meth:`catching`), a signal is only noted: Tune stops every
    trial, the study records them ``interrupted`` and closes its runs, then raises :class:`StudyInterrupted`.
    Anywhere else (before Ray starts, during the node probe, during the final upload) the handler raises
    :class:`StudyInterrupted` at once, and the study's ``finally`` closes what is open."""

    def __init__(self, time_left_s: float | None = None, out=None):
        self.deadline = None
        self.start_clock(time_left_s)
        self.signum: int | None = None
        self.fired: str | None = None
        """What stopped Tune (:attr:`reason` at the first ``stop_all`` that was true); None: nothing did."""
        self.out = out
        self._defer = 0
        self._installed = False

    def start_clock(self, time_left_s: float | None) -> None:
        """The time limit: ``stop_all`` turns true ``time_left_s`` seconds from now (None: never)."""
        self.deadline = None if time_left_s is None else time.monotonic() + time_left_s

    @property
    def reason(self) -> str | None:
        """Why the study stopped: the signal's name, ``time_limit`` or None (it did not stop early)."""
        if self.signum is not None:
            return signal.Signals(self.signum).name
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "time_limit"
        return None

    def __call__(self, trial_id, result) -> bool:
        return False

    def stop_all(self) -> bool:
        if self.fired is None:
            self.fired = self.reason
        return self.fired is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        name = signal.Signals(signum).name
        if self._defer:
            print(f"attnas: {name} received: stopping; trials in flight are recorded as interrupted and "
                  f"`attnas search --resume` continues them (send it again to stop at once)",
                  file=self.out or sys.stderr, flush=True)
            return
        print(f"attnas: {name} received: stopping", file=self.out or sys.stderr, flush=True)
        raise StudyInterrupted(signum)

    def __getstate__(self):
        """Tune keeps a copy of its stopper; the copy needs only the deadline and what fired."""
        return {**self.__dict__, "out": None}

    @contextmanager
    def installed(self):
        """Handle SIGINT and SIGTERM while the block runs (main thread only; elsewhere nothing is installed)."""
        if threading.current_thread() is not threading.main_thread() or self._installed:
            yield self
            return
        before = {s: signal.getsignal(s) for s in SIGNALS}
        self.reinstall(force=True)
        try:
            yield self
        finally:
            self._installed = False
            for s, h in before.items():
                signal.signal(s, h)

    def reinstall(self, force: bool = False) -> None:
        """Install the handler again (``ray.init`` installs a SIGTERM handler of its own in the driver)."""
        if (self._installed or force) and threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                signal.signal(s, self._handle)
            self._installed = True

    @contextmanager
    def deferred(self):
        """Within the block a (first) signal is only noted: what runs there finishes its records first."""
        self._defer += 1
        try:
            yield self
        finally:
            self._defer -= 1

    @contextmanager
    def catching(self):
        """Tune's run: signals noted (:meth:`deferred`), Tune's own SIGINT handler off, so that one handler,
        this one, sees both signals."""
        previous_env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        try:
            with self.installed(), self.deferred():
                self.reinstall()
                yield self
        finally:
            if previous_env is None:
                os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
