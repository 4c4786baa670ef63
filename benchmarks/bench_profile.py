"""`attnas profile` wall time and peak resident memory, default against --no-latency (and --train), measured
side by side in one run (issue 19: default at most 2x the wall time of --no-latency, peak RSS under 2 GB).

    .venv/bin/python benchmarks/bench_profile.py [--config resnet50] [--with-train]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def measure(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``python -m studies profile ARGS`` in a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "studies", "profile", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"attnas profile {' '.join(args)} failed")
    return wall, usage.ru_maxrss / 1024          # ru_maxrss is in KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="resnet50")
    parser.add_argument("--with-train", action="store_true", help="also time --train (slow: a batch-32 step)")
    a = parser.parse_args()
    runs = [("--no-latency", ["--no-latency"]), ("default", []), ("--no-latency", ["--no-latency"])]
    if a.with_train:
        runs.append(("--train", ["--train"]))
    results: dict[str, list] = {}
    for label, extra in runs:             # --no-latency before and after the default, against drift in load
        results.setdefault(label, []).append(measure([a.config, *extra]))
    base = min(w for w, _ in results["--no-latency"])
    for label, values in results.items():
        wall, rss = min(w for w, _ in values), max(r for _, r in values)
        print(f"attnas profile {a.config} {label:<13} wall {wall:6.2f} s ({wall / base:4.2f}x --no-latency)  "
              f"peak RSS {rss:7.0f} MB")


if __name__ == "__main__":
    main()
