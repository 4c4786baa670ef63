"""The lifecycle (studies/lifecycle.py) is the only writer of a trial's outcome: its record in trials.jsonl, its
MLflow child run, the Optuna tell and user attributes, and checkpoints.json. The searcher and the scheduler hand
it their decisions. Checked on the call sites of the package's source: a second writer fails here."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("studies", "analysis", "trainers", "search_space")

RECORD_WRITERS = {"append_trial", "write_trials"}
RUN_WRITERS = {"start_trial", "end_trial", "log_epoch", "fill_epochs", "log_trial_file", "set_aside", "delete_run"}
OPTUNA_WRITERS = {"tell", "set_trial_user_attr"}
CHECKPOINT_WRITERS = {"save_checkpoint", "CHECKPOINTS_FILE"}
IMPLEMENTATIONS = {
    "analysis/trials.py": RECORD_WRITERS,      # defines them
    "analysis/__init__.py": RECORD_WRITERS,    # re-exports them
    "studies/tracking.py": RUN_WRITERS,        # the MLflow calls behind the lifecycle's
}


def references(names: set, packages=PACKAGES) -> dict[str, list[str]]:
    """File -> the references (calls or bound methods handed on, e.g. to the MLflow thread) to ``names``."""
    out: dict[str, list[str]] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in names:
                    out.setdefault(rel, []).append(ast.unparse(node))
                elif isinstance(node, ast.Name) and node.id in names:
                    out.setdefault(rel, []).append(node.id)
    return {f: refs for f, refs in out.items() if not (IMPLEMENTATIONS.get(f, set()) & names)}


def test_only_the_lifecycle_writes_records():
    refs = references(RECORD_WRITERS)
    assert set(refs) == {"studies/lifecycle.py"}, refs
    assert "append_trial" in refs["studies/lifecycle.py"]


def test_only_the_lifecycle_writes_mlflow_trial_runs():
    refs = references(RUN_WRITERS)
    assert set(refs) == {"studies/lifecycle.py"}, refs
    assert {"tracker.start_trial", "tracker.end_trial", "tracker.log_epoch"} <= set(refs["studies/lifecycle.py"])


def test_only_the_lifecycle_tells_optuna():
    refs = references(OPTUNA_WRITERS, packages=("studies",))      # the one package that imports Optuna
    # studies/sampling.py tells the window's own in-memory model of the study, which the searcher asks
    # through; the searcher hands that model what the lifecycle told (StudySearcher.told)
    window = {"studies/sampling.py": refs.pop("studies/sampling.py", None),
              "studies/search.py": refs.pop("studies/search.py", None)}
    assert window["studies/search.py"] == ["self.window.tell"], window
    assert set(refs) == {"studies/lifecycle.py"}, refs
    assert {"self.optuna.tell", "storage.set_trial_user_attr"} <= set(refs["studies/lifecycle.py"])


def test_only_the_lifecycle_keeps_checkpoints():
    refs = references(CHECKPOINT_WRITERS)
    refs.pop("trainers/fit.py", None)        # trainers.checkpoint: a trial's own weights, inside its worker
    assert set(refs) == {"studies/lifecycle.py"}, refs
