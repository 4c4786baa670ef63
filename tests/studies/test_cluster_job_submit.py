"""``ray job submit`` end to end, as the README writes it, against an isolated local head with Ray's token
authentication on (``RAY_AUTH_MODE=token``; Ray 2.59+ turns it on by default for local clusters): a job sent
without the cluster's token is refused, one sent with it runs ``python -m studies search`` to the end of its
budget. The head has its own temp dir (so no other ``ray.init()`` on the machine finds it) and its own ports,
and only its own processes are stopped afterwards (``ray stop`` would stop every Ray on the machine)."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from analysis import read_trials

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def processes_under(marker: str) -> list[int]:
    """Ids of the processes whose command line names ``marker`` (this test's own temp dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def stop_head(temp_dir: str) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in processes_under(temp_dir):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while processes_under(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.2)


@pytest.mark.skipif(not RAY.exists(), reason="the ray CLI (ray[default]) is not installed")
def test_ray_job_submit_with_token_authentication_runs_a_study(tmp_path, tiny_study):
    pytest.importorskip("aiohttp")           # the job server of ray[default]
    temp_dir = tempfile.mkdtemp(prefix="rj", dir="/tmp")       # short: Ray's socket paths live under it
    gcs, dashboard, nm, om, agent, agent_grpc, metrics, runtime_env = free_ports(8)
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_TMPDIR=temp_dir,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    start = [str(RAY), "start", "--head", "--num-cpus", "2", "--temp-dir", temp_dir, "--port", str(gcs),
             "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--include-dashboard", "true",
             "--node-manager-port", str(nm), "--object-manager-port", str(om),
             "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
             "--metrics-export-port", str(metrics), "--runtime-env-agent-port", str(runtime_env),
             "--disable-usage-stats"]
    try:
        started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=300)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        workdir = tmp_path / "job"                       # what a user's checkout holds: the code and a study
        for package in ("search_space", "trainers", "studies", "analysis"):
            shutil.copytree(REPO / package, workdir / package, ignore=shutil.ignore_patterns("__pycache__"))
        root = tmp_path / "runs"
        data = tiny_study("submitted", str(root), budget={"trials": 2}, fidelity={"epochs": 1},
                          scheduler={"type": "none"})
        (workdir / "study.yaml").write_text(yaml.safe_dump(data))
        address = f"http://127.0.0.1:{dashboard}"
        submit = [str(RAY), "job", "submit", "--address", address, "--working-dir", ".", "--",
                  "python", "-m", "studies", "search", "study.yaml", "--root", str(root)]

        no_token = {k: v for k, v in env.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
        no_token["HOME"] = str(tmp_path)                 # no ~/.ray/auth_token to fall back on
        refused = subprocess.run(submit, cwd=workdir, env=no_token, capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0
        assert "auth" in (refused.stdout + refused.stderr).lower()

        done = subprocess.run(submit, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
        out = done.stdout + done.stderr
        assert done.returncode == 0 and "succeeded" in out, out[-3000:]
        records = read_trials(root / "submitted" / "trials.jsonl")
        assert sum(r.counts for r in records) == 2 and {r.status for r in records} == {"finished"}
    finally:
        stop_head(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert not processes_under(temp_dir)
