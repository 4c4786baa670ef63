"""Rate of the config-only cost and fit checks (search_space/cost.py, search_space/shapes.py) on one core, side by
side with what they replace: building the model and counting it (trainers.count_params / count_macs).

    .venv/bin/python benchmarks/bench_cost.py [--samples 1000] [--reference 20]

Candidates: ``--samples`` configs sampled from each shipped space, and every preset at its native input.
Printed per candidate set, in candidates per second:
  estimate_cost     analytic (params, MACs); memoises nothing, so the cold pass (first call of each config in
                    this process) and the warm pass (the same configs again) do the same work -- both are printed;
  check_fits        cold: backbone_shapes' memo cleared before the pass; warm: the memo filled (a study's steady
                    state: a space has few distinct (backbone, input size) pairs);
  build + count     build_model on the CPU + count_params + count_macs, on the first ``--reference`` candidates,
                    and the speed-up of estimate_cost over it (the two counts are checked equal on the way).
Target: estimate_cost >= 1,000 candidates/s on the sampled configs.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from search_space import SearchSpace, build_model, load_arch
from search_space.cost import estimate_cost
from search_space.presets import preset_names
from search_space.shapes import backbone_shapes, check_fits
from trainers import count_macs, count_params

SPACES = Path(__file__).resolve().parents[1] / "search_space" / "spaces"


def rate(fn, archs) -> float:
    start = time.perf_counter()
    for a in archs:
        fn(a)
    return len(archs) / (time.perf_counter() - start)


def build_and_count(arch):
    model = build_model(arch)
    return count_params(model), count_macs(model, arch.input_size)


def report(name: str, archs: list, reference: int) -> None:
    cold = rate(estimate_cost, archs)
    warm = rate(estimate_cost, archs)
    backbone_shapes.cache_clear()
    fits_cold = rate(check_fits, archs)
    fits_warm = rate(check_fits, archs)
    ref = archs[:reference]
    for a in ref:
        assert tuple(estimate_cost(a)) == build_and_count(a), a.name
    slow = rate(build_and_count, ref)
    fast = rate(estimate_cost, ref)
    print(f"{name:<22} {len(archs):>5}  estimate_cost {cold:>8,.0f} /s cold {warm:>8,.0f} /s warm   "
          f"check_fits {fits_cold:>9,.0f} /s cold {fits_warm:>9,.0f} /s warm   "
          f"build+count {slow:>6.2f} /s -> {fast / slow:>8,.0f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--reference", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in sorted(SPACES.glob("*.yaml")):
        space = SearchSpace.from_yaml(str(path))
        report(f"space {path.stem}", [space.sample(seed) for seed in range(args.samples)], args.reference)
    report("presets (native input)", [load_arch(n) for n in preset_names()], min(args.reference, 5))


if __name__ == "__main__":
    main()
