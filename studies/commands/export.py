"""``attnas export STUDY_DIR_OR_MLFLOW_RUN_ID``: write a study's Pareto-optimal architectures as ArchConfig
YAMLs (loadable by ``attnas train`` / ``attnas profile``) plus a ``front.json`` sidecar.

A study folder is read directly (``trials.jsonl`` and the objectives in ``study.yaml``); an MLflow run id
names a study's parent run, whose artifacts ``trials.jsonl`` and ``study.yaml`` are downloaded.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

NAME = "export"
HELP = "export a study's Pareto-optimal architectures as ArchConfig YAML files"

DEFAULT_TRACKING_URI = "sqlite:///./attnas-runs/mlflow.db"
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def add_arguments(parser):
    parser.add_argument("study", metavar="STUDY_DIR_OR_MLFLOW_RUN_ID",
                        help="a study folder holding trials.jsonl, or the MLflow run id of a study's parent run")
    parser.add_argument("--tracking-uri", metavar="URI",
                        help=f"MLflow tracking URI for a run id (default: $MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI})")
    parser.add_argument("--top-k", type=int, metavar="K", help="export only the K most accurate front members")
    parser.add_argument("--out", metavar="DIR",
                        help="output folder (default: STUDY_DIR/export, or ./attnas-export/RUN_ID)")


def run(args) -> int:
    from analysis import export_front, read_trials
    from search_space.errors import AttnasError

    if args.top_k is not None and args.top_k < 1:
        raise AttnasError(f"--top-k: {args.top_k} is not allowed; allowed: a positive integer")
    study = Path(args.study)
    if study.is_dir():
        if args.tracking_uri:
            raise AttnasError(f"--tracking-uri: {args.tracking_uri!r} is not allowed with a study folder; "
                              f"allowed: only with an MLflow run id")
        trials = study / "trials.jsonl"
        if not trials.is_file():
            raise AttnasError(f"study: {str(study)!r} holds no trials.jsonl; allowed: a folder written by attnas search")
        study_yaml = study / "study.yaml"
        objectives, name, reference = _study_file(study_yaml.read_text() if study_yaml.is_file() else None,
                                                  str(study_yaml))
        recipe = _recipe(study_yaml if study_yaml.is_file() else None)
        records = read_trials(trials)
        out = Path(args.out) if args.out else study / "export"
        source = f"study {name or study.name} ({study})"
    elif RUN_ID.match(args.study):
        with tempfile.TemporaryDirectory(prefix="attnas-export-") as tmp:
            trials, study_text, name = _download(args.study, args.tracking_uri, Path(tmp))
            records = read_trials(trials)
            recipe = _recipe(trials.parent / "study.yaml" if study_text and (trials.parent / "study.yaml").is_file()
                             else None)
        objectives, yaml_name, reference = _study_file(study_text, f"run {args.study} study.yaml")
        name = yaml_name or name
        out = Path(args.out) if args.out else Path("attnas-export") / args.study
        source = f"study {name or '?'} (MLflow run {args.study})"
    else:
        raise AttnasError(f"study: {args.study!r} is neither a study folder nor an MLflow run id; "
                          f"allowed: a folder holding trials.jsonl, or a 32-hex-digit run id")
    if not records:
        raise AttnasError(f"study: {args.study!r} has no recorded trials yet; allowed: a study with finished trials")
    paths = export_front(records, objectives, out, args.top_k, source=source, reference=reference,
                         recipe=recipe)
    if not paths:
        raise AttnasError(f"study: {args.study!r} has no finished trial with "
                          f"{' and '.join(m for m, _ in objectives)}; allowed: a study with finished trials")
    print(f"exported {len(paths)} Pareto-optimal architecture{'s' * (len(paths) != 1)} to {out}/ "
          f"(metrics in each header and in {out / 'front.json'}):")
    for p in paths:
        print(f"  {p}")
    print(f"train one with: attnas train {paths[0]}")
    return 0


def _recipe(study_yaml: Path | None) -> dict | None:
    """The study's recipe (studies.recipe) from its study.yaml; None without one (an old run's params only, or
    a study.yaml that holds only objectives and holds no data set)."""
    if study_yaml is None:
        return None
    from search_space.yaml_io import parse_yaml
    from studies.config import StudyConfig
    from studies.recipe import study_recipe

    data = parse_yaml(study_yaml.read_text(), str(study_yaml))
    if not isinstance(data, dict) or "data" not in data or not ("space" in data or "arms" in data):
        return None
    return study_recipe(StudyConfig.from_yaml(study_yaml))


def _study_file(text: str | None, where: str) -> tuple[list[tuple[str, str]], str | None, list | None]:
    """The objectives (default val_top1 max, macs min), study name and fixed hypervolume reference point
    (None when the file has none) from a study.yaml's text."""
    from analysis import parse_objectives
    from search_space.errors import AttnasError
    from search_space.yaml_io import parse_yaml

    if text is None:
        return parse_objectives(None), None, None
    data = parse_yaml(text, where) or {}
    if not isinstance(data, dict):
        raise AttnasError(f"{where}: {type(data).__name__} is not allowed; allowed: a study mapping")
    try:
        objectives = parse_objectives(data.get("objectives"))
    except AttnasError as e:
        raise AttnasError(f"{where}: {e}") from None
    name = data.get("name")
    ref = data.get("hypervolume_reference")
    reference = None
    if isinstance(ref, dict) and all(isinstance(ref.get(m), (int, float)) for m, _ in objectives):
        reference = [float(ref[m]) for m, _ in objectives]
    return objectives, str(name) if name else None, reference


def _download(run_id: str, tracking_uri: str | None, dest: Path) -> tuple[Path, str | None, str | None]:
    """Fetch the parent run's ``trials.jsonl`` (and ``study.yaml`` if logged) into ``dest``; returns the
    trials path, the study file's text or None, and the run name."""
    from search_space.errors import AttnasError

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise AttnasError(f"--tracking-uri: {uri!r} names no existing database; "
                              f"allowed: the MLflow store a study wrote (e.g. {DEFAULT_TRACKING_URI})")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)          # opens the store: a bad URI fails here
    except MlflowException as e:
        raise AttnasError(f"--tracking-uri: {uri!r} cannot be opened ({_first_line(e)}); "
                          f"allowed: an MLflow tracking URI such as {DEFAULT_TRACKING_URI}") from None
    try:
        run = client.get_run(run_id)
    except MlflowException as e:
        raise AttnasError(f"run: {run_id!r} not found at {uri!r} ({_first_line(e)}); "
                          f"allowed: the parent run id of a study in that store") from None
    names = {a.path for a in client.list_artifacts(run_id)}
    if "trials.jsonl" not in names:
        parent = run.data.tags.get("mlflow.parentRunId")
        hint = f"the study's parent run {parent}" if parent else "the parent run of a study"
        raise AttnasError(f"run: {run_id!r} has no trials.jsonl artifact; allowed: {hint}")
    trials = Path(client.download_artifacts(run_id, "trials.jsonl", str(dest)))
    study_text = None
    if "study.yaml" in names:
        study_text = Path(client.download_artifacts(run_id, "study.yaml", str(dest))).read_text()
    elif "objectives" in run.data.params:
        study_text = f"objectives: {run.data.params['objectives']}\n"
    return trials, study_text, run.data.tags.get("mlflow.runName") or run.info.run_name


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [""])[0][:200]
