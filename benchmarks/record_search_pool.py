"""Record the architecture pool that ``benchmarks/bench_search_efficiency.py`` replays searches over.

    nice -n 10 .venv/bin/python benchmarks/record_search_pool.py [--out benchmarks/data/search_pool.jsonl]
        [--pool-size 0] [--study studies/quickstart.yaml] [--threads 1]

The pool is a sub-space of the quickstart study's space: its dimensions with ``activation`` fixed to ``relu``
and ``insertion_point`` to ``pre_add`` (``POOL_FIXED``; ``--fix PATH=VALUE`` to choose others). With the
quickstart as of commit 4b96986 that is resnet_cifar depth {8, 14, 20} x width {0.25, 0.5, 0.75, 1.0} x
attention {none, se, eca, cbam, triplet, ca} x reduction {2, 4} (where the attention has one) x stage mask
{111, 011}: 204 distinct canonical architectures (one per ``ArchConfig.hash``). The two fixed dimensions move
accuracy but not MACs (silu costs what relu costs; post_add what pre_add costs), so the pool keeps every
dimension that shapes the accuracy-vs-MACs trade-off (depth, width, attention type, reduction, stage mask)
while staying at ~200 architectures; pre_add is the SE paper's placement. Because the pool *is* a search
space, a replayed sampler proposes from exactly the pool (``SearchSpace.suggest``), never an unrecorded point.

Each architecture is trained once at full fidelity with the study's recipe, exactly as a study trial does
(``studies/trainable.py``): ``torch.manual_seed(train.seed)``, ``build_model``, params and MACs
(``trainers.count_params`` / ``count_macs``), then ``trainers.fit`` with the study's data, training settings,
``fidelity.epochs`` and seed, on CPU with ``--threads`` threads. Stored per architecture: the arch dict and
hash, params, MACs, and per epoch validation top-1 and the measured epoch time (training + evaluation), both
as wall time (``epoch_time_s``, what ``fit`` reports) and as this process's CPU time (``epoch_cpu_s``). On a
shared machine the wall time carries whatever else was running; with one thread the CPU time is the epoch's own
cost, so the replay uses ``epoch_cpu_s`` by default (``--clock wall`` for the other).

Output: JSON Lines. Line 1 is the header (the recipe: study file, data, training, epochs, seed, the pool's
space, its size, torch version, threads); every further line is one architecture. Architectures are recorded
in a seeded random order (``--order-seed``), so an interrupted recording is a uniform sample of the pool; a
rerun skips the hashes already in the file and appends the rest (resumable). A header that disagrees with the
current recipe is an error (pass a new ``--out`` to record a new pool). ``--pool-size N`` stops after N
architectures in the file (0: the whole space).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "data" / "search_pool.jsonl"
DEFAULT_STUDY = ROOT / "studies" / "quickstart.yaml"
POOL_FIXED = {"activation": "relu", "insertion_point": "pre_add"}
"""Quickstart dimensions fixed to one value in the pool (see the module docstring); ``--fix`` overrides."""
FORMAT = "attnas-search-pool/2"


def pool_space_dict(cfg, num_classes: int, input_size, pool_fixed: dict) -> dict:
    """The pool's search space: the study's space, ``pool_fixed`` moved from dimensions to fixed."""
    space = json.loads(json.dumps(cfg.space))
    fixed = dict(space.get("fixed") or {})
    dims = dict(space.get("dimensions") or {})
    for path, value in pool_fixed.items():
        if path not in dims:
            raise SystemExit(f"--fix {path}: not a dimension of the study's space; allowed: {', '.join(dims)}")
        dims.pop(path, None)
        fixed[path] = value
    fixed.update({"num_classes": num_classes, "input_size": list(input_size)})
    return {"name": f"{cfg.name}-pool", "fixed": fixed, "dimensions": dims}


def enumerate_pool(space) -> list:
    """Every distinct canonical ArchConfig of ``space``, in enumeration order (first config per hash)."""
    from search_space import ArchConfig

    seen: dict = {}
    for raw in space.configs():
        arch = ArchConfig.from_dict(raw)
        seen.setdefault(arch.hash, arch)
    return list(seen.values())


def header_for(cfg, study_path: Path, space_dict: dict, size: int, threads: int, order_seed: int,
               pool_fixed: dict) -> dict:
    import torch

    return {"format": FORMAT, "study": str(study_path.relative_to(ROOT) if study_path.is_relative_to(ROOT)
                                          else study_path),
            "data": dict(cfg.data), "train_subset": cfg.train_subset, "training": cfg.train_config().to_dict(),
            "epochs": cfg.epochs, "seed": cfg.seed,
            "scheduler": {"type": cfg.scheduler, "grace_period": cfg.grace_period,
                          "reduction_factor": cfg.reduction_factor},
            "budget_trials": cfg.trials, "objectives": [list(o) for o in cfg.objectives],
            "space": space_dict, "space_size": size, "pool_fixed": pool_fixed, "order_seed": order_seed,
            "torch": torch.__version__, "threads": threads, "machine": platform.machine(),
            "device": "cpu"}


RECIPE_KEYS = ("format", "data", "train_subset", "training", "epochs", "seed", "space", "pool_fixed")
"""Header fields that must agree for a resumed recording to append to the same file."""


def read_pool(path: Path) -> tuple[dict, list[dict]]:
    """``(header, records)`` of a pool file."""
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines:
        raise SystemExit(f"{path}: empty; expected a pool header line")
    header = json.loads(lines[0])
    if header.get("format") != FORMAT:
        raise SystemExit(f"{path}: format {header.get('format')!r}; expected {FORMAT!r}")
    return header, [json.loads(ln) for ln in lines[1:]]


def current_hash(record: dict) -> str:
    """The hash of a recorded arch under the current canonical form: a parameter added since the recording
    (with the default that was the old behaviour) changes the hash, not the architecture."""
    from search_space.arch_config import ArchConfig

    return ArchConfig.from_dict(record["arch"], check_fits=False).hash


def train_one(arch, data, train_cfg) -> dict:
    import torch

    from search_space import build_model
    from trainers import count_macs, count_params, fit

    torch.manual_seed(train_cfg.seed)          # as studies/trainable.py: initial weights from the study seed
    model = build_model(arch)
    params, macs = count_params(model), float(count_macs(model, arch.input_size, device="cpu"))
    cpu_marks = [time.process_time()]

    def on_epoch(epoch, metrics):                # CPU seconds of each epoch (training + evaluation)
        cpu_marks.append(time.process_time())

    t0 = time.perf_counter()
    result = fit(model, data, train_cfg, callback=on_epoch, device="cpu")
    return {"hash": arch.hash, "arch": arch.to_dict(), "params": int(params), "macs": macs,
            "status": result.status, "reason": result.reason,
            "val_top1": [round(float(r["val_top1"]), 6) for r in result.history],
            "epoch_time_s": [round(float(r["epoch_time_s"]), 4) for r in result.history],
            "epoch_cpu_s": [round(b - a, 4) for a, b in zip(cpu_marks, cpu_marks[1:])],
            "wall_time_s": round(time.perf_counter() - t0, 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--study", type=Path, default=DEFAULT_STUDY, help="the study whose recipe and space are used")
    p.add_argument("--pool-size", type=int, default=0, help="stop once the file holds N architectures (0: all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--order-seed", type=int, default=0, help="seed of the recording order")
    p.add_argument("--fix", action="append", default=None, metavar="PATH=VALUE",
                   help=f"a study dimension fixed in the pool (repeatable; default: "
                        f"{' '.join(f'{k}={v}' for k, v in POOL_FIXED.items())})")
    args = p.parse_args(argv)
    pool_fixed = dict(POOL_FIXED)
    if args.fix is not None:
        import yaml

        pool_fixed = {}
        for item in args.fix:
            path, sep, value = item.partition("=")
            if not sep or not path:
                raise SystemExit(f"--fix: {item!r} is not allowed; allowed: PATH=VALUE, e.g. activation=relu")
            pool_fixed[path] = yaml.safe_load(value) if path != "stage_mask" else value

    import torch

    from search_space.space import SearchSpace
    from studies.config import StudyConfig
    from trainers import load_dataset

    torch.set_num_threads(args.threads)
    cfg = StudyConfig.from_yaml(args.study)
    data = load_dataset(cfg.data_config(), device="cpu")
    space_dict = pool_space_dict(cfg, data.num_classes, data.input_size, pool_fixed)
    archs = enumerate_pool(SearchSpace.from_dict(space_dict))
    header = header_for(cfg, args.study.resolve(), space_dict, len(archs), args.threads, args.order_seed, pool_fixed)

    done: set = set()
    if args.out.exists():
        old, records = read_pool(args.out)
        diff = [k for k in RECIPE_KEYS if json.dumps(old.get(k), sort_keys=True) != json.dumps(header[k], sort_keys=True)]
        if diff:
            raise SystemExit(f"{args.out}: recorded with a different {', '.join(diff)}; pass a new --out to "
                             f"record a new pool")
        done = {current_hash(r) for r in records}
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(header, sort_keys=True) + "\n")

    target = len(archs) if args.pool_size <= 0 else min(args.pool_size, len(archs))
    order = np.random.default_rng(args.order_seed).permutation(len(archs))
    todo = [archs[i] for i in order if archs[i].hash not in done][: max(0, target - len(done))]
    print(f"pool: {len(archs)} architectures in the space, {len(done)} recorded, {len(todo)} to train "
          f"({cfg.epochs} epochs each, {args.threads} thread(s)) -> {args.out}", flush=True)
    t_start = time.perf_counter()
    train_cfg = cfg.train_config()
    for i, arch in enumerate(todo, 1):
        rec = train_one(arch, data, train_cfg)
        with args.out.open("a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        el = time.perf_counter() - t_start
        acc = rec["val_top1"][-1] if rec["val_top1"] else float("nan")
        print(f"[{len(done) + i}/{target}] {arch.hash} {rec['macs'] / 1e6:6.2f}M MACs  val_top1 {acc:.3f}  "
              f"{rec['wall_time_s']:.1f}s  (elapsed {el / 60:.1f} min, eta {el / i * (len(todo) - i) / 60:.1f} min)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
