"""Issue 19's done-when check on a finished study folder: the count of each trial status, and no two trained
trials that are one network.

    .venv/bin/python benchmarks/check_study_networks.py /tmp/runs/cifar-attention-1000/trials.jsonl

Two trained trials with one hash cannot happen (a repeat is answered as a duplicate), so a missed fold would
show as two hashes with equal parameter and MAC counts (and, trained alike, equal accuracy). Trained trials are
grouped by (params, MACs): the brief asks for (params, MACs, val_top1) groups, these are a superset, so a pair
trained under different seeds is checked too. Inside a group every pair whose models have equal state-dict
shapes is run from one set of random weights on one input; equal outputs would be a missed fold.
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


def random_state(model, seed: int = 1) -> dict:
    """The model's state plus noise (variances kept positive, counters kept), so no zero weight hides a part."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in model.state_dict().items():
        if not v.is_floating_point():
            out[k] = v.clone()
        elif k.endswith("running_var"):
            out[k] = v + 0.2 * torch.rand(v.shape, generator=gen)
        else:
            out[k] = v + 0.1 * torch.randn(v.shape, generator=gen)
    return out


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
    pairs = one = 0
    for g in multi:
        built = []
        for r in g:
            arch = ArchConfig.from_dict(r["arch"])
            torch.manual_seed(0)
            built.append((r, arch, build_model(arch).eval()))
        for (ra, arch_a, ma), (rb, arch_b, mb) in itertools.combinations(built, 2):
            if [(k, v.shape) for k, v in ma.state_dict().items()] != [(k, v.shape) for k, v in mb.state_dict().items()]:
                continue
            pairs += 1
            state = random_state(ma)
            ma.load_state_dict(state)
            mb.load_state_dict(state)
            x = torch.randn(3, *arch_a.input_size, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                if torch.allclose(ma(x), mb(x), rtol=1e-5, atol=1e-6):
                    one += 1
                    print(f"ONE NETWORK under two hashes: {ra['trial_id']} {arch_a.name} | {rb['trial_id']} {arch_b.name}")
    print(f"(params, MACs) groups with several hashes {len(multi)} (of which {same_acc} with a repeated val_top1); "
          f"pairs with equal state-dict shapes run from equal weights {pairs}; one network {one}")
    return 1 if one or len(hashes) != len(trained) else 0


if __name__ == "__main__":
    sys.exit(main())
