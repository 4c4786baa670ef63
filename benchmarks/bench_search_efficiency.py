"""Search efficiency, record and replay: how fast each searcher + early-stopping rule finds the Pareto front
(accuracy vs MACs) of a recorded pool of architectures, on a simulated clock.

Regenerate the data (about 10 min on one core of the 2-core dev box; resumable, appends per architecture):

    nice -n 10 .venv/bin/python benchmarks/record_search_pool.py --out benchmarks/data/search_pool.jsonl

Replay (everything: 50 seeds x 7 methods x concurrency 2 and 8; ``--quick``: 8 seeds, fewer checks):

    .venv/bin/python benchmarks/bench_search_efficiency.py [--seeds 50] [--concurrency 2 8] [--quick]

**What is recorded** (``benchmarks/record_search_pool.py``, whose docstring has the details): the quickstart's
space (studies/quickstart.yaml) with ``activation`` fixed to relu and ``insertion_point`` to pre_add -- 204
distinct canonical architectures
(``ArchConfig.hash``) -- each trained once at full fidelity with the quickstart recipe (digits 16x16, 20 %
validation, ``fidelity.epochs``, the study's training settings and seed), storing per epoch the validation
top-1 and the measured epoch time, plus params, MACs (``trainers.count_macs``), the arch dict and its hash. The
file's header line records the exact recipe used.

**The searchers** are real Optuna samplers driven by ask/tell (``study.ask()`` / ``study.tell()``), built by
the study's own ``make_sampler`` from the quickstart config (NSGA-II with its population size, TPE with the
study's options, random); each suggestion is made by the pool's ``SearchSpace.suggest`` with the study's
encoding (flat for NSGA-II), so a sampler proposes exactly the pool's architectures, and the suggestion is
looked up in the pool by hash. Methods:

* ``random``: RandomSampler, no early stopping (every trial trains all epochs);
* ``<sampler>+asha``: accuracy-only successive halving, the study's ``scheduler: asha``
  (``studies.scheduler.SuccessiveHalving("asha", ...)``): a trial arriving at a rung goes on iff it is among
  the best ``ceil(n / eta)`` of the ``n`` trials recorded there (itself included) by rung accuracy alone
  (``analysis.rungs.promote`` on ``[[acc]]``, the newcomer winning ties);
* ``<sampler>+moasha``: the Syne Tune MOASHA reading: the rung is sorted by non-dominated rank (fronts best
  first, accuracy descending inside a front) and that sorted list of *indices* is then read as if it held each
  trial's *rank*: the arriving trial (last row) gets "rank" ``order[-1] / n`` and goes on iff that is
  ``<= 1 / eta``. (``order[-1]`` is the arrival index of the worst point, so the decision ignores how good the
  arriving trial is unless it is itself the worst);
* ``<sampler>+pareto``: Pareto-rank successive halving, the study's default multi-objective scheduler
  (``SuccessiveHalving("pareto_sh", ...)``: the same rule with ``promote`` on ``[[acc, macs]]``).

The replay calls the scheduler's own ``record`` decision (and ``studies.scheduler.milestones`` for the rung
epochs), so the benchmark runs the study's code, not a copy. Rungs at ``grace_period * eta^k < max epochs`` (quickstart: grace 2,
eta 2, 4 epochs -> one rung, at epoch 2). A
trial that finishes is told COMPLETE ``[val_top1, macs]``; a stopped one is told what the study tells it
(``analysis.fidelity.corrected_accuracy`` of its rung accuracy, calibrated on the trials that went on past
that rung to the end, with its MACs unchanged) -- the same for every scheduler, so only the stopping rule
differs. Stopped trials never enter the front.

**The clock**: a discrete-event simulation of ``concurrency`` asynchronous workers. A trial's epoch ``e``
costs the measured ``epoch_time_s[e]`` of its architecture; the next event is always the earliest epoch end;
at a rung the scheduler decides at once; a freed worker asks the sampler at once. "Epochs" counts every
trained epoch of every trial (stopped ones included) -- the compute spent; "time" is the simulated wall clock.

**Duplicates**: a suggestion whose architecture was already evaluated costs no epochs and no time, is
answered from the stored outcome (told to the sampler exactly as its twin was) and does not count as a trial
(neither for the budget below nor as a worker's job); a suggestion whose twin is still training is told when
the twin ends and the worker asks again at once (it never stalls a worker). As in the study
(``studies.search``), each ask uses a sampler seeded from the run's seed and the trial number
(``make_sampler(cfg, number)``), and the search ends when every pool architecture has been suggested or after
``MAX_IDLE_ASKS`` duplicates in a row (the sampler has converged; counted and printed); a run also ends at the
epoch horizon (the cost of training every pool architecture once), or once it is settled: past the area's
horizon, 95 % reached and the budget's first trials ended (nothing later changes any printed metric).

**Hypervolume**: of the finished trials' (val_top1, MACs) against one fixed reference point for the pool
-- val_top1 = 0 and MACs = 1.1 x the largest MACs in the pool (printed), the study's own rule for a space
without ``macs_budget`` (``studies/reference.py``); ``--reference nadir``: the true front's worst accuracy
and largest MACs, 10 % of the front's range beyond, which measures the front's own region -- as a fraction of the pool's true
hypervolume (the non-dominated set of the whole pool at full fidelity). Per run: epochs and simulated time
until 95 % of the true hypervolume is reached (not reached within the horizon counts as never: medians are
then taken with those runs at +inf, and the count of runs that reached it is printed); the area under
hypervolume-vs-epochs over the first quarter of the horizon (``--area-share``; the early part, where the
methods differ -- with the whole horizon every method that does not get stuck ends near 1), normalised to 1
(a run that ended early keeps its last value);
and the share of the pool's true front among the finished trials of the first ``budget.trials`` (quickstart:
30) counted trials.

Tables (one per concurrency): each metric as the method's median (or mean) divided by random search's, with
the spread over seeds (IQR of the per-run values, in the same units; s.e. for means).
"""
from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import optuna  # noqa: E402

