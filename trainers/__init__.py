"""Training and measuring one model: datasets as device tensors, the fit/evaluate loop, and profiling.

Knows nothing of studies or trials: a caller passes a callback that receives per-epoch metrics.
"""
from .config import DataConfig, TrainConfig
from .data import TensorData, load_dataset
from .fit import FitResult, evaluate, fit
from .profile import count_macs, count_params, profile_model

__all__ = ["DataConfig", "TrainConfig", "TensorData", "load_dataset", "fit", "evaluate", "FitResult",
           "profile_model", "count_params", "count_macs"]
