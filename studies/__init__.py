"""Search studies: Ray Tune + Optuna + MLflow around the search space and the trainers.

The Python API (see :mod:`studies.api`): ``run_study`` runs a study as ``attnas search`` does, ``load_study``
reads a study folder into pandas DataFrames.
"""
from .api import LoadedStudy, StudyResult, load_study, run_study

__all__ = ["run_study", "load_study", "StudyResult", "LoadedStudy"]
