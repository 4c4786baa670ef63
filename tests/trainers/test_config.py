import pytest

from search_space.errors import AttnasError
from trainers import DataConfig, TrainConfig


@pytest.mark.parametrize("field,value", [("optimizer", "rmsprop"), ("schedule", "linear"), ("lr", 0), ("lr", -1.0),
                                         ("epochs", 0), ("batch_size", 2.5), ("label_smoothing", 1.0),
                                         ("warmup_epochs", 99), ("momentum", 1.5), ("flip", "yes")])
def test_train_config_rejects_bad_field_naming_it(field, value):
    with pytest.raises(AttnasError, match=rf"^train\.{field}: "):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("field,value", [("name", "mnist"), ("val_fraction", 0.0), ("val_fraction", 1.0),
                                         ("train_subset", 0), ("train_subset", 1.5), ("image_size", 2)])
def test_data_config_rejects_bad_field_naming_it(field, value):
    with pytest.raises(AttnasError, match=rf"^data\.{field}: "):
        DataConfig(**{field: value})


def test_round_trip_and_unknown_key():
    cfg = TrainConfig(epochs=3, optimizer="adamw", schedule="plateau", warmup_epochs=1)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert DataConfig.from_dict(DataConfig(name="cifar10", data_dir="/d").to_dict()).data_dir == "/d"
    with pytest.raises(AttnasError, match="^lrr: unknown field"):
        TrainConfig.from_dict({"lrr": 0.1})
    with pytest.raises(AttnasError, match="nesterov"):
        TrainConfig(momentum=0.0, nesterov=True)
