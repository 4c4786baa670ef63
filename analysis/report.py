"""What a study shows of its results: the Pareto set, ``front.csv``, the accuracy-vs-MACs plot,
``hypervolume.csv`` and the summary table printed at the end of a study.

Everything takes the list of :class:`~analysis.trials.TrialRecord` and the study's objectives
``[(metric, "max"|"min"), ...]``; files hold raw values (accuracies as fractions, MACs as counts), the
plot and the table show percents and millions.
"""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from .hypervolume import FIXED_REFERENCE_RULE, REFERENCE_RULE, hypervolume, reference_point
from .fronts import front_history
from .pareto import check_directions, pareto_front, pareto_ranks
from .trials import STATUSES, TrialRecord, front_candidates, objective_matrix

# metric -> (axis/column label, factor from the stored value to the shown one)
DISPLAY = {
    "val_top1": ("validation top-1 (%)", 100.0),
    "val_top5": ("validation top-5 (%)", 100.0),
    "macs": ("MACs (M)", 1e-6),
    "params": ("parameters (M)", 1e-6),
    "latency_ms": ("latency (ms)", 1.0),
    "wall_time_s": ("wall time (s)", 1.0),
}


def display(metric: str) -> tuple[str, float]:
    """(label with unit, factor) for showing ``metric``; unknown metrics are shown as stored."""
    return DISPLAY.get(metric, (metric, 1.0))


@lru_cache(maxsize=4096)
def _name_of(arch_json: str) -> str:
    from search_space.arch_config import ArchConfig
    return ArchConfig.from_dict(json.loads(arch_json), check_fits=False).name


def arch_name(record: TrialRecord) -> str:
    """The readable architecture label (``ArchConfig.name``, e.g. ``resnet_cifar8+se@pre_add``)."""
    return _name_of(json.dumps(record.arch, sort_keys=True))


def sort_key(objectives: Sequence[tuple[str, str]]):
    """Best-first ordering: by the first maximised objective (accuracy), then the others in order,
    then trial number, so ties are broken the same way every time."""
    check_directions([d for _, d in objectives])
    first = next((i for i, (_, d) in enumerate(objectives) if d == "max"), 0)
    order = [objectives[first]] + [o for i, o in enumerate(objectives) if i != first]

    def key(rec: TrialRecord):
        return tuple(-rec.metric(m) if d == "max" else rec.metric(m) for m, d in order) + (rec.number,)
    return key


def pareto_records(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]]) -> list[TrialRecord]:
    """The Pareto-optimal finished trials (rank 0), best first (see :func:`sort_key`)."""
    cands = front_candidates(records, objectives)
    front = pareto_front(objective_matrix(cands, objectives), [d for _, d in objectives])
    return sorted((cands[i] for i in front), key=sort_key(objectives))


def ranked_records(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]]) -> list[tuple[int, TrialRecord]]:
    """``[(pareto_rank, record)]`` for every front candidate, by rank and then best first."""
    cands = front_candidates(records, objectives)
    ranks = pareto_ranks(objective_matrix(cands, objectives), [d for _, d in objectives])
    key = sort_key(objectives)
    return sorted(zip(ranks, cands), key=lambda rr: (rr[0], key(rr[1])))


def write_front_csv(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]], path: str | Path) -> Path:
    """``front.csv``: one row per Pareto-optimal trial, best first, raw values."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = [m for m, _ in objectives] + [m for m in ("val_top1", "macs", "params", "latency_ms")
                                            if m not in dict(objectives)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "trial_id", "arch_name", "arch_hash", *metrics, "status", "is_reference",
                    "reference_name"])
        for rec in pareto_records(records, objectives):
            values = [rec.metrics.get(m, "") if rec.metric(m) is not None else "" for m in metrics]
            w.writerow([rec.number, rec.trial_id, arch_name(rec), rec.arch_hash, *values, rec.status,
                        rec.is_reference, rec.reference_name or ""])
    return path


def write_hypervolume_csv(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]], path: str | Path,
                          reference: Sequence[float] | None = None,
                          budgets: Mapping[str, float] | None = None) -> Path:
    """``hypervolume.csv``: trials seen, last trial number, front size and hypervolume after each trial;
    the reference point is in the header row's last column name so the file states it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if reference is None:
        reference = reference_point(objectives, objective_matrix(front_candidates(records, objectives), objectives),
                                    budgets)
    ref_text = ";".join(f"{m}={v:.10g}" for (m, _), v in zip(objectives, reference))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n_trials", "trial", "front_size", f"hypervolume[reference {ref_text}]"])
        for s in front_history(records, objectives, reference):
            w.writerow([s.n_trials, s.last_trial, len(s.front), repr(s.hypervolume)])
    return path


