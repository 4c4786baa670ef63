"""Learning-rate schedules as a per-step multiplier of the peak rate, with linear warm-up in front.

Computed per step from (step, epoch) rather than chained torch schedulers, so the rate at any step is a pure
function of the config plus the small plateau state, which checkpoints hold (resume is exact)."""
from __future__ import annotations

import math

from .config import TrainConfig


class LRSchedule:
    """``factor(step)`` in (0, 1]: warm-up x schedule; call ``epoch_end(val_loss)`` after each epoch."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.total = cfg.epochs * steps_per_epoch
        self.warmup = round(cfg.warmup_epochs * steps_per_epoch)
        self.plateau_scale, self.best, self.bad_epochs = 1.0, math.inf, 0

    def factor(self, step: int) -> float:
        cfg = self.cfg
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        if cfg.schedule == "cosine":
            t = max(0, step - self.warmup) / max(1, self.total - self.warmup)
            return warm * 0.5 * (1 + math.cos(math.pi * t))
        if cfg.schedule == "step":
            return warm * cfg.gamma ** ((step // self.steps_per_epoch) // cfg.step_epochs)
        if cfg.schedule == "plateau":
            return warm * self.plateau_scale
        return warm

    def epoch_end(self, val_loss: float) -> None:
        """Reduce-on-plateau bookkeeping (relative improvement threshold 1e-4, as torch's default)."""
        if self.cfg.schedule != "plateau":
            return
        if val_loss < self.best * (1 - 1e-4):
            self.best, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.cfg.patience:
                self.plateau_scale *= self.cfg.gamma
                self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale, self.best, self.bad_epochs = state["plateau_scale"], state["best"], state["bad_epochs"]
