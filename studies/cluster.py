"""Joining Ray and checking a cluster before the first trial: ``init_ray``, ``check_address``, ``probe_nodes``.

**Where the study joins Ray.** ``--address auto`` or ``HOST:PORT`` on a node of the cluster, or, under
``ray job submit``, the ``RAY_ADDRESS`` the job gets (Ray's Jobs API is what Ray's documentation advises for
Tune on a remote cluster). ``ray://`` (Ray Client) is refused with one line: a study's driver keeps the
searcher, the Optuna journal and the MLflow queue in its own process, which Ray Client does not support for
Tune; the Jobs API runs the driver on the cluster instead.

**What every node must have** (checked by :func:`probe_nodes` when more than one node is alive, one Ray
task per node that can run trials, pinned with ``NodeAffinitySchedulingStrategy``):

* the same attnas code as the driver: :func:`code_fingerprint` (a hash of the package sources) must match;
* the data: ``describe_dataset(data)`` must succeed there (files present, class folders readable);
* Tune's storage (``storage.path``, default ``<study>/ray``) must be *shared*: the driver writes a file with a
  random token into it and every node must read that token back. That is the definition used here: a path is
  shared when every node sees the driver's writes there (NFS, a cluster file system, one machine's disk for
  ``ray.cluster_utils.Cluster``). Checkpoints are written by the node a trial runs on and read by the node a
  retried trial lands on, and by the driver on ``--resume``, so anything less loses them.

A failure is one AttnasError line naming the node (its IP and id) and the path.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from pathlib import Path

from search_space.errors import AttnasError

PACKAGES = ("search_space", "trainers", "studies", "analysis")
PROBE_TIMEOUT_S = 120.0
SHARED_MARK = ".attnas-shared"


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Refuse ``ray://`` and fail fast on an explicit HOST:PORT that nothing answers (Ray retries for minutes)."""
    if address == "auto":
        return
    if address.startswith("ray://"):
        raise AttnasError(f"--address: {address!r} (Ray Client) is not supported for a study; allowed: 'auto' or "
                          f"HOST:PORT on a node of the cluster, or submit the study with the Jobs API, as Ray's "
                          f"docs advise for Tune: ray job submit --working-dir . -- attnas search STUDY.yaml")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise AttnasError(f"--address: {address!r} is not allowed; allowed: 'auto' or HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise AttnasError(f"--address: nothing answers at {host}:{port} ({e.strerror or e}); allowed: the address "
                          f"of a running Ray head node (`ray start --head` prints it), or 'auto' on that node") from None


def init_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Start (or join) Ray; returns True when this call started it. Without ``address``, a ``RAY_ADDRESS`` in
    the environment (set by ``ray job submit``) is joined; otherwise a local Ray with ``num_cpus`` starts."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    # Ray's warnings and the workers' output reach the console (a failed trial's traceback is also in its log file)
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=True, configure_logging=True)
    if address:
        check_address(address)
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as e:
            raise AttnasError(f"--address: {address!r} has no running Ray cluster ({str(e).splitlines()[0]}); "
                              f"allowed: 'auto' after `ray start --head`, or HOST:PORT of a head node") from None
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, **kwargs)
    return True


def trial_nodes() -> list[dict]:
    """The alive Ray nodes that can run a trial (at least one CPU), from ``ray.nodes()``."""
    import ray

    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]


def alive_nodes() -> int:
    import ray

    return sum(bool(n.get("Alive")) for n in ray.nodes())


def code_fingerprint() -> str:
    """A hash of attnas's Python sources as this process imports them (12 hex digits)."""
    import importlib

    h = hashlib.sha1()
    for name in PACKAGES:
        root = Path(importlib.import_module(name).__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _probe(data: dict, mark: str, token: str) -> dict:
    """Run on one node: what it sees of the code, the data and the shared storage."""
    from trainers import DataConfig, describe_dataset

    out = {"fingerprint": "", "data": "", "shared": False, "where": str(Path(__file__).resolve().parent.parent)}
    try:
        out["fingerprint"] = code_fingerprint()
    except Exception as e:  # noqa: BLE001  - reported as this node's failure
        out["fingerprint"] = f"error: {type(e).__name__}: {e}"
    try:
        describe_dataset(DataConfig.from_dict(data))
    except Exception as e:  # noqa: BLE001  - reported as this node's failure
        out["data"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    try:
        out["shared"] = Path(mark).read_text() == token
    except OSError:
        out["shared"] = False
    return out


def probe_nodes(data: dict, storage: str | Path, fingerprint: str | None = None,
                nodes: list[dict] | None = None) -> int:
    """Check every node that can run trials (module docstring); returns how many were probed. ``fingerprint``:
    the code the nodes must run (default: the driver's)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    fingerprint = fingerprint or code_fingerprint()
    nodes = trial_nodes() if nodes is None else nodes
    storage = Path(storage)
    storage.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    mark = storage / f"{SHARED_MARK}-{token}"
    mark.write_text(token)
    probe = ray.remote(num_cpus=0, max_retries=0)(_probe)
    try:
        refs = {n["NodeID"]: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(dict(data), str(mark), token) for n in nodes}
        for node in nodes:
            name = f"node {node.get('NodeManagerAddress', '?')} ({node['NodeID'][:8]})"
            try:
                got = ray.get(refs[node["NodeID"]], timeout=PROBE_TIMEOUT_S)
            except Exception as e:  # noqa: BLE001  - one line naming the node
                raise AttnasError(f"{name}: the probe task did not run ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}); allowed: nodes that start Ray "
                                  f"workers with attnas installed") from None
            if got["fingerprint"] != fingerprint:
                raise AttnasError(f"{name}: attnas at {got['where']} is not the driver's code (fingerprint "
                                  f"{got['fingerprint']} vs {fingerprint}); allowed: the same attnas on every "
                                  f"node (ray job submit --working-dir . ships it)")
            if got["data"]:
                raise AttnasError(f"{name}: data does not load there: {got['data']}; allowed: data at the same "
                                  f"absolute path on every node")
            if not got["shared"]:
                raise AttnasError(f"storage.path: {str(storage)!r} is not shared: {name} does not see the driver's "
                                  f"files there; allowed: a directory on storage that every node mounts at that "
                                  f"path (NFS, a cluster file system)")
    finally:
        mark.unlink(missing_ok=True)
    return len(nodes)
