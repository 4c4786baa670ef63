"""A study's live report: ``report/`` (front.csv, front.png, hypervolume.csv, an ablation's measured-vs-reported
table, the effects at the end), ``export/`` (the Pareto ArchConfigs) and their upload to the parent MLflow run,
all from the records at the study's current fidelity; and the summary printed at the end."""
from __future__ import annotations

import time

from analysis import arch_name, export_front, hypervolume, pareto_records, summary_table, write_report
from analysis.trials import front_candidates, objective_matrix
from search_space import ArchConfig

ARTIFACT_INTERVAL_S = 5.0
"""Least time between two uploads of the parent run's live artifacts (front, plot, trials, exports)."""
PUBLISH_SHARE = 10.0
"""... and at least this many times the last upload took: the report is rebuilt from every record, so a large
study refreshes it less often instead of spending a growing share of the driver's time on it."""


class Report:
    """The live report of ``study`` (:class:`studies.study.Study`), refreshed by its lifecycle as trials end."""

    def __init__(self, study):
        self.study = study
        self._last_upload = 0.0
        self._publish_s = 0.0
        self._arm_rows = None
        self.effects: list = []          # analysis.effects rows, from the last final publish

    def publish(self, force: bool, weights: dict | None = None) -> bool:
        """Write the report and exports and upload them to the parent run (at most every
        ``ARTIFACT_INTERVAL_S`` seconds unless ``force``), on the background thread; ``weights`` (trial key ->
        final checkpoint, ``tracking.log_weights: front``) go to the front's LoggedModels. Returns whether it
        published (False: too soon, ``weights`` not taken)."""
        now = time.monotonic()
        if not force and now - self._last_upload < max(ARTIFACT_INTERVAL_S, PUBLISH_SHARE * self._publish_s):
            return False
        self._last_upload = now
        self.study.background.submit("study", self._timed_publish, list(self.study.records), force, dict(weights or {}))
        if force:
            self.study.background.flush()
        return True

    def _timed_publish(self, records: list, final: bool = False, weights: dict | None = None) -> None:
        t0 = time.monotonic()
        try:
            self._publish(records, final, weights or {})
        finally:
            self._publish_s = time.monotonic() - t0

    def _publish(self, records: list, final: bool = False, weights: dict | None = None) -> None:
        """Front, hypervolume and exports from the records at the study's fidelity; the others are marked on
        the plot. ``final`` (a forced publish: the study's end or stop) adds the effects report
        (studies.effects)."""
        objectives = list(self.study.cfg.objectives)
        report_dir, export_dir = self.study.dir / "report", self.study.dir / "export"
        ref = self.study.cfg.reference_point
        others = self.study.other_fidelities(records)
        records = self.study.current(records)
        files = write_report(records, objectives, report_dir, study_name=self.study.cfg.name, reference=ref,
                             others=others)
        files += self.write_reported(records)
        from .recipe import study_recipe
        recipe = study_recipe(self.study.cfg)
        front = pareto_records(records, objectives)
        export_front(records, objectives, export_dir, source=str(self.study.dir), reference=ref, recipe=recipe)
        self.study.tracker.sync_front([(r.trial_id, ArchConfig.from_dict(r.arch).to_yaml(), arch_name(r), r.arch_hash,
                                  dict(r.metrics)) for r in front], recipe,
                                {r.trial_id: weights[r.trial_id] for r in records if r.trial_id in (weights or {})})
        from .study import STUDY_FILE
        self.study.tracker.log_study_files([self.study.trials_path, *files, self.study.dir / STUDY_FILE])
        self.study.tracker.log_study_files([export_dir], artifact_path="export")
        step = sum(r.counts for r in records)
        self.study.tracker.log_study_metric("hypervolume", self.hypervolume(records), step=step)
        self.study.tracker.log_study_metric("front_size", len(front), step=step)
        if final:
            from .effects import write_study_effects
            effect_files, self.effects = write_study_effects(self.study.cfg, records, report_dir, self.study.optuna_storage)
            self.study.tracker.log_study_files(effect_files)

    # ---- an ablation's arms beside their paper's numbers (analysis.reported) ------------------------
    def reported_rows(self, records: list | None = None) -> list[dict]:
        """One row per arm: measured and reported top-1, parameters and MACs ([] without arms)."""
        if not self.study.cfg.arms:
            return []
        if self._arm_rows is None:
            from .arms import arm_rows
            self._arm_rows = arm_rows(self.study.cfg.arms, self.study.cfg.data_config().name)
        from analysis.reported import reported_rows
        return reported_rows(self.study.records if records is None else records, self._arm_rows,
                             trained_on=self.study.cfg.data_config().name)

    def write_reported(self, records: list) -> list:
        """``report/reported.csv``, ``.png`` and ``.txt`` (the printed table), for the parent run."""
        rows = self.reported_rows(records)
        if not rows:
            return []
        from analysis.reported import reported_table, write_reported
        files = write_reported(rows, self.study.dir / "report", title=f"{self.study.cfg.name}: measured vs reported")
        text = self.study.dir / "report" / "reported.txt"
        text.write_text(reported_table(rows) + "\n")
        return files + [text]

    def hypervolume(self, records: list | None = None) -> float:
        """The front's hypervolume at the study's fixed reference point."""
        objectives = list(self.study.cfg.objectives)
        cands = front_candidates(self.study.current(records), objectives)
        if not cands or self.study.cfg.reference_point is None:
            return 0.0
        return hypervolume(objective_matrix(cands, objectives), self.study.cfg.reference_point,
                           [d for _, d in objectives])

    def summary(self) -> str:
        """The best trials at the study's fidelity, the largest effects, then where they trained
        (:func:`trained_on`)."""
        lines = [summary_table(self.study.current(), list(self.study.cfg.objectives), reference=self.study.cfg.reference_point)]
        if self.effects:
            from analysis.effects import effects_lines
            lines.append("largest effects (report/effects.csv, effects.png; matched by MACs bin, 95% bootstrap CI):\n  "
                         + "\n  ".join(effects_lines(self.effects, 3, self.study.cfg.metrics[0])))
        note = self.study.fidelity_note()
        return "\n".join(lines + ([note] if note else []) + trained_on(self.study.records, self.study.cfg.gpu))


