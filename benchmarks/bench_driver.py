"""The study driver at scale: ``run_study``'s real path (Ray Tune, the study's Searcher over Optuna ask/tell on
its journal storage, dedup, the scheduler, trial records, MLflow child runs, the live report) with stand-in
trials that sleep a fixed time per epoch, report per-epoch results and checkpoints like real trials, and
compute nothing.

    .venv/bin/python benchmarks/bench_driver.py --trials 1000 --slots 16 --duration 1 [--sampler all]
        [--profile] [--cluster 4x8] [--keep DIR] [--mlflow-check] [--resume-check]

The stand-in goes in through ``run_study(trainable=...)``, the driver's public seam for the function Tune runs;
nothing else of the study is replaced. It prints, per sampler:

* wall time against the minimum (the stand-ins' slot time / slots; trials the scheduler stops early count
  for the epochs they ran);
* the driver's time per trained trial for each 1,000 trials (CPU time of the driver's main thread, where Tune's
  loop, the searcher and the lifecycle run, and of the MLflow thread), and the last 1,000 against the first;
* with ``--profile``, where the main thread's time goes (cProfile, by the study's functions): ask, tell,
  dedup, records, MLflow (queueing; the thread's own time is the MLflow column), report, and Tune (the rest);
* ``--mlflow-check``: opening the parent run and searching its children by metric, through ``MlflowClient``
  and through the tracking server's REST endpoint the UI's runs page calls (``mlflow server`` on the store);
* ``--resume-check``: ``--resume`` of the finished study with a larger budget, seconds to its first new trial;
* ``--mlflow-store N``: no Ray and no driver: an N-child study store built through the study's own MLflow path
  (the parent run, then the lifecycle's ``start_run`` / ``log_epoch`` / ``end_run`` on the MLflow thread,
  ``--slots`` trials at a time), the MLflow thread's CPU per trial, then ``--mlflow-check`` on it.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):          # run as a script: the repository's packages, not an installed copy
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import cloudpickle, tune  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SAMPLERS = ("nsga2", "tpe", "random", "qmc")
"""Every sampler but ``grid``, which walks the space in order (nothing to model) and enumerates it first."""

# cProfile functions (file suffix, name) per column; cumulative times, none nested in another of the list
COLUMNS = {
    "ask": [("studies/search.py", "_ask"), ("studies/search.py", "make_sampler")],
    "tell": [("studies/lifecycle.py", "tell"), ("studies/lifecycle.py", "tell_failed")],
    "dedup": [("studies/search.py", "estimate_macs"), ("studies/search.py", "duplicate"),
              ("studies/search.py", "trial_ended")],
    "records": [("analysis/trials.py", "append_trial"), ("studies/lifecycle.py", "told_values"),
                ("studies/lifecycle.py", "_epoch_row"), ("studies/lifecycle.py", "save_checkpoint")],
    "mlflow": [("studies/lifecycle.py", "start_run"), ("studies/lifecycle.py", "log_epoch"),
               ("studies/lifecycle.py", "end_run"), ("studies/lifecycle.py", "fill_epochs")],
    "report": [("studies/report.py", "publish"), ("studies/lifecycle.py", "progress_line"),
               ("studies/lifecycle.py", "print_trial")],
}


def standin(duration_s: float, node_log: str | None = None):
    """A trainable that takes ``duration_s`` per trial, spread over ``settings["train"]["epochs"]`` epochs,
    reporting each like :func:`studies.trainable.train_trial` (checkpoints as
    :class:`studies.trainable.CheckpointClock` says, as real trials do)."""

    def standin_trial(config: dict, settings: dict) -> None:
        import hashlib
        import math
        import shutil

        from search_space import ArchConfig
        from search_space.cost import estimate_cost
        from studies.trainable import EPOCH_KEYS, META_FILE, CheckpointClock, placement

        t0 = time.perf_counter()
        epochs = int(settings["train"]["epochs"])
        arch = ArchConfig.from_dict(config["arch"], check_fits=False)
        cost = estimate_cost(arch)                      # analytic: microseconds, nothing built
        h = int(hashlib.sha256(config["arch_hash"].encode()).hexdigest()[:8], 16)
        ceiling = 0.5 + 0.45 * (h % 1000) / 1000 - 0.02 * math.log10(1 + cost.macs / 1e6)
        where = placement()
        if node_log:                                    # one line per trial: where it ran (the cluster check)
            with open(node_log, "a") as f:
                f.write(where["node"] + "\n")
        where = {"node": where["node"], "gpu_ids": "", "device": "cpu", "resumed_from": 0}
        work = Path(tempfile.mkdtemp(prefix="attnas-standin-"))
        clock = CheckpointClock(settings.get("checkpoint_every_s", 0.0), bool(settings.get("keep_final")))
        try:
            for epoch in range(1, epochs + 1):
                time.sleep(max(0.0, t0 + duration_s * epoch / epochs - time.perf_counter()))
                done = epoch == epochs
                acc = ceiling * (1 - 0.5 ** epoch)
                row = {"epoch": epoch, "status": "finished" if done else "running", "reason": "",
                       "wall_time_s": time.perf_counter() - t0, **where}
                row.update({k: 0.0 for k in EPOCH_KEYS})
                row.update(val_top1=acc, val_top5=min(1.0, acc + 0.2), train_loss=1 - acc,
                           epoch_time_s=duration_s / epochs, params=float(cost.params), macs=float(cost.macs),
                           latency_ms=float("nan"))
                checkpoint = None
                if clock.due(done):
                    (work / META_FILE).write_text(json.dumps({"epoch": epoch, "history": [], "profile": {},
                                                              "train": settings["train"],
                                                              "arch_hash": config["arch_hash"]}))
                    checkpoint = tune.Checkpoint.from_directory(str(work))
                tune.report(row, checkpoint=checkpoint)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return standin_trial


def mlflow_clock():
    """The CPU clock of the study's MLflow thread (``attnas-mlflow``), None when there is none."""
    for t in threading.enumerate():
        if t.name == "attnas-mlflow" and t.native_id is not None:
            try:
                return time.pthread_getcpuclockid(t.ident)
            except OSError:
                return None
    return None


