"""Checkpoints of a run in progress: everything needed for a resumed run to equal an uninterrupted one
(model, optimiser, gradient scaler, schedule state, all RNG states, completed epochs, history), written
atomically."""
from __future__ import annotations

from pathlib import Path

import torch

from .atomic import atomic_write


def save_checkpoint(path, *, model, optimizer, scaler, schedule, generators: dict, epoch: int, history: list,
                    config: dict) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),  # {} when the scaler is disabled (bf16 / fp32)
        "schedule": schedule.state_dict(),
        "generators": {k: g.get_state() for k, g in generators.items()},
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "epoch": epoch,
        "history": history,
        "config": config,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:  # a crash mid-write never leaves a truncated checkpoint
        torch.save(state, f)


def load_checkpoint(path, *, model, optimizer, scaler, schedule, generators: dict) -> tuple[int, list]:
    """Restore the states in place; return (completed epochs, history). Checkpoints written before the scaler
    was saved load with a fresh scaler."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    schedule.load_state_dict(state["schedule"])
    for k, g in generators.items():
        g.set_state(state["generators"][k])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["epoch"], list(state["history"])
