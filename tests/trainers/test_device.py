"""Device selection and per-trial setup (the CPU side here; CUDA only where this machine has it), and the
per-process data cache a reused Ray actor keeps."""
import pytest
import torch

from trainers import DataConfig, cached_dataset, choose_device, clear_dataset_cache, prepare_device, select_device
from trainers.device import peak_memory_mb, release_memory


@pytest.mark.parametrize("available,count,want,expected", [
    (True, 1, True, "cuda:0"),    # Ray gave this worker a GPU: CUDA_VISIBLE_DEVICES holds one id
    (True, 0, True, "cpu"),       # CUDA_VISIBLE_DEVICES="" (a trial without a GPU on a GPU node)
    (False, 0, True, "cpu"),      # logical Ray GPUs on a CPU machine
    (False, 2, True, "cpu"),
    (True, 4, False, "cpu"),      # the trial asked for no GPU
])
def test_choose_device(available, count, want, expected):
    assert choose_device(available, count, want) == expected


def test_prepare_device_on_this_machine():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device().type == expected and select_device(want_gpu=False).type == "cpu"
    assert prepare_device(0.25).type == expected and prepare_device().type == expected
    release_memory()
    if expected == "cpu":
        assert peak_memory_mb("cpu") is None
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="memory_fraction"):
            prepare_device(bad)


def test_cached_dataset_once_per_config_and_device():
    clear_dataset_cache()
    cfg = DataConfig(name="digits", image_size=8, train_subset=50)
    a = cached_dataset(cfg, "cpu")
    assert cached_dataset(DataConfig.from_dict(cfg.to_dict()), torch.device("cpu")) is a
    assert a.raw and a.train_x.dtype == torch.uint8 and a.test_x.dtype == torch.uint8
    b = cached_dataset(cfg.replace(seed=1), "cpu")
    assert b is not a and cached_dataset(cfg.replace(seed=1)) is b
    synthetic = cached_dataset(DataConfig(name="synthetic", image_size=8, num_train=20, num_test=4))
    assert not synthetic.raw and synthetic.train_x.dtype == torch.float32  # not an 8-bit source
    clear_dataset_cache()
    assert cached_dataset(cfg) is not a
    clear_dataset_cache()
