"""A study's recipe: what every trial was measured under (the data set with its split seed, the fidelity and
the training config), as plain data. Exports and LoggedModels carry it, ``attnas train`` on an exported config
uses it, so a retrain repeats the study's measurement (analysis/export.py)."""
from __future__ import annotations


def study_recipe(cfg) -> dict:
    """The recipe of StudyConfig ``cfg``: ``data`` (trainers.DataConfig fields: name, image size, val_fraction,
    split ``seed``, train_subset), ``training`` (trainers.TrainConfig fields, with the fidelity's epochs and the
    study seed: the trials' initial weights), ``fidelity`` and the study's name."""
    return {"study": cfg.name, "data": cfg.data_config().to_dict(), "training": cfg.train_config().to_dict(),
            "fidelity": {"epochs": cfg.epochs, "train_subset": cfg.train_subset}}
