"""Training and measuring one model: datasets as device tensors, the fit/evaluate loop, and profiling.

Knows nothing of studies or trials: a caller passes a callback that receives per-epoch metrics. A study's
trainable (one trial per call, possibly many per process) uses:

    device = prepare_device(memory_fraction)   # cuda:0 if Ray gave this worker a GPU, else cpu
    data = cached_dataset(data_cfg, device)    # once per process, uint8 where the source is 8-bit
    cost = profile_model(model, input_size, device, latency=...)
    result = fit(model, data, train_cfg, callback, device=device, checkpoint_path=...)

and ``describe_dataset(data_cfg)`` on the driver for the class count and input size.
"""
from .config import DataConfig, TrainConfig
from .data import TensorData, describe_dataset, load_dataset
from .data.cache import cached_dataset, clear_dataset_cache
from .device import choose_device, prepare_device, release_memory, select_device
from .fit import FitResult, evaluate, fit, is_oom
from .precision import AMP_MODES, Precision, choose_precision
from .profile import count_macs, count_params, profile_model

__all__ = ["is_oom", "DataConfig", "TrainConfig", "TensorData", "load_dataset", "describe_dataset", "cached_dataset",
           "clear_dataset_cache", "choose_device", "select_device", "prepare_device", "release_memory", "fit",
           "evaluate", "FitResult", "AMP_MODES", "Precision", "choose_precision", "profile_model", "count_params",
           "count_macs"]
