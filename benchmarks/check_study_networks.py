"""Issue 19's done-when check on a finished study folder: the count of each trial status, and no two trained
trials that are one network.

    .venv/bin/python benchmarks/check_study_networks.py /tmp/runs/cifar-attention-1000/trials.jsonl

Two trained trials with one hash cannot happen (a repeat is answered as a duplicate), so a missed fold would
show as two hashes with equal parameter and MAC counts (and, trained alike, equal accuracy). Trained trials are
grouped by (params, MACs): the brief asks for (params, MACs, val_top1) groups, these are a superset, so a pair
trained under different seeds is checked too. Inside a group every pair whose models have equal state-dict
shapes is run from one set of random weights on one input at three scales; equal outputs at all of them would be
a missed fold (equal at one scale only: a saturated gate, e.g. hard_sigmoid, hiding the activation before it).
"""
from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from search_space import ArchConfig, build_model  # noqa: E402

TRAINED = ("finished", "stopped")


def random_state(initial: dict, seed: int = 1) -> dict:
    """A model's initial state perturbed (so no zero-initialised weight hides a part and no two parameters share
    a value by construction) without changing its scale, so a deep model's output stays finite: every float
    tensor moves by 10 % of its own spread (at least 0.01), running variances up, biases small and positive
    (so a ReLU after a 1-channel bottleneck does not zero a branch)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in initial.items():
        if not v.is_floating_point():
            out[k] = v.clone()
        elif k.endswith("running_var"):
            out[k] = v + 0.2 * torch.rand(v.shape, generator=gen)
        elif k.endswith("bias"):
            out[k] = 0.05 + 0.05 * torch.rand(v.shape, generator=gen)
        else:
            spread = max(v.float().std().item() if v.numel() > 1 else 0.0, 0.1)
            out[k] = v + 0.1 * spread * torch.randn(v.shape, generator=gen)
    return out


SCALES = (0.1, 1.0, 10.0)
"""Input scales a pair must agree at to count as one network: a saturated gate (hard_sigmoid beyond +-3) makes
different functions agree at one scale, never at all three unless they are one function. A scale where both
outputs overflow (some untrained models do at 10x) is left out; one overflowing and not the other differ."""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trials", help="a study's trials.jsonl")
    a = ap.parse_args()
    torch.set_num_threads(1)
    recs = [json.loads(line) for line in open(a.trials)]
    print(f"records {len(recs)}: " + ", ".join(f"{k} {v}" for k, v in collections.Counter(r['status'] for r in recs).most_common()))
    trained = [r for r in recs if r["status"] in TRAINED]
    hashes = collections.Counter(r["arch_hash"] for r in trained)
    print(f"trained {len(trained)}, distinct hashes {len(hashes)}")
    groups = collections.defaultdict(list)
    for r in trained:
        groups[(r["metrics"]["params"], r["metrics"]["macs"])].append(r)
    multi = [g for g in groups.values() if len({r["arch_hash"] for r in g}) > 1]
    same_acc = sum(len({r["metrics"]["val_top1"] for r in g}) < len(g) for g in multi)
    pairs = one = undecided = 0
    for g in multi:
        built = []
        for r in g:
            arch = ArchConfig.from_dict(r["arch"])
            torch.manual_seed(0)
            model = build_model(arch).eval()
            built.append((r, arch, model, {k: v.clone() for k, v in model.state_dict().items()}))
        for (ra, arch_a, ma, initial), (rb, arch_b, mb, _) in itertools.combinations(built, 2):
            if [(k, v.shape) for k, v in ma.state_dict().items()] != [(k, v.shape) for k, v in mb.state_dict().items()]:
                continue
            pairs += 1
            state = random_state(initial)            # from the initial state: no noise piled on earlier pairs
            ma.load_state_dict(state)
            mb.load_state_dict(state)
            x = torch.randn(3, *arch_a.input_size, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                outs = [(ma(s * x), mb(s * x)) for s in SCALES]
            finite = [(ya, yb) for ya, yb in outs if torch.isfinite(ya).all() and torch.isfinite(yb).all()]
            differ = any(bool(torch.isfinite(ya).all()) != bool(torch.isfinite(yb).all()) for ya, yb in outs)
            if not finite and not differ:
                undecided += 1
                print(f"UNDECIDED (no finite output): {ra['trial_id']} {arch_a.name} | {rb['trial_id']} {arch_b.name}")
            elif not differ and all(torch.allclose(ya, yb, rtol=1e-5, atol=1e-6) for ya, yb in finite):
                one += 1
                print(f"ONE NETWORK under two hashes: {ra['trial_id']} {arch_a.name} | {rb['trial_id']} {arch_b.name}")
    print(f"(params, MACs) groups with several hashes {len(multi)} (of which {same_acc} with a repeated val_top1); "
          f"pairs with equal state-dict shapes run from equal weights {pairs}; one network {one}; undecided {undecided}")
    return 1 if one or undecided or len(hashes) != len(trained) else 0


if __name__ == "__main__":
    sys.exit(main())