from analysis.fidelity import calibration_pairs, corrected_accuracy  # noqa: E402
from analysis.hypervolume import hypervolume  # noqa: E402
from analysis.pareto import non_dominated_sort, pareto_front  # noqa: E402
from record_search_pool import DEFAULT_OUT, current_hash, read_pool  # noqa: E402
from search_space.space import SearchSpace  # noqa: E402
from studies.config import StudyConfig  # noqa: E402
from studies.reference import MARGIN  # noqa: E402

DIRECTIONS = ("max", "min")               # val_top1, macs
HV_TARGET = 0.95


# ---- the pool ------------------------------------------------------------------------------------------
@dataclass
class Pool:
    header: dict
    records: dict                       # hash -> record
    space: SearchSpace
    reference: tuple
    hv_true: float
    front: frozenset                    # hashes on the pool's true front

    @classmethod
    def load(cls, path: Path, reference: str = "study") -> "Pool":
        return cls.from_rows(*read_pool(path), source=str(path), reference=reference)

    @classmethod
    def from_rows(cls, header: dict, rows: list, source: str = "pool", reference: str = "study") -> "Pool":
        """``reference``: ``study`` -- val_top1 0 and 1.1 x the pool's largest MACs, the study's own rule;
        ``nadir`` -- the true front's worst accuracy and largest MACs, each 10 % of the front's range beyond,
        so that the hypervolume measures the front's region only (with ``study`` most of the volume is the
        large, easy box below every accurate architecture, and a handful of trials reach 95 %)."""
        records = {}                    # keyed by each arch's hash under the current canonical form
        for r in rows:
            if r["status"] == "finished":
                h = current_hash(r)
                records[h] = {**r, "hash": h}
        if len(records) < header["space_size"]:
            print(f"note: {source} holds {len(records)} of the {header['space_size']} architectures of its space; "
                  f"suggestions of unrecorded ones are told FAIL and asked again", file=sys.stderr)
        hashes = list(records)
        pts = np.array([[records[h]["val_top1"][-1], records[h]["macs"]] for h in hashes])
        front_idx = pareto_front(pts, DIRECTIONS)
        if reference == "study":
            reference = (0.0, MARGIN * float(pts[:, 1].max()))       # the study's rule for a space (no budget)
        else:
            fp = pts[front_idx]
            span = fp.max(axis=0) - fp.min(axis=0)
            reference = (float(fp[:, 0].min() - 0.1 * span[0]), float(fp[:, 1].max() + 0.1 * span[1]))
        front = frozenset(hashes[i] for i in front_idx)
        return cls(header, records, SearchSpace.from_dict(header["space"]), reference,
                   hypervolume(pts, reference, DIRECTIONS), front)

    @property
    def epochs(self) -> int:
        return int(self.header["epochs"])

    def study_config(self) -> StudyConfig:
        """The study whose searcher settings are replayed (its file as it is now)."""
        return StudyConfig.from_yaml(ROOT / self.header["study"])

    def recipe_changes(self, cfg: StudyConfig) -> list[str]:
        """Where the recipe the pool was recorded with differs from ``cfg``'s (data, epochs, training)."""
        now = {"data": dict(cfg.data), "epochs": cfg.epochs, "training": cfg.train_config().to_dict()}
        return [k for k, v in now.items() if json.dumps(v, sort_keys=True) != json.dumps(self.header.get(k), sort_keys=True)]

    def warm_build_checks(self) -> None:
        """Validate every pool architecture once (``ArchConfig.from_dict`` builds each to check it, and
        remembers the result per hash), so that worker processes forked afterwards share the checks."""
        from search_space import ArchConfig

        for rec in self.records.values():
            ArchConfig.from_dict(rec["arch"])


