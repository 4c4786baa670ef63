"""What each searched dimension did: for every value of a dimension, its difference in validation accuracy
against a stated baseline value, among finished trials matched by MACs bin, with a bootstrap CI and the number
of pairs; plus Optuna's parameter importance for accuracy when the study passes it. On an ablation (arms), the
arms' differences against the first arm, with a CI over seed replicates where an arm has them.

The estimate (per dimension ``D``, value ``v``, baseline ``b``): finished trials are put in MACs bins (fixed width
in log MACs, a factor :data:`BIN_FACTOR` wide, so trials in one bin cost within 1.5x); in each bin every trial
with ``D = v`` is paired with every trial with ``D = b`` whose other dimensions may differ, and the effect is the
mean accuracy difference over all those pairs, i.e. ``sum_bins n_v n_b (mean_v - mean_b) / sum_bins n_v n_b``:
a comparison at equal cost, the question the seed papers ask. The CI resamples trials with replacement within
each (bin, value) cell (stratified bootstrap, ``boot`` rounds, percentile 2.5-97.5); with fewer than two
trials on a side there is no CI. A trial where ``D`` does not
apply (a reduction of an attention that has none, an insertion point without attention) is left out of ``D``.
The baseline is the dimension's first choice in the space (``attention.type: [none, ...]`` compares with no
attention); when that value has no finished trial, its most tried value.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Mapping, Sequence

from .trials import TrialRecord

COLUMNS = ("dimension", "value", "baseline", "effect", "ci_low", "ci_high", "pairs", "n_value", "n_baseline",
           "importance")
BIN_FACTOR = 1.5
"""Width of a MACs bin: trials within a bin differ by less than this factor in MACs."""
WITHOUT_ATTENTION = ("insertion_point", "stage_mask")
"""Dimensions that say where attention goes: they do not apply to a trial without attention."""


def value_of(arch: Mapping, dim: str, flat: Mapping | None = None):
    """The value of dimension ``dim`` in an architecture mapping as the space writes it, or None where ``dim``
    does not apply; ``flat``: the architecture's flat dict when the caller has it already."""
    from search_space import ArchConfig

    if flat is None:
        flat = ArchConfig.from_dict(arch, check_fits=False).to_flat_dict()
    if dim in WITHOUT_ATTENTION and flat.get("attention.type") == "none":
        return None
    if dim not in flat:
        return None
    return norm(flat[dim], dim)


def norm(value, dim: str) -> str:
    """One spelling per value: ``stage_mask`` as ``"011"``, numbers as Python prints them."""
    if dim == "stage_mask" and isinstance(value, str) and "," in value:
        return "".join("1" if v.strip() == "True" else "0" for v in value.split(","))
    if isinstance(value, (list, tuple)):
        return "+".join(map(str, value))
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def macs_bins(macs: Sequence[float], factor: float = BIN_FACTOR) -> list[int]:
    """A bin index per trial: ``floor(log(MACs) / log(factor))``, bins a fixed ``factor`` wide, the same for
    every study (quantile edges would cut between an architecture with and without a cheap module)."""
    return [int(math.floor(math.log(m) / math.log(factor))) for m in macs]


def _effect(cells: dict) -> tuple[float, int]:
    """(pair-weighted mean difference, pairs) from ``{bin: (values_v, values_b)}``."""
    num = pairs = 0
    for vs, bs in cells.values():
        if vs and bs:
            w = len(vs) * len(bs)
            num += w * (sum(vs) / len(vs) - sum(bs) / len(bs))
            pairs += w
    return (num / pairs if pairs else math.nan), pairs


def _bootstrap_ci(cells: dict, boot: int, rng) -> tuple[float, float]:
    """Percentile 2.5-97.5 of the pair-weighted difference over ``boot`` stratified resamples: each cell's
    values resampled with replacement at its own size (so every cell keeps its weight ``n_v n_b``), all rounds
    at once with numpy. Cells with one side empty carry no pairs and are left out, as in :func:`_effect`."""
    import numpy as np

    total = np.zeros(boot)
    pairs = 0
    for vs, bs in cells.values():
        if not (vs and bs):
            continue
        w = len(vs) * len(bs)
        v, b = np.asarray(vs, dtype=float), np.asarray(bs, dtype=float)
        total += w * (v[rng.integers(0, len(v), (boot, len(v)))].mean(axis=1)
                      - b[rng.integers(0, len(b), (boot, len(b)))].mean(axis=1))
        pairs += w
    lo, hi = np.nanpercentile(total / pairs, [2.5, 97.5])
    return float(lo), float(hi)


def dimension_effects(records: Sequence[TrialRecord], dimensions: Mapping[str, Sequence], *, metric: str = "val_top1",
                      cost: str = "macs", factor: float = BIN_FACTOR, boot: int = 1000, seed: int = 0,
                      importance: Mapping[str, float] | None = None) -> list[dict]:
    """One row per (dimension, value other than the baseline): see the module docstring. ``dimensions``: path
    -> the space's choices in order (the first is the baseline); ``importance``: path -> Optuna's importance."""
    import numpy as np

    rng = np.random.default_rng(seed)
    done = [r for r in records if r.status == "finished" and not r.is_reference and r.arch
            and r.metric(metric) is not None and r.metric(cost) is not None and r.metric(cost) > 0]
    rows: list[dict] = []
    if not done:
        return rows
    from search_space import ArchConfig

    binned = macs_bins([r.metric(cost) for r in done], factor)
    flats = [ArchConfig.from_dict(r.arch, check_fits=False).to_flat_dict() for r in done]    # once per trial
    for dim, choices in dimensions.items():
        values = [value_of(r.arch, dim, flat) for r, flat in zip(done, flats)]
        seen = [v for v in values if v is not None]
        if len(set(seen)) < 2:
            continue
        order = [norm(c, dim) for c in choices]
        baseline = order[0] if order and order[0] in seen else max(sorted(set(seen)), key=seen.count)
        for value in sorted(set(seen) - {baseline}, key=lambda v: order.index(v) if v in order else len(order)):
            cells: dict = {}
            for r, v, b in zip(done, values, binned):
                if v in (value, baseline):
                    cells.setdefault(b, ([], []))[0 if v == value else 1].append(r.metric(metric))
            effect, pairs = _effect(cells)
            n_v = sum(len(c[0]) for c in cells.values())
            n_b = sum(len(c[1]) for c in cells.values())
            lo = hi = math.nan
            if pairs and n_v > 1 and n_b > 1:          # a CI needs two trials a side at least
                lo, hi = _bootstrap_ci(cells, boot, rng)
            rows.append({"dimension": dim, "value": value, "baseline": baseline, "effect": effect, "ci_low": lo,
                         "ci_high": hi, "pairs": pairs, "n_value": n_v, "n_baseline": n_b,
                         "importance": (importance or {}).get(dim, math.nan)})
    return rows


