"""Zero-cost proxies measured on a recorded table (issue 18, item 5): how well each ranks architectures.

    nice -n 10 .venv/bin/python benchmarks/proxy_report.py [--table benchmarks/data/attnbench_digits.jsonl]
        [--scores benchmarks/data/attnbench_digits_proxies.jsonl] [--bins 10] [--boot 1000]

Every architecture of the table with all of the header's seeds recorded is scored by every proxy of
``trainers.proxies`` (synflow, NASWOT, grad-norm, SNIP, jacob_cov, #params, MACs), each on the same
``--batch`` training images of the table's data (seeded pick) and the weights ``torch.manual_seed(0)`` gives
``build_model``. Scores are cached, one line per architecture, in ``--scores`` (a rerun scores only the
architectures new to the table). Printed per proxy, against the seed-mean final validation top-1:

* Spearman rho and Kendall tau over all architectures, with 95 % bootstrap CIs (``--boot`` resamples of the
  architectures);
* the same inside equal-MACs bins (``--bins`` bins of equal count by MACs, fewer while the table has under
  5 architectures a bin; the bins' coefficients averaged,
  weighted by bin size, CIs from resampling inside each bin), where MACs, and mostly #params, carry no signal;
* precision at the top 10 %: the share of the proxy's top 10 % that is in the accuracy's top 10 %;
* each attention type's share among the proxy's top 10 %, beside its share of the table.

A proxy *beats #params inside the bins* when the paired bootstrap CI of (its binned rho - #params' binned rho)
lies above zero. Only then is the Pareto-aware pre-screen measured: candidates ranked by non-dominated sorting
on (proxy, max; MACs, min), whole fronts kept until a third of the table (the last front cut by proxy
score), and the hypervolume of the kept architectures' seed-mean (accuracy, MACs) over the whole table's, with
the issue's reference point (the seed-mean front's worst accuracy and largest MACs, each pushed out by 10 % of
the front's range). The issue's bar: drop two thirds, keep >= 97 % of the hypervolume.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from record_search_pool import current_hash, final_accuracy, read_pool  # noqa: E402

DEFAULT_TABLE = ROOT / "benchmarks" / "data" / "attnbench_digits.jsonl"
SCORES_FORMAT = "attnas-proxy-scores/1"
PROXY_ORDER = ("synflow", "naswot", "grad_norm", "snip", "jacob_cov", "params", "macs")


def table_archs(records: list[dict], seeds) -> list[dict]:
    """One row per architecture with every seed in ``seeds``: hash, arch, seed-mean accuracy, MACs, params."""
    by: dict = {}
    for r in records:
        by.setdefault(current_hash(r), {})[r["seed"]] = r
    rows = []
    for h, per_seed in by.items():
        if not all(s in per_seed for s in seeds):
            continue
        rec = per_seed[seeds[0]]
        rows.append({"hash": h, "arch": rec["arch"], "acc": float(np.mean([final_accuracy(per_seed[s]) for s in seeds])),
                     "macs": float(rec["macs"]), "params": float(rec["params"]),
                     "attention": rec["arch"]["attention"]["type"]})
    return rows


def read_scores(path: Path) -> dict:
    """hash -> {proxy: score} of a score cache written by this report (for a proxy-seeded replay start)."""
    lines = [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines or lines[0].get("format") != SCORES_FORMAT:
        raise SystemExit(f"{path}: not a proxy score file ({SCORES_FORMAT})")
    return {ln["hash"]: ln["scores"] for ln in lines[1:]}


def score_table(rows: list[dict], header: dict, scores_path: Path, batch: int) -> dict:
    """hash -> {proxy: score} for every row, computing and appending the ones missing from ``scores_path``."""
    import torch

    from search_space import ArchConfig, build_model
    from trainers import DataConfig, load_dataset
    from trainers.proxies import score_proxies

    meta = {"format": SCORES_FORMAT, "data": header["data"], "batch": batch, "init_seed": 0, "pick_seed": 0,
            "proxies": list(PROXY_ORDER)}
    cached: dict = {}
    if scores_path.exists():
        lines = [json.loads(ln) for ln in scores_path.read_text().splitlines() if ln.strip()]
        if lines and {k: lines[0].get(k) for k in meta} == meta:
            cached = {ln["hash"]: ln["scores"] for ln in lines[1:]}
        else:
            raise SystemExit(f"{scores_path}: scored with other settings; delete it or pass another --scores")
    else:
        scores_path.parent.mkdir(parents=True, exist_ok=True)
        scores_path.write_text(json.dumps(meta, sort_keys=True) + "\n")
    todo = [r for r in rows if r["hash"] not in cached]
    if todo:
        torch.set_num_threads(1)
        data = load_dataset(DataConfig.from_dict(header["data"]), device="cpu")
        pick = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(0))[:batch]
        x, y = data.train_x[pick], data.train_y[pick]
        t0 = time.perf_counter()
        with scores_path.open("a") as f:
            for i, r in enumerate(todo, 1):
                torch.manual_seed(0)
                model = build_model(ArchConfig.from_dict(r["arch"]))
                s = score_proxies(model, x, y, PROXY_ORDER)
                cached[r["hash"]] = s
                f.write(json.dumps({"hash": r["hash"], "scores": s}, sort_keys=True) + "\n")
                f.flush()
                if i % 100 == 0 or i == len(todo):
                    print(f"scored {i}/{len(todo)} architectures ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {r["hash"]: cached[r["hash"]] for r in rows}


def _rank_corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    return float(spearmanr(a, b).statistic), float(kendalltau(a, b).statistic)


def binned_corr(score: np.ndarray, acc: np.ndarray, bins: list[np.ndarray]) -> tuple[float, float]:
    """Size-weighted mean of the per-bin Spearman rho and Kendall tau (bins with too few or constant values
    are left out)."""
    rho, tau, w = [], [], []
    for idx in bins:
        r, t = _rank_corr(score[idx], acc[idx])
        if np.isfinite(r):
            rho.append(r), tau.append(t), w.append(len(idx))
    if not w:
        return float("nan"), float("nan")
    return float(np.average(rho, weights=w)), float(np.average(tau, weights=w))


def macs_bins(macs: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Equal-count bins by MACs (ties kept together by a stable sort on MACs)."""
    order = np.argsort(macs, kind="stable")
    return [b for b in np.array_split(order, n_bins) if len(b)]


