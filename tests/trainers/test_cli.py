"""``attnas train`` and ``attnas profile`` end to end through studies.cli.main."""
import json

import pytest
import yaml

from search_space import load_arch
from studies.cli import main


def test_train_se_resnet20_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "se-resnet20", "--data", "digits", "--epochs", "1", "--image-size", "8",
                 "--train-subset", "64", "--batch-size", "32", "--out", str(out), "--no-progress", "--threads", "1"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("val_top1", "val_top5", "val_loss", "test_top1", "test_top5", "params", "macs", "latency_ms",
                "epochs", "status", "wall_time_s"):
        assert key in metrics, key
    assert metrics["status"] == "finished" and metrics["epochs"] == 1
    assert 0 <= metrics["val_top1"] <= metrics["val_top5"] <= 1 and metrics["macs"] > 0
    arch = load_arch(str(out / "arch.yaml"))
    assert arch.num_classes == 10 and arch.input_size == (1, 8, 8) and arch.attention.type == "se"
    assert yaml.safe_load((out / "arch.yaml").read_text())["input_size"] == [1, 8, 8]
    import torch
    from search_space import build_model
    build_model(arch).load_state_dict(torch.load(out / "model.pt"))  # weights match the saved config exactly
    assert "val  top1" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["train", "resnet20", "--data", "mnist"], "data.name: 'mnist'"),
    (["train", "resnet20", "--data", "cifar10", "--data-dir", "/nonexistent"], "cifar-10-batches-py"),
    (["train", "resnet20", "--data", "synthetic", "--input", "3x8"], "input_size"),
    (["train", "resnet20", "--data", "digits", "--classes", "5"], "--classes"),
    (["profile", "resnet20", "--input", "3xax32"], "input_size"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_profile_json_is_one_object(capsys):
    assert main(["profile", "se-resnet20", "--input", "3x16x16", "--classes", "7", "--json",
                 "--train-batch-size", "2"]) == 0
    out = capsys.readouterr().out
    cost = json.loads(out)
    assert out.count("\n") == 1 and isinstance(cost["params"], int) and isinstance(cost["macs"], int)
    assert cost["num_classes"] == 7 and cost["latency_ms"] > 0
    assert main(["profile", "resnet20", "--no-latency"]) == 0
    assert "latency_ms" not in capsys.readouterr().out