def trained_on(records: list, gpu: float) -> list[str]:
    """One line "trained on: ..." (devices with precision and trial counts, nodes, torch/CUDA, UTC span) and,
    when the study asked for GPUs (``gpu`` > 0) and a trial trained on a CPU, one warning line."""
    done = [r for r in records if r.provenance.get("device")]
    if not done:
        return []
    by = {}
    for r in done:
        key = f"{r.provenance['device']} {r.provenance.get('precision', '?')}"
        by[key] = by.get(key, 0) + 1
    nodes = {r.provenance.get("node") for r in done if r.provenance.get("node")}
    builds = sorted({f"torch {r.provenance.get('torch', '?')}, CUDA {r.provenance.get('cuda') or '-'}" for r in done})
    starts = sorted(r.provenance["started_at"] for r in done if r.provenance.get("started_at"))
    ends = sorted(r.provenance["ended_at"] for r in done if r.provenance.get("ended_at"))
    span = f", {starts[0]} to {ends[-1]} UTC" if starts and ends else ""
    lines = [f"trained on: {', '.join(f'{k} ({n} trial(s))' for k, n in by.items())}; {len(nodes)} node(s); "
             f"{'; '.join(builds)}{span}"]
    on_cpu = sorted(r.trial_id for r in done if r.provenance["device"] == "cpu")
    if gpu > 0 and on_cpu:
        lines.append(f"warning: resources.gpu {gpu:g} asked for a GPU per trial, but {len(on_cpu)} trial(s) trained "
                     f"on the CPU ({', '.join(on_cpu[:8])}{', ...' if len(on_cpu) > 8 else ''}): their node had no "
                     f"usable CUDA device")
    return lines
