"""StudyConfig: one search study as plain, validated, frozen data (the study YAML).

    name: quickstart
    space: {fixed: {...}, dimensions: {...}}     # inline, or a path relative to the study file
    data: {name: digits, image_size: 16, val_fraction: 0.2}      # trainers.DataConfig fields
    fidelity: {epochs: 4, train_subset: null}    # per trial; train_subset overrides data.train_subset
    training: {batch_size: 128, lr: 0.05}        # trainers.TrainConfig fields (epochs come from fidelity)
    objectives: [{metric: val_top1, direction: max}, {metric: macs, direction: min}]
    sampler: {type: nsga2, population_size: 8}   # nsga2 | tpe | random | qmc, plus the sampler's own options
    scheduler: {type: pareto_sh, grace_period: 1, reduction_factor: 3}   # or asha | none; max_t = fidelity.epochs
    budget: {trials: 20, time_limit_s: null}
    concurrency: 2
    resources: {cpus: 1, gpu: 0}                 # per trial; gpu may be a fraction
    seed: 0
    warm_start: [resnet20, se-resnet20]          # evaluated first, as reference trials: presets, paths, configs
    arms: [{name: se, arch: se-resnet50, set: {...}, reported: {...}}]   # an ablation's arms (studies/arms.py)
    storage: {root: ./attnas-runs, tracking_uri: null, path: null}   # null: sqlite:///<root>/mlflow.db
    tracking: {log_weights: none}                # front: log finished front members' weights with their LoggedModel
    failures: {max_retries: 2, checkpoint_every_s: 10}   # Tune retries of a trial whose worker or node died;
                                                 # a trial checkpoints at most every 10 s of its training
    macs_budget: null                            # reject candidates over this many MACs before training
    hypervolume_reference: null                  # {val_top1: 0, macs: ...}; null: fixed at the study's start

With ``arms`` the space is optional (an ablation trains its arms and nothing else) and ``budget.trials``
defaults to the number of arms (plus warm-start references, plus the space's size with ``sampler: grid``).

Everything is checked once, here, and every bad value is an AttnasError naming its field.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from search_space.errors import AttnasError
from search_space.yaml_io import parse_yaml

from .arms import parse_arms, plain

ACCURACY_METRICS = ("val_top1", "val_top5")
COST_METRICS = ("macs", "params", "latency_ms")
SAMPLERS = ("nsga2", "tpe", "random", "qmc", "grid")
SCHEDULERS = ("pareto_sh", "asha", "none")
TOP_FIELDS = ("name", "space", "data", "fidelity", "training", "objectives", "sampler", "scheduler", "budget",
              "concurrency", "resources", "seed", "warm_start", "storage", "macs_budget", "hypervolume_reference",
              "failures", "arms", "tracking")
DEFAULT_ROOT = "./attnas-runs"
DEFAULT_MAX_RETRIES = 2
DEFAULT_CHECKPOINT_EVERY_S = 10.0
"""A trial reports a checkpoint after an epoch only once this much of its time passed since its last one (or its
start): redoing under 10 s of training costs less than checkpointing short epochs (Tune's checkpoint handling
took 0.08 s of the 2 slots per trial in ``benchmarks/bench_driver.py``). 0: after every epoch."""
LOG_WEIGHTS = ("none", "front")


def _bad(field_name: str, value, allowed: str) -> AttnasError:
    return AttnasError(f"{field_name}: {value!r} is not allowed; allowed: {allowed}")


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _mapping(data, field_name: str, keys: tuple) -> dict:
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise _bad(field_name, data, f"a mapping with keys {', '.join(keys)}")
    for k in data:
        if k not in keys:
            raise AttnasError(f"{field_name}.{k}: unknown field; allowed: {', '.join(keys)}")
    return dict(data)


def sampler_class(kind: str):
    """The Optuna sampler class behind a ``sampler.type``."""
    import optuna

    if kind == "grid":
        from .grid import GridSampler
        return GridSampler
    return {"nsga2": optuna.samplers.NSGAIISampler, "tpe": optuna.samplers.TPESampler,
            "random": optuna.samplers.RandomSampler, "qmc": optuna.samplers.QMCSampler}[kind]


# Options the study sets itself: the seed (from ``seed``) and the TPE encoding (see studies.search).
_RESERVED_SAMPLER_OPTIONS = ("seed",)


@dataclass(frozen=True)
class StudyConfig:
    name: str
    space: Mapping[str, Any]
    data: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 4
    train_subset: int | float | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    objectives: tuple = (("val_top1", "max"), ("macs", "min"))
    sampler: str = "nsga2"
    sampler_options: Mapping[str, Any] = field(default_factory=dict)
    scheduler: str = "pareto_sh"
    grace_period: int = 1
    reduction_factor: float = 3
    trials: int = 20
    time_limit_s: float | None = None
    concurrency: int = 1
    cpus: float = 1
    gpu: float = 0
    seed: int = 0
    warm_start: tuple = ()
    root: str = DEFAULT_ROOT
    tracking_uri: str | None = None
    macs_budget: float | None = None
    hypervolume_reference: Mapping[str, float] | None = None
    # cluster and fault tolerance (studies.cluster, studies.run)
    storage_path: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    log_weights: str = "none"            # tracking.log_weights: none | front (studies.tracking.FrontModels)
    # ---- architectures trained as given (studies/arms.py): warm-start references and ablation arms ----
    warm_start_arms: tuple = ()
    arms: tuple = ()

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> "StudyConfig":
        path = Path(path)
        if not path.is_file():
            raise AttnasError(f"study: {str(path)!r} does not exist; allowed: a study YAML file")
        data = parse_yaml(path.read_text(), f"study: {path}")
        return cls.from_dict(data, base_dir=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping, base_dir: str | Path = ".") -> "StudyConfig":
        if not isinstance(data, Mapping):
            raise _bad("study", data, f"a mapping of {', '.join(TOP_FIELDS)}")
        for k in data:
            if k not in TOP_FIELDS:
                raise AttnasError(f"{k}: unknown field; allowed: {', '.join(TOP_FIELDS)}")
        name = data.get("name")
        if not isinstance(name, str) or not name or any(c in name for c in "/\\ ") or name.startswith("."):
            raise _bad("name", name, "a non-empty name without spaces or slashes (it names the study folder)")

        base_dir = Path(base_dir)
        arms = parse_arms(data.get("arms"), base_dir, "arms", need_name=True)
        if data.get("space") is None and not arms:
            from search_space.space import shipped_spaces
            raise AttnasError(f"space: missing; allowed: an inline search space, a path to one, a shipped space "
                              f"({', '.join(shipped_spaces())}), or arms to train as given (an ablation)")
        space = _load_space(data.get("space"), base_dir) if data.get("space") is not None else None
        data_cfg = _mapping(data.get("data"), "data", _dataclass_fields("DataConfig"))
        fidelity = _mapping(data.get("fidelity"), "fidelity", ("epochs", "train_subset"))
        epochs = fidelity.get("epochs", 4)
        if not _int(epochs) or epochs < 1:
            raise _bad("fidelity.epochs", epochs, "an integer >= 1")
        training = _mapping(data.get("training"), "training", _dataclass_fields("TrainConfig"))
        if "epochs" in training:
            raise AttnasError("training.epochs: set per trial by fidelity.epochs; allowed: fidelity.epochs")
        if "seed" in training:
            raise AttnasError("training.seed: set by the study's seed; allowed: seed")

        objectives = _objectives(data.get("objectives"))
        sampler = data.get("sampler") or {}
        if isinstance(sampler, str):
            sampler = {"type": sampler}
        if not isinstance(sampler, Mapping):
            raise _bad("sampler", sampler, "a mapping with type and the sampler's options")
        sampler = dict(sampler)
        kind = sampler.pop("type", "nsga2")
        if kind not in SAMPLERS:
            raise _bad("sampler.type", kind, ", ".join(SAMPLERS))
        if kind == "grid":
            if sampler:
                raise AttnasError(f"sampler.{next(iter(sampler))}: grid takes no options; allowed: type only")
        else:
            _check_sampler_options(kind, sampler)

        sched = _mapping(data.get("scheduler"), "scheduler", ("type", "grace_period", "reduction_factor", "max_t"))
        sched_type = sched.get("type", "pareto_sh")
        if sched_type not in SCHEDULERS:
            raise _bad("scheduler.type", sched_type, ", ".join(SCHEDULERS))
        grace = sched.get("grace_period", 1)
        if not _int(grace) or not 1 <= grace <= epochs:
            raise _bad("scheduler.grace_period", grace, f"an integer from 1 to fidelity.epochs ({epochs})")
        rf = sched.get("reduction_factor", 3)
        if not _num(rf) or rf < 2:
            raise _bad("scheduler.reduction_factor", rf, "a number >= 2")
        if "max_t" in sched and sched["max_t"] != epochs:
            raise _bad("scheduler.max_t", sched["max_t"], f"fidelity.epochs ({epochs}), or leave it out")

        budget = _mapping(data.get("budget"), "budget", ("trials", "time_limit_s"))
        warm_arms = parse_arms(data.get("warm_start"), base_dir, "warm_start")
        trials = budget.get("trials", _default_trials(space, kind, warm_arms + arms))
        if not _int(trials) or trials < 1:
            raise _bad("budget.trials", trials, "an integer >= 1")
        time_limit = budget.get("time_limit_s")
        if time_limit is not None and (not _num(time_limit) or time_limit <= 0):
            raise _bad("budget.time_limit_s", time_limit, "null or a number of seconds > 0")

        concurrency = data.get("concurrency", 1)
        if not _int(concurrency) or concurrency < 1:
            raise _bad("concurrency", concurrency, "an integer >= 1")
        res = _mapping(data.get("resources"), "resources", ("cpus", "gpu"))
        cpus, gpu = res.get("cpus", 1), res.get("gpu", 0)
        if not _num(cpus) or cpus <= 0:
            raise _bad("resources.cpus", cpus, "a number > 0")
        if not _num(gpu) or gpu < 0:
            raise _bad("resources.gpu", gpu, "a number >= 0 (a fraction shares one GPU)")
        seed = data.get("seed", 0)
        if not _int(seed) or seed < 0:
            raise _bad("seed", seed, "an integer >= 0")

        names = [a.name for a in warm_arms + arms]
        clash = next((n for n in names if names.count(n) > 1), None)
        if clash is not None:
            raise AttnasError(f"arms: {clash!r} is also a warm_start name; allowed: each name once")

        storage = _mapping(data.get("storage"), "storage", ("root", "tracking_uri", "path"))
        root = storage.get("root", DEFAULT_ROOT)
        if not isinstance(root, str) or not root:
            raise _bad("storage.root", root, "a directory path")
        uri = storage.get("tracking_uri")
        if uri is not None and (not isinstance(uri, str) or uri.startswith("file:") or "://" not in uri):
            raise _bad("storage.tracking_uri", uri, "null (sqlite under storage.root), sqlite:///PATH or http(s)://HOST")
        macs_budget = data.get("macs_budget")
        if macs_budget is not None and (not _num(macs_budget) or macs_budget <= 0):
            raise _bad("macs_budget", macs_budget, "null or a number of MACs > 0")

        hv_ref = _hypervolume_reference(data.get("hypervolume_reference"), objectives)
        log_weights = _mapping(data.get("tracking"), "tracking", ("log_weights",)).get("log_weights", "none")
        if log_weights not in LOG_WEIGHTS:
            raise _bad("tracking.log_weights", log_weights, ", ".join(LOG_WEIGHTS))
        storage_path, max_retries, checkpoint_every_s = _cluster_fields(storage, data.get("failures"), Path(base_dir))
        data_cfg = _absolute_data_dir(data_cfg, Path(base_dir))

        cfg = cls(name=name, space=space, data=data_cfg, epochs=epochs, train_subset=fidelity.get("train_subset"),
                  training=training, objectives=objectives, sampler=kind, sampler_options=sampler,
                  scheduler=sched_type, grace_period=grace, reduction_factor=rf, trials=trials,
                  time_limit_s=time_limit, concurrency=concurrency, cpus=cpus, gpu=gpu, seed=seed,
                  warm_start=tuple(a.name for a in warm_arms), root=root, tracking_uri=uri, macs_budget=macs_budget,
                  hypervolume_reference=hv_ref, storage_path=storage_path, max_retries=max_retries,
                  checkpoint_every_s=checkpoint_every_s,
                  warm_start_arms=warm_arms, arms=arms, log_weights=log_weights)
        cfg.data_config()      # DataConfig / TrainConfig validate their own fields
        try:
            cfg.train_config()
        except AttnasError as e:
            msg = str(e)
            raise AttnasError("training." + msg[len("train."):] if msg.startswith("train.") else msg) from None
        return cfg

    # ---- derived objects -------------------------------------------------------------------------
    def data_config(self):
        from trainers import DataConfig

        data = dict(self.data)
        if self.train_subset is not None:
            data["train_subset"] = self.train_subset
        return DataConfig.from_dict(data, prefix="data.")

    def fidelity(self) -> dict:
        """What a trial is trained at, part of its identity (a record answers a duplicate and joins the front
        only at the study's current fidelity): epochs, train_subset, data set and image size."""
        data = self.data_config()
        return {"epochs": self.epochs, "train_subset": data.train_subset, "data": data.name,
                "image_size": data.image_size}

    def train_config(self):
        from trainers import TrainConfig

        return TrainConfig.from_dict({**self.training, "epochs": self.epochs, "seed": self.seed}, prefix="training.")

    def search_space(self, **fixed_overrides):
        """The SearchSpace, with ``fixed`` fields (num_classes, input_size) overridden from the dataset; None
        for a study of arms only."""
        from search_space.space import SearchSpace

        return None if self.space is None else SearchSpace.from_dict(self.space, **fixed_overrides)

    # ---- architectures trained as given ---------------------------------------------------------------
    @property
    def reference_names(self) -> list[str]:
        """Names of the warm-start references, then of the arms: the order they are trained in."""
        return [a.name for a in self.warm_start_arms + self.arms]

    def reference_arm(self, name: str):
        """The :class:`~studies.arms.Arm` of a warm-start reference or an arm, by name."""
        return next(a for a in self.warm_start_arms + self.arms if a.name == name)

    def reference_number(self, name: str) -> int:
        """A reference's or arm's trial number in records: -1, -2, ... in :attr:`reference_names` order."""
        return -1 - self.reference_names.index(name)

    @property
    def metrics(self) -> list[str]:
        return [m for m, _ in self.objectives]

    @property
    def modes(self) -> list[str]:
        return [d for _, d in self.objectives]

    @property
    def reference_point(self) -> list[float] | None:
        """The fixed hypervolume reference point, one value per objective (None until the study fixed it)."""
        ref = self.hypervolume_reference
        return None if ref is None else [float(ref[m]) for m in self.metrics]

    def replace(self, **changes) -> "StudyConfig":
        """A re-validated copy with fields changed (CLI overrides such as ``trials`` or ``epochs``)."""
        data = self.to_dict()
        for key, value in changes.items():
            if value is None:
                continue
            if key == "trials":
                data["budget"]["trials"] = value
            elif key == "epochs":
                data["fidelity"]["epochs"] = value
                data["scheduler"]["grace_period"] = min(data["scheduler"]["grace_period"], value)
            elif key in ("root", "tracking_uri", "path"):
                data["storage"][key] = value
            elif key == "time_limit_s":           # "none" lifts the limit (--time-limit none)
                data["budget"]["time_limit_s"] = None if value == "none" else value
            elif key in ("grace_period", "reduction_factor"):
                data["scheduler"][key] = value
            else:
                data[key] = value
        return StudyConfig.from_dict(data)

    # ---- writing -----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "space": None if self.space is None else plain(self.space),
            "data": dict(self.data),
            "fidelity": {"epochs": self.epochs, "train_subset": self.train_subset},
            "training": dict(self.training),
            "objectives": [{"metric": m, "direction": d} for m, d in self.objectives],
            "sampler": {"type": self.sampler, **self.sampler_options},
            "scheduler": {"type": self.scheduler, "grace_period": self.grace_period,
                          "reduction_factor": self.reduction_factor},
            "budget": {"trials": self.trials, "time_limit_s": self.time_limit_s},
            "concurrency": self.concurrency,
            "resources": {"cpus": self.cpus, "gpu": self.gpu},
            "seed": self.seed,
            "warm_start": [a.to_dict() for a in self.warm_start_arms],
            "storage": {"root": self.root, "tracking_uri": self.tracking_uri, "path": self.storage_path},
            "failures": {"max_retries": self.max_retries, "checkpoint_every_s": self.checkpoint_every_s},
            "tracking": {"log_weights": self.log_weights},
            "macs_budget": self.macs_budget,
            "hypervolume_reference": None if self.hypervolume_reference is None else dict(self.hypervolume_reference),
            **({"arms": [a.to_dict() for a in self.arms]} if self.arms else {}),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=110)


