"""``attnas status STUDY_DIR``: where a study stands, read from its folder only, so it works from another shell
(or another node on shared storage) while the study runs, and after it ended.

What it reads: ``study.yaml`` (budget, objectives, the fixed reference point), ``trials.jsonl`` (ended trials),
the ``.lock`` the running study holds (whether it runs, and since when: the lock file is rewritten when the
study process starts), ``state.json`` (the time earlier runs of a resumed study took), ``mlflow_runs.json``
(trials that started: the ones without an ended record are running) and ``checkpoints.json`` (a running
trial's last checkpointed epoch and the node it reported from). Trial records do not carry the node yet, so a
running trial's node is the one its last checkpoint names, and a trial before its first checkpoint shows epoch
0 and no node.
"""
from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

NAME = "status"
HELP = "show a study's progress (budget, trials by status, running trials, front, hypervolume, time left)"


def add_arguments(parser):
    parser.add_argument("study_dir", metavar="STUDY_DIR", help="a study folder (attnas-runs/<study>)")
    parser.add_argument("--top", type=int, default=10, help="front members shown (default 10)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")


def is_running(study_dir: Path) -> bool:
    """Whether a study process holds the folder's lock (tried without blocking, released at once)."""
    lock = study_dir / ".lock"
    if not lock.exists():
        return False
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:        # being rewritten (atomic replace: only a torn read of an old file)
        return {}


def study_status(study_dir, now: float | None = None) -> dict:
    """The status of a study folder as plain data (what ``attnas status`` prints)."""
    from analysis import STATUSES, TRIALS_FILE, pareto_records, read_trials
    from analysis.hypervolume import hypervolume
    from analysis.report import arch_name
    from analysis.status import at_fidelity
    from analysis.trials import front_candidates, objective_matrix
    from search_space.errors import AttnasError
    from studies.config import StudyConfig

    d = Path(study_dir)
    if not (d / "study.yaml").is_file():
        raise AttnasError(f"study_dir: {str(d)!r} is not a study folder; allowed: a folder with study.yaml "
                          f"(attnas-runs/<study>)")
    now = time.time() if now is None else now
    cfg = StudyConfig.from_yaml(d / "study.yaml")
    records = read_trials(d / TRIALS_FILE) if (d / TRIALS_FILE).exists() else []
    objectives = list(cfg.objectives)
    running_now = is_running(d)
    ended = {r.trial_id: r for r in records}
    checkpoints = _json(d / "checkpoints.json")
    runs = _json(d / "mlflow_runs.json")
    running = []
    if running_now:
        for key in runs:
            if key == "_study" or "~" in key:
                continue
            rec = ended.get(key)
            if rec is None or rec.status == "interrupted":     # interrupted: continued by this run
                ck = checkpoints.get(key, {})
                running.append({"trial_id": key, "epoch": int(ck.get("epoch", 0)), "node": ck.get("node") or "",
                                "of_epochs": cfg.epochs})
    state = _json(d / "state.json")
    before = float(state.get("elapsed_s", 0.0))
    if running_now:
        elapsed = before + max(0.0, now - (d / ".lock").stat().st_mtime)
    else:
        elapsed = before
    current = [r for r in records if at_fidelity(r, cfg.fidelity())]   # the front and the budget's, as the study's
    counted = sum(r.counts for r in current)
    left = max(0, cfg.trials - counted)
    if left == 0:
        eta = 0.0
    elif running_now and counted:
        eta = elapsed / counted * left      # the pace so far (trials run `concurrency` at a time) times what is left
    else:
        eta = None
    front = pareto_records(current, objectives)
    cands = front_candidates(current, objectives)
    ref = cfg.reference_point
    hv = hypervolume(objective_matrix(cands, objectives), ref, [dd for _, dd in objectives]) if cands and ref else 0.0
    return {
        "study": cfg.name, "dir": str(d.resolve()), "running": running_now,
        "budget": {"trials": cfg.trials, "spent": counted, "left": left, "time_limit_s": cfg.time_limit_s},
        "by_status": {s: n for s in STATUSES if (n := sum(r.status == s for r in records))},
        "running_trials": running,
        "front": [{"trial_id": r.trial_id, "arch_name": arch_name(r),
                   **{m: r.metric(m) for m, _ in objectives}} for r in front],
        "hypervolume": hv, "reference_point": dict(zip(cfg.metrics, ref)) if ref else None,
        "elapsed_s": elapsed, "eta_s": eta,
    }


def _duration(s: float | None) -> str:
    if s is None:
        return "unknown"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def render(st: dict, top: int = 10) -> str:
    from analysis.report import display

    b = st["budget"]
    lines = [f"study {st['study']} ({st['dir']}): {'RUNNING' if st['running'] else 'not running'}",
             f"budget: {b['spent']}/{b['trials']} trials spent, {b['left']} left"
             + (f"; time limit {b['time_limit_s']:g} s" if b["time_limit_s"] else ""),
             "trials: " + (", ".join(f"{n} {s}" for s, n in st["by_status"].items()) or "none ended yet")]
    if st["running"]:
        lines.append(f"running: {len(st['running_trials'])}")
        for t in st["running_trials"]:
            lines.append(f"  {t['trial_id']:<18} epoch {t['epoch']}/{t['of_epochs']} (last checkpoint)  node "
                         f"{t['node'][:12] or '- (no checkpoint yet)'}")
    lines.append(f"time so far: {_duration(st['elapsed_s'])}; estimated time left: "
                 + (_duration(st["eta_s"]) if st["eta_s"] is not None else
                    "unknown (no trial ended yet)" if st["running"] else "- (not running; attnas search --resume)")
                 + (" (spent trials' mean pace x trials left)" if st["running"] and st["eta_s"] else ""))
    ref = st["reference_point"]
    lines.append(f"hypervolume {st['hypervolume']:.6g}" + (" at reference (" + ", ".join(
        f"{m}={v:g}" for m, v in ref.items()) + ")" if ref else " (reference point not fixed yet)"))
    lines.append(f"front: {len(st['front'])} architecture{'s' * (len(st['front']) != 1)}")
    for i, f in enumerate(st["front"][:top], start=1):
        vals = []
        for m, v in f.items():
            if m in ("trial_id", "arch_name") or v is None:
                continue
            label, factor = display(m)
            unit = label[label.find("(") + 1:-1] if "(" in label else ""
            vals.append(f"{m} {v * factor:.4g}{' ' + unit if unit else ''}")
        lines.append(f"  {i:>2}. {f['trial_id']:<14} {f['arch_name']:<40} " + "  ".join(vals))
    return "\n".join(lines)


def run(args) -> int:
    st = study_status(args.study_dir)
    print(json.dumps(st, indent=1) if args.json else render(st, args.top))
    return 0
