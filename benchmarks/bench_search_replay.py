"""Search efficiency on a tabulated benchmark with seeds (AttnBench-digits, issue 18): anytime hypervolume
regret, speed-up over random search at fixed shares of the table's training cost, with bootstrap CIs, for every
sampler x scheduler, after printing the gates that say whether the table can tell methods apart at all.

    .venv/bin/python benchmarks/bench_search_replay.py [--table benchmarks/data/attnbench_digits.jsonl]
        [--seeds 30] [--jobs 2] [--methods ...] [--ablation]

**The table**: a search-pool file (``benchmarks/record_search_pool.py``: a header line, then one record per
architecture and seed, with a ``seed`` field; a one-seed ``/2`` pool reads as seed 0). Architectures are keyed
by their current canonical hash. **Ground truth** is the seed-mean table: an architecture's accuracy is the mean
over its recorded seeds of the final-epoch validation top-1, its cost the seed-mean training cost; the true front
is the non-dominated set of (seed-mean accuracy, MACs) and ``HV*`` its hypervolume.

**Reference point** (stated in the output): the seed-mean front's worst accuracy and largest MACs, each moved
10 % of the front's range beyond, so the hypervolume measures the front's own region.

**The replay** hands the searcher one recorded seed per evaluation (as NAS-Bench-201 does): the first time run
``r`` evaluates architecture ``a`` it draws one of ``a``'s seeds (a function of ``r`` and ``a`` only, so every
method of run ``r`` sees the same draw: paired seeds); the searcher sees that seed's per-epoch accuracies at
the rungs and at the end, and pays that seed's recorded epoch CPU seconds (``epoch_cpu_s``). The run is scored
on the seed mean: a trial trained to the end adds its architecture's seed-mean (accuracy, MACs) to the front.
Budgets are compute spent (the sum of every trained epoch's cost, stopped trials included), as a share of
the **table's total training cost**: every architecture trained once at full fidelity (seed-mean cost).
``concurrency`` asynchronous workers (the study's) run on a simulated clock; the next event is the earliest
epoch end; a rung decision (the study's own ``studies.scheduler.SuccessiveHalving.record``) is taken at once.

**Samplers** are the study's (``studies.search.make_sampler`` with the study's options): ``nsga2``, ``tpe``,
``qmc`` via Optuna ask/tell; each run builds its sampler once, seeded from the run, and asks it for every trial
(the study reseeds per ask for resumability; a reseed per ask would rebuild Optuna's incremental search-space
caches every time, which is what made the old replay slow down as trials piled up). ``random`` draws exactly
what Optuna's RandomSampler with the study's define-by-run encoding draws, without Optuna: the walk's
probability of each architecture is computed once by enumerating the walk, and a run's order of distinct
architectures is a weighted random permutation (Efraimidis-Spirakis keys) -- the same distribution as asking
until something new comes up. Duplicates (an architecture already evaluated) cost nothing and are answered
with the stored values; a suggestion whose twin is training is told when the twin ends; an architecture not in a
partial table is told FAIL and asked again (``MAX_IDLE_ASKS`` in a row end the run). A stopped trial is told
COMPLETE with the study's corrected accuracy (``analysis.fidelity.corrected_accuracy``) and never enters the
front.

**Gates** (printed before any ratio): (1) headroom: an oracle (greedy by hypervolume contribution over the true
front, an upper bound on the fewest architectures) needs at most 1/10 of random search's median draws to reach
``--target`` of HV*; (2) the target is not reachable within the samplers' start-up (random search reaches it
within the longest start-up -- NSGA-II's population, TPE's ``n_startup_trials`` -- in at most 5 % of runs);
(3) the ground truth is the seed-mean front and every architecture has >= 2 seeds, so the searcher sees real
noise. A failed gate is printed as FAILED and the figures after it are not evidence.

**Metrics**, per run, on the step curve HV(c)/HV* over compute spent ``c``: the mean of
``log10(max(1 - HV/HV*, 1e-4))`` over ``[0, B]``; HV/HV* at ``B`` = 5, 10 and 20 % of the table's cost; and the
**speed-up** at ``B``: the compute random search needs for its median HV curve to reach the method's median
HV at ``B``, over ``B`` (random runs to the table's whole cost, where its median is 1). CIs: percentile
bootstrap over the paired run seeds (the same resampled seeds for every method and for random); the log-regret
is compared to random's as the mean paired difference.
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

from analysis.fidelity import corrected_accuracy  # noqa: E402
from analysis.hypervolume import hypervolume  # noqa: E402
from analysis.pareto import pareto_front  # noqa: E402
from search_space.space import SearchSpace  # noqa: E402
from studies.config import StudyConfig  # noqa: E402

DIRECTIONS = ("max", "min")              # val_top1, macs
BUDGETS = (0.05, 0.10, 0.20)             # shares of the table's total training cost
REGRET_FLOOR = 1e-4                      # log10 regret is floored at -4 (HV* itself)
DEFAULT_TABLE = ROOT / "benchmarks" / "data" / "attnbench_digits.jsonl"
FORMATS = ("attnas-search-pool/2", "attnas-search-pool/3")
SAMPLERS = ("random", "nsga2", "tpe", "qmc")
SCHEDULERS = ("none", "asha", "pareto_sh")


# ---- the table -------------------------------------------------------------------------------------------
def read_table(path: Path) -> tuple[dict, list[dict]]:
    """``(header, records)`` of a pool/table file; a record without ``seed`` has the header's. A torn last
    line (a recording being written) is skipped."""
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines:
        raise SystemExit(f"{path}: empty; expected a header line")
    header = json.loads(lines[0])
    if header.get("format") not in FORMATS:
        raise SystemExit(f"{path}: format {header.get('format')!r}; expected one of {', '.join(FORMATS)}")
    rows = []
    for i, ln in enumerate(lines[1:]):
        try:
            rows.append(json.loads(ln))
        except json.JSONDecodeError:
            if i != len(lines) - 2:
                raise
    for r in rows:
        r.setdefault("seed", header.get("seed", 0))
    return header, rows


@dataclass
class Table:
    header: dict
    space: SearchSpace
    hashes: list                 # architecture index -> hash
    macs: np.ndarray             # (n,)
    mean_acc: np.ndarray         # (n,) seed-mean final accuracy
    curves: list                 # per arch: (seeds, epochs) accuracies
    costs: list                  # per arch: (seeds, epochs) epoch costs
    reference: tuple
    hv_star: float
    front: np.ndarray            # indices of the seed-mean front
    total_cost: float            # every architecture once, seed-mean cost
    epochs: int
    archs: list = field(default_factory=list)      # per arch: its arch dict
    proxies: dict = field(default_factory=dict)    # proxy name -> (n,) seed-mean score, where recorded

    @classmethod
    def load(cls, path: Path) -> "Table":
        return cls.from_rows(*read_table(path))

    @classmethod
    def from_rows(cls, header: dict, rows: list) -> "Table":
        from search_space.arch_config import ArchConfig

        epochs = int(header["epochs"])
        by_arch: dict = {}
        keyed: dict = {}
        for r in rows:
            if r.get("status", "finished") != "finished" or len(r["val_top1"]) != epochs:
                continue
            key = json.dumps(r["arch"], sort_keys=True)
            h = keyed.get(key)
            if h is None:                  # the hash under the current canonical form (see record_search_pool)
                h = keyed[key] = ArchConfig.from_dict(r["arch"], check_fits=False).hash
            by_arch.setdefault(h, {})[r["seed"]] = r
        if not by_arch:
            raise SystemExit("table: no finished records")
        hashes = sorted(by_arch)
        macs, curves, costs, archs, proxies = [], [], [], [], {}
        for h in hashes:
            recs = [by_arch[h][s] for s in sorted(by_arch[h])]
            macs.append(float(recs[0]["macs"]))
            archs.append(recs[0]["arch"])
            for name in (recs[0].get("proxies") or {}):
                proxies.setdefault(name, []).append(float(np.mean([r["proxies"][name] for r in recs])))
            curves.append(np.array([r["val_top1"] for r in recs], dtype=float))
            costs.append(np.array([r.get("epoch_cpu_s") or r["epoch_time_s"] for r in recs], dtype=float))
        macs = np.array(macs)
        mean_acc = np.array([c[:, -1].mean() for c in curves])
        pts = np.column_stack([mean_acc, macs])
        front = np.array(pareto_front(pts, DIRECTIONS), dtype=int)
        fp = pts[front]
        span = fp.max(axis=0) - fp.min(axis=0)
        span = np.where(span > 0, span, np.maximum(np.abs(fp.max(axis=0)), 1e-9))
        reference = (float(fp[:, 0].min() - 0.1 * span[0]), float(fp[:, 1].max() + 0.1 * span[1]))
        total = float(sum(c.sum(axis=1).mean() for c in costs))
        proxies = {k: np.array(v) for k, v in proxies.items() if len(v) == len(hashes)}
        return cls(header, SearchSpace.from_dict(header["space"]), hashes, macs, mean_acc, curves, costs,
                   reference, hypervolume(pts[front], reference, DIRECTIONS), front, total, epochs, archs, proxies)

    @property
    def size(self) -> int:
        return len(self.hashes)

    def seeds_per_arch(self) -> np.ndarray:
        return np.array([len(c) for c in self.curves])

    def study_config(self, path: Path | None = None) -> StudyConfig:
        """The study whose searcher settings are replayed: ``path``, else the table's header's study file."""
        return StudyConfig.from_yaml(path or ROOT / self.header["study"])

    def hv_fraction(self, idx) -> float:
        idx = list(idx)
        if not idx:
            return 0.0
        pts = np.column_stack([self.mean_acc[idx], self.macs[idx]])
        return hypervolume(pts, self.reference, DIRECTIONS) / self.hv_star


class Front:
    """The running seed-mean front of a run, as HV/HV* (recomputed only when a new point is non-dominated)."""

    def __init__(self, table: Table):
        self.table, self.pts, self.hv = table, np.zeros((0, 2)), 0.0

    def add(self, i: int) -> float:
        a, m = self.table.mean_acc[i], self.table.macs[i]
        p = self.pts
        if len(p) and ((p[:, 0] >= a) & (p[:, 1] <= m)).any():
            return self.hv
        keep = ~((p[:, 0] <= a) & (p[:, 1] >= m)) if len(p) else np.zeros(0, dtype=bool)
        self.pts = np.vstack([p[keep], [[a, m]]])
        self.hv = hypervolume(self.pts, self.table.reference, DIRECTIONS) / self.table.hv_star
        return self.hv


# ---- random search without Optuna ----------------------------------------------------------------------
class _ScriptedTrial:
    """Answers ``suggest_categorical`` from a list of choice indices (0 past its end), recording each
    step's number of open choices: one walk of the space, for :func:`walk_probabilities`."""

    def __init__(self, prefix: list):
        self.prefix, self.arity, self.params = prefix, [], {}

    def suggest_categorical(self, name, choices):
        k = len(self.arity)
        self.arity.append(len(choices))
        self.params[name] = choices[self.prefix[k] if k < len(self.prefix) else 0]
        return self.params[name]


