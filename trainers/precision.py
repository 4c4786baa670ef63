"""The numeric precision a run trains in: a pure function of ``TrainConfig.amp`` and the device's
capabilities (:func:`choose_precision`, unit-tested without a GPU), and the lookup of those capabilities
(:func:`device_precision`).

``amp`` (study YAMLs may still say true / false / null):

- ``auto`` (or null, the default): on CUDA, bf16 autocast where the GPU does bf16 natively (compute
  capability >= 8.0: Ampere, Hopper and later), else fp16 autocast with a gradient scaler; on the CPU, none
  (fp32: bf16 autocast on a CPU without AMX is slower than fp32, and results would differ from fp32 runs).
- ``bf16`` / ``fp16``: that autocast dtype on any device (fp16 always with a gradient scaler, whose state is
  in the checkpoint so resume stays exact).
- ``off`` (or false): fp32.
- true: reduced precision on any device: what ``auto`` picks on CUDA, bf16 on the CPU (what true meant before).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

AMP_MODES = ("auto", "bf16", "fp16", "off")
"""The string values of ``TrainConfig.amp`` (true / false / null are accepted too, see the module docstring)."""


@dataclass(frozen=True)
class Precision:
    """``name``: bf16, fp16 or fp32; ``dtype``: the autocast dtype (None: no autocast); ``scaler``: a
    gradient scaler is needed (fp16: small gradients would underflow)."""
    name: str
    dtype: torch.dtype | None
    scaler: bool

    @property
    def autocast(self) -> bool:
        return self.dtype is not None


FP32 = Precision("fp32", None, False)
BF16 = Precision("bf16", torch.bfloat16, False)
FP16 = Precision("fp16", torch.float16, True)


def choose_precision(amp, device_type: str, capability: tuple[int, int] | None = None,
                     bf16_supported: bool = False) -> Precision:
    """The precision for ``amp`` on a ``device_type`` ("cuda", "cpu", ...) whose CUDA compute capability is
    ``capability`` and for which ``torch.cuda.is_bf16_supported(including_emulation=False)`` is
    ``bf16_supported`` (both ignored off CUDA)."""
    mode = amp if isinstance(amp, str) else {None: "auto", False: "off", True: "on"}[amp]
    if mode == "off":
        return FP32
    if mode == "bf16":
        return BF16
    if mode == "fp16":
        return FP16
    if device_type == "cuda":
        native_bf16 = bf16_supported and capability is not None and tuple(capability) >= (8, 0)
        return BF16 if native_bf16 else FP16
    return BF16 if mode == "on" else FP32


def device_precision(amp, device) -> Precision:
    """:func:`choose_precision` with the capabilities of ``device`` looked up."""
    device = torch.device(device)
    if device.type != "cuda":
        return choose_precision(amp, device.type)
    index = device.index if device.index is not None else torch.cuda.current_device()
    with torch.cuda.device(index):  # is_bf16_supported looks at the current device
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return choose_precision(amp, "cuda", torch.cuda.get_device_capability(index), bf16)
