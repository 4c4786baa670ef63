"""Ray Tune's trial events, handed to the study's :class:`~studies.lifecycle.Lifecycle` on the driver (which
records them), and the progress line printed between them."""
from __future__ import annotations

import os
import time

from ray import tune

def _error_text(trial) -> str:
    """The full text of a Tune trial's error (its error file, else the error itself)."""
    path = trial.error_file
    return open(path, errors="replace").read() if path and os.path.exists(path) else str(trial.get_error() or "")


def _error_line(text: str) -> str:
    """The last line of an error's text: what the console and the record's reason show."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "trial process failed")[:500]


class TuneEvents(tune.Callback):
    """Ray Tune's trial events, handed to the :class:`Lifecycle` (driver side), plus a progress line when
    something changed (at most every ``progress_every_s``) and at least every ``QUIET_S`` seconds."""

    QUIET_S = 30.0
    LINE_SHARE = 50.0
    """A progress line at most every this many times the last one took to compute."""

    def __init__(self, lifecycle, progress_every_s: float = 2.0):
        self.lifecycle, self.every = lifecycle, progress_every_s
        self.t0 = time.monotonic()
        self.elapsed_before = float(lifecycle.study.state.get("elapsed_s", 0.0))
        self._last_line = 0.0
        self._last_state = None
        self._line_s = 0.0

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.t0

    def on_trial_start(self, iteration, trials, trial, **info):
        self.lifecycle.started(trial.config)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.lifecycle.reported(trial.config, result)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.lifecycle.ended(trial.config, trial.last_result or {})

    def on_trial_error(self, iteration, trials, trial, **info):
        text = _error_text(trial)
        self.lifecycle.ended(trial.config, trial.last_result or {}, error=_error_line(text), error_text=text)

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.lifecycle.recovered(trial.config, _error_line(_error_text(trial)))

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.lifecycle.checkpointed(trial.config, checkpoint.path)

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        state = (len(self.lifecycle.study.records), len(self.lifecycle.running))
        every = max(self.every, self.LINE_SHARE * self._line_s)   # the line sums every record: bounded share
        if now - self._last_line >= (every if state != self._last_state else max(every, self.QUIET_S)):
            self._last_line, self._last_state = now, state
            self.print_progress()
            self._line_s = time.monotonic() - now

    def print_progress(self) -> None:
        self.lifecycle.say(self.lifecycle.progress_line(self.elapsed()))

    def on_experiment_end(self, trials, **info):
        self.lifecycle.study.save_state(elapsed_s=self.elapsed())
