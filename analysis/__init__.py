"""Reads a table of trial results and writes what a study shows: Pareto fronts (any number of
objectives), hypervolume with a stated reference point, fronts over trials, plots, summary tables and
exported ArchConfig YAMLs. Never trains anything.

The contract with ``studies``: one :class:`TrialRecord` per ended trial, appended with
:func:`append_trial` to ``<study_dir>/trials.jsonl``; objectives are ``[(metric, "max"|"min"), ...]``.
"""
from .export import export_front
from .fronts import FrontStep, front_history, hypervolume_history
from .hypervolume import FIXED_REFERENCE_RULE, REFERENCE_RULE, hypervolume, reference_point
from .pareto import as_minimisation, non_dominated_sort, pareto_front, pareto_ranks
from .report import (arch_name, pareto_records, plot_front, ranked_records, summary_table, write_front_csv,
                     write_hypervolume_csv, write_report)
from .rungs import promote, promote_batch, rung_quota
from .status import STATUS, STATUSES, Status, status
from .trials import (DEFAULT_OBJECTIVES, TRIALS_FILE, TrialRecord, append_trial, front_candidates,
                     objective_matrix, parse_objectives, read_trials, write_trials)

__all__ = [
    "TrialRecord", "TRIALS_FILE", "DEFAULT_OBJECTIVES", "append_trial", "read_trials", "write_trials",
    "Status", "STATUS", "STATUSES", "status",
    "promote", "promote_batch", "rung_quota",
    "parse_objectives", "front_candidates", "objective_matrix",
    "non_dominated_sort", "pareto_front", "pareto_ranks", "as_minimisation",
    "hypervolume", "reference_point", "REFERENCE_RULE", "FIXED_REFERENCE_RULE",
    "FrontStep", "front_history", "hypervolume_history",
    "pareto_records", "ranked_records", "arch_name", "write_front_csv", "write_hypervolume_csv", "plot_front",
    "summary_table", "write_report",
    "export_front",
]