def _cluster_fields(storage: dict, failures, base_dir: Path) -> tuple[str | None, int, float]:
    """``storage.path`` (Tune's run folder, absolute; null: ``<study>/ray``), ``failures.max_retries`` and
    ``failures.checkpoint_every_s``."""
    path = storage.get("path")
    if path is not None:
        if not isinstance(path, str) or not path or "://" in path:
            raise _bad("storage.path", path, "null (<study folder>/ray) or a directory path, on storage every node "
                                             "mounts at that path when the cluster has more than one node")
        path = str((base_dir / Path(path).expanduser()).resolve())
    failures = _mapping(failures, "failures", ("max_retries", "checkpoint_every_s"))
    retries = failures.get("max_retries", DEFAULT_MAX_RETRIES)
    if not _int(retries) or retries < 0:
        raise _bad("failures.max_retries", retries, "an integer >= 0 (retries of a trial whose worker or node died)")
    every = failures.get("checkpoint_every_s", DEFAULT_CHECKPOINT_EVERY_S)
    if not _num(every) or not 0 <= every < float("inf"):
        raise _bad("failures.checkpoint_every_s", every, "a number of seconds >= 0 (a trial checkpoints after an "
                                                         "epoch once this long passed since its last checkpoint; "
                                                         "0: after every epoch)")
    return path, retries, float(every)


