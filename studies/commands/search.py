"""``attnas search``: run a search study (Ray Tune + Optuna + MLflow), or continue one with ``--resume``."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

NAME = "search"
HELP = "run an architecture search study (default: the shipped quickstart on digits)"


def add_arguments(parser):
    parser.add_argument("study", nargs="?", help="study YAML (default: the shipped quickstart study)")
    parser.add_argument("--resume", metavar="STUDY_DIR", help="continue an interrupted study from its folder")
    parser.add_argument("--address", help="join this Ray cluster from one of its nodes (auto or HOST:PORT) instead of "
                                          "a local Ray; under `ray job submit` the job's cluster is joined")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default sqlite:///<root>/mlflow.db)")
    parser.add_argument("--root", help="folder for study results (default ./attnas-runs)")
    parser.add_argument("--trials", type=int, help="override budget.trials")
    parser.add_argument("--epochs", type=int, help="override fidelity.epochs")
    parser.add_argument("--no-reuse-actors", action="store_true", help="start a fresh Ray actor for every trial")


def quickstart_path() -> Path:
    return Path(str(resources.files("studies") / "quickstart.yaml"))


def run(args) -> int:
    from search_space.errors import AttnasError
    from studies.config import StudyConfig
    from studies.run import check_address, run_study
    from studies.signals import StudyInterrupted
    from studies.study import Study

    if args.resume and args.study:
        raise AttnasError("--resume: given together with a study file; allowed: one of the two")
    overrides = {"trials": args.trials, "epochs": args.epochs, "root": args.root, "tracking_uri": args.tracking_uri}
    if args.address:
        check_address(args.address)   # before a study folder is made: a wrong address is one line, no hang
    if args.resume:
        study = Study.open(args.resume, **overrides)
    else:
        cfg = StudyConfig.from_yaml(args.study or quickstart_path())
        study = Study.create(cfg.replace(**overrides))
    print(f"study folder: {study.dir}", flush=True)
    try:
        study = run_study(study, address=args.address, reuse_actors=not args.no_reuse_actors, out=sys.stdout)
    except StudyInterrupted as e:
        print(f"\nstudy {study.dir.name} {e}; continue it with: attnas search --resume {study.dir}", flush=True)
        return e.exit_code
    export_dir = study.dir / "export"
    print()
    print(study.summary())
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