def arm_effects(records: Sequence[TrialRecord], arm_names: Sequence[str], *, metric: str = "val_top1",
                boot: int = 1000, seed: int = 0) -> list[dict]:
    """An ablation: each arm's accuracy minus the first arm's (the baseline), over its finished records (seed
    replicates where an arm has several: a bootstrap CI over them; one run per arm: no CI)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    acc = {a: [r.metric(metric) for r in records if r.is_reference and r.reference_name == a
               and r.status == "finished" and r.metric(metric) is not None] for a in arm_names}
    arms = [a for a in arm_names if acc[a]]
    if len(arms) < 2:
        return []
    base = arms[0]
    rows = []
    for a in arms[1:]:
        vs, bs = acc[a], acc[base]
        effect = float(np.mean(vs) - np.mean(bs))
        lo = hi = math.nan
        if len(vs) > 1 or len(bs) > 1:
            draws = [np.mean(rng.choice(vs, len(vs))) - np.mean(rng.choice(bs, len(bs))) for _ in range(boot)]
            lo, hi = (float(x) for x in np.percentile(draws, [2.5, 97.5]))
        rows.append({"dimension": "arm", "value": a, "baseline": base, "effect": effect, "ci_low": lo, "ci_high": hi,
                     "pairs": len(vs) * len(bs), "n_value": len(vs), "n_baseline": len(bs), "importance": math.nan})
    return rows


def largest(rows: Sequence[dict], k: int = 3) -> list[dict]:
    """The ``k`` rows with the largest absolute effect, those with a CI (two trials a side or more) first: a
    single pair's difference is mostly noise."""
    return sorted((r for r in rows if not math.isnan(r["effect"])),
                  key=lambda r: (math.isnan(r["ci_low"]), -abs(r["effect"])))[:k]


def effects_lines(rows: Sequence[dict], k: int = 3, metric: str = "val_top1") -> list[str]:
    """The summary's lines: the ``k`` largest effects, in accuracy points, with their CI and pairs."""
    out = []
    for r in largest(rows, k):
        ci = (f"95% CI {100 * r['ci_low']:+.1f} .. {100 * r['ci_high']:+.1f}" if not math.isnan(r["ci_low"])
              else "no CI: fewer than 2 trials a side")
        out.append(f"{r['dimension']} = {r['value']} vs {r['baseline']}: {100 * r['effect']:+.1f} points {metric} "
                   f"({ci}; {r['pairs']} pair{'s' * (r['pairs'] != 1)})")
    return out


def write_effects(rows: Sequence[dict], out_dir: str | Path, *, title: str = "", metric: str = "val_top1",
                  importance: Mapping[str, float] | None = None) -> list[Path]:
    """``effects.csv`` (one row per value; a row ``importance`` per dimension Optuna ranked) and ``effects.png``
    (each value's effect with its CI, in accuracy points, grouped by dimension; importances beside)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / "effects.csv", out_dir / "effects.png"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r[c] if not (isinstance(r[c], float) and math.isnan(r[c])) else "" for c in COLUMNS])
        for dim, imp in (importance or {}).items():
            if not any(r["dimension"] == dim for r in rows):
                w.writerow([dim, "", "", "", "", "", 0, 0, 0, imp])
    imp = dict(importance or {})
    fig = Figure(figsize=(11 if imp else 8, max(3.0, 0.35 * len(rows) + 1.6)), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 2 if imp else 1, 1)
    labels = [f"{r['dimension']} = {r['value']}\n(vs {r['baseline']}, {r['pairs']} pairs)" for r in rows]
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        x = 100 * r["effect"]
        if not math.isnan(r["ci_low"]):
            ax.plot([100 * r["ci_low"], 100 * r["ci_high"]], [y, y], color="tab:blue", lw=2)
        ax.plot([x], [y], "o", color="tab:blue" if r["dimension"] != "arm" else "tab:orange")
    ax.axvline(0, color="0.3", lw=1)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel(f"difference in {metric} (points), trials matched by MACs bin ({BIN_FACTOR:g}x wide); "
                  f"95% bootstrap CI")
    ax.set_title(f"{title + ': ' if title else ''}what each value did vs its baseline", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, "no dimension with two values among finished trials yet", ha="center", va="center",
                transform=ax.transAxes)
    if imp:
        ax2 = fig.add_subplot(1, 2, 2)
        names = sorted(imp, key=imp.get)
        ax2.barh(names, [imp[n] for n in names], color="tab:green")
        ax2.set_xlabel(f"Optuna parameter importance for {metric}")
        ax2.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(png_path, format="png")
    return [csv_path, png_path]
