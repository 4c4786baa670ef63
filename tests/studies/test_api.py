"""The Python API: the README's example runs, run_study returns what the CLI's study wrote, load_study reads it."""
import re
from pathlib import Path

import pytest
import yaml

from analysis import pareto_records, read_trials
from studies import load_study, run_study

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(ray_session, tmp_path, capsys):
    code = readme_example().replace('"attnas-runs/api-demo"', repr(str(tmp_path / "runs")))
    assert str(tmp_path) in code       # the example writes where the test says, not into the worktree
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "resnet_cifar" in out and "export" in out


@pytest.fixture(scope="module")
def api_study(ray_session, tmp_path_factory, tiny_study):
    root = tmp_path_factory.mktemp("api")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_study("tiny-api", root / "runs")))
    return run_study(str(path), trials=4, quiet=True)


def test_run_study_returns_records_front_and_paths(api_study):
    r = api_study
    assert r.dir.is_dir() and r.paths["trials"] == r.dir / "trials.jsonl"
    assert sorted(x.trial_id for x in r.records) == sorted(x.trial_id for x in read_trials(r.paths["trials"]))
    assert sum(x.counts for x in r.records) == 4            # the override reached the budget
    cfg = yaml.safe_load(r.paths["study"].read_text())
    assert cfg["budget"]["trials"] == 4
    objectives = [("val_top1", "max"), ("macs", "min")]
    assert [x.trial_id for x in r.front] == [x.trial_id for x in pareto_records(r.records, objectives)]
    assert r.paths["front_csv"].is_file() and r.parent_run_id and r.summary.startswith("rank")


def test_load_study_frame(api_study):
    s = load_study(api_study.dir)
    t = s.trials
    assert len(t) == len(api_study.records)
    for col in ("trial_id", "status", "val_top1", "macs", "arch.attention.type", "arch.backbone.depth",
                "pareto_rank", "on_front"):
        assert col in t.columns, col
    assert set(t["arch.backbone.depth"].dropna()) == {8}
    assert list(s.front["trial_id"]) == [x.trial_id for x in api_study.front]
    assert sorted(t.loc[t["on_front"], "trial_id"]) == sorted(s.front["trial_id"])
    assert (t.loc[t["on_front"], "pareto_rank"] == 1).all()


def test_unknown_override_and_bad_folder():
    from search_space.errors import AttnasError

    with pytest.raises(TypeError, match="trails"):
        run_study("studies/quickstart.yaml", trails=3)
    with pytest.raises(AttnasError, match="not a study folder"):
        load_study("/nonexistent")
