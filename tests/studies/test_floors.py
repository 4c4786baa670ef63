"""The dependency floors in pyproject.toml are versions the code runs on: the installed versions meet them, and
the library APIs the study calls (Optuna, Ray Tune, MLflow) exist and behave as the code expects. Run this file
with an older library first on the path (PYTHONPATH) to check a floor itself."""
import inspect
import re
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def floors() -> dict[str, Version]:
    text = PYPROJECT.read_text()
    deps = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    out = {}
    for name, floor in re.findall(r'"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9][^,"]*)', deps):
        out[name.lower()] = Version(floor)
    return out


def test_the_installed_libraries_meet_the_floors():
    found = floors()
    assert {"optuna", "ray", "mlflow", "torch"} <= set(found)
    for name, floor in found.items():
        assert Version(version(name)) >= floor, (name, version(name), str(floor))


def test_the_optuna_apis_the_study_calls(tmp_path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import FixedTrial, TrialState

    assert Version(optuna.__version__) >= floors()["optuna"]
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    study = optuna.create_study(storage=storage, study_name="s", load_if_exists=True, directions=["maximize", "minimize"])
    study.set_metric_names(["val_top1", "macs"])
    assert study.metric_names == ["val_top1", "macs"]
    for sampler in (optuna.samplers.NSGAIISampler(seed=1), optuna.samplers.RandomSampler(seed=1),
                    optuna.samplers.TPESampler(seed=1, multivariate=True, group=True, constant_liar=True)):
        trial = optuna.load_study(study_name="s", storage=storage, sampler=sampler).ask()
        trial.suggest_categorical("attention.type", ["none", "se"])
        trial.set_user_attr("arch_hash", "h")
        trial.set_constraint("macs_budget", 5.0)     # studies.search: a rejected architecture is infeasible
        study_id = storage.get_study_id_from_name("s")
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "status", "rejected")
        frozen = study.tell(trial.number, [0.0, 10.0], state=TrialState.COMPLETE)
        assert frozen.state == TrialState.COMPLETE and frozen.user_attrs["status"] == "rejected"
        study.tell(trial.number, None, state=TrialState.FAIL, skip_if_finished=True)
    assert len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) == 3
    assert FixedTrial({"attention.type": "se"}).suggest_categorical("attention.type", ["none", "se"]) == "se"
    optuna.samplers.QMCSampler(seed=0, warn_independent_sampling=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_the_ray_tune_apis_the_study_calls():
    import ray
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler
    from ray.tune.search import ConcurrencyLimiter, Searcher

    assert Version(ray.__version__) >= floors()["ray"]
    for name in ("report", "get_checkpoint", "Checkpoint", "RunConfig", "FailureConfig", "TuneConfig", "Tuner",
                 "Callback", "Stopper", "with_parameters", "with_resources"):
        assert hasattr(tune, name), name
    assert list(inspect.signature(tune.report).parameters)[:2] == ["metrics", "checkpoint"]
    assert hasattr(ray.runtime_context.RuntimeContext, "get_accelerator_ids")
    assert hasattr(ray.runtime_context.RuntimeContext, "get_node_id")
    assert {"on_trial_result", "on_trial_complete", "save", "restore"} <= set(dir(Searcher))
    assert TrialScheduler.CONTINUE and TrialScheduler.STOP and FIFOScheduler and ConcurrencyLimiter


def test_the_mlflow_client_apis_the_study_calls():
    import mlflow
    from mlflow.tracking import MlflowClient

    assert Version(mlflow.__version__) >= floors()["mlflow"]
    for name, params in {"log_batch": ["run_id", "metrics", "params", "tags", "synchronous"],
                         "create_run": ["experiment_id", "tags", "run_name"],
                         "create_experiment": ["name", "artifact_location"],
                         "log_artifact": ["run_id", "local_path", "artifact_path"],
                         "log_artifacts": ["run_id", "local_dir", "artifact_path"],
                         "log_text": ["run_id", "text", "artifact_file"],
                         "set_terminated": ["run_id", "status"], "update_run": ["run_id", "status"],
                         "search_runs": ["experiment_ids", "filter_string", "max_results"],
                         "search_experiments": ["max_results"], "get_metric_history": ["run_id", "key"],
                         "set_experiment_tag": ["experiment_id", "key", "value"]}.items():
        got = inspect.signature(getattr(MlflowClient, name)).parameters
        assert set(params) <= set(got), (name, set(params) - set(got))