# ---- stopping rules --------------------------------------------------------------------------------------
def study_scheduler(rule: str, max_t: int, grace_period: int, eta: float):
    """The study's own successive-halving scheduler (``studies.scheduler.SuccessiveHalving``) for ``asha``
    (accuracy only) or ``pareto`` (accuracy and MACs); the replay calls its :meth:`record` decision."""
    from studies.scheduler import SuccessiveHalving

    kind = {"asha": "asha", "pareto": "pareto_sh"}[rule]
    return SuccessiveHalving(kind, [("val_top1", "max"), ("macs", "min")], max_t=max_t,
                             grace_period=grace_period, eta=eta)


def rung_epochs(grace_period: int, eta: float, max_t: int) -> list[int]:
    from studies.scheduler import milestones

    return milestones(grace_period, eta, max_t)


def go_on_moasha(rung_arrival: np.ndarray, eta: float) -> bool:
    """Syne Tune MOASHA's reading (rows in arrival order, the arriving trial last): sort by non-dominated
    rank, then take the sorted index list as per-row ranks."""
    n = len(rung_arrival)
    if n == 1:
        return True
    order = []
    for front in non_dominated_sort(rung_arrival, DIRECTIONS):
        order.extend(sorted(front, key=lambda i: -rung_arrival[i, 0]))   # accuracy first inside a front
    rank_read = np.asarray(order, dtype=float) / n        # order[i] read as "the rank of row i"
    return bool(rank_read[-1] <= 1.0 / eta)


RULES = ("none", "asha", "moasha", "pareto")


@dataclass(frozen=True)
class Method:
    sampler: str
    rule: str

    @property
    def name(self) -> str:
        return self.sampler if self.rule == "none" else f"{self.sampler}+{self.rule}"


METHODS = (Method("random", "none"),
           Method("nsga2", "asha"), Method("nsga2", "moasha"), Method("nsga2", "pareto"),
           Method("tpe", "asha"), Method("tpe", "moasha"), Method("tpe", "pareto"))


# ---- one replayed search ---------------------------------------------------------------------------------
@dataclass
class Running:
    ot_trial: object
    hash: str
    rec: dict
    epoch: int = 0