def _absolute_data_dir(data_cfg: dict, base_dir: Path) -> dict:
    """``data.data_dir`` made absolute, relative to the study file's folder (like ``space:`` paths): Ray runs
    each trial in a folder of its own, on nodes whose working directory is not the driver's."""
    data_dir = data_cfg.get("data_dir")
    if isinstance(data_dir, str) and data_dir and not Path(data_dir).expanduser().is_absolute():
        data_cfg = {**data_cfg, "data_dir": str((base_dir / data_dir).resolve())}
    elif isinstance(data_dir, str) and data_dir.startswith("~"):
        data_cfg = {**data_cfg, "data_dir": str(Path(data_dir).expanduser())}
    return data_cfg



def _dataclass_fields(name: str) -> tuple:
    import dataclasses

    import trainers

    return tuple(f.name for f in dataclasses.fields(getattr(trainers, name)))


def _default_trials(space, sampler: str, arms: tuple) -> int:
    """``budget.trials`` when not given: the arms alone, or with ``grid`` the space's size too; else 20."""
    if space is None:
        return max(1, len(arms))
    if sampler == "grid":
        from search_space.space import SearchSpace

        from .grid import check_grid_size
        return check_grid_size(SearchSpace.from_dict(space)) + len(arms)
    return 20


def _load_space(value, base_dir: Path) -> dict:
    """The search space as a plain mapping, validated: inline, a path relative to the study file, or the name of
    a shipped space (``space: cifar-attention``; see :func:`search_space.space.resolve_space`)."""
    from search_space.space import SearchSpace, resolve_space

    value = resolve_space(value, base_dir)
    SearchSpace.from_dict(value)   # raises AttnasError naming the dimension
    return plain(value)