class Monitor(threading.Thread):
    """Samples, every ``every`` s, the trained trials recorded so far and the CPU time of the driver's main
    thread and of the MLflow thread; ``windows`` cuts the samples at every ``per`` trained trials."""

    def __init__(self, study, every: float = 0.25):
        super().__init__(daemon=True, name="bench-monitor")
        self.study, self.every = study, every
        self.samples: list[tuple] = []
        self.stop = threading.Event()
        self.main_clock = time.pthread_getcpuclockid(threading.main_thread().ident)
        self.first_dispatch: float | None = None
        self.t0 = time.perf_counter()

    @contextlib.contextmanager
    def watching_dispatch(self):
        """Note when the study's searcher first hands Tune a trial (``first_dispatch``, seconds from ``t0``): each
        searcher made while this is open has its ``suggest`` (the Tune Searcher API) watched. Wrapped on the
        instance, which Tune pickles by its class and ``__getstate__``, so the monitor is never pickled."""
        import studies.run as run_module

        base, monitor = run_module.StudySearcher, self

        def watched(*args, **kwargs):
            searcher = base(*args, **kwargs)
            inner = searcher.suggest

            def suggest(trial_id):
                config = inner(trial_id)
                if isinstance(config, dict) and monitor.first_dispatch is None:
                    monitor.first_dispatch = time.perf_counter() - monitor.t0
                return config

            searcher.suggest = suggest
            return searcher

        run_module.StudySearcher = watched
        try:
            yield
        finally:
            run_module.StudySearcher = base

    def run(self):
        seen = trained = 0
        mclock = mlflow_clock()
        while not self.stop.is_set():
            records = self.study.records
            n = len(records)
            trained += sum(1 for r in records[seen:n] if r.counts and not r.is_reference)
            seen = n
            mlflow_cpu = time.clock_gettime(mclock) if mclock is not None else 0.0
            self.samples.append((time.perf_counter(), trained, n, time.clock_gettime(self.main_clock), mlflow_cpu))
            self.stop.wait(self.every)

    def windows(self, per: int, slots: int) -> list[dict]:
        """One row per ``per`` trained trials: wall time, driver CPU per trial, and the share of the slots'
        time spent in the trials' own work (their ``wall_time_s``, from the records that ended in the window)."""
        out, start = [], next((s for s in self.samples if s[1] > 0), self.samples[0])
        start = self.samples[max(0, self.samples.index(start) - 1)]
        for s in self.samples:
            if s[1] >= start[1] + per or (s is self.samples[-1] and s[1] > start[1]):
                n, wall = s[1] - start[1], s[0] - start[0]
                work = sum(float(r.metrics.get("wall_time_s", 0.0)) for r in self.study.records[start[2]:s[2]]
                           if r.counts)
                out.append({"trials": (start[1], s[1]), "wall_s": wall, "main_ms": 1e3 * (s[3] - start[3]) / n,
                            "mlflow_ms": 1e3 * (s[4] - start[4]) / n, "throughput": n / wall,
                            "work_share": work / (slots * wall)})
                start = s
        return out


