"""Measured beside reported: an ablation's arms with the numbers their paper published.

Input: the study's records and one plain row per arm, ``{"arm", "reported", "paper_params", "paper_macs"}``
(``reported`` as in ``studies.arms.REPORTED_FIELDS``, in the paper's units; ``paper_params``/``paper_macs`` the
arm's counts at the paper's input size and class count, computed by ``studies``). Output:
``report/reported.csv`` (raw values: accuracies as fractions, counts as counts), ``report/reported.png``
(measured against reported, one panel per quantity, the diagonal drawn) and the table printed at the end of
the study (percents, millions).

Accuracy deltas are measured minus reported in percentage points and mean something only when the study ran
on the paper's data set and schedule (``--data``); parameter and MAC deltas are relative (%) and hold on any
data, since both sides are counted at the paper's input size and class count.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from .trials import TrialRecord

REPORTED_FILE = "reported.csv"
REPORTED_PLOT = "reported.png"
COLUMNS = ("arm", "status", "measured_top1", "reported_top1", "delta_top1", "measured_params", "reported_params",
           "delta_params_pct", "measured_macs", "reported_macs", "delta_macs_pct", "trained_on", "reported_on",
           "trained_params", "trained_macs", "table")


def reported_value(reported: dict, quantity: str) -> float | None:
    """The paper's ``top1`` (fraction), ``params`` or ``macs`` (counts) from an arm's ``reported`` mapping."""
    if quantity == "top1":
        if "top1_pct" in reported:
            return reported["top1_pct"] / 100.0
        return None if "error_pct" not in reported else (100.0 - reported["error_pct"]) / 100.0
    if quantity == "params":
        return None if "params_m" not in reported else reported["params_m"] * 1e6
    if "macs_g" in reported:
        return reported["macs_g"] * 1e9
    return None if "macs_m" not in reported else reported["macs_m"] * 1e6


def _delta(measured, reported, relative: bool):
    if measured is None or reported is None:
        return None
    if relative:
        return None if reported == 0 else 100.0 * (measured - reported) / reported
    return measured - reported


def reported_rows(records: Sequence[TrialRecord], arms: Sequence[dict], trained_on: str = "") -> list[dict]:
    """One row per arm (in arm order) with :data:`COLUMNS`; an arm not trained yet has status ``pending``; an arm
    answered from an earlier one of the same network (a duplicate) has status ``same as <arm>`` and its numbers."""
    by_name: dict[str, TrialRecord] = {}
    by_id = {r.trial_id: r for r in records}
    for r in records:
        if r.is_reference and (r.reference_name not in by_name or r.counts or r.status == "duplicate"):
            by_name[r.reference_name] = r
    rows = []
    for arm in arms:
        rep = dict(arm.get("reported") or {})
        rec = by_name.get(arm["arm"])
        status = rec.status if rec is not None else "pending"
        if rec is not None and rec.status == "duplicate" and rec.twin in by_id:
            twin = by_id[rec.twin]
            status = f"same as {twin.reference_name or twin.trial_id}"
            rec = twin
        top1 = rec.metric("val_top1") if rec is not None and rec.status == "finished" else None
        row = {"arm": arm["arm"], "status": status,
               "measured_top1": top1, "reported_top1": reported_value(rep, "top1"),
               "measured_params": arm.get("paper_params"), "reported_params": reported_value(rep, "params"),
               "measured_macs": arm.get("paper_macs"), "reported_macs": reported_value(rep, "macs"),
               "trained_on": trained_on, "reported_on": rep.get("dataset", ""),
               "trained_params": rec.metric("params") if rec is not None else None,
               "trained_macs": rec.metric("macs") if rec is not None else None, "table": rep.get("table", "")}
        row["delta_top1"] = _delta(row["measured_top1"], row["reported_top1"], relative=False)
        row["delta_params_pct"] = _delta(row["measured_params"], row["reported_params"], relative=True)
        row["delta_macs_pct"] = _delta(row["measured_macs"], row["reported_macs"], relative=True)
        rows.append({c: row[c] for c in COLUMNS})
    return rows


def write_reported_csv(rows: Sequence[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        for row in rows:
            w.writerow({k: "" if v is None else v for k, v in row.items()})
    return path


def _fmt(v, scale: float, spec: str, signed: bool = False) -> str:
    if v is None:
        return "-"
    return format(v * scale, ("+" if signed else "") + spec)


def reported_table(rows: Sequence[dict]) -> str:
    """The end-of-study table: per arm, top-1 (%), parameters (M) and MACs (G), measured | reported | delta."""
    head = (f"{'arm':<22} {'status':<9} {'top-1 %':>7} {'paper':>7} {'Δ pts':>7}   {'params M':>9} {'paper':>8} "
            f"{'Δ %':>7}   {'MACs G':>8} {'paper':>8} {'Δ %':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['arm'][:22]:<22} {r['status']:<9} {_fmt(r['measured_top1'], 100, '.2f'):>7} "
            f"{_fmt(r['reported_top1'], 100, '.2f'):>7} {_fmt(r['delta_top1'], 100, '.2f', True):>7}   "
            f"{_fmt(r['measured_params'], 1e-6, '.3f'):>9} {_fmt(r['reported_params'], 1e-6, '.3f'):>8} "
            f"{_fmt(r['delta_params_pct'], 1, '.1f', True):>7}   {_fmt(r['measured_macs'], 1e-9, '.3f'):>8} "
            f"{_fmt(r['reported_macs'], 1e-9, '.3f'):>8} {_fmt(r['delta_macs_pct'], 1, '.1f', True):>7}")
    trained = sorted({r["trained_on"] for r in rows if r["trained_on"]})
    paper = sorted({r["reported_on"] for r in rows if r["reported_on"]})
    lines.append(f"top-1 measured on {', '.join(trained) or '-'} vs reported on {', '.join(paper) or '-'}"
                 f"{' (different data: compare the ranking, not the values)' if trained and paper and trained != paper else ''}; "
                 f"params and MACs both counted at the paper's input size and classes")
    return "\n".join(lines)


def plot_reported(rows: Sequence[dict], path: str | Path, title: str = "") -> Path:
    """Measured (y) against reported (x), one panel each for top-1, parameters and MACs, arms labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    panels = (("top1", "top-1 (%)", 100.0), ("params", "parameters (M)", 1e-6), ("macs", "MACs (G)", 1e-9))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, (q, label, scale) in zip(axes, panels):
        pts = [(r["reported_" + q] * scale, r["measured_" + q] * scale, r["arm"]) for r in rows
               if r["reported_" + q] is not None and r["measured_" + q] is not None]
        if pts:
            xs, ys, names = zip(*pts)
            ax.scatter(xs, ys, color="tab:blue", zorder=3)
            labels: dict = {}                      # arms at one point share one label
            for x, y, n in pts:
                labels.setdefault((round(x, 6), round(y, 6)), []).append(n)
            for (x, y), group in labels.items():
                ax.annotate(", ".join(group), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
            lo, hi = min(xs + ys), max(xs + ys)
            pad = 0.05 * (hi - lo or abs(hi) or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.8, ls="--", zorder=1)
        else:
            ax.text(0.5, 0.5, "nothing to compare yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"reported {label}")
        ax.set_ylabel(f"measured {label}")
        ax.grid(alpha=0.3)
    trained = sorted({r["trained_on"] for r in rows if r["trained_on"]})
    paper = sorted({r["reported_on"] for r in rows if r["reported_on"]})
    axes[0].set_title(f"top-1: measured on {', '.join(trained) or '-'}, reported on {', '.join(paper) or '-'}",
                      fontsize=9)
    fig.suptitle(title or "measured vs reported")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_reported(rows: Sequence[dict], out_dir: str | Path, title: str = "") -> list[Path]:
    """``reported.csv`` and ``reported.png`` in ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    return [write_reported_csv(rows, out_dir / REPORTED_FILE), plot_reported(rows, out_dir / REPORTED_PLOT, title)]
