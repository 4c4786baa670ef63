"""``attnas space``: size, dimensions and where they apply, the cost range, the budget share and the sample."""
import pytest
import yaml

from search_space import load_arch
from search_space.cost import estimate_cost
from search_space.space import SearchSpace
from studies.cli import main

SPACE = {"name": "tiny", "fixed": {"backbone.type": "resnet_cifar", "num_classes": 5, "input_size": [1, 8, 8]},
         "dimensions": {"backbone.width": [0.25, 0.5], "attention.type": ["none", "se", "eca"],
                        "attention.reduction": [2, 4]}}


def test_space_file_size_dimensions_costs_and_budget(tmp_path, capsys):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    space = SearchSpace.from_dict(SPACE)
    costs = sorted(estimate_cost(a).macs for a in space.configs())
    budget = costs[len(costs) // 2]
    assert main(["space", str(path), "--macs-budget", str(budget)]) == 0
    out = capsys.readouterr().out
    assert f"{space.size():,} architectures" in out
    line = next(ln for ln in out.splitlines() if "attention.reduction" in ln)
    assert "attention.type in {se}" in line            # eca has no reduction: the dimension is not asked there
    assert "backbone.width" in out and "0.25, 0.5" in out
    assert f"MACs over all {len(costs)} architectures: min {costs[0] / 1e6:.3f} M" in out
    under = sum(c <= budget for c in costs)
    assert f"{under}/{len(costs)} = {100 * under / len(costs):.1f}%" in out


def test_study_file_takes_its_data_set_and_sample_writes_loadable_configs(tmp_path, capsys):
    out_dir = tmp_path / "sample"
    assert main(["space", "studies/quickstart.yaml", "--sample", "5", "--out", str(out_dir), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "study quickstart on digits (10 classes, 1x16x16)" in out
    files = sorted(out_dir.glob("*.yaml"))
    assert len(files) == 5
    archs = [load_arch(str(f)) for f in files]
    assert len({a.hash for a in archs}) == 5 and all(a.input_size == (1, 16, 16) for a in archs)


@pytest.mark.parametrize("text,message", [
    ("fixed: {backbone.type: resnet_cifar}\ndimensions: {attention.type: [se, bogus]}\n", "'bogus'"),
    ("- a\n- b\n", "list"),
    ("fixed: {backbone.type: resnet_cifar}\ndimensions: {attention.nope: [1, 2]}\n", "attention.nope"),
])
def test_bad_space_is_one_line_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["space", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("attnas space: error:") and message in err


def test_bad_arguments_are_one_line(capsys):
    assert main(["space", "quick", "--sample", "0"]) == 2
    assert main(["space", "no-such-space"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--sample" in err[0] and "quick" in err[1]