def breakdown(profile: cProfile.Profile, trials: int, main_cpu: float) -> dict:
    """Milliseconds per trained trial by column (cumulative time of the listed functions); ``tune``: the main
    thread's remaining CPU time."""
    stats = pstats.Stats(profile).stats
    out = {}
    for column, funcs in COLUMNS.items():
        total = sum(v[3] for (path, _, name), v in stats.items()
                    if any(path.replace(os.sep, "/").endswith(f) and name == n for f, n in funcs))
        out[column] = 1e3 * total / trials
    out["tune"] = max(0.0, 1e3 * main_cpu / trials - sum(out.values()))
    return out


def study_config(name: str, sampler: str, trials: int, slots: int, epochs: int, root: Path, space: str,
                 checkpoint_every_s: float | None = None):
    from studies.config import StudyConfig

    failures = {} if checkpoint_every_s is None else {"failures": {"checkpoint_every_s": checkpoint_every_s}}
    return StudyConfig.from_dict({**failures,
        "name": name, "space": space,
        "data": {"name": "synthetic", "image_size": 32, "classes": 10, "channels": 3, "num_train": 64, "num_test": 16},
        "fidelity": {"epochs": epochs}, "sampler": {"type": sampler},
        "budget": {"trials": trials}, "concurrency": slots, "resources": {"cpus": 1},
        "storage": {"root": str(root)}, "seed": 0})


def real_config(name: str, sampler: str, trials: int, slots: int, root: Path):
    """A real study of tiny architectures (depth-8 quarter-width ResNets with every attention type) on 8x8
    synthetic data, 1 epoch per trial."""
    from studies.config import StudyConfig

    return StudyConfig.from_dict({
        "name": name,
        "space": {"fixed": {"backbone.type": "resnet_cifar", "backbone.depth": 8, "backbone.width": 0.25},
                  "dimensions": {"attention.type": ["none", "se", "eca", "cbam", "ca", "gc", "ge", "triplet"],
                                 "activation": ["relu", "silu", "gelu", "elu", "relu6", "hard_swish"],
                                 "attention.act": ["relu", "silu", "gelu", "sigmoid"],
                                 "attention.reduction": [2, 4], "insertion_point": ["pre_add", "post_add", "conv"],
                                 "stage_mask": ["111", "011", "001", "110", "100", "101", "010"],
                                 "backbone.downsample": ["pad", "conv", "avg"]}},
        "data": {"name": "synthetic", "image_size": 8, "classes": 4, "channels": 1, "num_train": 64, "num_test": 16,
                 "val_fraction": 0.25},
        "fidelity": {"epochs": 1}, "training": {"batch_size": 32, "lr": 0.05, "augment": False},
        "sampler": {"type": sampler}, "scheduler": {"type": "none"},
        "budget": {"trials": trials}, "concurrency": slots, "resources": {"cpus": 1},
        "storage": {"root": str(root)}, "seed": 0})


