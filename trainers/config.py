"""DataConfig and TrainConfig: typed, frozen, validated at construction, so a bad option fails before any
data is read or any step is taken, with an AttnasError naming the field. A study YAML embeds them as plain
mappings (``from_dict`` / ``to_dict``)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Mapping

from search_space.errors import AttnasError

from .precision import AMP_MODES

DATASETS = ("cifar10", "cifar100", "digits", "imagefolder", "synthetic", "tinyimagenet")
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "cosine", "plateau", "step")
DOWNLOADABLE = ("cifar10", "cifar100")
"""Datasets that ``download: true`` may fetch (the official archives, see trainers/data/cifar.py)."""


def _bad(field: str, value, allowed: str) -> AttnasError:
    return AttnasError(f"{field}: {value!r} is not allowed; allowed: {allowed}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Config:
    """from_dict/to_dict shared by both configs; unknown keys are errors, not silently dropped."""

    @classmethod
    def from_dict(cls, data: Mapping | None, prefix: str = ""):
        data = dict(data or {})
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise AttnasError(f"{prefix}{key}: unknown field; allowed: {', '.join(names)}")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class DataConfig(_Config):
    """Which dataset, at what size, and how it is split.

    ``image_size`` None means the dataset's native size (digits: 16, the issue's default upsampling of the
    8x8 originals; cifar: 32; tinyimagenet: 64; imagefolder: 64; synthetic: 32). ``val_fraction`` of the
    training set is held out (seeded by ``seed``) for model selection; ``train_subset`` (an int count or a
    fraction in (0, 1]) then thins the remaining training set for low-fidelity search. ``classes``,
    ``channels``, ``num_train`` and ``num_test`` describe the synthetic dataset only. ``download`` (cifar10 /
    cifar100 only) fetches and MD5-checks the official archive into ``data_dir`` when its folder is missing.
    """
    name: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    val_fraction: float = 0.1
    train_subset: int | float | None = None
    seed: int = 0
    normalize: bool = True
    classes: int = 10
    channels: int = 3
    num_train: int = 2000
    num_test: int = 500
    download: bool = False

    def __post_init__(self):
        if self.name not in DATASETS:
            raise _bad("data.name", self.name, ", ".join(DATASETS))
        if not isinstance(self.download, bool):
            raise _bad("data.download", self.download, "true or false")
        if self.download and self.name not in DOWNLOADABLE:
            raise AttnasError(f"data.download: true is not allowed with data.name {self.name!r}; allowed: true only "
                              f"with {', '.join(DOWNLOADABLE)} (other datasets are read from data_dir or generated)")
        if self.image_size is not None and (not _is_int(self.image_size) or not 4 <= self.image_size <= 1024):
            raise _bad("data.image_size", self.image_size, "an integer from 4 to 1024, or null for native")
        if not _is_num(self.val_fraction) or not 0 < self.val_fraction < 1:
            raise _bad("data.val_fraction", self.val_fraction, "a fraction strictly between 0 and 1")
        sub = self.train_subset
        if sub is not None and not ((_is_int(sub) and sub >= 1) or (isinstance(sub, float) and 0 < sub <= 1)):
            raise _bad("data.train_subset", sub, "null, a count >= 1, or a fraction in (0, 1]")
        if not _is_int(self.seed):
            raise _bad("data.seed", self.seed, "an integer")
        for name, low in (("classes", 2), ("channels", 1), ("num_train", 2), ("num_test", 1)):
            v = getattr(self, name)
            if not _is_int(v) or v < low:
                raise _bad(f"data.{name}", v, f"an integer >= {low}")


@dataclass(frozen=True)
class TrainConfig(_Config):
    """How to train: optimiser, schedule, regularisation, augmentation and device options.

    ``lr`` is the peak rate reached after ``warmup_epochs`` of linear warm-up (per step). Schedules:
    ``cosine`` to 0 over the remaining steps, ``step`` (x``gamma`` every ``step_epochs``), ``plateau``
    (x``gamma`` when val loss has not improved for ``patience`` epochs), ``constant``. ``flip`` None means
    the dataset's default (off for digits, which are not mirror-invariant); ``crop_padding`` None means
    image_size // 8. ``amp``: auto (or null), bf16, fp16 or off (or false); true forces reduced precision on
    any device (trainers/precision.py: auto is bf16 autocast on GPUs that do bf16 natively, fp16 with a
    gradient scaler on older ones, fp32 on the CPU). ``channels_last`` None means "on for CUDA only" (on the
    2-core dev CPU it gave no measurable gain for ResNet-20, see trainers/fit.py).
    """
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    step_epochs: int = 30
    gamma: float = 0.1
    patience: int = 5
    label_smoothing: float = 0.0
    augment: bool = True
    flip: bool | None = None
    crop_padding: int | None = None
    amp: bool | str | None = None
    channels_last: bool | None = None
    compile: bool = False
    eval_batch_size: int = 512
    seed: int = 0

    def __post_init__(self):
        def need(ok: bool, field: str, allowed: str):
            if not ok:
                raise _bad(f"train.{field}", getattr(self, field), allowed)

        need(_is_int(self.epochs) and self.epochs >= 1, "epochs", "an integer >= 1")
        need(_is_int(self.batch_size) and self.batch_size >= 1, "batch_size", "an integer >= 1")
        need(_is_int(self.eval_batch_size) and self.eval_batch_size >= 1, "eval_batch_size", "an integer >= 1")
        need(self.optimizer in OPTIMIZERS, "optimizer", ", ".join(OPTIMIZERS))
        need(self.schedule in SCHEDULES, "schedule", ", ".join(SCHEDULES))
        need(_is_num(self.lr) and 0 < self.lr <= 1e6, "lr", "a number > 0")
        need(_is_num(self.momentum) and 0 <= self.momentum < 1, "momentum", "a number in [0, 1)")
        need(isinstance(self.nesterov, bool), "nesterov", "true or false")
        need(not (self.nesterov and self.optimizer == "sgd" and self.momentum == 0), "nesterov",
             "false when momentum is 0 (nesterov needs momentum)")
        need(_is_num(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "a number >= 0")
        need(_is_num(self.warmup_epochs) and 0 <= self.warmup_epochs <= self.epochs, "warmup_epochs",
             f"a number from 0 to epochs ({self.epochs})")
        need(_is_int(self.step_epochs) and self.step_epochs >= 1, "step_epochs", "an integer >= 1")
        need(_is_num(self.gamma) and 0 < self.gamma < 1, "gamma", "a number in (0, 1)")
        need(_is_int(self.patience) and self.patience >= 0, "patience", "an integer >= 0")
        need(_is_num(self.label_smoothing) and 0 <= self.label_smoothing < 1, "label_smoothing", "a number in [0, 1)")
        for name in ("augment", "compile"):
            need(isinstance(getattr(self, name), bool), name, "true or false")
        for name in ("flip", "channels_last"):
            need(getattr(self, name) is None or isinstance(getattr(self, name), bool), name, "true, false or null")
        need(self.amp is None or isinstance(self.amp, bool) or self.amp in AMP_MODES, "amp",
             f"{', '.join(AMP_MODES)} (or true, false, null)")
        need(self.crop_padding is None or (_is_int(self.crop_padding) and self.crop_padding >= 0), "crop_padding",
             "null or an integer >= 0")
        need(_is_int(self.seed), "seed", "an integer")
