"""Whether channels_last can train on this CPU: a probe of a native crash in torch's CPU convolution.

torch 2.13's CPU convolution has corrupted memory in backward (a segfault or "double free", so the process
dies without a Python error) for ``Conv2d(8, 16, 1, stride=2, bias=False)`` in channels_last at batch 3 on a
32x32 map: FA's stage projection at width 0.5 (issue 19). :func:`cpu_channels_last_verdict` runs exactly that
case in a subprocess against the installed torch and reports whether it crashed; ``trainers.fit`` then trains a
CPU run that asked for channels_last in the default format and says why in one line. The guard is active only
where the probe crashes, so it goes away when torch is fixed. The verdict is cached per process and torch
version (one subprocess, about 2 s of importing torch, and only for a CPU run that asks for channels_last).
"""
from __future__ import annotations

import functools
import signal
import subprocess
import sys
from dataclasses import dataclass

import torch

PROBE = """
import torch
from torch import nn
torch.manual_seed(0)
conv = nn.Conv2d(8, 16, 1, stride=2, bias=False).to(memory_format=torch.channels_last)
for _ in range(20):
    x = torch.randn(3, 8, 32, 32).contiguous(memory_format=torch.channels_last).requires_grad_()
    conv(x).square().sum().backward()
print("ok")
"""
"""The crashing case of issue 19 (20 backward passes: the corruption does not show on every one)."""

PROBE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Verdict:
    crashes: bool
    detail: str
    """How the probe ended: "ran clean", "killed by SIGSEGV", "exit 1: <last stderr line>", "timed out"."""


def run_probe(code: str = PROBE, timeout: float = PROBE_TIMEOUT_S) -> Verdict:
    """Run ``code`` in a fresh interpreter; a crash is any end other than a clean exit that printed "ok"."""
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Verdict(True, f"timed out after {timeout:g} s")
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return Verdict(False, "ran clean")
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return Verdict(True, f"killed by {name}")
    last = (done.stderr.strip().splitlines() or [""])[-1][:200]
    return Verdict(True, f"exit {done.returncode}: {last}" if last else f"exit {done.returncode}")


@functools.lru_cache(maxsize=None)
def _verdict(torch_version: str) -> Verdict:
    return run_probe()


def cpu_channels_last_verdict() -> Verdict:
    """The probe's verdict for the installed torch (run once per process)."""
    return _verdict(torch.__version__)


def cpu_channels_last_refusal() -> str | None:
    """None where channels_last is safe on this CPU, else the one line that says why it is not used."""
    verdict = cpu_channels_last_verdict()
    if not verdict.crashes:
        return None
    return (f"training.channels_last: true is not used on the CPU: torch {torch.__version__}'s CPU convolution "
            f"crashes in channels_last backward (trainers/channels_last_probe.py: {verdict.detail}); "
            f"training in the default memory format")