@dataclass
class RunResult:
    epochs: list = field(default_factory=list)      # trace: total epochs, clock, hypervolume fraction
    clock: list = field(default_factory=list)
    hv: list = field(default_factory=list)
    trials: int = 0                                 # counted (distinct, trained) trials
    finished: int = 0
    stopped: int = 0
    duplicates: int = 0
    share_at_budget: float = 0.0
    end: str = ""


def study_sampler(cfg: StudyConfig, kind: str, seed: int, concurrency: int):
    """``(make, flat)``: ``make(number)`` is the Optuna sampler a study of ``cfg`` with this sampler type, seed
    and concurrency asks trial ``number`` with (the study seeds each ask from the study seed and the trial
    number), and ``flat`` whether it asks the space flat (the study's encoding for that sampler)."""
    from studies.search import FLAT_SAMPLERS, make_sampler    # imports Ray: only when a replay runs

    options = cfg.sampler_options if kind == cfg.sampler else {}
    scfg = cfg.replace(sampler={"type": kind, **options}, seed=seed, concurrency=concurrency)
    return (lambda number: make_sampler(scfg, number)), kind in FLAT_SAMPLERS


def max_idle_asks() -> int:
    from studies.search import MAX_IDLE_ASKS

    return MAX_IDLE_ASKS


def simulate(pool: Pool, method: Method, seed: int, concurrency: int, horizon: int, cfg: StudyConfig,
             clock_key: str = "epoch_cpu_s", area_horizon: int | None = None, sampler_factory=study_sampler) -> RunResult:
    """Replay one search. It runs until ``horizon`` epochs, the pool is exhausted or the sampler converged;
    with ``area_horizon`` it may end earlier, once past that many epochs with the hypervolume target reached
    and the budget's first trials ended (nothing later changes the metrics)."""
    eta = float(cfg.reduction_factor)
    milestones = set(rung_epochs(cfg.grace_period, eta, pool.epochs))
    scheduler = study_scheduler(method.rule, pool.epochs, cfg.grace_period, eta) \
        if method.rule in ("asha", "pareto") else None
    make, flat = sampler_factory(cfg, method.sampler, seed, concurrency)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="replay", directions=["maximize", "minimize"])
    idle_cap = max_idle_asks()
    out = RunResult()
    told: dict = {}                 # hash -> values told (the stored outcome a duplicate is answered from)
    status: dict = {}               # hash -> finished / stopped
    waiting: dict = {}              # hash -> Optuna trials suggested while their twin trains
    running: dict = {}              # hash -> Running
    rungs: dict = {m: [] for m in milestones}       # moasha: milestone -> [(acc, macs)] in arrival order
    histories: list = []            # {epoch: acc} of finished trials (calibration of what stopped ones are told)
    front_pts: list = []
    budget = cfg.trials
    first_trials: list = []         # hashes of the first `budget` counted trials
    events: list = []               # heap: (time of the epoch end, seq, hash)
    seq = 0
    clock, epochs_total = 0.0, 0
    idle = False

    def tell(ot_trial, values):
        study.tell(ot_trial, values)

    def end_trial(run: Running, values, how: str):
        told[run.hash], status[run.hash] = values, how
        tell(run.ot_trial, values)
        for twin in waiting.pop(run.hash, []):
            tell(twin, values)
        del running[run.hash]

    def start_one() -> bool:
        nonlocal seq, idle
        dups = 0
        while dups < idle_cap:
            number = len(study.get_trials(deepcopy=False))      # as the study: a sampler seeded per ask
            ot_trial = optuna.load_study(study_name="replay", storage=storage, sampler=make(number)).ask()
            arch = pool.space.suggest(ot_trial, flat=flat)
            h = arch.hash
            if h in told:                       # answered from the stored result: no epochs, no time
                tell(ot_trial, told[h])
                out.duplicates += 1
                dups += 1
                continue
            if h in running:                    # told when its twin ends; the worker asks again now
                waiting.setdefault(h, []).append(ot_trial)
                out.duplicates += 1
                dups += 1
                continue
            rec = pool.records.get(h)
            if rec is None:                     # only with an incomplete pool file
                study.tell(ot_trial, state=optuna.trial.TrialState.FAIL)
                dups += 1                       # bounded like duplicates: a pool that lacks them all ends the run
                continue
            running[h] = Running(ot_trial, h, rec)
            out.trials += 1
            if len(first_trials) < budget:
                first_trials.append(h)
            heapq.heappush(events, (clock + rec[clock_key][0], seq, h))
            seq += 1
            return True
        idle = True
        out.end = out.end or f"{idle_cap} duplicate suggestions in a row"
        return False

    def fill():
        while not idle and len(running) < concurrency and len(told) + len(running) < len(pool.records):
            if not start_one():
                return

    def record_front():
        out.epochs.append(epochs_total)
        out.clock.append(clock)
        out.hv.append(hypervolume(np.array(front_pts), pool.reference, DIRECTIONS) / pool.hv_true)

    def settled() -> bool:
        return (area_horizon is not None and epochs_total >= area_horizon and bool(out.hv)
                and out.hv[-1] >= HV_TARGET - 1e-12 and len(first_trials) >= budget
                and all(h in status for h in first_trials))

    fill()
    while events and epochs_total < horizon and not settled():
        clock, _, h = heapq.heappop(events)
        run = running[h]
        run.epoch += 1
        epochs_total += 1
        acc = run.rec["val_top1"][run.epoch - 1]
        macs = run.rec["macs"]
        if run.epoch >= pool.epochs:
            histories.append({i + 1: a for i, a in enumerate(run.rec["val_top1"])})
            front_pts.append((acc, macs))
            end_trial(run, [acc, macs], "finished")
            out.finished += 1
            record_front()
        elif run.epoch in milestones and method.rule != "none":
            if scheduler is not None:
                number = run.ot_trial.number
                point = [{"val_top1": acc, "macs": macs}[m] for m in scheduler.metrics]
                go = scheduler.record(str(number), number, run.epoch, point).promoted
            else:
                rungs[run.epoch].append((acc, macs))
                go = go_on_moasha(np.array(rungs[run.epoch]), eta)
            if go:
                heapq.heappush(events, (clock + run.rec[clock_key][run.epoch], seq, h))
                seq += 1
            else:
                pairs = calibration_pairs(histories, epoch=run.epoch, final_epoch=pool.epochs)
                end_trial(run, [corrected_accuracy(acc, pairs), macs], "stopped")
                out.stopped += 1
        else:
            heapq.heappush(events, (clock + run.rec[clock_key][run.epoch], seq, h))
            seq += 1
        fill()
    if not out.end:
        out.end = "horizon" if epochs_total >= horizon else "settled" if settled() else "pool exhausted"
    done = [h for h in first_trials if status.get(h) == "finished"]
    out.share_at_budget = len(pool.front.intersection(done)) / len(pool.front)
    return out