def run_one(cfg, duration: float, profile: bool, out, node_log: str | None = None, window: int | None = None,
            real: bool = False) -> dict:
    from studies.run import run_study
    from studies.study import Study

    study = Study.create(cfg)
    monitor = Monitor(study)
    prof = cProfile.Profile(time.thread_time) if profile else None     # CPU time of the main thread
    t0 = time.perf_counter()
    monitor.start()
    if prof:
        prof.enable()
    try:
        with monitor.watching_dispatch():
            if real:
                run_study(study, out=out)
            else:
                run_study(study, out=out, trainable=standin(duration, node_log))
    finally:
        if prof:
            prof.disable()
        monitor.stop.set()
        monitor.join()
    wall = time.perf_counter() - t0
    epoch_s = duration / cfg.epochs
    trained = [r for r in study.records if r.counts and not r.is_reference]
    slot_s = sum(epoch_s * r.metrics.get("epochs", 0) for r in study.records if r.counts)
    suggested = [r for r in study.records if not r.is_reference]
    repeats = sum(r.status == "duplicate" for r in suggested)
    res = {"sampler": cfg.sampler, "wall_s": wall, "minimum_s": slot_s / cfg.concurrency, "trained": len(trained),
           "suggested": len(suggested), "repeats": repeats, "windows": monitor.windows(window or (1000 if len(trained) >= 2000 else max(1, len(trained) // 4)),
                                      cfg.concurrency),
           "dir": str(study.dir), "tracking_uri": study.tracking_uri, "first_dispatch_s": monitor.first_dispatch,
           "main_cpu_s": monitor.samples[-1][3] - monitor.samples[0][3]}
    res["ratio"] = res["wall_s"] / res["minimum_s"]
    last = next((x[0] for x in monitor.samples if x[1] >= res["windows"][-1]["trials"][1]), None) \
        if res["windows"] else None
    res["phases"] = {"start-up (to the first trial handed to Tune)": monitor.first_dispatch,
                     "trials (first dispatch to the last trial's record)":
                         None if last is None or monitor.first_dispatch is None else last - t0 - monitor.first_dispatch,
                     "tail (final report, MLflow flush, Ray shutdown)": None if last is None else wall - (last - t0)}
    if prof:
        res["breakdown"] = breakdown(prof, max(1, len(trained)), res["main_cpu_s"])
        prof.dump_stats(str(Path(cfg.root) / f"profile-{cfg.sampler}.pstats"))
    return res


def bare_tune(cfg, duration: float, root: Path) -> dict:
    """The same stand-ins, trials and slots on Ray Tune alone: one architecture (the space's sample of seed 0) for
    every trial, FIFO, Tune's own random search over nothing, no study, records or MLflow; Tune's result
    loggers off as in the study. The floor Tune itself sets on this machine."""
    from trainers import describe_dataset

    num_classes, input_size = describe_dataset(cfg.data_config())
    arch = cfg.search_space(num_classes=num_classes, input_size=list(input_size)).sample(0)
    settings = {"train": {"epochs": cfg.epochs}, "checkpoint_every_s": cfg.checkpoint_every_s}
    trainable = tune.with_resources(tune.with_parameters(standin(duration), settings=settings), {"cpu": 1})
    t0 = time.perf_counter()
    tune.Tuner(trainable, param_space={"arch": arch.to_dict(), "arch_hash": arch.hash},
               tune_config=tune.TuneConfig(num_samples=cfg.trials, max_concurrent_trials=cfg.concurrency,
                                           reuse_actors=True),
               run_config=tune.RunConfig(name="bare", storage_path=str(root / "bare"), verbose=0,
                                         log_to_file=False)).fit()
    wall = time.perf_counter() - t0
    minimum = cfg.trials * duration / cfg.concurrency
    return {"wall_s": wall, "minimum_s": minimum, "ratio": wall / minimum}


def mlflow_store(n: int, slots: int, epochs: int, root: Path, space: str, seed: int = 0) -> dict:
    """A study store with ``n`` child runs, made by the study's own MLflow path without Ray or training: the
    tracker's parent run (as ``run_study`` opens it), then, ``slots`` trials at a time, the lifecycle's
    ``start_run`` (an architecture sampled from ``space``), ``log_epoch`` for each epoch and ``end_run`` with a
    record like a stand-in's (every third trial stopped after its first epoch), all queued to the MLflow thread
    as a study queues them. Returns the wall seconds, the main thread's and the MLflow thread's CPU ms per
    trial, and the store's location."""
    import numpy as np

    from analysis.status import trial_key
    from analysis.trials import TrialRecord
    from studies.lifecycle import Lifecycle
    from studies.study import Study
    from studies.trainable import utc_now
    from studies.tracking import MlflowTracker
    from trainers import describe_dataset

    cfg = study_config(f"store-{n}", "random", n, slots, epochs, root, space)
    study = Study.create(cfg)
    study.tracker = MlflowTracker(study.tracking_uri, study.dir)
    study.background.batch_with(study.tracker)
    num_classes, input_size = describe_dataset(cfg.data_config())
    arch_space = cfg.search_space(num_classes=num_classes, input_size=list(input_size))
    study.tracker.start_study(study.dir.name, cfg.to_dict(), {
        "sampler": cfg.sampler, "space_hash": arch_space.hash, "objectives": ",".join(cfg.metrics)})
    lifecycle = Lifecycle(study, out=io.StringIO())
    rng = np.random.default_rng(seed)
    clock = mlflow_clock()
    cpu0, main0, t0 = time.clock_gettime(clock), time.thread_time(), time.perf_counter()
    for first in range(0, n, slots):
        group = []
        for number in range(first, min(n, first + slots)):
            arch = arch_space.sample(rng)
            key = trial_key(number)
            lifecycle.start_run(key, arch, number, None)
            ceiling = 0.5 + 0.45 * rng.random()
            group.append((key, number, arch, ceiling, 1 if number % 3 == 2 else epochs, utc_now()))
        history: dict = {g[0]: [] for g in group}
        for epoch in range(1, epochs + 1):
            for key, _, _, ceiling, last, _ in group:
                if epoch <= last:
                    acc = ceiling * (1 - 0.5 ** epoch)
                    row = {"epoch": epoch, "train_loss": 1 - acc, "train_top1": acc, "val_loss": 1 - acc,
                           "val_top1": acc, "val_top5": min(1.0, acc + 0.2), "lr": 0.1 / epoch, "epoch_time_s": 0.5}
                    history[key].append(row)
                    lifecycle.log_epoch(key, epoch, row)
        for key, number, arch, ceiling, last, started in group:
            rows = history[key]
            status = "finished" if last == epochs else "stopped"
            metrics = {"val_top1": rows[-1]["val_top1"], "val_top5": rows[-1]["val_top5"], "params": 1e5 + number,
                       "macs": 1e7 + number, "epochs": last, "wall_time_s": 0.5 * last,
                       "best_val_top1": max(r["val_top1"] for r in rows)}
            lifecycle.end_run(TrialRecord(
                trial_id=key, number=number, arch=arch.to_dict(), arch_hash=arch.hash, status=status,
                reason="" if status == "finished" else f"stopped by Tune after epoch {last}", metrics=metrics,
                history=rows, fidelity=lifecycle.fidelity,
                provenance={"node": "bench", "device": "cpu", "started_at": started, "ended_at": utc_now()}))
    main_cpu = time.thread_time() - main0
    study.background.flush()
    wall, cpu = time.perf_counter() - t0, time.clock_gettime(clock) - cpu0
    study.tracker.end_study("FINISHED")
    failures = study.background.failures_by_label()
    assert not failures, f"MLflow calls failed while the store was built: {failures}"
    return {"children": n, "build_s": wall, "main_ms_per_trial": 1e3 * main_cpu / n,
            "mlflow_ms_per_trial": 1e3 * cpu / n, "dir": str(study.dir), "tracking_uri": study.tracking_uri}


GET_RUN = """query GetRun($data: MlflowGetRunInput!) {
  mlflowGetRun(input: $data) {
    apiError { code message }
    run {
      info { runName status runUuid experimentId artifactUri endTime lifecycleStage startTime userId }
      experiment { experimentId name tags { key value } artifactLocation lifecycleStage lastUpdateTime }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs { datasetInputs { dataset { digest name profile schema source sourceType } tags { key value } }
               modelInputs { modelId } }
      outputs { modelOutputs { modelId step } }
    }
  }
}"""
"""The run page's query (MLflow 3's UI, ``query GetRun`` in its bundle; ``@component`` directive left out)."""


def mlflow_check(tracking_uri: str, study_dir: str, repeats: int = 3) -> dict:
    """Seconds to open the parent run and to search its children by metric (top 100 by val_top1), through the
    client and through ``mlflow server`` on the same store: the calls the UI makes for the run page (GraphQL
    ``GetRun``, ``artifacts/list``, ``logged-models/search``), the runs page filtered to the children and sorted
    by the metric (``runs/search``) and the experiment's default page. Each server call is made ``repeats``
    times after one warm-up request of the server; the first (a visit of a page not seen before) and the
    fastest (the same page again) are reported, and the server's CPU seconds for the first (Linux: its
    ``/proc`` times; on a loaded box wall time is mostly waiting for a core)."""
    import socket
    import subprocess
    import urllib.request

    from mlflow.tracking import MlflowClient

    runs = json.loads((Path(study_dir) / "mlflow_runs.json").read_text())
    parent = runs["_study"]
    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_run(parent).info.experiment_id
    flt = f"tags.`mlflow.parentRunId` = '{parent}'"
    out = {}
    t = time.perf_counter()
    client.get_run(parent)
    out["client get parent"] = time.perf_counter() - t
    t = time.perf_counter()
    top = client.search_runs([exp], flt, order_by=["metrics.val_top1 DESC"], max_results=100)
    out["client search children by metric (top 100)"] = time.perf_counter() - t
    t = time.perf_counter()
    n = len(client.search_runs([exp], flt, max_results=50000))
    out[f"client list all {n} children"] = time.perf_counter() - t
    assert top, "no child runs"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    base = f"{root}/ajax-api/2.0/mlflow"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{root}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)

        def server_cpu():
            """CPU seconds (utime + stime) of the server and the workers it started (Linux ``/proc``)."""
            if not Path("/proc/self/stat").exists():
                return float("nan")
            procs = {}
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                procs[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
            family, grew = {server.pid}, True
            while grew:
                more = {pid for pid, (ppid, _) in procs.items() if ppid in family} - family
                family, grew = family | more, bool(more)
            return sum(procs[pid][1] for pid in family if pid in procs) / os.sysconf("SC_CLK_TCK")

        def call(url, body=None):
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            times, cpu = [], None
            for _ in range(repeats):
                cpu0, t = server_cpu(), time.perf_counter()
                with urllib.request.urlopen(req, timeout=300) as r:
                    r.read()
                times.append(time.perf_counter() - t)
                cpu = server_cpu() - cpu0 if cpu is None else cpu
            return times, cpu

        call(f"{base}/experiments/get?experiment_id={exp}")          # warm-up: the server's lazy imports
        server_calls = {}
        server_calls["UI run page: GraphQL GetRun parent"] = call(f"{root}/graphql", {
            "query": GET_RUN, "operationName": "GetRun", "variables": {"data": {"runId": parent}}})
        server_calls["REST runs/get parent"] = call(f"{base}/runs/get?run_id={parent}")
        server_calls["UI run page: artifacts/list parent"] = call(f"{base}/artifacts/list?run_id={parent}")
        server_calls["UI run page: logged-models/search"] = call(f"{base}/logged-models/search", {
            "experiment_ids": [exp], "max_results": 100})
        server_calls["REST runs/search children by metric (UI page, 100)"] = call(f"{base}/runs/search", {
            "experiment_ids": [exp], "filter": flt, "order_by": ["metrics.val_top1 DESC"], "max_results": 100,
            "run_view_type": "ACTIVE_ONLY"})
        server_calls["REST runs/search experiment (UI default, 100)"] = call(f"{base}/runs/search", {
            "experiment_ids": [exp], "order_by": ["attributes.start_time DESC"], "max_results": 100,
            "run_view_type": "ACTIVE_ONLY"})
        for name, (times, cpu) in server_calls.items():
            out[f"{name}, first"] = times[0]
            out[f"{name}, again"] = min(times[1:], default=times[0])
            out[f"{name}, first, server CPU"] = cpu
    finally:
        server.terminate()
        server.wait(30)
    return out


def resume_check(study_dir: str, duration: float, extra: int) -> dict:
    """``--resume`` of the study with ``extra`` more trials: seconds from the call to the first new trial handed
    to Tune, and to the end."""
    from studies.run import run_study
    from studies.study import Study

    t0 = time.perf_counter()
    study = Study.open(study_dir)
    study = Study.open(study_dir, trials=study.cfg.trials + extra)
    monitor = Monitor(study, every=0.05)
    monitor.t0 = t0
    monitor.start()
    try:
        with monitor.watching_dispatch():
            run_study(study, out=io.StringIO(), trainable=standin(duration))
    finally:
        monitor.stop.set()
        monitor.join()
    return {"first new trial dispatched after s": monitor.first_dispatch, "resume total s": time.perf_counter() - t0}


def start_ray(slots: int, cluster: str | None):
    from studies.cluster import init_ray

    if not cluster:
        init_ray(None, num_cpus=slots)
        return None, f"one machine, {slots} slots"
    import ray
    from ray.cluster_utils import Cluster

    nodes, per = (int(x) for x in cluster.lower().split("x"))
    # the Cluster writes its address where every ray.init() on the machine looks (<temp>/ray_current_cluster):
    # a temp dir of its own keeps other Ray users of the machine from joining it
    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="bdc", dir="/tmp")
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": per})
    for _ in range(nodes - 1):
        c.add_node(num_cpus=per)
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False)
    return c, f"ray.cluster_utils.Cluster {nodes} nodes x {per} slots"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--slots", type=int, default=16, help="trials at a time (concurrency; Ray CPUs on one machine)")
    p.add_argument("--duration", type=float, default=1.0, help="seconds per stand-in trial at full fidelity")
    p.add_argument("--epochs", type=int, default=2, help="epochs per trial (reports; the scheduler's rungs)")
    p.add_argument("--sampler", default="nsga2", help=f"one of {', '.join(SAMPLERS)}, a comma list, or all")
    p.add_argument("--space", default="cifar-attention")
    p.add_argument("--profile", action="store_true", help="cProfile the main thread: the breakdown by column")
    p.add_argument("--cluster", default=None, help="NODESxSLOTS on ray.cluster_utils.Cluster, e.g. 4x8")
    p.add_argument("--keep", default=None, help="study root to keep (default: a temporary folder)")
    p.add_argument("--mlflow-check", action="store_true")
    p.add_argument("--resume-check", action="store_true")
    p.add_argument("--checkpoint-every", type=float, default=None, help="failures.checkpoint_every_s (default: "
                   "the study's default; 0: a checkpoint after every epoch but the last)")
    p.add_argument("--bare", action="store_true", help="also run the same stand-ins on Ray Tune alone (no study): "
                   "the floor Tune sets on this machine, side by side")
    p.add_argument("--mlflow-store", type=int, default=None, metavar="N",
                   help="no Ray: build an N-child study store through the study's MLflow path, then --mlflow-check it")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    p.add_argument("--window", type=int, default=None, help="trained trials per row (default 1000, or a quarter)")
    p.add_argument("--real", action="store_true", help="real trials (the study's trainable) of tiny architectures "
                   "on 8x8 synthetic data, 1 epoch, instead of stand-ins: the training share of the slots' time")
    args = p.parse_args()
    samplers = SAMPLERS if args.sampler == "all" else tuple(args.sampler.split(","))
    if args.mlflow_store is not None:
        if args.mlflow_store < 1:
            p.error(f"--mlflow-store: {args.mlflow_store} children; allowed: 1 or more")
        root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-store-"))
        root.mkdir(parents=True, exist_ok=True)
        res = mlflow_store(args.mlflow_store, args.slots, args.epochs, root, args.space)
        print(f"store of {res['children']} children ({args.slots} at a time, {args.epochs} epochs) built in "
              f"{res['build_s']:.1f} s: MLflow thread {res['mlflow_ms_per_trial']:.1f} ms CPU per trial, "
              f"main thread (queueing) {res['main_ms_per_trial']:.1f} ms; {res['tracking_uri']}")
        res["mlflow"] = mlflow_check(res["tracking_uri"], res["dir"])
        for k, v in res["mlflow"].items():
            print(f"  {k}: {v:.2f} s")
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
        return

    from studies.logs import quiet_ray_logs

    quiet_ray_logs()
    cluster, where = start_ray(args.slots, args.cluster)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-driver-"))
    root.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for sampler in samplers:
            cfg = study_config(f"driver-{sampler}", sampler, args.trials, args.slots, args.epochs, root, args.space,
                               args.checkpoint_every)
            if args.real:
                cfg = real_config(f"real-{sampler}", sampler, args.trials, args.slots, root)
            node_log = str(root / f"nodes-{sampler}.txt") if cluster is not None else None
            log = io.StringIO()          # the study's own lines (Tune pickles its callbacks: no open file)
            try:
                res = run_one(cfg, args.duration, args.profile, log, node_log, args.window, args.real)
            finally:
                with open(root / "driver.log", "a") as f:
                    f.write(log.getvalue())
            if node_log:
                lines = Path(node_log).read_text().split()
                res["nodes"] = {n: lines.count(n) for n in set(lines)}
            if args.mlflow_check:
                res["mlflow"] = mlflow_check(res["tracking_uri"], res["dir"])
            if args.bare:
                res["bare"] = bare_tune(cfg, args.duration, root)
            if args.resume_check:
                res["resume"] = resume_check(res["dir"], args.duration, args.slots)
            results.append(res)
            print_result(res, args, where)
    finally:
        if cluster is not None:
            import ray
            ray.shutdown()
            cluster.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def print_result(res: dict, args, where: str) -> None:
    print(f"\n== sampler {res['sampler']}: {res['trained']} trained trials of {args.duration:g} s "
          f"({args.epochs} epochs, default scheduler) on {where}")
    print(f"wall {res['wall_s']:.0f} s vs minimum {res['minimum_s']:.0f} s: {res['ratio']:.3f}x "
          f"(target 1.2x); suggestions {res['suggested']}, repeats answered without Tune {res['repeats']} "
          f"({100 * res['repeats'] / max(1, res['suggested']):.1f} %)")
    print(f"{'trials':>13} {'wall s':>7} {'trials/s':>8} {'driver ms/trial':>16} {'MLflow ms/trial':>16} "
          f"{'slot share in trials':>21}")
    for w in res["windows"]:
        print(f"{w['trials'][0]:>6}-{w['trials'][1]:<6} {w['wall_s']:7.1f} {w['throughput']:8.2f} "
              f"{w['main_ms']:16.1f} {w['mlflow_ms']:16.1f} {w['work_share']:21.3f}")
    ws = res["windows"]
    if len(ws) >= 2:
        print(f"driver ms/trial, last window / first: {ws[-1]['main_ms'] / max(1e-9, ws[0]['main_ms']):.2f}x "
              f"(target 1.5x)")
    print("phases: " + "; ".join(f"{k} {v:.1f} s" for k, v in res["phases"].items() if v is not None))
    if "bare" in res:
        b = res["bare"]
        print(f"bare Ray Tune, same stand-ins and slots, no study (FIFO, no searcher, no records, no MLflow): "
              f"wall {b['wall_s']:.0f} s vs minimum {b['minimum_s']:.0f} s: {b['ratio']:.3f}x; the study's wall / "
              f"bare Tune's: {res['wall_s'] / b['wall_s']:.3f}x")
    if "breakdown" in res:
        b = res["breakdown"]
        print("main thread ms/trial (cProfile, inflates Python time): " + ", ".join(f"{k} {v:.1f}" for k, v in b.items()))
    if "nodes" in res:
        print(f"trained trials per node: {sorted(res['nodes'].values(), reverse=True)}")
    for key in ("mlflow", "resume"):
        for k, v in res.get(key, {}).items():
            print(f"  {k}: {v:.2f} s" if v is not None else f"  {k}: -")


if __name__ == "__main__":
    main()
