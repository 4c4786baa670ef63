"""StudyConfig: every bad value is one AttnasError line naming its field; good files round-trip."""
import pytest
import yaml

from search_space.errors import AttnasError
from studies.commands.search import quickstart_path
from studies.config import StudyConfig

BASE = {
    "name": "t",
    "space": {"fixed": {"backbone.type": "resnet_cifar"},
              "dimensions": {"backbone.depth": [8, 14], "attention.type": ["none", "se"]}},
    "data": {"name": "digits", "image_size": 16},
}


def with_(**changes):
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes.items():
        node = data
        *head, last = path.split("__")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return data


@pytest.mark.parametrize("changes, field", [
    ({"name": "a b"}, "name:"),
    ({"colour": 1}, "colour: unknown field"),
    ({"sampler__type": "cmaes"}, "sampler.type:"),
    ({"sampler__population_size": 1}, "sampler:"),
    ({"sampler__popsize": 8}, "sampler.popsize: unknown option"),
    ({"sampler__seed": 3}, "sampler.seed:"),
    ({"scheduler__type": "pbt"}, "scheduler.type:"),
    ({"scheduler__grace_period": 9}, "scheduler.grace_period:"),
    ({"scheduler__reduction_factor": 1}, "scheduler.reduction_factor:"),
    ({"fidelity__epochs": 0}, "fidelity.epochs:"),
    ({"budget__trials": 0}, "budget.trials:"),
    ({"budget__time_limit_s": -1}, "budget.time_limit_s:"),
    ({"concurrency": 0}, "concurrency:"),
    ({"resources__gpu": -0.5}, "resources.gpu:"),
    ({"objectives": [{"metric": "macs", "direction": "min"}, {"metric": "val_top1", "direction": "max"}]},
     "objectives[0].metric:"),
    ({"objectives": [{"metric": "val_top1", "direction": "min"}, {"metric": "macs", "direction": "min"}]},
     "objectives[0].direction:"),
    ({"objectives": [{"metric": "val_top1", "direction": "max"}, {"metric": "flops", "direction": "min"}]},
     "objectives[1].metric:"),
    ({"objectives": [{"metric": "val_top1", "direction": "max"}]}, "objectives:"),
    ({"warm_start": ["resnet21"]}, "warm_start[0]:"),
    ({"storage__tracking_uri": "file:./mlruns"}, "storage.tracking_uri:"),
    ({"macs_budget": 0}, "macs_budget:"),
    ({"hypervolume_reference": {"val_top1": 0}}, "hypervolume_reference:"),
    ({"hypervolume_reference": {"val_top1": 0, "macs": "big"}}, "hypervolume_reference.macs:"),
    ({"training__lr": -1}, "training.lr:"),
    ({"training__epochs": 3}, "training.epochs:"),
    ({"data__name": "mnist"}, "data.name:"),
    ({"space__dimensions__attention.type": ["sse"]}, "attention.type"),
])
def test_bad_values_name_their_field_in_one_line(changes, field):
    with pytest.raises(AttnasError) as e:
        StudyConfig.from_dict(with_(**changes))
    msg = str(e.value)
    assert "\n" not in msg
    assert field in msg, msg


def test_round_trip_and_defaults(tmp_path):
    cfg = StudyConfig.from_dict(BASE)
    assert cfg.objectives == (("val_top1", "max"), ("macs", "min"))
    again = StudyConfig.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg
    assert cfg.train_config().epochs == cfg.epochs and cfg.train_config().seed == cfg.seed
    assert cfg.replace(trials=3, epochs=1).trials == 3


def test_space_path_is_relative_to_the_study_file(tmp_path):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "s.yaml").write_text(yaml.safe_dump(BASE["space"]))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({**BASE, "space": "spaces/s.yaml"}))
    cfg = StudyConfig.from_yaml(tmp_path / "study.yaml")
    assert cfg.space["dimensions"]["backbone.depth"] == [8, 14]
    with pytest.raises(AttnasError, match="^space:"):
        StudyConfig.from_dict({**BASE, "space": "missing.yaml"}, base_dir=tmp_path)


def test_quickstart_is_valid_and_shipped():
    cfg = StudyConfig.from_yaml(quickstart_path())
    assert cfg.scheduler == "pareto_sh" and cfg.data["name"] == "digits"
    assert cfg.warm_start and cfg.concurrency == 2


def test_time_limit_is_set_raised_and_lifted_from_the_command_line():
    from search_space.errors import AttnasError
    from studies.commands.search import time_limit

    cfg = StudyConfig.from_yaml(quickstart_path())
    limited = cfg.replace(time_limit_s=time_limit("90"))
    assert limited.time_limit_s == 90.0
    assert limited.replace(time_limit_s=time_limit("600")).time_limit_s == 600.0
    assert limited.replace(time_limit_s=time_limit("none")).time_limit_s is None
    assert limited.replace(time_limit_s=time_limit(None)).time_limit_s == 90.0      # not given: kept
    for bad in ("0", "-5", "soon", "nan"):
        with pytest.raises(AttnasError, match=r"^--time-limit: .* allowed: a number of seconds > 0, or none"):
            time_limit(bad)