# ---- metrics ---------------------------------------------------------------------------------------------
def first_reach(xs: list, hv: list, target: float) -> float:
    for x, v in zip(xs, hv):
        if v >= target - 1e-12:
            return float(x)
    return math.inf


def area(epochs: list, hv: list, horizon: int) -> float:
    """Area under the hypervolume-fraction step curve over [0, horizon], divided by horizon."""
    total, last_x, last_v = 0.0, 0.0, 0.0
    for x, v in zip(epochs, hv):
        x = min(float(x), horizon)
        total += last_v * (x - last_x)
        last_x, last_v = x, v
    total += last_v * (horizon - last_x)
    return total / horizon


@dataclass
class Summary:
    e95: np.ndarray
    t95: np.ndarray
    auc: np.ndarray
    share: np.ndarray
    dups: np.ndarray
    trials: np.ndarray
    stopped: np.ndarray
    ends: dict


def summarise(results: list, horizon: int) -> Summary:
    ends: dict = {}
    for r in results:
        ends[r.end] = ends.get(r.end, 0) + 1
    return Summary(np.array([first_reach(r.epochs, r.hv, HV_TARGET) for r in results]),
                   np.array([first_reach(r.clock, r.hv, HV_TARGET) for r in results]),
                   np.array([area(r.epochs, r.hv, horizon) for r in results]),
                   np.array([r.share_at_budget for r in results]),
                   np.array([r.duplicates for r in results]), np.array([r.trials for r in results]),
                   np.array([r.stopped for r in results]), ends)


