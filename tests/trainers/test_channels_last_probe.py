"""No native crash from ``training.channels_last: true`` on a CPU (issue 19 item 7): the probe runs the crashing
case in a subprocess against the installed torch, its verdict matches an independent subprocess run of that
case, a crashing probe turns channels_last off in ``fit`` with one warning line, a clean one leaves it on."""
from __future__ import annotations

import subprocess
import sys
import warnings

import torch

from trainers import TrainConfig, fit
from trainers import channels_last_probe as probe

from .conftest import tiny_net

CFG = TrainConfig(epochs=1, batch_size=16, lr=0.01, optimizer="adamw", augment=False, channels_last=True)


def test_the_probe_verdict_is_what_a_subprocess_run_of_the_case_shows():
    """On torch 2.13 here the case ran clean in the sessions that checked (the guard is then inactive); where it
    crashes, the verdict says so. Either way the cached verdict equals a fresh run's outcome."""
    done = subprocess.run([sys.executable, "-c", probe.PROBE], capture_output=True, text=True, timeout=120)
    crashed = not (done.returncode == 0 and done.stdout.strip().endswith("ok"))
    verdict = probe.cpu_channels_last_verdict()
    assert verdict.crashes == crashed, (verdict, done.returncode, done.stderr[-300:])
    assert (probe.cpu_channels_last_refusal() is None) == (not crashed)
    assert probe.cpu_channels_last_verdict() is verdict            # cached per process and torch version


def test_a_crash_is_seen_whatever_its_form():
    assert probe.run_probe("import os; os.abort()").detail == "killed by SIGABRT"
    assert probe.run_probe("import sys; sys.exit('double free or corruption (out)')").crashes
    assert probe.run_probe("import time; time.sleep(5)", timeout=0.5).detail.startswith("timed out")
    assert probe.run_probe("print('ok')") == probe.Verdict(False, "ran clean")


def _formats(model):
    return {p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4}


def _fit_with_verdict(tiny_data, monkeypatch, verdict):
    """fit() of a tiny net under ``verdict``: (result, channels_last warning lines, the weights' formats)."""
    monkeypatch.setattr(probe, "cpu_channels_last_verdict", lambda: verdict)
    model = tiny_net()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        res = fit(model, tiny_data, CFG)
    return res, [str(w.message) for w in seen if "channels_last" in str(w.message)], _formats(model)


def test_fit_trains_in_the_default_format_where_the_probe_crashes(tiny_data, monkeypatch):
    res, lines, formats = _fit_with_verdict(tiny_data, monkeypatch, probe.Verdict(True, "killed by SIGSEGV"))
    assert res.status == "finished" and len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("training.channels_last: true is not used on the CPU: torch ")
    assert "killed by SIGSEGV" in lines[0]
    assert formats == {False}


def test_fit_keeps_channels_last_where_the_probe_runs_clean(tiny_data, monkeypatch):
    res, lines, formats = _fit_with_verdict(tiny_data, monkeypatch, probe.Verdict(False, "ran clean"))
    assert res.status == "finished" and not lines
    assert formats == {True}
