"""The dependency floors in pyproject.toml are versions the code runs on: the installed versions meet them, and
the library APIs the code calls (Optuna, Ray Tune, MLflow, torch, torchmetrics, thop) exist and behave as the code
expects. Run this file with an older library first on the path (PYTHONPATH) to check a floor itself."""
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
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
    assert {"optuna", "ray", "mlflow", "torch", "torchmetrics", "thop"} <= set(found)
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


def test_the_mlflow_logged_model_and_dataset_apis_run(tmp_path):
    """The MLflow 3 APIs the study calls for its front (LoggedModels: create, artifacts, metrics tied to the model,
    run outputs, READY, tags, delete) and every child's dataset input, run against a real SQLite store: these set
    the mlflow floor (3.0; 3.9 is the first whose SQL store imports under SQLAlchemy 2.1; before 3.16
    search_logged_models returned the front members the study had deleted), not the
    client calls above."""
    import mlflow
    from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("floors", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(experiment, run_name="child").info.run_id
    data = Dataset(name="digits", digest="abc123", source_type="code", source='{"name": "digits"}')
    client.log_inputs(run, datasets=[DatasetInput(data, tags=[InputTag("mlflow.data.context", "train")])])
    model = client.create_logged_model(experiment, name="resnet_cifar8x0_25", source_run_id=run,
                                       tags={"attnas.rank": "1"}, params={"backbone.depth": "8"},
                                       model_type="attnas.ArchConfig")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "arch.yaml").write_text("backbone: {type: resnet_cifar}\n")
    client.log_model_artifacts(model.model_id, str(tmp_path / "m"))
    client.log_metric(run, "val_top1", 0.9, step=0, model_id=model.model_id, dataset_name="digits",
                      dataset_digest="abc123")
    client.log_outputs(run, [LoggedModelOutput(model.model_id, 0)])
    client.finalize_logged_model(model.model_id, "READY")
    client.set_logged_model_tags(model.model_id, {"attnas.rank": "2"})
    got = client.get_logged_model(model.model_id)
    assert got.tags["attnas.rank"] == "2" and str(got.status).endswith("READY")
    assert [m.value for m in got.metrics] == [0.9]
    assert client.get_run(run).inputs.dataset_inputs[0].dataset.digest == "abc123"
    client.delete_logged_model(model.model_id)
    assert client.search_logged_models([experiment]) == []       # the study's front query (3.16)
    assert Version(mlflow.__version__) >= floors()["mlflow"] >= Version("3.16")


def test_the_torch_apis_the_trainers_call(tmp_path):
    """The torch APIs newer than torch 2.2 that trainers/ calls, run (each one's first release in a comment: the
    floor is the newest of them), and the older ones the trainers and the search space rely on."""
    import inspect

    import torch
    import torch.nn.functional as F
    from torch.utils._python_dispatch import TorchDispatchMode

    from trainers.fit import is_oom

    assert Version(torch.__version__.split("+")[0]) >= floors()["torch"]
    assert issubclass(torch.OutOfMemoryError, RuntimeError)                 # 2.4 (torch.cuda's before)
    assert is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    scaler = torch.amp.GradScaler("cpu", enabled=False)                     # 2.3: torch.amp.GradScaler(device)
    assert not scaler.is_enabled()
    assert "including_emulation" in inspect.signature(torch.cuda.is_bf16_supported).parameters   # 2.4
    with torch.autocast("cpu", torch.bfloat16, enabled=True):
        assert (torch.ones(3, 5) @ torch.ones(5, 7)).dtype == torch.bfloat16
    q = torch.randn(3, 2, 5, 4)
    assert F.scaled_dot_product_attention(q, q, q, dropout_p=0.0).shape == q.shape   # search_space fft blocks
    assert torch.Tag.pointwise in torch.ops.aten.relu.default.tags                    # trainers.profile
    seen = []

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return func(*args, **(kwargs or {}))

    with Ops():
        torch.relu(torch.randn(3))
    assert torch.ops.aten.relu.default in seen
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        torch.randn(3, requires_grad=True).sigmoid().sum().backward()
    torch.save({"x": torch.ones(3)}, tmp_path / "c.pt")
    assert torch.load(tmp_path / "c.pt", map_location="cpu", weights_only=False)["x"].shape == (3,)
    k = torch.eye(3) * 2
    assert float(torch.linalg.slogdet(k).logabsdet) > 0 and torch.linalg.eigvalsh(torch.corrcoef(torch.randn(3, 5))).shape == (3,)
    assert callable(torch.compile)


def test_the_torchmetrics_and_thop_apis_the_trainers_call():
    import thop
    import torch
    from thop.profile import register_hooks
    from thop.vision.basic_hooks import count_relu, zero_ops
    from torchmetrics.classification import MulticlassAccuracy

    metric = MulticlassAccuracy(5, top_k=1, average="micro", validate_args=False)
    metric.update(torch.eye(5)[:3], torch.tensor([0, 1, 4]))
    assert float(metric.compute()) == pytest.approx(2 / 3)
    macs, params = thop.profile(torch.nn.Sequential(torch.nn.Linear(7, 3)), inputs=(torch.randn(5, 7),), verbose=False)
    assert params == 7 * 3 + 3 and macs == 5 * 7 * 3
    assert torch.nn.ReLU in register_hooks and callable(count_relu) and callable(zero_ops)