def _objectives(raw) -> tuple:
    from analysis import parse_objectives

    pairs = parse_objectives(raw)
    for i, (metric, direction) in enumerate(pairs):
        allowed = ACCURACY_METRICS + COST_METRICS
        if metric not in allowed:
            raise _bad(f"objectives[{i}].metric", metric, ", ".join(allowed))
        want = "max" if metric in ACCURACY_METRICS else "min"
        if direction != want:
            raise _bad(f"objectives[{i}].direction", direction, f"{want} for {metric}")
    if pairs[0][0] not in ACCURACY_METRICS:
        raise _bad("objectives[0].metric", pairs[0][0], f"an accuracy to maximise first ({', '.join(ACCURACY_METRICS)})")
    if len(pairs) < 2:
        raise _bad("objectives", [m for m, _ in pairs], "an accuracy and at least one cost (macs, params, latency_ms)")
    return tuple(pairs)


def _hypervolume_reference(raw, objectives) -> dict | None:
    if raw is None:
        return None
    metrics = [m for m, _ in objectives]
    allowed = "null, or a number for each objective: " + ", ".join(metrics)
    if not isinstance(raw, Mapping) or set(raw) != set(metrics):
        raise _bad("hypervolume_reference", raw, allowed)
    for m in metrics:
        if not _num(raw[m]) or raw[m] != raw[m] or abs(raw[m]) == float("inf"):
            raise _bad(f"hypervolume_reference.{m}", raw[m], "a finite number")
    return {m: float(raw[m]) for m in metrics}


def _check_sampler_options(kind: str, options: dict) -> None:
    sig = inspect.signature(sampler_class(kind).__init__)
    names = [n for n, p in sig.parameters.items() if n != "self" and p.kind == p.KEYWORD_ONLY or
             (n != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)]
    allowed = [n for n in names if n not in _RESERVED_SAMPLER_OPTIONS]
    for key, value in options.items():
        if key in _RESERVED_SAMPLER_OPTIONS:
            raise AttnasError(f"sampler.{key}: set by the study's seed; allowed: {', '.join(allowed)}")
        if key not in allowed:
            raise AttnasError(f"sampler.{key}: unknown option for {kind}; allowed: {', '.join(allowed)}")
        if not isinstance(value, (int, float, str, bool, type(None))):
            raise _bad(f"sampler.{key}", value, "a number, string, boolean or null")
    try:
        sampler_class(kind)(**options)
    except (ValueError, TypeError) as e:
        raise AttnasError(f"sampler: {str(e).splitlines()[0]}; allowed: valid {kind} options") from None