def quantile(a, q: float) -> float:
    """Linear-interpolated quantile that allows +inf (never reached): interpolating towards inf gives inf."""
    with np.errstate(invalid="ignore"):
        v = float(np.quantile(np.asarray(a, dtype=float), q))
    return math.inf if math.isnan(v) else v


def _ratio_iqr(a: np.ndarray, base: float) -> str:
    med, lo, hi = (quantile(a, q) for q in (0.5, 0.25, 0.75))
    f = (lambda v: "inf" if not math.isfinite(v) else f"{v / base:.2f}")
    return f"{f(med)} [{f(lo)}-{f(hi)}]"


def _ratio_se(a: np.ndarray, base: float) -> str:
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else 0.0
    return f"{a.mean() / base:.2f} ±{se / base:.2f}" if base > 0 else f"{a.mean():.2f} (base 0)"


def table(summaries: dict, concurrency: int, seeds: int) -> str:
    base = summaries["random"]
    b_e, b_t = quantile(base.e95, 0.5), quantile(base.t95, 0.5)
    b_auc, b_share = float(base.auc.mean()), float(base.share.mean())
    lines = [f"concurrency {concurrency}, {seeds} seeds; ratios to random search (random: median epochs to 95 % HV "
             f"{b_e:.0f}, time {b_t:.0f} s, area {b_auc:.3f}, front share at budget {b_share:.3f})",
             f"{'method':<14} {'epochs to 95% HV':>22} {'time to 95% HV':>22} {'reached':>8} {'area (HV-epochs)':>17} "
             f"{'front share@budget':>19} {'trials':>7} {'stopped':>8} {'dup':>6}",
             "-" * 133]
    for name, s in summaries.items():
        lines.append(f"{name:<14} {_ratio_iqr(s.e95, b_e):>22} {_ratio_iqr(s.t95, b_t):>22} "
                     f"{int(np.isfinite(s.e95).sum()):>5}/{len(s.e95):<2} {_ratio_se(s.auc, b_auc):>17} "
                     f"{_ratio_se(s.share, b_share):>19} {s.trials.mean():7.0f} {s.stopped.mean():8.0f} "
                     f"{s.dups.mean():6.0f}")
    lines.append("epochs/time: median ratio [IQR], inf = not reached within the horizon; area and front share: "
                 "mean ratio ± s.e.; trials/stopped/dup: means per run")
    return "\n".join(lines)


def _x(num: float, den: float) -> str:
    if not math.isfinite(num):
        return "never (inf)" if math.isfinite(den) else "inf/inf"
    return f"{num / den:.2f}x" if math.isfinite(den) else "0 (the other never reached it)"


def goals(summaries: dict) -> list[str]:
    """The issue's goals, on medians of epochs to 95 % of the true hypervolume and mean areas."""
    out = []
    b_e = quantile(summaries["random"].e95, 0.5)
    for s in ("nsga2", "tpe"):
        p, a, m = (summaries.get(f"{s}+{r}") for r in ("pareto", "asha", "moasha"))
        if p is None or a is None or m is None:
            continue
        pe, ae = quantile(p.e95, 0.5), quantile(a.e95, 0.5)
        out.append(f"{s}+pareto: epochs to 95 % HV {_x(pe, b_e)} random (goal <= 0.5x: "
                   f"{'met' if pe <= 0.5 * b_e else 'MISSED'}), {_x(pe, ae)} {s}+asha (goal <= 0.8x: "
                   f"{'met' if pe <= 0.8 * ae else 'MISSED'}); area {p.auc.mean():.3f} vs {s}+moasha "
                   f"{m.auc.mean():.3f} (goal larger: {'met' if p.auc.mean() > m.auc.mean() else 'MISSED'})")
    return out


