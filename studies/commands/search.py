"""``attnas search``: run a search study (Ray Tune + Optuna + MLflow), or continue one with ``--resume``."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

NAME = "search"
HELP = "run an architecture search study (default: the shipped quickstart on digits)"


def add_arguments(parser):
    parser.add_argument("study", nargs="?", help="study YAML, or a shipped ablation by name (ablations/dca-connections"
                                                 ".yaml, dca-connections); default: the shipped quickstart study")
    parser.add_argument("--resume", metavar="STUDY_DIR", help="continue an interrupted study from its folder")
    parser.add_argument("--address", help="join this Ray cluster from one of its nodes (auto or HOST:PORT) instead of "
                                          "a local Ray; under `ray job submit` the job's cluster is joined")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default sqlite:///<root>/mlflow.db)")
    parser.add_argument("--root", help="folder for study results (default ./attnas-runs)")
    parser.add_argument("--trials", type=int, help="override budget.trials")
    parser.add_argument("--epochs", type=int, help="override fidelity.epochs")
    parser.add_argument("--data", help="train on this data set instead of the study's (e.g. the paper's: cifar10, "
                                       "cifar100, tinyimagenet, imagefolder); its native image size")
    parser.add_argument("--data-dir", help="where --data (or the study's data set) is read from")
    parser.add_argument("--image-size", type=int, help="resize the data to this side (e.g. 224 for ImageNet-scale arms)")
    parser.add_argument("--time-limit", metavar="SECONDS", help="set, raise or lift (none) budget.time_limit_s, also "
                                                                 "on --resume: the study's total training time")
    parser.add_argument("--no-reuse-actors", action="store_true", help="start a fresh Ray actor for every trial")


def quickstart_path() -> Path:
    return Path(str(resources.files("studies") / "quickstart.yaml"))


def ablation_dir() -> Path:
    return Path(str(resources.files("studies") / "ablations"))


def ablation_names() -> list[str]:
    """The shipped ablation studies (``studies/ablations/<name>.yaml``)."""
    return sorted(p.stem for p in ablation_dir().glob("*.yaml"))


def resolve_study(ref: str | None) -> Path:
    """A study file: a path that exists wins; else a shipped ablation named ``<name>``, ``<name>.yaml`` or
    ``ablations/<name>.yaml``; else one AttnasError line listing them."""
    from search_space.errors import AttnasError

    if ref is None:
        return quickstart_path()
    if Path(ref).is_file():
        return Path(ref)
    parts = Path(ref).parts
    name = Path(ref).name
    name = name[: -len(Path(name).suffix)] if Path(name).suffix in (".yaml", ".yml") else name
    inside = len(parts) == 1 or (len(parts) == 2 and parts[0] == "ablations") or \
        (len(parts) == 3 and parts[:2] == ("studies", "ablations"))
    if inside and (ablation_dir() / f"{name}.yaml").is_file():
        return ablation_dir() / f"{name}.yaml"
    raise AttnasError(f"study: {ref!r} is neither a file nor a shipped ablation; allowed: a study YAML path or "
                      f"one of {', '.join(ablation_names())}")


def data_override(cfg, name: str | None, data_dir: str | None, image_size: int | None = None):
    """``cfg`` on another data set (``--data``, at that set's native image size unless ``--image-size``) or
    folder (``--data-dir``)."""
    if name is None and data_dir is None and image_size is None:
        return cfg
    data = dict(cfg.data)
    if name is not None and name != data.get("name", "digits"):
        data = {k: v for k, v in data.items() if k not in ("image_size", "data_dir")}
        data["name"] = name
    if data_dir is not None:
        data["data_dir"] = data_dir
    if image_size is not None:
        data["image_size"] = image_size
    return cfg.replace(data=data)


def time_limit(text: str | None):
    """``--time-limit``: seconds > 0, ``none`` (lift the limit) or None (not given)."""
    from search_space.errors import AttnasError

    if text is None or text.lower() == "none":
        return None if text is None else "none"
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise AttnasError(f"--time-limit: {text!r} is not allowed; allowed: a number of seconds > 0, or none "
                          f"to lift the limit")
    return seconds


def run(args) -> int:
    from studies.signals import StudyInterrupted, StudyStopper

    stopper = StudyStopper(out=sys.stdout)     # SIGTERM / Ctrl-C from here to the last line: exit 143 / 130
    with stopper.installed():
        try:
            return _run(args, stopper)
        except StudyInterrupted as e:
            folder = getattr(stopper, "study_dir", None)
            hint = f"; continue it with: attnas search --resume {folder}" if folder else ""
            print(f"\nstudy {folder.name + ' ' if folder else ''}{e}{hint}", flush=True)
            return e.exit_code


def _run(args, stopper) -> int:
    from studies.api import open_study
    from studies.run import check_address, run_study

    if args.address:
        check_address(args.address)   # before a study folder is made: a wrong address is one line, no hang
    # the same folder the Python API's run_study opens (studies.api.open_study)
    study = open_study(args.study, resume=args.resume, data=args.data, data_dir=args.data_dir,
                       image_size=args.image_size, trials=args.trials, epochs=args.epochs, root=args.root,
                       tracking_uri=args.tracking_uri, time_limit_s=time_limit(args.time_limit))
    print(f"study folder: {study.dir}", flush=True)
    stopper.study_dir = study.dir
    study = run_study(study, address=args.address, reuse_actors=not args.no_reuse_actors, out=sys.stdout,
                      stopper=stopper)
    export_dir = study.dir / "export"
    print()
    print(study.report.summary())
    rows = study.report.reported_rows()
    if rows:
        from analysis.reported import reported_table
        print(f"\nmeasured vs reported ({study.dir / 'report' / 'reported.csv'}, reported.png):")
        print(reported_table(rows))
    print(f"\nPareto-optimal configs: {export_dir}  (train one with: attnas train {export_dir}/<file>.yaml)")
    print(f"report: {study.dir / 'report'}")
    uri = study.tracking_uri
    exp = study.tracker.experiment_id if study.tracker is not None else None
    # MLflow 3's UI opens experiments in its GenAI layout; this query selects the classic runs table.
    page = f"#/experiments/{exp}?workflowType=machine_learning" if exp else ""
    if uri.startswith("sqlite:"):
        print(f"MLflow UI:  mlflow ui --backend-store-uri {uri}")
        print(f"            then open http://127.0.0.1:5000/{page}")
    else:
        print(f"MLflow: {uri.rstrip('/')}/{page} (experiment {study.dir.name})")
    return 0
