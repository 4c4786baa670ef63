"""Record a tabulated benchmark: every architecture of a search space trained with one fixed recipe, per seed.

    nice -n 10 .venv/bin/python benchmarks/record_search_pool.py --table attnbench_digits [--workers 2]
    nice -n 10 .venv/bin/python benchmarks/record_search_pool.py [--table search_pool] [--pool-size 0]

Two tables (``TABLES``), each a study file (its space, data, training recipe and epochs), the dimensions it
fixes, the seeds and the output file:

* ``attnbench_digits`` (issue 18): AttnBench-digits, ``benchmarks/attnbench_digits.yaml``'s whole space
  (2,016 distinct canonical architectures: resnet_cifar depth {8, 14} x width {0.25, 0.375, 0.5, 0.75} x
  activation {relu, silu} x 10 attention types x reduction {2, 4} x insertion point {pre_add, post_add} x stage
  mask {111, 110, 011, 001}, where each applies), 3 seeds each, into ``benchmarks/data/attnbench_digits.jsonl``.
* ``search_pool``: the older one-seed pool that ``benchmarks/bench_search_efficiency.py`` replays as a smoke
  check, a sub-space of the quickstart study's space with ``activation`` fixed to ``relu`` and
  ``insertion_point`` to ``pre_add`` (``POOL_FIXED``; ``--fix PATH=VALUE`` to choose others): 204
  architectures, seed 0, into ``benchmarks/data/search_pool.jsonl``.

Each trial trains one architecture with one seed exactly as a study trial does (``studies/trainable.py``):
``torch.manual_seed(seed)``, ``build_model``, params and MACs (``trainers.count_params`` / ``count_macs``),
then ``trainers.fit`` with the study's data, training settings and ``fidelity.epochs``, with the trial's seed
as ``train.seed`` (initial weights and batch order; the validation split is the data seed's, the same for every
seed, as in NAS-Bench-201). Trials run in ``--workers`` processes of ``--threads`` thread(s) each, on CPU.
Stored per trial: the arch dict and hash, the seed, params, MACs, and per epoch validation top-1 and the measured
epoch time (training + evaluation), both as wall time (``epoch_time_s``, what ``fit`` reports) and as the
worker's CPU time (``epoch_cpu_s``), and the whole trial's CPU time with building and counting
(``trial_cpu_s``). On a shared machine the wall time carries whatever else was running; with one thread per
trial the CPU time is the trial's own cost, so the replay uses ``epoch_cpu_s`` by default.

Output: JSON Lines. Line 1 is the header (the recipe: study file, data, training, epochs, seeds, the space, its
size, torch version, threads); every further line is one trial (one architecture and seed). Architectures are
recorded in a seeded random order (``--order-seed``), all seeds of one before the next, so an interrupted
recording is a uniform sample of the space. Each record is appended as one whole line and flushed as soon as its
trial ends, so stopping the recorder (Ctrl-C, kill, a lost session) loses only the trials in flight; a rerun
skips the (hash, seed) pairs already in the file (a torn last line is dropped first) and appends the rest
(resumable). A header that disagrees with the current recipe is an error (pass a new ``--out`` to record a new
table). ``--pool-size N`` stops after N architectures (0: the whole space); at the end the recorder prints the
table's signal-to-noise ratio (:func:`snr`) and its CPU seconds per trial, which is how the recipe was chosen
(a pilot: ``--pool-size 20 --out /tmp/pilot.jsonl``, with ``--study`` a variant of the recipe).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "data" / "search_pool.jsonl"
DEFAULT_STUDY = ROOT / "studies" / "quickstart.yaml"
POOL_FIXED = {"activation": "relu", "insertion_point": "pre_add"}
"""Quickstart dimensions fixed to one value in the search pool (see the module docstring); ``--fix`` overrides."""
FORMAT = "attnas-search-pool/3"
"""/3 adds the per-record ``seed`` (and the header's ``seeds``); /2 files (one seed, the header's) still read."""
READABLE_FORMATS = ("attnas-search-pool/2", FORMAT)


@dataclass(frozen=True)
class Table:
    """One recorded table: the study whose space and recipe it uses, the dimensions it fixes, its seeds."""
    study: Path
    out: Path
    fixed: dict = field(default_factory=dict)
    seeds: tuple | None = None           # None: the study's seed alone


TABLES = {
    "search_pool": Table(DEFAULT_STUDY, DEFAULT_OUT, dict(POOL_FIXED)),
    "attnbench_digits": Table(ROOT / "benchmarks" / "attnbench_digits.yaml",
                              ROOT / "benchmarks" / "data" / "attnbench_digits.jsonl", {}, (0, 1, 2)),
}


def pool_space_dict(cfg, num_classes: int, input_size, pool_fixed: dict) -> dict:
    """The table's search space: the study's space, ``pool_fixed`` moved from dimensions to fixed."""
    space = json.loads(json.dumps(cfg.space))
    fixed = dict(space.get("fixed") or {})
    dims = dict(space.get("dimensions") or {})
    for path, value in pool_fixed.items():
        if path not in dims:
            raise SystemExit(f"--fix {path}: not a dimension of the study's space; allowed: {', '.join(dims)}")
        dims.pop(path, None)
        fixed[path] = value
    fixed.update({"num_classes": num_classes, "input_size": list(input_size)})
    name = space.get("name") if not pool_fixed and space.get("name") not in (None, "space") else f"{cfg.name}-pool"
    return {"name": name, "fixed": fixed, "dimensions": dims}


def enumerate_pool(space) -> list:
    """Every distinct canonical ArchConfig of ``space``, in enumeration order (first config per hash)."""
    from search_space import ArchConfig

    seen: dict = {}
    for raw in space.configs():
        arch = ArchConfig.from_dict(raw)
        seen.setdefault(arch.hash, arch)
    return list(seen.values())


def header_for(cfg, study_path: Path, space_dict: dict, size: int, threads: int, order_seed: int,
               pool_fixed: dict, seeds: list, workers: int) -> dict:
    import torch

    return {"format": FORMAT, "study": str(study_path.relative_to(ROOT) if study_path.is_relative_to(ROOT)
                                          else study_path),
            "data": dict(cfg.data), "train_subset": cfg.train_subset, "training": cfg.train_config().to_dict(),
            "epochs": cfg.epochs, "seed": cfg.seed, "seeds": list(seeds),
            "scheduler": {"type": cfg.scheduler, "grace_period": cfg.grace_period,
                          "reduction_factor": cfg.reduction_factor},
            "budget_trials": cfg.trials, "objectives": [list(o) for o in cfg.objectives],
            "space": space_dict, "space_size": size, "pool_fixed": pool_fixed, "order_seed": order_seed,
            "torch": torch.__version__, "threads": threads, "workers": workers, "machine": platform.machine(),
            "device": "cpu"}


RECIPE_KEYS = ("data", "train_subset", "training", "epochs", "space", "pool_fixed")
"""Header fields that must agree for a resumed recording to append to the same file (the seeds may grow; the
training dict's own ``seed`` is the study's, each record's ``seed`` the one it trained with)."""


def read_pool(path: Path) -> tuple[dict, list[dict]]:
    """``(header, records)`` of a table file; every record has a ``seed`` (a /2 file's records get the header's).
    A torn last line (a recorder killed mid-write) is left out."""
    text = Path(path).read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise SystemExit(f"{path}: empty; expected a pool header line")
    if not text.endswith("\n"):
        lines = lines[:-1]
    header = json.loads(lines[0])
    if header.get("format") not in READABLE_FORMATS:
        raise SystemExit(f"{path}: format {header.get('format')!r}; expected one of {', '.join(READABLE_FORMATS)}")
    records = [json.loads(ln) for ln in lines[1:]]
    for r in records:
        r.setdefault("seed", header.get("seed", 0))
    return header, records


def current_hash(record: dict) -> str:
    """The hash of a recorded arch under the current canonical form: a parameter added since the recording
    (with the default that was the old behaviour) changes the hash, not the architecture."""
    from search_space.arch_config import ArchConfig

    return ArchConfig.from_dict(record["arch"], check_fits=False).hash


def final_accuracy(record: dict) -> float:
    """The last epoch's validation top-1 of a record (NaN for a trial that ended before its first epoch)."""
    return float(record["val_top1"][-1]) if record.get("val_top1") else float("nan")


def seed_matrix(records: list[dict], key=None) -> dict:
    """hash -> {seed: final accuracy}, with ``key(record)`` the architecture key (default: its stored hash)."""
    out: dict = {}
    for r in records:
        out.setdefault(key(r) if key else r["hash"], {})[r["seed"]] = final_accuracy(r)
    return out


def snr(records: list[dict], key=None) -> dict:
    """Architecture signal over seed noise: the standard deviation of the architectures' seed-mean final
    accuracies over the pooled within-architecture seed standard deviation, over the architectures with at
    least 2 seeds (issue 18: the recipe needs >= 5)."""
    rows = [np.array(list(v.values()), dtype=float) for v in seed_matrix(records, key).values()]
    rows = [r for r in rows if len(r) >= 2 and np.isfinite(r).all()]
    if len(rows) < 2:
        return {"archs": len(rows), "snr": float("nan"), "arch_std": float("nan"), "seed_std": float("nan")}
    means = np.array([r.mean() for r in rows])
    pooled = float(np.sqrt(sum(((r - r.mean()) ** 2).sum() for r in rows) / sum(len(r) - 1 for r in rows)))
    arch_std = float(means.std(ddof=1))
    return {"archs": len(rows), "snr": arch_std / pooled if pooled > 0 else float("inf"), "arch_std": arch_std,
            "seed_std": pooled}


def train_one(arch, data, train_cfg) -> dict:
    """One trial: ``arch`` trained with ``train_cfg`` (its ``seed`` seeds the initial weights too)."""
    import torch

    from search_space import build_model
    from trainers import count_macs, count_params, fit

    c0 = time.process_time()
    torch.manual_seed(train_cfg.seed)          # as studies/trainable.py: initial weights from the trial's seed
    model = build_model(arch)
    params, macs = count_params(model), float(count_macs(model, arch.input_size, device="cpu"))
    cpu_marks = [time.process_time()]

    def on_epoch(epoch, metrics):                # CPU seconds of each epoch (training + evaluation)
        cpu_marks.append(time.process_time())

    t0 = time.perf_counter()
    result = fit(model, data, train_cfg, callback=on_epoch, device="cpu")
    return {"hash": arch.hash, "arch": arch.to_dict(), "seed": int(train_cfg.seed), "params": int(params),
            "macs": macs, "status": result.status, "reason": result.reason,
            "val_top1": [round(float(r["val_top1"]), 6) for r in result.history],
            "epoch_time_s": [round(float(r["epoch_time_s"]), 4) for r in result.history],
            "epoch_cpu_s": [round(b - a, 4) for a, b in zip(cpu_marks, cpu_marks[1:])],
            "trial_cpu_s": round(time.process_time() - c0, 4),
            "wall_time_s": round(time.perf_counter() - t0, 3)}


_WORKER: dict = {}
"""Per worker process: the dataset and the study's training config, loaded once by :func:`_init_worker`."""


def _init_worker(study: str, threads: int, parent: int | None = None) -> None:
    import threading

    import torch

    if parent is not None:                      # a recorder killed outright (SIGKILL) leaves no worker behind
        def watch():
            while os.getppid() == parent:
                time.sleep(2)
            os._exit(1)
        threading.Thread(target=watch, daemon=True).start()

    from studies.config import StudyConfig
    from trainers import load_dataset

    torch.set_num_threads(threads)
    cfg = StudyConfig.from_yaml(study)
    _WORKER.update(data=load_dataset(cfg.data_config(), device="cpu"), train_cfg=cfg.train_config())


def _run_trial(task: tuple) -> dict:
    from search_space import ArchConfig

    arch_dict, seed = task
    return train_one(ArchConfig.from_dict(arch_dict), _WORKER["data"], _WORKER["train_cfg"].replace(seed=seed))


def _stop_now(signum, frame) -> None:
    """SIGTERM: exit at once, between two records (a record is written and flushed by one call); the
    workers see their parent gone and exit (``_init_worker``), their trials in flight are lost."""
    sys.stdout.flush()
    os._exit(128 + signum)


def drop_torn_line(path: Path) -> None:
    """Cut a last line without its newline (a recorder killed mid-write), so appends start on a fresh line."""
    with path.open("rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def append_record(path: Path, rec: dict) -> None:
    """One whole line, flushed and synced before the next trial is written."""
    with path.open("a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def summary(records: list[dict]) -> str:
    """The table's SNR (over the architectures with 2 or more seeds) and CPU cost per trial, as printed at the
    end of a recording and by ``--summary``."""
    if not records:
        return "no trials recorded yet"
    s = snr(records)
    cpu = [r["trial_cpu_s"] if "trial_cpu_s" in r else sum(r["epoch_cpu_s"]) for r in records]
    acc = np.array([final_accuracy(r) for r in records])
    n_archs = len({r["hash"] for r in records})
    return (f"{len(records)} trials of {n_archs} architectures; SNR {s['snr']:.2f} (std of arch means "
            f"{s['arch_std']:.4f} / pooled seed std {s['seed_std']:.4f}, {s['archs']} archs with >= 2 seeds); "
            f"CPU-s per trial mean {np.mean(cpu):.3f} median {np.median(cpu):.3f}; final val_top1 "
            f"{np.nanmin(acc):.3f}..{np.nanmax(acc):.3f} (median {np.nanmedian(acc):.3f})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", choices=sorted(TABLES), default="search_pool",
                   help="which table: its study, fixed dimensions, seeds and default output")
    p.add_argument("--out", type=Path, default=None, help="the table file (default: the table's)")
    p.add_argument("--study", type=Path, default=None, help="the study whose recipe and space are used "
                                                             "(default: the table's)")
    p.add_argument("--pool-size", type=int, default=0, help="stop once the file holds N architectures (0: all)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds (default: the table's)")
    p.add_argument("--workers", type=int, default=1, help="trials trained at once, one process each")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--order-seed", type=int, default=0, help="seed of the recording order")
    p.add_argument("--summary", action="store_true", help="print the table's SNR and cost so far and exit")
    p.add_argument("--fix", action="append", default=None, metavar="PATH=VALUE",
                   help=f"a study dimension fixed in the table (repeatable; search_pool default: "
                        f"{' '.join(f'{k}={v}' for k, v in POOL_FIXED.items())})")
    args = p.parse_args(argv)
    table = TABLES[args.table]
    out = args.out or table.out
    study = (args.study or table.study).resolve()
    pool_fixed = dict(table.fixed)
    if args.fix is not None:
        import yaml

        pool_fixed = {}
        for item in args.fix:
            path, sep, value = item.partition("=")
            if not sep or not path:
                raise SystemExit(f"--fix: {item!r} is not allowed; allowed: PATH=VALUE, e.g. activation=relu")
            pool_fixed[path] = yaml.safe_load(value) if path != "stage_mask" else value
    if args.summary:
        print(f"{out}: {summary(read_pool(out)[1])}")
        return 0
    if args.workers < 1 or args.threads < 1:
        raise SystemExit(f"--workers {args.workers} --threads {args.threads}: allowed: integers >= 1")

    from search_space.space import SearchSpace
    from studies.config import StudyConfig
    from trainers import describe_dataset

    cfg = StudyConfig.from_yaml(study)
    seeds = list(args.seeds if args.seeds is not None else table.seeds or (cfg.seed,))
    num_classes, input_size = describe_dataset(cfg.data_config())
    space_dict = pool_space_dict(cfg, num_classes, input_size, pool_fixed)
    archs = enumerate_pool(SearchSpace.from_dict(space_dict))
    header = header_for(cfg, study, space_dict, len(archs), args.threads, args.order_seed, pool_fixed, seeds,
                        args.workers)

    done: set = set()
    if out.exists():
        drop_torn_line(out)
        old, records = read_pool(out)
        diff = [k for k in RECIPE_KEYS if json.dumps(old.get(k), sort_keys=True) != json.dumps(header[k], sort_keys=True)]
        if old.get("format") != FORMAT:
            diff.insert(0, "format")
        if diff:
            raise SystemExit(f"{out}: recorded with a different {', '.join(diff)}; pass a new --out to "
                             f"record a new table")
        done = {(current_hash(r), r["seed"]) for r in records}
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(header, sort_keys=True) + "\n")

    target = len(archs) if args.pool_size <= 0 else min(args.pool_size, len(archs))
    order = np.random.default_rng(args.order_seed).permutation(len(archs))
    chosen = [archs[i] for i in order[:target]]
    todo = [(a, s) for a in chosen for s in seeds if (a.hash, s) not in done]
    print(f"table {args.table}: {len(archs)} architectures in the space, {len(done)} trials recorded, "
          f"{len(todo)} to train ({target} architectures x seeds {seeds}, {cfg.epochs} epochs each, "
          f"{args.workers} worker(s) x {args.threads} thread(s)) -> {out}", flush=True)
    t_start = time.perf_counter()
    old_handler = signal.signal(signal.SIGTERM, _stop_now)
    if args.workers == 1:
        _init_worker(str(study), args.threads)
        results = (_run_trial((a.to_dict(), s)) for a, s in todo)
        pool = None
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # an executor, not multiprocessing.Pool: a worker that cannot start fails the recording instead of
        # being respawned forever
        pool = ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(str(study), args.threads, os.getpid()))
        results = (f.result() for f in as_completed([pool.submit(_run_trial, (a.to_dict(), s)) for a, s in todo]))
    try:
        for i, rec in enumerate(results, 1):
            append_record(out, rec)
            el = time.perf_counter() - t_start
            print(f"[{len(done) + i}/{target * len(seeds)}] {rec['hash']} seed {rec['seed']} "
                  f"{rec['macs'] / 1e6:6.3f}M MACs  val_top1 {final_accuracy(rec):.3f}  {rec['trial_cpu_s']:.2f} "
                  f"CPU-s  (elapsed {el / 60:.1f} min, eta {el / i * (len(todo) - i) / 60:.1f} min)", flush=True)
    finally:
        signal.signal(signal.SIGTERM, old_handler)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    print(summary(read_pool(out)[1]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