def plot_front(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]], path: str | Path, *,
               study_name: str = "", x: str = "macs", y: str = "val_top1",
               others: Sequence[TrialRecord] = ()) -> Path:
    """A PNG of ``y`` (maximised; default validation top-1) against ``x`` (minimised; default MACs): every
    trial grey, stopped ones hollow, diverged/failed as crosses, the Pareto set of ``objectives`` highlighted
    with its staircase, warm-start presets ringed and labelled. The x axis is logarithmic when its
    values span more than 20x. ``others`` (records trained at another fidelity than ``records``) are marked
    apart, as triangles, and join no front."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (xlabel, xf), (ylabel, yf) = display(x), display(y)
    shown = [r for r in records if r.status != "duplicate" and r.metric(x) is not None and r.metric(y) is not None]
    shown_ids = {id(r) for r in shown}
    front = [r for r in pareto_records(records, objectives) if id(r) in shown_ids]

    fig = Figure(figsize=(8, 5.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    styles = {
        "finished": dict(marker="o", s=22, color="0.6", label="finished"),
        "stopped": dict(marker="o", s=22, facecolors="none", edgecolors="0.6", label="stopped early (rung accuracy)"),
        "diverged": dict(marker="x", s=30, color="tab:red", label="diverged"),
        "failed": dict(marker="x", s=30, color="0.2", label="failed"),
    }
    for status in STATUSES:
        pts = [(r.metric(x) * xf, r.metric(y) * yf) for r in shown if r.status == status]
        if pts and status in styles:
            ax.scatter(*zip(*pts), zorder=2, **styles[status])
    if front:
        pts = [(r.metric(x) * xf, r.metric(y) * yf) for r in front]
        ax.scatter(*zip(*pts), s=46, color="tab:blue", edgecolors="white", zorder=4,
                   label=f"Pareto front ({len(front)})")
        # the staircase joins the front's points that are also optimal in the two plotted metrics
        stair = sorted(pts[i] for i in pareto_front(pts, ["min", "max"]))
        ax.step(*zip(*stair), where="post", color="tab:blue", lw=1.5, zorder=3)
    other = [(r.metric(x) * xf, r.metric(y) * yf) for r in others
             if r.counts and r.metric(x) is not None and r.metric(y) is not None]
    if other:
        ax.scatter(*zip(*other), marker="^", s=30, facecolors="none", edgecolors="tab:purple", zorder=2,
                   label=f"another fidelity ({len(other)}; not on the front)")
    refs = [r for r in shown if r.is_reference]
    if refs:
        ax.scatter([r.metric(x) * xf for r in refs], [r.metric(y) * yf for r in refs], s=130, marker="D",
                   facecolors="none", edgecolors="tab:orange", linewidths=1.6, zorder=5, label="reference preset")
        for k, r in enumerate(sorted(refs, key=lambda r: r.metric(y))):   # left of the marker, staggered
            ax.annotate(r.reference_name or arch_name(r), (r.metric(x) * xf, r.metric(y) * yf),
                        xytext=(-10, -10 if k % 2 == 0 else 6), textcoords="offset points", ha="right",
                        fontsize=8, color="tab:orange", zorder=6,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
    xs = [r.metric(x) * xf for r in shown]
    if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if not shown:
        ax.text(0.5, 0.5, "no trial with both metrics yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    counts = {s: sum(r.status == s for r in records) for s in STATUSES}
    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    ax.set_title(f"{study_name + ': ' if study_name else ''}{ylabel.split(' (')[0]} vs {xlabel.split(' (')[0]}"
                 f"\n{len(records)} trials ({detail or 'none'})", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:      # something labelled was drawn (interrupted trials are not)
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.subplots_adjust(left=0.09, right=0.97, bottom=0.11, top=0.88)   # fixed margins: one draw pass, not two
    fig.savefig(path, format="png")
    return path


def summary_table(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]], top: int = 10,
                  reference: Sequence[float] | None = None) -> str:
    """A plain-text table of the best ``top`` finished trials, Pareto rank first (rank 1 = the front),
    then best first; with trial counts by status and the front's hypervolume at ``reference`` (a study's
    fixed point; default :func:`~analysis.hypervolume.reference_point` of the records)."""
    columns = [("val_top1", "top-1 %", 100.0, ".2f"), ("macs", "MACs M", 1e-6, ".2f"),
               ("params", "params M", 1e-6, ".3f"), ("latency_ms", "lat ms", 1.0, ".2f")]
    columns += [(m, m, 1.0, ".4g") for m, _ in objectives if m not in {c[0] for c in columns}]
    rows = [("rank", "trial", "architecture", *(c[1] for c in columns), "status")]
    for rank, rec in ranked_records(records, objectives)[:top]:
        name = arch_name(rec) + (f" [{rec.reference_name}]" if rec.is_reference else "")
        cells = [format(rec.metric(m) * f, fmt) if rec.metric(m) is not None else "-" for m, _, f, fmt in columns]
        rows.append((str(rank + 1), str(rec.number), name, *cells, rec.status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    numeric = {0, 1, *range(3, 3 + len(columns))}
    lines = ["  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = ", ".join(f"{n} {s}" for s in STATUSES if (n := sum(r.status == s for r in records)))
    lines.append(f"{len(records)} trials ({counts or 'none'}); rank 1 = Pareto front over "
                 + ", ".join(f"{m} ({d})" for m, d in objectives))
    cands = front_candidates(records, objectives)
    if cands:
        values = objective_matrix(cands, objectives)
        ref = reference_point(objectives, values) if reference is None else list(reference)
        hv = hypervolume(values, ref, [d for _, d in objectives])
        ref_text = ", ".join(f"{m}={v:g}" for (m, _), v in zip(objectives, ref))
        rule = REFERENCE_RULE if reference is None else FIXED_REFERENCE_RULE
        lines.append(f"hypervolume {hv:.6g} at reference ({ref_text}); {rule}")
    return "\n".join(lines)


def write_report(records: Sequence[TrialRecord], objectives: Sequence[tuple[str, str]], out_dir: str | Path, *,
                 study_name: str = "", reference: Sequence[float] | None = None,
                 budgets: Mapping[str, float] | None = None, others: Sequence[TrialRecord] = ()) -> list[Path]:
    """Write ``front.csv``, ``front.png`` and ``hypervolume.csv`` into ``out_dir``; returns their paths
    (what the study logs to its parent MLflow run after each trial)."""
    out_dir = Path(out_dir)
    return [write_front_csv(records, objectives, out_dir / "front.csv"),
            plot_front(records, objectives, out_dir / "front.png", study_name=study_name, others=others),
            write_hypervolume_csv(records, objectives, out_dir / "hypervolume.csv", reference, budgets)]
