"""Checkpoints of a run in progress: everything needed for a resumed run to equal an uninterrupted one
(model, optimiser, schedule state, all RNG states, completed epochs, history), written atomically."""
from __future__ import annotations

import os
from pathlib import Path

import torch


def save_checkpoint(path, *, model, optimizer, schedule, generators: dict, epoch: int, history: list,
                    config: dict) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
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
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint


def load_checkpoint(path, *, model, optimizer, schedule, generators: dict) -> tuple[int, list]:
    """Restore the states in place; return (completed epochs, history)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    for k, g in generators.items():
        g.set_state(state["generators"][k])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["epoch"], list(state["history"])