def walk_probabilities(space: SearchSpace) -> tuple[dict, dict]:
    """``(probs, params)``: hash -> the probability that one define-by-run walk with uniform choices at every
    step (Optuna's RandomSampler on ``space.suggest``) yields that architecture, by enumerating every walk; and
    hash -> the define-by-run parameters of its first walk (what ``Study.enqueue_trial`` takes)."""
    probs: dict = {}
    params: dict = {}
    path: list = []
    while True:
        t = _ScriptedTrial(path)
        h = space.suggest(t).hash
        probs[h] = probs.get(h, 0.0) + float(np.prod([1.0 / n for n in t.arity]))
        params.setdefault(h, t.params)
        choice = path + [0] * (len(t.arity) - len(path))
        k = next((k for k in range(len(choice) - 1, -1, -1) if choice[k] + 1 < t.arity[k]), None)
        if k is None:
            return probs, params
        path = choice[:k] + [choice[k] + 1]


def random_order(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A weighted random permutation (Efraimidis-Spirakis): the order in which sampling with these weights,
    skipping repeats, first reaches each item."""
    keys = np.log(rng.random(len(weights))) / weights
    return np.argsort(-keys, kind="stable")


# ---- methods ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """A searcher setting: sampler x scheduler, plus the levers the ablation varies."""

    sampler: str
    scheduler: str
    options: tuple = ()          # sampler options over the study's, as (key, value) pairs
    grace_period: int | None = None
    eta: float | None = None
    correction: str = "study"    # study: corrected accuracy; raw: rung accuracy as measured
    warm: tuple = ()             # architecture indices evaluated first (proxy-seeded start, priors)
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or (self.sampler if self.scheduler == "none" else f"{self.sampler}+{self.scheduler}")


def study_method(cfg: StudyConfig, label: str = "default") -> Method:
    """The study's own setting (what ``attnas search`` uses)."""
    return Method(cfg.sampler, cfg.scheduler, tuple(sorted(cfg.sampler_options.items())), label=label)


PRIOR_ATTENTIONS = ("se", "cbam", "eca")
"""The seed papers' modules (SE, CBAM, ECA) for the prior: each in its paper's placement (every stage, before the
residual addition, the largest reduction the space offers), at the cheapest and the largest backbone."""


def prior_archs(table: Table) -> tuple:
    """Indices of the seed papers' configurations present in the table (see ``PRIOR_ATTENTIONS``)."""
    out = []
    for att in PRIOR_ATTENTIONS:
        idx = [i for i, a in enumerate(table.archs) if a["attention"].get("type") == att
               and a.get("insertion_point") == "pre_add" and all(a.get("stage_mask", [True]))
               and a.get("activation") == "relu"]
        if not idx:
            continue
        top_r = max(table.archs[i]["attention"].get("reduction", 0) for i in idx)
        idx = [i for i in idx if table.archs[i]["attention"].get("reduction", 0) == top_r]
        out += sorted({min(idx, key=lambda i: table.macs[i]), max(idx, key=lambda i: table.macs[i])})
    return tuple(int(i) for i in out)


def proxy_archs(table: Table, name: str, k: int) -> tuple:
    """Up to ``k`` architectures of the non-dominated set of (proxy score, MACs), cheapest first: a
    proxy-seeded start (zero-cost scores, no training)."""
    pts = np.column_stack([table.proxies[name], table.macs])
    front = sorted(pareto_front(pts, DIRECTIONS), key=lambda i: table.macs[i])
    pick = np.linspace(0, len(front) - 1, min(k, len(front))).round().astype(int)
    return tuple(int(front[j]) for j in sorted(set(pick)))


def ablation(cfg: StudyConfig, table: Table) -> list:
    """The study's default and one variant per lever (start-up length, fidelity correction, promotion
    rules, proxy-seeded start, seed-paper priors, model-based sampler)."""
    base = study_method(cfg)
    opts = dict(base.options)
    out = [base]
    if base.sampler == "nsga2":
        pop = int(opts.get("population_size", 50))
        out += [Method(base.sampler, base.scheduler, tuple(sorted({**opts, "population_size": p}.items())),
                       label=f"startup: population {p}") for p in (max(2, pop // 2), 2 * pop)]
    elif base.sampler == "tpe":
        n = int(opts.get("n_startup_trials", 10))
        out += [Method(base.sampler, base.scheduler, tuple(sorted({**opts, "n_startup_trials": p}.items())),
                       label=f"startup: {p} trials") for p in (max(1, n // 2), 2 * n)]
    out.append(Method(base.sampler, base.scheduler, base.options, correction="raw", label="correction: raw"))
    for sched in SCHEDULERS:
        if sched != base.scheduler:
            out.append(Method(base.sampler, sched, base.options, label=f"promotion: {sched}"))
    out.append(Method(base.sampler, base.scheduler, base.options, eta=3, label="promotion: eta 3"))
    out.append(Method(base.sampler, base.scheduler, base.options, grace_period=1, label="promotion: grace 1"))
    for name in sorted(table.proxies):
        out.append(Method(base.sampler, base.scheduler, base.options, warm=proxy_archs(table, name, 8),
                          label=f"proxy start: {name}"))
    prior = prior_archs(table)
    if prior:
        out.append(Method(base.sampler, base.scheduler, base.options, warm=prior, label="seed-paper priors"))
    for sampler in SAMPLERS:
        if sampler != base.sampler:
            out.append(Method(sampler, base.scheduler, label=f"sampler: {sampler}"))
    return out


class OptunaProposer:
    """A study's sampler asked through Optuna's ask/tell (one sampler per run)."""

    def __init__(self, table: Table, cfg: StudyConfig, method: Method, seed: int, concurrency: int):
        from studies.search import FLAT_SAMPLERS, make_sampler

        options = dict(cfg.sampler_options) if method.sampler == cfg.sampler else {}
        options.update(dict(method.options))
        scfg = cfg.replace(sampler={"type": method.sampler, **options}, seed=seed, concurrency=concurrency)
        self.study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(scfg, 0))
        self.space, self.flat = table.space, method.sampler in FLAT_SAMPLERS
        self.index = {h: i for i, h in enumerate(table.hashes)}
        self.cache: dict = {}               # params -> architecture index (None: not in the table)

    def ask(self):
        trial = self.study.ask()
        arch = self.space.suggest(trial, flat=self.flat)
        key = tuple(sorted(trial.params.items()))
        if key not in self.cache:
            self.cache[key] = self.index.get(arch.hash)
        return trial, self.cache[key]

    def tell(self, trial, values) -> None:
        self.study.tell(trial, values)

    def fail(self, trial) -> None:
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)


class OrderProposer:
    """Random search: distinct architectures in a fixed (weighted random) order; tells are ignored."""

    def __init__(self, order: np.ndarray):
        self.order, self.pos = order, 0

    def ask(self):
        if self.pos >= len(self.order):
            return None, None
        self.pos += 1
        return None, int(self.order[self.pos - 1])

    def tell(self, trial, values) -> None:
        pass

    def fail(self, trial) -> None:
        pass


@dataclass
class Trace:
    spent: list = field(default_factory=list)       # compute spent when the front changed
    hv: list = field(default_factory=list)          # HV/HV* then
    trials: int = 0
    stopped: int = 0
    duplicates: int = 0
    misses: int = 0
    started: list = field(default_factory=list)     # architecture indices in the order they started
    finished: list = field(default_factory=list)    # ... and trained to the end (the only ones scored)
    end: str = ""

    def at(self, c: float) -> float:
        """HV/HV* once ``c`` compute has been spent."""
        k = int(np.searchsorted(np.asarray(self.spent), c, side="right"))
        return self.hv[k - 1] if k else 0.0


def seed_draws(table: Table, run_seed: int) -> np.ndarray:
    """Which recorded seed run ``run_seed`` sees for each architecture (the same for every method)."""
    rng = np.random.default_rng([run_seed, 7919])
    return np.array([int(rng.integers(len(c))) for c in table.curves])


def simulate(table: Table, cfg: StudyConfig, method: Method, run_seed: int, horizon: float,
             weights: np.ndarray | None = None, params: dict | None = None, concurrency: int | None = None, idle_cap: int = 200) -> Trace:
    """Replay one search until ``horizon`` compute has been spent (or the table is exhausted)."""
    from studies.scheduler import SuccessiveHalving, milestones

    conc = concurrency or cfg.concurrency
    eta = float(method.eta or cfg.reduction_factor)
    grace = min(method.grace_period or cfg.grace_period, table.epochs)
    rungs = set(milestones(grace, eta, table.epochs)) if method.scheduler != "none" else set()
    sched = None
    if rungs:
        sched = SuccessiveHalving(method.scheduler, [("val_top1", "max"), ("macs", "min")], max_t=table.epochs,
                                  grace_period=grace, eta=eta)
    draws = seed_draws(table, run_seed)
    if method.sampler == "random":
        rng = np.random.default_rng([run_seed, 104729])
        order = random_order(weights, rng)
        if method.warm:
            order = np.concatenate([np.array(method.warm), order[~np.isin(order, method.warm)]])
        prop = OrderProposer(order)
    else:
        prop = OptunaProposer(table, cfg, method, run_seed, conc)
        for i in method.warm:               # evaluated first, then told like any other trial
            prop.study.enqueue_trial(params[table.hashes[i]])
    out = Trace()
    front = Front(table)
    told: dict = {}
    running: dict = {}                  # arch index -> [trial, epoch]
    waiting: dict = {}
    pairs: dict = {m: [] for m in rungs}
    events: list = []
    seq, spent, exhausted = 0, 0.0, False

    def start() -> bool:
        nonlocal seq, exhausted
        idle = 0
        while idle < idle_cap:
            trial, i = prop.ask()
            if trial is None and i is None:
                exhausted = True
                out.end = out.end or "table exhausted"
                return False
            if i is None:
                prop.fail(trial)
                out.misses += 1
                idle += 1
                continue
            if i in told:
                prop.tell(trial, told[i])
                out.duplicates += 1
                idle += 1
                continue
            if i in running:
                waiting.setdefault(i, []).append(trial)
                out.duplicates += 1
                idle += 1
                continue
            running[i] = [trial, 0]
            out.trials += 1
            out.started.append(i)
            heapq.heappush(events, (clock + table.costs[i][draws[i], 0], seq, i))
            seq += 1
            return True
        exhausted = True
        out.end = out.end or f"{idle_cap} suggestions in a row with nothing new"
        return False

    def end(i: int, values) -> None:
        trial = running.pop(i)[0]
        told[i] = values
        prop.tell(trial, values)
        for twin in waiting.pop(i, []):
            prop.tell(twin, values)

    clock = 0.0
    while not exhausted and len(running) < conc and len(told) + len(running) < table.size:
        start()
    while events and spent < horizon:
        clock, _, i = heapq.heappop(events)
        run = running[i]
        d = draws[i]
        e = run[1]
        run[1] += 1
        spent += table.costs[i][d, e]
        acc = float(table.curves[i][d, e])
        if run[1] >= table.epochs:
            curve = table.curves[i][d]
            for m in rungs:
                pairs[m].append((float(curve[m - 1]), acc))
            end(i, [acc, float(table.macs[i])])
            out.finished.append(i)
            hv = front.add(i)
            if hv > (out.hv[-1] if out.hv else 0.0):
                out.spent.append(spent)
                out.hv.append(hv)
        elif run[1] in rungs and not sched.record(str(i), i, run[1], _point(sched, acc, table.macs[i])).promoted:
            told_acc = corrected_accuracy(acc, pairs[run[1]]) if method.correction == "study" else acc
            end(i, [told_acc, float(table.macs[i])])
            out.stopped += 1
        else:
            heapq.heappush(events, (clock + table.costs[i][d, run[1]], seq, i))
            seq += 1
        while not exhausted and len(running) < conc and len(told) + len(running) < table.size:
            start()
    out.end = out.end or ("horizon" if spent >= horizon else "table exhausted")
    return out


def _point(sched, acc: float, macs: float) -> list:
    return [{"val_top1": acc, "macs": macs}[m] for m in sched.metrics]


# ---- metrics ---------------------------------------------------------------------------------------------
def mean_log_regret(trace: Trace, budget: float) -> float:
    """Mean of log10(max(1 - HV/HV*, floor)) over compute [0, budget] (the step curve, exactly)."""
    xs = [0.0] + [min(s, budget) for s in trace.spent] + [budget]
    vs = [0.0] + list(trace.hv)
    total = 0.0
    for k, v in enumerate(vs):
        total += math.log10(max(1.0 - v, REGRET_FLOOR)) * (xs[k + 1] - xs[k])
    return total / budget


def curve_on(traces: list, grid: np.ndarray) -> np.ndarray:
    """(runs, len(grid)) HV/HV* of each trace at each compute value."""
    out = np.zeros((len(traces), len(grid)))
    for r, t in enumerate(traces):
        if t.spent:
            k = np.searchsorted(np.asarray(t.spent), grid, side="right")
            hv = np.concatenate([[0.0], t.hv])
            out[r] = hv[k]
    return out


@dataclass
class Scores:
    """Per run (rows aligned by run seed): HV/HV* at each budget and mean log-regret over each budget."""

    hv: np.ndarray        # (runs, budgets)
    regret: np.ndarray    # (runs, budgets)
    trials: float
    stopped: float
    dups: float
    ends: dict


def score(traces: list, budgets_c: list) -> Scores:
    ends: dict = {}
    for t in traces:
        ends[t.end] = ends.get(t.end, 0) + 1
    return Scores(np.array([[t.at(b) for b in budgets_c] for t in traces]),
                  np.array([[mean_log_regret(t, b) for b in budgets_c] for t in traces]),
                  float(np.mean([t.trials for t in traces])), float(np.mean([t.stopped for t in traces])),
                  float(np.mean([t.duplicates + t.misses for t in traces])), ends)


class RandomReference:
    """Random search's median HV curve (and its bootstrap replicates) for speed-ups."""

    def __init__(self, traces: list, total: float, boot_idx: np.ndarray, points: int = 4000):
        self.grid = np.linspace(0.0, total, points + 1)[1:]
        curves = curve_on(traces, self.grid)
        self.median = np.median(curves, axis=0)
        self.boot = np.stack([np.median(curves[idx], axis=0) for idx in boot_idx])

    @staticmethod
    def _first(median: np.ndarray, grid: np.ndarray, level) -> np.ndarray:
        k = np.searchsorted(np.maximum.accumulate(median), np.asarray(level) - 1e-12, side="left")
        return np.where(k < len(grid), grid[np.minimum(k, len(grid) - 1)], np.inf)

    def speedup(self, hv_at_b: np.ndarray, budget: float, boot_idx: np.ndarray) -> tuple:
        """(point, lo, hi): compute random needs to reach the method's median HV at ``budget``, over ``budget``."""
        if np.median(hv_at_b) <= 0:          # nothing on the front yet: no level to compare
            return math.nan, math.nan, math.nan
        point = float(self._first(self.median, self.grid, np.median(hv_at_b))) / budget
        levels = np.median(hv_at_b[boot_idx], axis=1)
        boots = np.sort([self._first(self.boot[b], self.grid, levels[b]) for b in range(len(boot_idx))]) / budget
        lo, hi = (boots[min(len(boots) - 1, int(q * len(boots)))] for q in (0.025, 0.975))   # inf-safe percentiles
        return point, float(lo), float(hi)


def ci(values: np.ndarray, boot_idx: np.ndarray) -> tuple:
    """(mean, lo, hi) of the mean with a percentile bootstrap CI."""
    means = values[boot_idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(lo), float(hi)


# ---- gates -----------------------------------------------------------------------------------------------
def oracle_draws(table: Table, target: float) -> int:
    """Architectures a greedy oracle (largest hypervolume gain first, over the true front) needs to reach
    ``target`` of HV*: an upper bound on the fewest that do."""
    chosen: list = []
    left = list(table.front)
    hv = 0.0
    while hv < target - 1e-12 and left:
        gains = [table.hv_fraction(chosen + [i]) for i in left]
        k = int(np.argmax(gains))
        chosen.append(left.pop(k))
        hv = gains[k]
    return len(chosen)


def random_draws(table: Table, weights: np.ndarray, target: float, runs: int = 400, seed: int = 0) -> np.ndarray:
    """Distinct architectures random search trains (fully) before the seed-mean front reaches ``target``."""
    rng = np.random.default_rng([seed, 31337])
    out = np.empty(runs)
    for r in range(runs):
        front = Front(table)
        for n, i in enumerate(random_order(weights, rng), 1):
            if front.add(int(i)) >= target - 1e-12:
                out[r] = n
                break
        else:
            out[r] = np.inf
    return out


def startup_length(cfg: StudyConfig) -> dict:
    """Each model-based sampler's random start-up (trials before its model is used)."""
    nsga = cfg.sampler_options.get("population_size", 50) if cfg.sampler == "nsga2" else 50
    tpe = cfg.sampler_options.get("n_startup_trials", 10) if cfg.sampler == "tpe" else 10
    return {"nsga2": int(nsga), "tpe": int(tpe)}


def gates(table: Table, cfg: StudyConfig, weights: np.ndarray, target: float) -> tuple[list, bool]:
    lines, ok = [], True
    oracle = oracle_draws(table, target)
    rnd = random_draws(table, weights, target)
    med = float(np.median(rnd))
    g1 = oracle <= med / 10
    lines.append(f"gate 1 headroom: an oracle needs {oracle} architectures to {target:.0%} of HV*, random search a "
                 f"median of {med:.0f} (IQR {np.percentile(rnd, 25):.0f}-{np.percentile(rnd, 75):.0f}, "
                 f"{len(rnd)} draws of its order); oracle <= random/10: {'pass' if g1 else 'FAILED'}")
    start = startup_length(cfg)
    longest = max(start.values())
    early = float(np.mean(rnd <= longest))
    g2 = early <= 0.05
    lines.append(f"gate 2 start-up: random search reaches {target:.0%} within {longest} architectures (the longest "
                 f"start-up: {', '.join(f'{k} {v}' for k, v in start.items())}) in {early:.1%} of runs; "
                 f"<= 5 %: {'pass' if g2 else 'FAILED'}")
    seeds = table.seeds_per_arch()
    g3 = int(seeds.min()) >= 2
    single = []
    for s in range(int(seeds.min())):
        pts = np.column_stack([[c[s, -1] for c in table.curves], table.macs])
        single.append(set(pareto_front(pts, DIRECTIONS)))
    agree = np.mean([len(f & set(table.front)) / len(set(table.front) | f) for f in single]) if single else float("nan")
    lines.append(f"gate 3 ground truth: the seed-mean front ({len(table.front)} architectures); seeds per "
                 f"architecture {seeds.min()}-{seeds.max()} (mean {seeds.mean():.2f}); one seed's front agrees with "
                 f"it by Jaccard {agree:.2f}; the replay hands out one recorded seed per evaluation and scores on "
                 f"the mean; >= 2 seeds everywhere: {'pass' if g3 else 'FAILED'}")
    ok = g1 and g2 and g3
    lines.append("gates: all pass" if ok else "gates: FAILED -- the ratios below are printed for the record, "
                                              "not as evidence")
    return lines, ok


# ---- running ---------------------------------------------------------------------------------------------
_SHARED: dict = {}


def _run(task: tuple) -> Trace:
    method, seed, horizon = task
    sh = _SHARED
    return simulate(sh["table"], sh["cfg"], method, seed, horizon, sh["weights"], sh["params"])


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def all_methods() -> list:
    return [Method(s, r) for s in SAMPLERS for r in SCHEDULERS]


def report(table: Table, results: dict, seeds: int, boots: int = 2000) -> list[str]:
    """The table of anytime metrics: every method against random search, paired bootstrap CIs."""
    budgets_c = [b * table.total_cost for b in BUDGETS]
    boot_idx = np.random.default_rng(12345).integers(0, seeds, size=(boots, seeds))
    ref = RandomReference(results["random"], table.total_cost, boot_idx)
    base = score(results["random"], budgets_c)
    lines = [f"{'method':<26} " + " ".join(f"{'HV@' + format(b, '.0%'):>19}" for b in BUDGETS) + " "
             + " ".join(f"{'speed-up@' + format(b, '.0%'):>21}" for b in BUDGETS) + " "
             + f"{'log-regret@5% (diff to random)':>40} {'trials':>7} {'stopped':>7} {'asks w/o train':>14}"]
    lines.append("-" * len(lines[0]))
    out = {}
    for name, traces in results.items():
        s = score(traces, budgets_c)
        hv_cells = [f"{np.median(s.hv[:, k]):.3f} [{np.percentile(s.hv[:, k], 25):.2f}-"
                    f"{np.percentile(s.hv[:, k], 75):.2f}]" for k in range(len(BUDGETS))]
        sp = [ref.speedup(s.hv[:, k], budgets_c[k], boot_idx) for k in range(len(BUDGETS))]
        sp_cells = [f"{p:.2f} [{lo:.2f}, {hi:.2f}]" for p, lo, hi in sp]
        reg, _, _ = ci(s.regret[:, 0], boot_idx)
        d, dlo, dhi = ci(s.regret[:, 0] - base.regret[:, 0], boot_idx)
        lines.append(f"{name:<26} " + " ".join(f"{c:>19}" for c in hv_cells) + " "
                     + " ".join(f"{c:>21}" for c in sp_cells) + " "
                     + f"{reg:>8.3f} ({d:+.3f} [{dlo:+.3f}, {dhi:+.3f}])".rjust(40)
                     + f" {s.trials:7.0f} {s.stopped:7.0f} {s.dups:14.0f}")
        out[name] = (sp, (d, dlo, dhi))
    lines.append("HV@B: median HV/HV* at B of the table's cost [IQR]; speed-up@B: compute random search needs to "
                 "reach that median, over B [95 % bootstrap CI]; log-regret: mean of log10(1 - HV/HV*) over [0, 5 %] "
                 "(paired difference to random's, CI); trials/stopped/asks without training: means per run")
    if "default" in out:
        (p, lo, hi), (d, dlo, dhi) = out["default"][0][0], out["default"][1]
        lines.append(f"goal (issue 18, item 4), the study's default at B = 5 %: speed-up {p:.2f} [{lo:.2f}, {hi:.2f}] "
                     f"(>= 2 with the CI's lower end > 1.5: {'met' if p >= 2 and lo > 1.5 else 'MISSED'}); "
                     f"log-regret minus random's {d:+.3f} [{dlo:+.3f}, {dhi:+.3f}] (< 0 with the CI excluding 0: "
                     f"{'met' if dhi < 0 else 'MISSED'})")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    ap.add_argument("--study", type=Path, default=None,
                    help="study whose settings are replayed (default: the table header's study)")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--methods", nargs="+", default=None,
                    help="subset of sampler[+scheduler] names and 'default' (default: every sampler x scheduler)")
    ap.add_argument("--target", type=float, default=0.95, help="the gates' hypervolume target (share of HV*)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--ablation", action="store_true",
                    help="the study's default and one variant per lever instead of every sampler x scheduler")
    args = ap.parse_args(argv)
    _quiet()
    t_all = time.perf_counter()
    table = Table.load(args.table)
    cfg = table.study_config(args.study)
    probs, params = walk_probabilities(table.space)
    weights = np.array([probs.get(h, 0.0) for h in table.hashes])
    if (weights <= 0).any():
        raise SystemExit(f"{args.table}: {(weights <= 0).sum()} recorded architectures are outside its space")
    hdr = table.header
    space_size = hdr.get("space_size") or table.space.size()
    print(f"table: {table.size} of {space_size} architectures ({args.table.name}), seeds per architecture "
          f"{sorted({int(s) for s in table.seeds_per_arch()})}, {table.epochs} epochs on "
          f"{hdr['data']['name']} {hdr['data'].get('image_size')}px; total training cost (each architecture once, "
          f"seed-mean epoch CPU s) {table.total_cost:.0f} s")
    print(f"reference point: val_top1 {table.reference[0]:.4f}, MACs {table.reference[1]:.4g} (the seed-mean front's "
          f"worst accuracy and largest MACs plus 10 % of its range); HV* {table.hv_star:.6g}; budgets "
          f"{', '.join(f'{b:.0%}' for b in BUDGETS)} of the cost; study {cfg.name}: {cfg.sampler} "
          f"{dict(cfg.sampler_options)}, {cfg.scheduler} grace {cfg.grace_period} eta {cfg.reduction_factor}, "
          f"concurrency {cfg.concurrency}", flush=True)
    lines, _ = gates(table, cfg, weights, args.target)
    for ln in lines:
        print(ln)
    sys.stdout.flush()
    methods = ([Method("random", "none")] + ablation(cfg, table)) if args.ablation else \
        all_methods() + [study_method(cfg)]
    if table.size < space_size:
        print(f"note: a partial table ({table.size / space_size:.1%} of its space): Optuna samplers' suggestions of "
              f"unrecorded architectures are told FAIL and asked again; {200} in a row end a run")
    if not table.proxies:
        print("note: the table records no zero-cost proxy scores; the proxy-seeded start is not measured")
    if args.methods:
        methods = [m for m in methods if m.name in args.methods or m.name == "random"]
    if methods[0].name != "random":
        methods.insert(0, Method("random", "none"))
    _SHARED.update(table=table, cfg=cfg, weights=weights, params=params)
    executor = None
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("fork"), initializer=_quiet)
    results = {}
    for m in methods:
        t0 = time.perf_counter()
        horizon = table.total_cost if m.name == "random" else max(BUDGETS) * table.total_cost
        tasks = [(m, s, horizon) for s in range(args.seeds)]
        results[m.name] = list(executor.map(_run, tasks)) if executor else [_run(t) for t in tasks]
        print(f"  {m.name:<26} {time.perf_counter() - t0:6.1f} s", file=sys.stderr, flush=True)
    if executor:
        executor.shutdown()
    print()
    for ln in report(table, results, args.seeds):
        print(ln)
    import resource

    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(f"\nreplay took {time.perf_counter() - t_all:.0f} s wall, {cpu:.0f} CPU s ({args.jobs} process(es), "
          f"{args.seeds} seeds, {len(methods)} methods)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