_SHARED: dict = {}
"""The pool and settings of a replay, set before worker processes fork (``--jobs``)."""


def _run(task: tuple) -> RunResult:
    method, seed, concurrency = task
    sh = _SHARED
    return simulate(sh["pool"], method, seed, concurrency, sh["horizon"], sh["cfg"], sh["clock_key"],
                    sh["area_horizon"])


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--methods", nargs="+", default=[m.name for m in METHODS], help="subset of methods")
    ap.add_argument("--quick", action="store_true", help="8 seeds (a smoke run)")
    ap.add_argument("--area-share", type=float, default=0.25,
                    help="the area under hypervolume-vs-epochs runs over this share of the horizon (default 0.25)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="epoch cost: the recorded CPU seconds (default) or wall seconds of each epoch")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: one core)")
    ap.add_argument("--reference", choices=("study", "nadir"), default="study",
                    help="hypervolume reference point: the study's rule (default) or the true front's nadir + 10 %%")
    args = ap.parse_args(argv)
    seeds = 8 if args.quick else args.seeds
    _quiet()

    pool = Pool.load(args.pool, args.reference)
    cfg = pool.study_config()
    horizon = pool.epochs * len(pool.records)
    area_horizon = max(1, int(round(args.area_share * horizon)))
    methods = [m for m in METHODS if m.name in args.methods]
    if not methods or methods[0].name != "random":
        raise SystemExit("--methods: random must be included (every ratio is to random search)")
    hdr = pool.header
    print(f"pool: {len(pool.records)} architectures ({args.pool.name}), {pool.epochs} epochs each on "
          f"{hdr['data']['name']} {hdr['data'].get('image_size')}px, recipe {json.dumps(hdr['training'], sort_keys=True)}")
    how = "1.1 x the pool's largest" if args.reference == "study" else "the true front's nadir + 10 % of its range"
    print(f"true front: {len(pool.front)} architectures; hypervolume {pool.hv_true:.6g} against the reference "
          f"point (val_top1 {pool.reference[0]:.4g}, MACs {pool.reference[1]:.4g}: {how}); target {HV_TARGET:.0%}")
    print(f"rungs at epochs {rung_epochs(cfg.grace_period, cfg.reduction_factor, pool.epochs)} (grace "
          f"{cfg.grace_period}, eta {cfg.reduction_factor}); horizon {horizon} epochs (the whole pool once), area over "
          f"the first {area_horizon}; budget {cfg.trials} trials; samplers "
          f"{', '.join(sorted({m.sampler for m in methods}))} (quickstart options); epoch cost: {args.clock} seconds",
          flush=True)
    changed = pool.recipe_changes(cfg)
    if changed:
        print(f"note: the pool was recorded with a different {', '.join(changed)} than {hdr['study']} has now; "
              f"the replay uses the pool's curves with the study's current searcher and scheduler settings")
    pool.warm_build_checks()
    _SHARED.update(pool=pool, cfg=cfg, horizon=horizon, area_horizon=area_horizon,
                   clock_key={"cpu": "epoch_cpu_s", "wall": "epoch_time_s"}[args.clock])
    executor = None
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork"), initializer=_quiet)
    t_all = time.perf_counter()
    for conc in args.concurrency:
        summaries = {}
        for m in methods:
            t0 = time.perf_counter()
            tasks = [(m, seed, conc) for seed in range(seeds)]
            results = list(executor.map(_run, tasks)) if executor else [_run(t) for t in tasks]
            summaries[m.name] = summarise(results, area_horizon)
            print(f"  [{conc}] {m.name:<14} {time.perf_counter() - t0:6.1f} s  ends: {summaries[m.name].ends}",
                  file=sys.stderr, flush=True)
        print()
        print(table(summaries, conc, seeds))
        for line in goals(summaries):
            print("  " + line)
        sys.stdout.flush()
    if executor:
        executor.shutdown()
    print(f"\nreplay took {time.perf_counter() - t_all:.0f} s ({args.jobs} process(es))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