def precision_at(score: np.ndarray, acc: np.ndarray, frac: float = 0.1) -> float:
    k = max(1, int(round(frac * len(acc))))
    top_s = set(np.argsort(-score, kind="stable")[:k].tolist())
    top_a = set(np.argsort(-acc, kind="stable")[:k].tolist())
    return len(top_s & top_a) / k


def reference_point(acc: np.ndarray, macs: np.ndarray) -> tuple[float, float]:
    """The issue's: the seed-mean front's worst accuracy and largest MACs, each 10 % of its range further out."""
    from analysis import pareto_front

    front = pareto_front(np.column_stack([acc, macs]), ("max", "min"))
    fa, fm = acc[front], macs[front]
    return float(fa.min() - 0.1 * np.ptp(fa)), float(fm.max() + 0.1 * np.ptp(fm))


def prescreen(score: np.ndarray, macs: np.ndarray, keep: float = 1 / 3) -> np.ndarray:
    """Indices kept by the Pareto-aware pre-screen: fronts of (score max, MACs min), best first, until
    ``keep`` of the candidates; the last front cut by score."""
    from analysis import non_dominated_sort

    n_keep = max(1, int(np.floor(keep * len(score))))
    kept: list = []
    for front in non_dominated_sort(np.column_stack([score, macs]), ("max", "min")):
        room = n_keep - len(kept)
        if room <= 0:
            break
        front = sorted(front, key=lambda i: -score[i])
        kept.extend(front[:room])
    return np.array(kept, dtype=int)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    p.add_argument("--scores", type=Path, default=None,
                   help="proxy score cache (default: the table's name with _proxies)")
    p.add_argument("--batch", type=int, default=64, help="training images each proxy sees")
    p.add_argument("--bins", type=int, default=10, help="equal-MACs bins")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = p.parse_args(argv)
    scores_path = args.scores or args.table.with_name(args.table.stem + "_proxies.jsonl")

    header, records = read_pool(args.table)
    seeds = header.get("seeds") or [header.get("seed", 0)]
    rows = table_archs(records, seeds)
    if len(rows) < 8:
        raise SystemExit(f"{args.table}: {len(rows)} architectures with all seeds {seeds}; need at least 8")
    scores = score_table(rows, header, scores_path, args.batch)
    acc = np.array([r["acc"] for r in rows])
    macs = np.array([r["macs"] for r in rows])
    names = [n for n in PROXY_ORDER]
    mat = {n: np.array([scores[r["hash"]][n] for r in rows], dtype=float) for n in names}
    for n in names:                                     # NASWOT's singular kernels: -inf ranks last
        mat[n] = np.where(np.isfinite(mat[n]), mat[n], np.nanmin(np.where(np.isfinite(mat[n]), mat[n], np.nan)) - 1)
    bins = macs_bins(macs, min(args.bins, max(1, len(rows) // 5)))     # at least ~5 architectures a bin
    rng = np.random.default_rng(args.seed)
    n = len(rows)
    boot_global = [rng.integers(0, n, n) for _ in range(args.boot)]
    boot_bins = [[b[rng.integers(0, len(b), len(b))] for b in bins] for _ in range(args.boot)]

    print(f"table {args.table.relative_to(ROOT) if args.table.is_relative_to(ROOT) else args.table}: "
          f"{n} architectures with all seeds {seeds} (of {header['space_size']} in the space, {len(records)} "
          f"records); target: seed-mean final val_top1; {len(bins)} equal-MACs bins of ~{n // len(bins)}; "
          f"{args.boot} bootstrap resamples, 95 % CIs; proxies on {args.batch} training images, init seed 0")
    ci = lambda v: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5)))  # noqa: E731
    results = {}
    for name in names:
        s = mat[name]
        rho, tau = _rank_corr(s, acc)
        brho = np.array([_rank_corr(s[i], acc[i]) for i in boot_global])
        b_rho, b_tau = binned_corr(s, acc, bins)
        bb = np.array([binned_corr(s, acc, idx) for idx in boot_bins])
        results[name] = {"rho": rho, "rho_ci": ci(brho[:, 0]), "tau": tau, "tau_ci": ci(brho[:, 1]),
                         "bin_rho": b_rho, "bin_rho_ci": ci(bb[:, 0]), "bin_tau": b_tau, "bin_tau_ci": ci(bb[:, 1]),
                         "bin_rho_boot": bb[:, 0], "p10": precision_at(s, acc)}

    fmt = lambda v, c: f"{v:+.3f} [{c[0]:+.3f}, {c[1]:+.3f}]"  # noqa: E731
    print(f"\n| proxy | Spearman rho | Kendall tau | rho in MACs bins | tau in MACs bins | precision@10% |")
    print("|---|---|---|---|---|---|")
    for name in names:
        r = results[name]
        print(f"| {name} | {fmt(r['rho'], r['rho_ci'])} | {fmt(r['tau'], r['tau_ci'])} | "
              f"{fmt(r['bin_rho'], r['bin_rho_ci'])} | {fmt(r['bin_tau'], r['bin_tau_ci'])} | {r['p10']:.2f} |")

    types = sorted({r["attention"] for r in rows})
    table_share = Counter(r["attention"] for r in rows)
    k = max(1, int(round(0.1 * n)))
    print(f"\nattention-type share (%) in each proxy's top 10 % ({k} architectures) vs the table:")
    print("| attention | table | accuracy | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    tops = {"accuracy": np.argsort(-acc, kind="stable")[:k]}
    tops.update({name: np.argsort(-mat[name], kind="stable")[:k] for name in names})
    for t in types:
        cells = [100 * sum(rows[i]["attention"] == t for i in idx) / k for idx in tops.values()]
        print(f"| {t} | {100 * table_share[t] / n:.1f} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")

    base = results["params"]["bin_rho_boot"]
    beats = []
    print("\ninside the MACs bins, each proxy's rho minus #params' rho (paired bootstrap, 95 % CI):")
    for name in names:
        if name == "params":
            continue
        d = results[name]["bin_rho_boot"] - base
        lo, hi = ci(d)
        verdict = "beats #params" if lo > 0 else "does not beat #params"
        beats += [name] if lo > 0 and name != "macs" else []
        print(f"  {name:10s} {results[name]['bin_rho'] - results['params']['bin_rho']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
              f"  {verdict}")
    if not beats:
        print("\nno zero-cost proxy beats #params inside the MACs bins: no pre-screen is offered.")
        return 0
    from analysis import hypervolume

    ref = reference_point(acc, macs)
    hv_all = hypervolume(np.column_stack([acc, macs]), ref, ("max", "min"))
    print(f"\nPareto-aware pre-screen (keep 1/3 by fronts of (proxy, MACs)); reference point (val_top1 {ref[0]:.4f}, "
          f"MACs {ref[1]:.0f}); HV of the whole table {hv_all:.1f}:")
    for name in beats:
        kept = prescreen(mat[name], macs)
        hv = hypervolume(np.column_stack([acc[kept], macs[kept]]), ref, ("max", "min"))
        print(f"  {name:10s} kept {len(kept)}/{n}  HV {100 * hv / hv_all:.1f} % of the table's  "
              f"({'meets' if hv / hv_all >= 0.97 else 'misses'} the 97 % bar)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
