"""The precision choice is a pure function of TrainConfig.amp and the device's capabilities: checked here for
GPUs this machine does not have."""
import pytest
import torch
import yaml

from search_space.errors import AttnasError
from trainers import TrainConfig
from trainers.precision import BF16, FP16, FP32, choose_precision, device_precision

H200, A100, T4, V100 = (9, 0), (8, 0), (7, 5), (7, 0)


@pytest.mark.parametrize("amp,device,cap,bf16,expected", [
    (None, "cuda", H200, True, BF16),      # auto: native bf16 on Hopper / Ampere
    ("auto", "cuda", A100, True, BF16),
    (None, "cuda", T4, False, FP16),       # Turing: fp16 with a gradient scaler
    ("auto", "cuda", V100, False, FP16),
    (None, "cuda", T4, True, FP16),        # bf16 only emulated below 8.0: not chosen automatically
    (None, "cpu", None, False, FP32),      # CPU: no autocast unless asked
    ("auto", "cpu", None, False, FP32),
    (True, "cpu", None, False, BF16),      # true forces reduced precision (what it meant before)
    (True, "cuda", T4, False, FP16),
    (True, "cuda", H200, True, BF16),
    (False, "cuda", H200, True, FP32),
    ("off", "cuda", H200, True, FP32),
    ("bf16", "cpu", None, False, BF16),
    ("bf16", "cuda", T4, False, BF16),     # forced: obeyed
    ("fp16", "cuda", H200, True, FP16),
    ("fp16", "cpu", None, False, FP16),
])
def test_choose_precision(amp, device, cap, bf16, expected):
    assert choose_precision(amp, device, cap, bf16) == expected


def test_precision_flags():
    assert FP16.scaler and FP16.autocast and FP16.dtype is torch.float16
    assert BF16.autocast and not BF16.scaler and BF16.dtype is torch.bfloat16
    assert not FP32.autocast and not FP32.scaler
    assert device_precision(None, "cpu") == FP32 and device_precision("fp16", torch.device("cpu")) == FP16


@pytest.mark.parametrize("text,value", [("amp: true", True), ("amp: false", False), ("amp: null", None),
                                        ("amp: off", False), ("amp: auto", "auto"), ("amp: bf16", "bf16"),
                                        ("amp: fp16", "fp16")])
def test_amp_values_from_study_yaml(text, value):
    cfg = TrainConfig.from_dict(yaml.safe_load(text))
    assert cfg.amp == value and TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("value", ["fp8", "yes", 1, 0.5])
def test_bad_amp_names_field_and_values(value):
    with pytest.raises(AttnasError, match=r"^train\.amp: .*allowed: auto, bf16, fp16, off \(or true, false, null\)"):
        TrainConfig(amp=value)
